"""What workload controllers ask of pods: active, available, and which to delete first.

`deletion_order` is Kubernetes' ActivePodsWithRanks (pkg/controller/controller_utils.go) with
LogarithmicScaleDown. Each row of its table gives two pods that differ in one rule only; the
pod expected first gets the larger uid, so that the uid tie-break alone would put it last, and
both input orders are tried, so that no row passes by the order it was given in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.controllers import podutil

Obj = dict[str, Any]

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
DAY = 86400.0


def make_pod(
    uid: str = "a",
    *,
    node: str = "n1",
    phase: str = "Running",
    ready: bool = True,
    ready_for: float | None = 3600.0,
    age: float | None = 10 * DAY,
    restarts: int = 0,
    init_restarts: int | None = None,
    sidecar_restarts: int | None = None,
    cost: str | None = None,
    deleting: bool = False,
) -> Obj:
    """A pod, its times given as seconds before NOW."""
    md: Obj = {"name": f"pod-{uid}", "namespace": "default", "uid": uid}
    if age is not None:
        md["creationTimestamp"] = meta.format_time(NOW - dt.timedelta(seconds=age))
    if cost is not None:
        md["annotations"] = {podutil.DELETION_COST_ANNOTATION: cost}
    if deleting:
        md["deletionTimestamp"] = meta.format_time(NOW)
    condition: Obj = {"type": "Ready", "status": "True" if ready else "False"}
    if ready_for is not None:
        condition["lastTransitionTime"] = meta.format_time(NOW - dt.timedelta(seconds=ready_for))
    status: Obj = {
        "phase": phase,
        "conditions": [condition],
        "containerStatuses": [{"name": "app", "restartCount": restarts}],
    }
    spec: Obj = {"containers": [{"name": "app", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    init_statuses = []
    if init_restarts is not None:
        spec["initContainers"] = [{"name": "setup", "image": "busybox"}]
        init_statuses.append({"name": "setup", "restartCount": init_restarts})
    if sidecar_restarts is not None:
        spec.setdefault("initContainers", []).append(
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}
        )
        init_statuses.append({"name": "proxy", "restartCount": sidecar_restarts})
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return {"metadata": md, "spec": spec, "status": status}


def first_to_delete(pods: list[Obj], ranks: list[int]) -> str:
    return pods[podutil.deletion_order(pods, ranks, NOW)[0]]["metadata"]["uid"]


def assert_deleted_first(first: Obj, second: Obj, ranks: tuple[int, int] = (0, 0)) -> None:
    expected = first["metadata"]["uid"]
    assert first_to_delete([first, second], list(ranks)) == expected
    assert first_to_delete([second, first], [ranks[1], ranks[0]]) == expected


# One row per rule of ActivePodsWithRanks.Less, in its order: (first, second, ranks).
RULES = {
    "1-unassigned-before-assigned": (make_pod("b", node=""), make_pod("a"), (0, 0)),
    "2-pending-before-unknown": (
        make_pod("b", phase="Pending"),
        make_pod("a", phase="Unknown"),
        (0, 0),
    ),
    "2-unknown-before-running": (make_pod("b", phase="Unknown"), make_pod("a"), (0, 0)),
    "2-pending-before-running": (make_pod("b", phase="Pending"), make_pod("a"), (0, 0)),
    "3-not-ready-before-ready": (make_pod("b", ready=False), make_pod("a"), (0, 0)),
    "4-lower-deletion-cost-first": (make_pod("b", cost="-10"), make_pod("a"), (0, 0)),
    "4-no-cost-before-positive-cost": (make_pod("b"), make_pod("a", cost="100"), (0, 0)),
    "5-more-pods-on-the-node-first": (make_pod("b"), make_pod("a", node="n2"), (3, 1)),
    "6-ready-for-less-time-first": (
        make_pod("b", ready_for=30),
        make_pod("a", ready_for=DAY),
        (0, 0),
    ),
    "7-more-restarts-first": (make_pod("b", restarts=4), make_pod("a", restarts=1), (0, 0)),
    "8-newer-first": (make_pod("b", age=120), make_pod("a", age=30 * DAY), (0, 0)),
}


@pytest.mark.parametrize(("first", "second", "ranks"), RULES.values(), ids=RULES.keys())
def test_deletion_order_rule(first: Obj, second: Obj, ranks: tuple[int, int]) -> None:
    """Each rule of ActivePodsWithRanks on its own: the pod it prefers is deleted first."""
    assert_deleted_first(first, second, ranks)


# An earlier rule decides before a later one looks: (first, second, ranks).
PRECEDENCE = {
    "unassigned-beats-phase": (
        make_pod("b", node="", phase="Running"),
        make_pod("a", phase="Pending"),
        (0, 0),
    ),
    "phase-beats-readiness": (
        make_pod("b", phase="Pending", ready=True),
        make_pod("a", phase="Running", ready=False),
        (0, 0),
    ),
    "readiness-beats-cost": (
        make_pod("b", ready=False, cost="1000"),
        make_pod("a", cost="-1000"),
        (0, 0),
    ),
    "cost-beats-rank": (make_pod("b", cost="-1"), make_pod("a"), (0, 5)),
    "rank-beats-ready-time": (
        make_pod("b", ready_for=DAY),
        make_pod("a", ready_for=30),
        (2, 1),
    ),
    "ready-time-beats-restarts": (
        make_pod("b", ready_for=30),
        make_pod("a", ready_for=DAY, restarts=9),
        (0, 0),
    ),
    "restarts-beat-age": (
        make_pod("b", restarts=1, age=30 * DAY),
        make_pod("a", age=60),
        (0, 0),
    ),
}


@pytest.mark.parametrize(("first", "second", "ranks"), PRECEDENCE.values(), ids=PRECEDENCE.keys())
def test_deletion_order_precedence(first: Obj, second: Obj, ranks: tuple[int, int]) -> None:
    """Rules apply in order: the first rule that tells two pods apart decides."""
    assert_deleted_first(first, second, ranks)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # 200 s and 230 s are both in [2^37, 2^38) ns: the same bucket.
        (make_pod("a", ready_for=230), make_pod("b", ready_for=200)),
        (make_pod("a", age=230), make_pod("b", age=200)),
    ],
    ids=["ready-time", "creation-time"],
)
def test_times_in_the_same_logarithmic_bucket_tie_and_uid_decides(first: Obj, second: Obj) -> None:
    """LogarithmicScaleDown: ages within the same power of two (in nanoseconds) rank alike,
    and the lower uid goes first, even if it is the older pod."""
    assert_deleted_first(first, second)


def test_deletion_order_sorts_a_whole_set() -> None:
    """ReplicaSet scale-down: the order of a mixed set, the pods to delete first first."""
    pods = [
        make_pod("ready-old", ready_for=DAY),
        make_pod("unscheduled", node=""),
        make_pod("ready-new", ready_for=30),
        make_pod("pending", phase="Pending", ready=False),
        make_pod("not-ready", ready=False),
    ]
    order = podutil.deletion_order(pods, [0] * len(pods), NOW)
    assert [pods[i]["metadata"]["uid"] for i in order] == [
        "unscheduled",
        "pending",
        "not-ready",
        "ready-new",
        "ready-old",
    ]


def test_a_same_bucket_ready_time_tie_is_decided_by_uid_before_restarts() -> None:
    """ActivePodsWithRanks rule 6: both ready at different times in the same log bucket ->
    `return UID[i] < UID[j]`; restarts (rule 7) are never looked at."""
    assert_deleted_first(make_pod("a", ready_for=230), make_pod("b", ready_for=200, restarts=5))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (make_pod("b", restarts=1), make_pod("a", restarts=0, init_restarts=5)),
        (make_pod("b", restarts=2), make_pod("a", restarts=1, sidecar_restarts=5)),
    ],
    ids=["init-container-ignored", "regular-before-sidecar"],
)
def test_restarts_compare_regular_containers_before_sidecars(first: Obj, second: Obj) -> None:
    """compareMaxContainerRestarts: regular containers' max restarts, then sidecars'."""
    assert_deleted_first(first, second)


def test_restarts_of_sidecars_break_a_tie_of_regular_restarts() -> None:
    """compareMaxContainerRestarts: with equal regular restarts, more sidecar restarts first."""
    assert_deleted_first(
        make_pod("b", restarts=1, sidecar_restarts=3), make_pod("a", restarts=1, sidecar_restarts=0)
    )


# --- activity and availability ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "active"),
    [
        (make_pod(phase="Pending"), True),
        (make_pod(phase="Running"), True),
        (make_pod(phase="Unknown"), True),
        (make_pod(phase="Succeeded"), False),
        (make_pod(phase="Failed"), False),
        (make_pod(phase="Running", deleting=True), False),
    ],
    ids=["pending", "running", "unknown", "succeeded", "failed", "terminating"],
)
def test_is_active(pod: Obj, active: bool) -> None:
    """IsPodActive: not Succeeded, not Failed, and not being deleted."""
    assert podutil.is_active(pod) is active


@pytest.mark.parametrize(
    ("pod", "min_ready_seconds", "available"),
    [
        (make_pod(ready=False), 0, False),
        (make_pod(ready=True, ready_for=0), 0, True),
        (make_pod(ready=True, ready_for=None), 0, True),
        (make_pod(ready=True, ready_for=5), 10, False),
        (make_pod(ready=True, ready_for=11), 10, True),
        (make_pod(ready=True, ready_for=None), 10, False),
        (make_pod(ready=False, ready_for=DAY), 10, False),
    ],
    ids=[
        "not-ready",
        "ready-no-min",
        "ready-no-transition-time-no-min",
        "ready-less-than-min",
        "ready-longer-than-min",
        "ready-no-transition-time",
        "not-ready-for-long",
    ],
)
def test_is_available(pod: Obj, min_ready_seconds: int, available: bool) -> None:
    """IsPodAvailable: ready, and with minReadySeconds, ready (lastTransitionTime) for at
    least that long."""
    assert podutil.is_available(pod, min_ready_seconds, NOW) is available


@pytest.mark.parametrize(
    ("ready_for", "min_ready_seconds", "wait"),
    [
        ([2.0, 7.0], 10, 3.0),
        ([2.0, 20.0], 10, 8.0),  # the available one needs no wait
        ([20.0], 10, 0.0),
        ([2.0], 0, 0.0),
    ],
    ids=["nearest", "skips-available", "all-available", "no-min-ready"],
)
def test_next_available_in(ready_for: list[float], min_ready_seconds: int, wait: float) -> None:
    """The delay after which the next ready pod becomes available (the ReplicaSet controller's
    AddAfter(minReadySeconds) resync), 0 when none is waiting."""
    pods = [make_pod(str(i), ready_for=s) for i, s in enumerate(ready_for)]
    assert podutil.next_available_in(pods, min_ready_seconds, NOW) == pytest.approx(wait)


def test_ranks_count_active_related_pods_on_the_same_node() -> None:
    """getPodsRankedByRelatedPodsOnSameNode: each pod's rank is the number of active related
    pods on its node; finished and terminating pods do not count."""
    a, b, c = make_pod("a", node="n1"), make_pod("b", node="n1"), make_pod("c", node="n2")
    related = [
        a,
        b,
        c,
        make_pod("done", node="n2", phase="Succeeded"),
        make_pod("going", node="n2", deleting=True),
        make_pod("sibling", node="n2"),
    ]
    assert podutil.ranks_on_same_node([a, b, c], related) == [2, 2, 2]
    assert podutil.ranks_on_same_node([c], [c]) == [1]
    assert podutil.ranks_on_same_node([make_pod("x", node="n3")], related) == [0]


def test_deletion_cost_that_is_not_a_number_counts_as_zero() -> None:
    """GetDeletionCostFromPodAnnotations' error is ignored by Less: an invalid cost is 0."""
    assert_deleted_first(make_pod("b", cost="-1"), make_pod("a", cost="cheap"))
    assert_deleted_first(make_pod("b", cost="cheap"), make_pod("a", cost="1"))
