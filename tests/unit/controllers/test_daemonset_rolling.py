"""The DaemonSet controller's arithmetic: node by node, rolling updates, and the status.

Clusters are laid out in tables: each node a name and a short word for each of its daemon
pods: `new`/`old` (the current revision or not), `-unready` (Running, not Ready), `-fresh`
(Ready only a moment ago, not yet available with minReadySeconds), `failed`, `succeeded`,
`gone` (being deleted). Answers are what Kubernetes' daemon controller (update.go,
daemon_controller.go, 1.33) decides for the same cluster.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.controllers import daemonset_plan as plan
from kubelite.controllers import daemonset_util as du

Obj = dict[str, Any]
NOW = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
RUN = du.EVERYWHERE
STAY = du.Placement(False, True)
OFF = du.NOWHERE


def daemon_set(
    strategy: str = "RollingUpdate",
    max_unavailable: int | str | None = 1,
    max_surge: int | str | None = 0,
    min_ready: int = 0,
) -> Obj:
    update: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"maxUnavailable": max_unavailable, "maxSurge": max_surge}
    return {
        "metadata": {"name": "ds", "namespace": "default", "annotations": {}},
        "spec": {"minReadySeconds": min_ready, "updateStrategy": update},
    }


_counter = iter(range(10**6))


def pod(word: str, node: str = "", age: int | None = None) -> Obj:
    """A daemon pod described by one word (see the module docstring)."""
    serial = next(_counter)
    revision, _, state = word.partition("-")
    phase = {"failed": "Failed", "succeeded": "Succeeded"}.get(revision, "Running")
    ready = state not in ("unready",) and phase == "Running"
    since = NOW - dt.timedelta(seconds=1 if state == "fresh" else 3600)
    md: Obj = {
        "name": f"{word}-{serial}",
        "namespace": "default",
        "uid": f"uid-{serial}",
        "labels": {du.HASH_LABEL: "h-new" if revision == "new" else "h-old"},
        # Older pods first, in the order written, unless an age is given.
        "creationTimestamp": meta.format_time(
            NOW - dt.timedelta(seconds=age if age is not None else 10**6 - serial)
        ),
    }
    if state == "gone":
        md["deletionTimestamp"] = meta.format_time(NOW)
    status: Obj = {"phase": phase}
    if phase == "Running":
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": meta.format_time(since),
            }
        ]
    return {"metadata": md, "spec": {"nodeName": node}, "status": status}


def layout(**nodes: str) -> dict[str, list[Obj]]:
    """`n0="old new"` -> {"n0": [old pod, new pod]}; an empty string is a node without pods."""
    return {name: [pod(w, name) for w in words.split()] for name, words in nodes.items()}


def names(pods: list[Obj]) -> list[str]:
    """The words and nodes of pods: `old@n0`."""
    return [f"{p['metadata']['name'].rsplit('-', 1)[0]}@{p['spec']['nodeName']}" for p in pods]


# --- the bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "nodes", "expected"),
    [
        (1, 10, 1),
        (3, 2, 3),
        ("10%", 10, 1),
        ("10%", 15, 2),  # 1.5 rounds up
        ("25%", 3, 1),  # 0.75 rounds up
        ("1%", 1, 1),
        ("0%", 5, 0),
        ("100%", 7, 7),
        ("50%", 0, 0),
        (0, 5, 0),
    ],
)
def test_percentages_of_the_nodes_round_up(value: int | str, nodes: int, expected: int) -> None:
    assert du.unavailable_count(daemon_set(max_unavailable=value), nodes) == expected
    assert du.surge_count(daemon_set(max_surge=value), nodes) == expected


def test_on_delete_has_no_bounds() -> None:
    ds = daemon_set("OnDelete")
    assert (du.surge_count(ds, 10), du.unavailable_count(ds, 10)) == (0, 0)
    assert not du.allows_surge(ds)


def test_a_malformed_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a percentage"):
        du.unavailable_count(daemon_set(max_unavailable="two"), 4)


@pytest.mark.parametrize(
    ("surge", "allows"), [(0, False), ("0%", False), (1, True), ("1%", True), (None, False)]
)
def test_surge_is_allowed_when_one_node_rounds_above_zero(surge: Any, allows: bool) -> None:
    assert du.allows_surge(daemon_set(max_surge=surge)) is allows


@pytest.mark.parametrize(
    ("unavailable", "surge", "expected"),
    [
        (1, 0, (0, 1, 3)),
        ("50%", 0, (0, 2, 3)),
        (0, 0, (0, 1, 3)),  # impossible: one at a time
        ("0%", "0%", (0, 1, 3)),
        (0, "34%", (2, 0, 3)),
    ],
)
def test_desired_node_counts(unavailable: Any, surge: Any, expected: tuple[int, int, int]) -> None:
    by_node: dict[str, list[Obj]] = {"n0": [pod("old", "n0")]}
    placements = {"n0": RUN, "n1": RUN, "n2": RUN, "n3": STAY, "n4": OFF}
    ds = daemon_set(max_unavailable=unavailable, max_surge=surge)
    assert plan.desired_node_counts(ds, placements, by_node) == expected
    assert sorted(by_node) == ["n0", "n1", "n2"]  # Empty entries for nodes to run on.


def test_no_desired_nodes_means_no_forced_unavailability() -> None:
    ds = daemon_set(max_unavailable=0, max_surge=0)
    assert plan.desired_node_counts(ds, {"n0": OFF}, {}) == (0, 0, 0)


# --- rolling update without surge ---------------------------------------------------------------

WITHOUT_SURGE = [
    # (what, maxUnavailable, minReadySeconds, nodes, old pods deleted)
    ("one at a time", 1, 0, {"n0": "old", "n1": "old", "n2": "old"}, ["old@n0"]),
    ("two at a time", 2, 0, {"n0": "old", "n1": "old", "n2": "old"}, ["old@n0", "old@n1"]),
    (
        "a percentage of nodes",
        "50%",
        0,
        {"n0": "old", "n1": "old", "n2": "old"},
        ["old@n0", "old@n1"],
    ),
    (
        "an unavailable new pod uses the budget",
        1,
        0,
        {"n0": "new-unready", "n1": "old", "n2": "old"},
        [],
    ),
    ("an available new pod does not", 1, 0, {"n0": "new", "n1": "old", "n2": "old"}, ["old@n1"]),
    (
        "a new pod ready for less than minReadySeconds is unavailable",
        1,
        30,
        {"n0": "new-fresh", "n1": "old"},
        [],
    ),
    ("a node still without a pod is unavailable", 1, 0, {"n0": "", "n1": "old"}, []),
    (
        "a node with both pods is being replaced: unavailable",
        1,
        0,
        {"n0": "old new", "n1": "old"},
        [],
    ),
    ("a node with two old pods is being pruned", 1, 0, {"n0": "old old", "n1": "old"}, []),
    (
        "unavailable old pods are replaced whatever the budget",
        1,
        0,
        {"n0": "old-unready", "n1": "old-unready", "n2": "old"},
        ["old-unready@n0", "old-unready@n1"],
    ),
    (
        "a deleted pod does not count",
        1,
        0,
        {"n0": "old-gone new-unready", "n1": "old"},
        [],
    ),
    ("nothing to do when up to date", 1, 0, {"n0": "new", "n1": "new"}, []),
    ("zero and zero: one at a time", 0, 0, {"n0": "old", "n1": "old"}, ["old@n0"]),
]


@pytest.mark.parametrize(
    ("unavailable", "min_ready", "nodes", "deleted"),
    [pytest.param(u, m, n, d, id=what) for what, u, m, n, d in WITHOUT_SURGE],
)
def test_rolling_update_without_surge(
    unavailable: Any, min_ready: int, nodes: dict[str, str], deleted: list[str]
) -> None:
    ds = daemon_set(max_unavailable=unavailable, max_surge=0, min_ready=min_ready)
    placements = dict.fromkeys(nodes, RUN)
    doomed, created = plan.rolling_update(ds, placements, layout(**nodes), "h-new", NOW)
    assert names(doomed) == deleted
    assert created == []


def test_the_template_generation_also_marks_a_pod_up_to_date() -> None:
    ds = daemon_set()
    ds["metadata"]["annotations"][du.TEMPLATE_GENERATION_ANNOTATION] = "5"
    pods = layout(n0="old", n1="old")
    pods["n0"][0]["metadata"]["labels"][du.TEMPLATE_GENERATION_LABEL] = "5"
    doomed, _ = plan.rolling_update(ds, {"n0": RUN, "n1": RUN}, pods, "h-new", NOW)
    assert names(doomed) == ["old@n1"]


# --- rolling update with surge -------------------------------------------------------------------

WITH_SURGE = [
    # (what, maxSurge, placements ('' = should run), nodes, old pods deleted, nodes given a pod)
    ("one node at a time", 1, {}, {"n0": "old", "n1": "old", "n2": "old"}, [], ["n0"]),
    ("a percentage", "100%", {}, {"n0": "old", "n1": "old"}, [], ["n0", "n1"]),
    (
        "a surge in progress uses the budget",
        1,
        {},
        {"n0": "old new-unready", "n1": "old"},
        [],
        [],
    ),
    (
        "the old pod goes once the new one is available",
        1,
        {},
        {"n0": "old new", "n1": "old"},
        ["old@n0"],
        ["n1"],
    ),
    (
        "an unavailable old pod gets its replacement at once",
        1,
        {},
        {"n0": "old new-unready", "n1": "old-unready", "n2": "old"},
        [],
        ["n1"],
    ),
    (
        "an unavailable old pod off its node goes at once",
        1,
        {"n1": OFF},
        {"n0": "old", "n1": "old-unready"},
        ["old-unready@n1"],
        ["n0"],
    ),
    (
        "an available old pod off its node waits for one available elsewhere",
        1,
        {"n1": STAY},
        {"n0": "", "n1": "old"},
        [],
        [],
    ),
    (
        "then goes once more are available than desired",
        1,
        {"n1": STAY},
        {"n0": "new", "n1": "old"},
        ["old@n1"],
        [],
    ),
    ("a node being pruned counts as surging", 1, {}, {"n0": "new new", "n1": "old"}, [], []),
]


@pytest.mark.parametrize(
    ("surge", "special", "nodes", "deleted", "created"),
    [pytest.param(s, p, n, d, c, id=what) for what, s, p, n, d, c in WITH_SURGE],
)
def test_rolling_update_with_surge(
    surge: Any,
    special: dict[str, du.Placement],
    nodes: dict[str, str],
    deleted: list[str],
    created: list[str],
) -> None:
    ds = daemon_set(max_unavailable=0, max_surge=surge)
    placements = {name: special.get(name, RUN) for name in nodes}
    doomed, made = plan.rolling_update(ds, placements, layout(**nodes), "h-new", NOW)
    assert names(doomed) == deleted
    assert made == created


def test_find_updated_pods_on_node() -> None:
    (old, new) = layout(n0="old new")["n0"]
    assert plan.find_updated_pods_on_node([old, new], "h-new", None) == (new, old, True)
    assert plan.find_updated_pods_on_node([new, pod("new", "n0")], "h-new", None) == (
        None,
        None,
        False,
    )
    gone = pod("new-gone", "n0")
    assert plan.find_updated_pods_on_node([gone, new], "h-new", None) == (new, None, True)


# --- node by node ---------------------------------------------------------------------------------

NODE_ACTIONS = [
    # (what, surge, placement, pods, (create, deleted, failed, succeeded))
    ("a missing pod is made", 0, RUN, "", (True, [], [], [])),
    ("one pod is left alone", 0, RUN, "old", (False, [], [], [])),
    ("of two, the older stays", 0, RUN, "new old", (False, ["old"], [], [])),
    ("a failed pod is reported, not replaced yet", 0, RUN, "failed", (False, [], ["failed"], [])),
    ("a succeeded pod is reported", 0, RUN, "succeeded new", (False, [], [], ["succeeded"])),
    ("a pod being deleted is left to finish", 0, RUN, "new-gone", (False, [], [], [])),
    ("a tainted node keeps its pod", 0, STAY, "old", (False, [], [], [])),
    ("a tainted node gets none", 0, STAY, "", (False, [], [], [])),
    (
        "a node that may not run it loses them all",
        0,
        OFF,
        "old new new-gone",
        (False, ["old", "new"], [], []),
    ),
    ("nothing on a node it may not run on", 0, OFF, "", (False, [], [], [])),
    ("surge: an old ready pod waits for the new", 1, RUN, "old new-unready", (False, [], [], [])),
    ("surge: the new one available, the old goes", 1, RUN, "old new", (False, ["old"], [], [])),
    (
        "surge: an unready old pod goes at once",
        1,
        RUN,
        "old-unready new-unready",
        (False, ["old-unready"], [], []),
    ),
    (
        "surge: extra pods of either go",
        1,
        RUN,
        "old old new-unready new",
        (False, ["old", "new"], [], []),
    ),
    ("surge: a failed pod is replaced at once", 1, RUN, "failed", (True, [], ["failed"], [])),
]


@pytest.mark.parametrize(
    ("surge", "placement", "words", "expected"),
    [pytest.param(s, p, w, e, id=what) for what, s, p, w, e in NODE_ACTIONS],
)
def test_node_actions(
    surge: int, placement: du.Placement, words: str, expected: tuple[Any, ...]
) -> None:
    ds = daemon_set(max_unavailable=0 if surge else 1, max_surge=surge)
    pods = layout(n0=words)["n0"] or None
    actions = plan.node_actions(ds, placement, pods, "h-new", NOW)

    def short(found: list[Obj]) -> list[str]:
        return [name.split("@")[0] for name in names(found)]

    got = (actions.create, short(actions.delete), short(actions.failed), short(actions.succeeded))
    assert got == expected


def test_of_two_pods_a_scheduled_one_stays_before_an_older_unscheduled_one() -> None:
    waiting = pod("old", "", age=100)
    bound = pod("new", "n0", age=10)
    actions = plan.node_actions(daemon_set(), RUN, [waiting, bound], "h-new", NOW)
    assert actions.delete == [waiting]


def test_of_two_pods_of_the_same_second_the_first_by_name_stays() -> None:
    a, b = pod("old", "n0", age=5), pod("old", "n0", age=5)
    b["metadata"]["name"] = "a-first"
    actions = plan.node_actions(daemon_set(), RUN, [a, b], "h-new", NOW)
    assert actions.delete == [a]


def test_unscheduled_pods_of_nodes_that_are_gone_are_deleted() -> None:
    pods = {"gone": [pod("old", ""), pod("new", "gone")], "here": [pod("old", "")]}
    assert names(plan.unscheduled_pods_without_node({"here"}, pods)) == ["old@"]


# --- status --------------------------------------------------------------------------------------


def test_status_counts() -> None:
    placements = {"n0": RUN, "n1": RUN, "n2": RUN, "n3": RUN, "n4": STAY, "n5": OFF, "n6": OFF}
    pods = layout(
        n0="new",  # current, ready, available, updated
        n1="old new",  # the older one speaks for the node: not updated
        n2="new-fresh",  # ready, not yet available
        n3="",  # desired, not scheduled
        n4="old",  # misscheduled: may stay, should not run
        n5="old",  # misscheduled
        n6="",
    )
    counts = plan.status_counts(daemon_set(min_ready=30), placements, pods, "h-new", NOW)
    assert counts == {
        "desiredNumberScheduled": 4,
        "currentNumberScheduled": 3,
        "numberMisscheduled": 2,
        "numberReady": 3,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
        "numberUnavailable": 2,
    }
