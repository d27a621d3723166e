"""PodTopologySpread's default constraints: the selector built from the Services and the
controller that select a pod (helper.DefaultSelector), and how the System and List defaults
score and filter a pod without constraints of its own (after kube-scheduler's
helper/spread_test.go and podtopologyspread/scoring_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import FakeHandle, FakeListers, filter_all, make_node, make_pod, score_all

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.plugins.helper import default_selector
from kubelite.scheduler.plugins.pod_topology_spread import (
    LABEL_TOPOLOGY_ZONE,
    PodTopologySpread,
)

Obj = dict[str, Any]

HOST = "kubernetes.io/hostname"
WEB = {"app": "web", "tier": "fe", "track": "stable"}


def meta(name: str, namespace: str) -> Obj:
    return {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}


def service(name: str, selector: dict[str, str] | None, namespace: str = "default") -> Obj:
    spec: Obj = {"ports": [{"port": 80}]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, namespace), "spec": spec}


def workload(kind: str, name: str, selector: Any, namespace: str = "default") -> Obj:
    """A ReplicaSet or StatefulSet (a LabelSelector), or a ReplicationController (a map)."""
    api_version = "v1" if kind == "ReplicationController" else "apps/v1"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": meta(name, namespace),
        "spec": {"selector": selector},
    }


def owner(kind: str, name: str, api_version: str = "", controller: bool = True) -> Obj:
    if not api_version:
        api_version = "v1" if kind == "ReplicationController" else "apps/v1"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": f"uid-{name}",
        "controller": controller,
    }


def owned(info: PodInfo, *refs: Obj) -> PodInfo:
    info.pod["metadata"]["ownerReferences"] = list(refs)
    return info


def with_constraints(info: PodInfo, *constraints: Obj) -> PodInfo:
    info.pod["spec"]["topologySpreadConstraints"] = list(constraints)
    return info


def web_pod(*refs: Obj, name: str = "web-1", labels: dict[str, str] | None = None) -> PodInfo:
    return owned(make_pod(name, labels=WEB if labels is None else labels), *refs)


RS = owner("ReplicaSet", "web-rs")
RS_SELECTOR = {
    "matchLabels": {"app": "web"},
    "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]}],
}


@pytest.mark.parametrize(
    ("pod", "objects", "expected"),
    [
        pytest.param(web_pod(), [], "", id="nothing selects the pod"),
        pytest.param(web_pod(), [service("web", {"app": "web"})], "app=web", id="a Service"),
        pytest.param(
            web_pod(),
            [service("web", {"app": "web"}), service("fe", {"tier": "fe"})],
            "app=web,tier=fe",
            id="two Services: the union of their selectors",
        ),
        pytest.param(
            web_pod(),
            [service("web", {"app": "web"}, namespace="other")],
            "",
            id="a Service of another namespace",
        ),
        pytest.param(
            web_pod(),
            [service("db", {"app": "db"}), service("web", {"app": "web", "tier": "be"})],
            "",
            id="Services whose selectors do not match the pod",
        ),
        pytest.param(
            web_pod(),
            [service("manual", None), service("empty", {})],
            "",
            id="Services without a selector select nothing to spread by",
        ),
        pytest.param(
            web_pod(RS),
            [workload("ReplicaSet", "web-rs", RS_SELECTOR)],
            "app=web,track in (canary,stable)",
            id="the controlling ReplicaSet's matchLabels and matchExpressions",
        ),
        pytest.param(
            web_pod(RS),
            [
                service("fe", {"tier": "fe"}),
                workload("ReplicaSet", "web-rs", {"matchLabels": {"app": "web"}}),
            ],
            "app=web,tier=fe",
            id="a Service and the ReplicaSet: their requirements sorted by key",
        ),
        pytest.param(
            web_pod(owner("StatefulSet", "web-ss")),
            [workload("StatefulSet", "web-ss", {"matchLabels": {"app": "web"}})],
            "app=web",
            id="the controlling StatefulSet",
        ),
        pytest.param(
            web_pod(owner("ReplicationController", "web-rc")),
            [
                service("fe", {"tier": "fe"}),
                workload("ReplicationController", "web-rc", {"app": "web", "track": "stable"}),
            ],
            "app=web,tier=fe,track=stable",
            id="the controlling ReplicationController's map merged with the Services'",
        ),
        pytest.param(
            web_pod(owner("ReplicaSet", "web-rs", controller=False)),
            [workload("ReplicaSet", "web-rs", RS_SELECTOR)],
            "",
            id="an owner that is not the controller",
        ),
        pytest.param(
            web_pod(owner("Deployment", "web"), owner("ReplicaSet", "web-rs", controller=False)),
            [workload("ReplicaSet", "web-rs", RS_SELECTOR)],
            "",
            id="only the first controller reference counts, and a Deployment adds nothing",
        ),
        pytest.param(
            web_pod(RS),
            [service("web", {"app": "web"})],
            "app=web",
            id="a controller not in the cache adds nothing",
        ),
        pytest.param(
            web_pod(RS),
            [workload("ReplicaSet", "web-rs", RS_SELECTOR, namespace="other")],
            "",
            id="a controller of the same name in another namespace",
        ),
        pytest.param(
            web_pod(owner("ReplicaSet", "web-rs", api_version="extensions/v1beta1")),
            [workload("ReplicaSet", "web-rs", RS_SELECTOR)],
            "",
            id="a ReplicaSet of another API version is not looked up",
        ),
        pytest.param(
            web_pod(owner("ReplicaSet", "web-rs", api_version="a/b/v1")),
            [workload("ReplicaSet", "web-rs", RS_SELECTOR)],
            "",
            id="a malformed apiVersion",
        ),
        pytest.param(
            web_pod(RS),
            [
                service("web", {"app": "web"}),
                workload(
                    "ReplicaSet",
                    "web-rs",
                    {"matchExpressions": [{"key": "app", "operator": "Bogus"}]},
                ),
            ],
            "app=web",
            id="a controller selector that does not parse adds nothing",
        ),
        pytest.param(
            web_pod(RS),
            [workload("ReplicaSet", "web-rs", None)],
            "",
            id="a nil controller selector adds nothing",
        ),
        pytest.param(
            web_pod(RS),
            [workload("ReplicaSet", "web-rs", {})],
            "",
            id="an empty controller selector adds nothing",
        ),
    ],
)
def test_default_selector(pod: PodInfo, objects: list[Obj], expected: str) -> None:
    assert str(default_selector(pod.pod, FakeListers(*objects))) == expected


def test_default_selector_without_listers_is_empty() -> None:
    assert default_selector(web_pod(RS).pod, None).empty()


# --- scoring and filtering with the defaults ----------------------------------------------------

FOO = {"foo": ""}
FOO_SERVICE = service("foo", FOO)


def foo_pods(n: int, prefix: str, **kwargs: Any) -> list[PodInfo]:
    return [make_pod(f"{prefix}-{i}", labels=FOO, **kwargs) for i in range(n)]


def hosts(*pods_per_node: list[PodInfo], zones: tuple[str | None, ...] = ()) -> list[NodeInfo]:
    """node-a, node-b, ... with the given pods; `zones` gives each node's zone label (None or
    missing: no zone, as on hollow nodes)."""
    nodes = []
    for i, pods in enumerate(pods_per_node):
        name = f"node-{'abcdefgh'[i]}"
        node_labels = {HOST: name}
        zone = zones[i] if i < len(zones) else None
        if zone is not None:
            node_labels[LABEL_TOPOLOGY_ZONE] = zone
        nodes.append(make_node(name, labels=node_labels, pods=pods))
    return nodes


def run_score(
    pod: PodInfo,
    nodes: list[NodeInfo],
    objects: list[Obj],
    scored: list[NodeInfo] | None = None,
    **args: Any,
) -> list[int] | None:
    plugin = PodTopologySpread(FakeHandle(nodes, FakeListers(*objects)), **args)
    return score_all(plugin, pod, nodes if scored is None else scored)


LIST_ARGS: dict[str, Any] = {
    "defaulting_type": "List",
    "default_constraints": [
        {"topologyKey": HOST, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 1},
        {"topologyKey": "rack", "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 1},
    ],
}


@pytest.mark.parametrize(
    ("pod", "nodes", "objects", "args", "scores"),
    [
        # maxSkew 3 over log(4 + 2): 4/3/2/1 pods -> 9.17, 7.38, 5.58, 3.79 -> 9, 7, 6, 4;
        # 100 * (9 + 4 - s) / 9. The zone constraint adds nothing: no node has a zone.
        pytest.param(
            make_pod("p", labels=FOO),
            hosts(foo_pods(4, "a"), foo_pods(3, "b"), foo_pods(2, "c"), foo_pods(1, "d")),
            [FOO_SERVICE],
            {},
            [44, 66, 77, 100],
            id="System: no zones, the pods of a Service spread by hostname",
        ),
        pytest.param(
            make_pod("p", labels=FOO),
            hosts(foo_pods(4, "a"), foo_pods(3, "b"), foo_pods(2, "c"), foo_pods(1, "d")),
            [],
            {},
            None,
            id="System: a pod nothing selects is not scored",
        ),
        pytest.param(
            owned(make_pod("p", labels=FOO), RS),
            hosts(foo_pods(4, "a"), [], foo_pods(1, "c")),
            [workload("ReplicaSet", "web-rs", {"matchLabels": FOO})],
            {},
            # log(3 + 2) = 1.61: 4 -> 8.44 -> 8, 0 -> 2, 1 -> 3.61 -> 4; 100 * (8 + 2 - s) / 8.
            [25, 100, 75],
            id="System: the ReplicaSet's pods",
        ),
        # Hostname: log(4 + 2) = 1.79, maxSkew 3; zone: domains mars and "" -> log(2 + 2) =
        # 1.39, maxSkew 5, counted on node-a and node-b only (node-c and node-d have no zone).
        # a: 1.79 + 2 + 1.39 + 4 = 9.18 -> 9; b: 2 + 1.39 + 4 = 7.39 -> 7; c: 2 * 1.79 + 2 =
        # 5.58 -> 6; d: 2. 100 * (9 + 2 - s) / 9.
        pytest.param(
            make_pod("p", labels=FOO),
            hosts(
                foo_pods(1, "a"),
                [],
                foo_pods(2, "c"),
                [],
                zones=("mars", "mars"),
            ),
            [FOO_SERVICE],
            {},
            [22, 44, 55, 100],
            id="System: nodes without a zone are scored by hostname alone",
        ),
        pytest.param(
            make_pod("p", labels=FOO),
            hosts(foo_pods(2, "a"), foo_pods(2, "b", namespace="other"), foo_pods(1, "c")),
            [FOO_SERVICE],
            {},
            # 2 -> 5.22 -> 5, 0 -> 2, 1 -> 3.61 -> 4; 100 * (5 + 2 - s) / 5.
            [40, 100, 60],
            id="System: pods of other namespaces do not count",
        ),
        pytest.param(
            make_pod("p", labels={**FOO, "bar": ""}),
            hosts(foo_pods(2, "a"), [make_pod("b-0", labels={"bar": ""})], []),
            [FOO_SERVICE],
            {},
            [40, 100, 100],
            id="System: only the pods the default selector matches count",
        ),
        # The pod's own constraint (hostname, selecting `bar`) replaces the defaults, which
        # would select `foo`: node-a's 2 foo pods do not count, node-b's bar pod does.
        pytest.param(
            with_constraints(
                owned(make_pod("p", labels={**FOO, "bar": ""}), RS),
                {
                    "maxSkew": 1,
                    "topologyKey": HOST,
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"bar": ""}},
                },
            ),
            hosts(foo_pods(2, "a"), [make_pod("b-0", labels={"bar": ""})], []),
            [workload("ReplicaSet", "web-rs", {"matchLabels": FOO})],
            {},
            [100, 0, 100],
            id="a pod with constraints of its own gets no defaults",
        ),
        # List: the nodes without a `rack` are left out (score 0), as with the pod's own.
        pytest.param(
            make_pod("p", labels=FOO),
            [
                make_node("node-a", labels={HOST: "node-a", "rack": "r1"}, pods=foo_pods(1, "a")),
                make_node("node-b", labels={HOST: "node-b", "rack": "r2"}),
                make_node("node-c", labels={HOST: "node-c"}),
            ],
            [FOO_SERVICE],
            LIST_ARGS,
            [0, 100, 0],
            id="List: a node without every key is left out",
        ),
    ],
)
def test_default_score(
    pod: PodInfo,
    nodes: list[NodeInfo],
    objects: list[Obj],
    args: dict[str, Any],
    scores: list[int] | None,
) -> None:
    assert run_score(pod, nodes, objects, **args) == scores


def test_system_defaults_weigh_domains_of_scored_nodes_only() -> None:
    """The hostname weight counts the scored nodes; the zone domains are those of the scored
    nodes, a node without a zone making domain "" (kube-scheduler's preScoreState for
    'system default constraints and a replicaset')."""
    nodes = hosts(foo_pods(3, "a"), [], foo_pods(1, "c"), zones=("mars", "mars"))
    # node-b (mars: 3 pods) and node-c (no zone): hostname log(2 + 2), zone log(2 + 2).
    # b: 0 + 2 + 3 * 1.386 + 4 = 10.16 -> 10; c: 1.386 + 2 = 3.39 -> 3; 100 * (10 + 3 - s) / 10.
    assert run_score(make_pod("p", labels=FOO), nodes, [FOO_SERVICE], [nodes[1], nodes[2]]) == [
        30,
        100,
    ]


def test_an_empty_zone_value_counts_the_nodes_without_one() -> None:
    """A node whose zone label is "" shares domain "" with the nodes that have no zone, as
    kube-scheduler reads a missing label as "": their pods count against it."""
    nodes = hosts(foo_pods(2, "a"), foo_pods(1, "b"), [], zones=("", None, "mars"))
    # Zone domains "" (a, b: 3 pods) and mars (c: 0): log(4). Hostname log(5), maxSkew 3.
    # a: 2 * 1.609 + 2 + 3 * 1.386 + 4 = 13.38 -> 13; b (no zone): 1.609 + 2 = 3.61 -> 4;
    # c: 2 + 0 + 4 = 6. 100 * (13 + 4 - s) / 13.
    assert run_score(make_pod("p", labels=FOO), nodes, [FOO_SERVICE]) == [30, 100, 84]


def test_system_defaults_skip_prefilter() -> None:
    """The System defaults are all ScheduleAnyway: they never refuse a node."""
    nodes = hosts(foo_pods(9, "a"), [])
    plugin = PodTopologySpread(FakeHandle(nodes, FakeListers(FOO_SERVICE)))
    _, status = plugin.pre_filter(CycleState(), make_pod("p", labels=FOO), nodes)
    assert status.code == Code.SKIP


def test_list_defaults_filter_with_the_default_selector() -> None:
    """A DoNotSchedule default constraint filters with the pod's default selector."""
    nodes = hosts(foo_pods(1, "a"), [], [])
    hard = {"topologyKey": HOST, "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1}
    plugin = PodTopologySpread(
        FakeHandle(nodes, FakeListers(FOO_SERVICE)),
        defaulting_type="List",
        default_constraints=[hard],
    )
    # node-a would hold 2 of the Service's pods against 0 elsewhere: a skew of 2.
    statuses = filter_all(plugin, make_pod("p", labels=FOO), nodes)
    assert [s.ok for s in statuses] == [False, True, True]
    # Nothing selects a bare pod: no constraint, every node fits.
    assert all(s.ok for s in filter_all(plugin, make_pod("q", labels={"x": ""}), nodes))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"default_constraints": [{"topologyKey": HOST, "maxSkew": 1}]},
            'must be empty for defaultingType "System"',
        ),
        ({"defaulting_type": "Custom"}, 'Unsupported value: "Custom"'),
        (
            {
                "defaulting_type": "List",
                "default_constraints": [
                    {"topologyKey": HOST, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 0}
                ],
            },
            "maxSkew: must be greater than zero",
        ),
        (
            {
                "defaulting_type": "List",
                "default_constraints": [
                    {
                        "topologyKey": HOST,
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "maxSkew": 1,
                        "labelSelector": {"matchLabels": FOO},
                    }
                ],
            },
            "must not define a selector",
        ),
        (
            {
                "defaulting_type": "List",
                "default_constraints": [
                    {"topologyKey": HOST, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 1},
                    {"topologyKey": HOST, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 2},
                ],
            },
            "Duplicate value",
        ),
    ],
)
def test_bad_args_are_refused(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PodTopologySpread(FakeHandle([]), **args)


def test_system_defaults_spread_a_replicaset_over_equal_nodes() -> None:
    """Placing 6 pods of one ReplicaSet one after another on the best-scored node of 3 empty
    nodes (the plugin alone, as the other plugins tie on equal nodes) puts 2 on each."""
    nodes = hosts([], [], [])
    rs = workload("ReplicaSet", "web-rs", {"matchLabels": {"app": "web"}})
    plugin = PodTopologySpread(FakeHandle(nodes, FakeListers(rs)))
    for i in range(6):
        pod = web_pod(RS, name=f"web-{i}", labels={"app": "web"})
        scores = score_all(plugin, pod, nodes)
        assert scores is not None
        # Ties go to the last node, so that the spreading is the plugin's doing, not the order.
        best = max(range(len(nodes)), key=lambda n: (scores[n], n))
        nodes[best].add_pod(pod)
    assert [len(n.pods) for n in nodes] == [2, 2, 2]


def test_counts_are_kept_per_node_only_while_it_is_unchanged() -> None:
    """The plugin keeps each node's count from cycle to cycle; a node whose pods changed, or
    a new NodeInfo under the same name (a node deleted and made again), is counted anew even
    at the same generation."""
    handle = FakeHandle(hosts(foo_pods(2, "a"), []), FakeListers(FOO_SERVICE))
    plugin = PodTopologySpread(handle)
    pod = make_pod("p", labels=FOO)
    # log(2 + 2), maxSkew 3: 2 pods -> 4.77 -> 5, none -> 2; 100 * (5 + 2 - s) / 5.
    assert score_all(plugin, pod, handle.snapshot.nodes) == [40, 100]
    others = [make_pod(f"a-{i}", labels={"bar": ""}) for i in range(2)]
    handle.snapshot.nodes = hosts(others, foo_pods(2, "b"))
    assert handle.snapshot.nodes[0].generation == 3  # as node-a's was: 1 set_node, 2 pods
    assert score_all(plugin, pod, handle.snapshot.nodes) == [100, 40]
    handle.snapshot.nodes[0].add_pod(make_pod("a-foo", labels=FOO))
    # 1 pod -> 3.39 -> 3 against 5: 100 * (5 + 3 - s) / 5.
    assert score_all(plugin, pod, handle.snapshot.nodes) == [100, 60]
