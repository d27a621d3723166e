"""PodTopologySpread: the skew rule over zones and hosts, minDomains, the node inclusion
policies, the missing-label refusal, self-match, matchLabelKeys (merged by the API server, not by
the plugin), what does not count, and the
ScheduleAnyway score (after kube-scheduler's podtopologyspread/filtering_test.go and
scoring_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import FakeHandle, filter_all, make_node, make_pod, score_all

from kubelite.scheduler.framework.events import (
    NODE_ADD,
    NODE_UPDATE,
    POD_ADD,
    POD_DELETE,
    POD_UPDATE,
)
from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.plugins.pod_topology_spread import PodTopologySpread

SKEW = "node(s) didn't match pod topology spread constraints"
MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"

ZONE = "zone"
HOST = "kubernetes.io/hostname"
FOO = {"foo": ""}
FOO_EXISTS = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}


def constraint(
    key: str = ZONE,
    max_skew: int = 1,
    when: str = "DoNotSchedule",
    selector: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A TopologySpreadConstraint selecting pods with a `foo` label unless told otherwise;
    `extra` takes the API's own field names (minDomains, nodeAffinityPolicy, ...)."""
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": FOO_EXISTS if selector is None else selector,
        **extra,
    }


# A constraint as the API server stores it for a pod labelled rev=2: its matchLabelKeys were
# merged into the selector at creation (MatchLabelKeysInPodTopologySpreadSelectorMerge).
REV_2_MERGED = constraint(
    selector={
        "matchExpressions": [
            *FOO_EXISTS["matchExpressions"],
            {"key": "rev", "operator": "In", "values": ["2"]},
        ]
    },
    matchLabelKeys=["rev"],
)


def spread_pod(
    *constraints: dict[str, Any],
    name: str = "incoming",
    labels: dict[str, str] | None = None,
    **kwargs: Any,
) -> PodInfo:
    """A pod labelled `foo` (so it matches its own selector) with these constraints."""
    info = make_pod(name, labels=FOO if labels is None else labels, **kwargs)
    info.pod["spec"]["topologySpreadConstraints"] = list(constraints)
    return info


def matching(n: int, prefix: str, **kwargs: Any) -> list[PodInfo]:
    """n running pods labelled `foo`."""
    labels = kwargs.pop("labels", FOO)
    return [make_pod(f"{prefix}-{i}", labels=labels, **kwargs) for i in range(n)]


def cluster(
    *pods_per_node: list[PodInfo], extra: dict[str, dict[str, str]] | None = None
) -> list[NodeInfo]:
    """node-a and node-b in zone1, node-x and node-y in zone2; `extra` adds labels by node."""
    layout = [("node-a", "zone1"), ("node-b", "zone1"), ("node-x", "zone2"), ("node-y", "zone2")]
    nodes = []
    for i, (name, zone) in enumerate(layout):
        node_labels = {ZONE: zone, HOST: name, **(extra or {}).get(name, {})}
        pods = pods_per_node[i] if i < len(pods_per_node) else []
        nodes.append(make_node(name, labels=node_labels, pods=pods))
    return nodes


def run_filter(pod: PodInfo, nodes: list[NodeInfo]) -> list[str]:
    """Each node's outcome: "ok", or its reason with U (Unschedulable) / UU (...Unresolvable)."""
    plugin = PodTopologySpread(FakeHandle(nodes))
    out = []
    for status in filter_all(plugin, pod, nodes):
        if status.ok:
            out.append("ok")
        else:
            code = "UU" if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE else "U"
            out.append(f"{code}: {status.message()}")
    return out


OK4 = ["ok"] * 4
U = f"U: {SKEW}"
UU = f"UU: {MISSING}"


@pytest.mark.parametrize(
    ("pod", "nodes", "expected"),
    [
        pytest.param(make_pod(labels=FOO), cluster(matching(3, "a")), OK4, id="no constraints"),
        pytest.param(
            spread_pod(constraint()),
            cluster(),
            OK4,
            id="no pods yet: every zone is as good",
        ),
        pytest.param(
            spread_pod(constraint()),
            cluster(matching(2, "a"), matching(1, "b"), matching(1, "x")),
            [U, U, "ok", "ok"],
            id="zones 3 and 1: only zone2 keeps the skew within 1",
        ),
        pytest.param(
            spread_pod(constraint(max_skew=3)),
            cluster(matching(2, "a"), matching(1, "b"), matching(1, "x")),
            OK4,
            id="maxSkew 3 allows zone1 to go to 4 against 1",
        ),
        pytest.param(
            spread_pod(constraint(HOST)),
            cluster(matching(1, "a"), matching(1, "b"), matching(1, "x")),
            [U, U, U, "ok"],
            id="hostnames: only the empty host",
        ),
        pytest.param(
            spread_pod(constraint(HOST), constraint(ZONE)),
            cluster(matching(1, "a"), [], matching(1, "x"), matching(1, "y")),
            [U, "ok", U, U],
            id="hostname and zone together: both must hold",
        ),
        pytest.param(
            spread_pod(constraint("rack")),
            cluster(extra={"node-a": {"rack": "r1"}, "node-x": {"rack": "r2"}}),
            ["ok", UU, "ok", UU],
            id="nodes without the topology key are refused as unresolvable",
        ),
        pytest.param(
            spread_pod(constraint(), labels={"bar": ""}),
            cluster(matching(1, "a")),
            ["ok", "ok", "ok", "ok"],
            id="self-match: a pod its selector does not match adds nothing to its domain",
        ),
        pytest.param(
            spread_pod(constraint()),
            cluster(matching(1, "a")),
            [U, U, "ok", "ok"],
            id="self-match: a pod its selector matches adds 1 to its domain",
        ),
        pytest.param(
            spread_pod(constraint(minDomains=3)),
            cluster(matching(1, "a"), [], matching(1, "x")),
            [U, U, U, U],
            id="minDomains 3 over 2 zones: the global minimum is 0",
        ),
        pytest.param(
            spread_pod(constraint(minDomains=2)),
            cluster(matching(1, "a"), [], matching(1, "x")),
            OK4,
            id="minDomains 2 over 2 zones: the global minimum is counted",
        ),
        pytest.param(
            spread_pod(constraint(minDomains=3, max_skew=2)),
            cluster(matching(1, "a"), [], matching(1, "x")),
            OK4,
            id="minDomains 3 with maxSkew 2 still fits 2 against 0",
        ),
        pytest.param(
            spread_pod(constraint(), node_selector={"pool": "a"}),
            cluster(matching(1, "a"), extra={"node-a": {"pool": "a"}, "node-b": {"pool": "a"}}),
            OK4,
            id="nodeAffinityPolicy Honor (default): zone2 has no eligible node, so not a domain",
        ),
        pytest.param(
            spread_pod(constraint(nodeAffinityPolicy="Ignore"), node_selector={"pool": "a"}),
            cluster(matching(1, "a"), extra={"node-a": {"pool": "a"}, "node-b": {"pool": "a"}}),
            [U, U, "ok", "ok"],
            id="nodeAffinityPolicy Ignore: zone2 counts with 0 pods",
        ),
        pytest.param(
            spread_pod(
                constraint(),
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": ZONE, "operator": "In", "values": ["zone1"]}
                                    ]
                                }
                            ]
                        }
                    }
                },
            ),
            cluster(matching(2, "a")),
            OK4,
            id="nodeAffinityPolicy Honor with required node affinity",
        ),
        pytest.param(
            spread_pod(constraint()),
            [
                *cluster(matching(1, "a"))[:2],
                make_node(
                    "node-t",
                    labels={ZONE: "zone2", HOST: "node-t"},
                    taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
                ),
            ],
            [U, U, "ok"],
            id="nodeTaintsPolicy Ignore (default): a tainted node's zone counts",
        ),
        pytest.param(
            spread_pod(constraint(nodeTaintsPolicy="Honor")),
            [
                *cluster(matching(1, "a"))[:2],
                make_node(
                    "node-t",
                    labels={ZONE: "zone2", HOST: "node-t"},
                    taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
                ),
            ],
            ["ok", "ok", "ok"],
            id="nodeTaintsPolicy Honor: an untolerated taint leaves the zone out",
        ),
        pytest.param(
            spread_pod(
                constraint(nodeTaintsPolicy="Honor"),
                tolerations=[{"key": "k", "operator": "Exists"}],
            ),
            [
                *cluster(matching(1, "a"))[:2],
                make_node(
                    "node-t",
                    labels={ZONE: "zone2", HOST: "node-t"},
                    taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}],
                ),
            ],
            [U, U, "ok"],
            id="nodeTaintsPolicy Honor: a tolerated taint keeps the zone",
        ),
        pytest.param(
            spread_pod(constraint()),
            cluster(matching(2, "a", namespace="other")),
            OK4,
            id="pods in other namespaces do not count",
        ),
        pytest.param(
            spread_pod(constraint()),
            cluster(matching(1, "a", labels={"bar": ""})),
            OK4,
            id="pods the selector does not match do not count",
        ),
        pytest.param(
            spread_pod(REV_2_MERGED, labels={"foo": "", "rev": "2"}),
            cluster(matching(2, "a", labels={"foo": "", "rev": "1"})),
            OK4,
            id="matchLabelKeys merged at creation: pods of another revision do not count",
        ),
        pytest.param(
            spread_pod(REV_2_MERGED, labels={"foo": "", "rev": "2"}),
            cluster(matching(2, "a", labels={"foo": "", "rev": "2"})),
            [U, U, "ok", "ok"],
            id="matchLabelKeys merged at creation: pods of the same revision count",
        ),
        pytest.param(
            spread_pod(REV_2_MERGED, labels={"foo": "", "rev": "3"}),
            cluster(matching(2, "a", labels={"foo": "", "rev": "2"})),
            [U, U, "ok", "ok"],
            id="matchLabelKeys: the value merged at creation counts, not the pod's label now",
        ),
        pytest.param(
            spread_pod(constraint(matchLabelKeys=["rev"]), labels={"foo": "", "rev": "2"}),
            cluster(matching(2, "a", labels={"foo": "", "rev": "1"})),
            [U, U, "ok", "ok"],
            id="matchLabelKeys: the plugin adds nothing to the stored selector (1.35+)",
        ),
        pytest.param(
            spread_pod(constraint(when="ScheduleAnyway")),
            cluster(matching(5, "a")),
            OK4,
            id="ScheduleAnyway constraints do not filter",
        ),
    ],
)
def test_filter(pod: PodInfo, nodes: list[NodeInfo], expected: list[str]) -> None:
    assert run_filter(pod, nodes) == expected


def test_terminating_pods_do_not_count() -> None:
    leaving = matching(2, "a")
    for info in leaving:
        info.pod["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    assert run_filter(spread_pod(constraint()), cluster(leaving)) == OK4


def test_prefilter_skips_without_do_not_schedule() -> None:
    plugin = PodTopologySpread(FakeHandle([]))
    for pod in (make_pod(), spread_pod(constraint(when="ScheduleAnyway"))):
        _, status = plugin.pre_filter(CycleState(), pod, cluster())
        assert status.code == Code.SKIP


def test_bad_selector_is_an_error() -> None:
    pod = spread_pod(
        constraint(selector={"matchExpressions": [{"key": "foo", "operator": "Bogus"}]})
    )
    plugin = PodTopologySpread(FakeHandle(cluster()))
    _, status = plugin.pre_filter(CycleState(), pod, cluster())
    assert status.code == Code.ERROR
    assert status.message().startswith("get constraints from pod: ")


def run_score(
    pod: PodInfo, nodes: list[NodeInfo], scored: list[NodeInfo] | None = None
) -> list[int] | None:
    plugin = PodTopologySpread(FakeHandle(nodes))
    return score_all(plugin, pod, nodes if scored is None else scored)


def soft(key: str = ZONE, max_skew: int = 1, **extra: Any) -> dict[str, Any]:
    return constraint(key, max_skew, "ScheduleAnyway", **extra)


@pytest.mark.parametrize(
    ("pod", "nodes", "scores"),
    [
        pytest.param(make_pod(), cluster(), None, id="no constraints: Skip"),
        pytest.param(spread_pod(constraint()), cluster(), None, id="only DoNotSchedule: Skip"),
        pytest.param(spread_pod(soft()), cluster(), [100] * 4, id="no pods: all 100"),
        pytest.param(
            spread_pod(soft()),
            cluster(matching(1, "a"), [], matching(1, "x")),
            [100] * 4,
            id="zones equally full: all 100",
        ),
        # log(2 zones + 2) = 1.386: zone1 3 pods -> 4.16 -> 4, zone2 1 pod -> 1.39 -> 1;
        # 100 * (4 + 1 - s) / 4.
        pytest.param(
            spread_pod(soft()),
            cluster(matching(2, "a"), matching(1, "b"), matching(1, "x")),
            [25, 25, 100, 100],
            id="zones: the emptier zone scores higher",
        ),
        # log(4 hosts + 2) = 1.792: 2 -> 3.58 -> 4, 1 -> 1.79 -> 2, 0 -> 0; 100 * (4 - s) / 4.
        pytest.param(
            spread_pod(soft(HOST)),
            cluster(matching(2, "a"), matching(1, "b")),
            [0, 50, 100, 100],
            id="hostnames: fewer matching pods on the node, higher score",
        ),
        # maxSkew 3 adds 2 to every node: 2*1.792+2 = 5.58 -> 6, 3.79 -> 4, 2; (6+2-s)/6.
        pytest.param(
            spread_pod(soft(HOST, max_skew=3)),
            cluster(matching(2, "a"), matching(1, "b")),
            [33, 66, 100, 100],
            id="hostnames with maxSkew 3: the differences weigh less",
        ),
        pytest.param(
            spread_pod(soft("rack")),
            cluster(
                matching(1, "a"),
                extra={"node-a": {"rack": "r1"}, "node-b": {"rack": "r2"}},
            ),
            [0, 100, 0, 0],
            id="nodes without the topology key score 0",
        ),
        pytest.param(
            spread_pod(soft(), node_selector={"pool": "a"}),
            cluster(
                matching(1, "a"),
                [],
                matching(3, "x"),
                extra={"node-a": {"pool": "a"}, "node-b": {"pool": "a"}, "node-y": {"pool": "a"}},
            ),
            [0, 0, 100, 100],
            id="nodeAffinityPolicy Honor: pods on ineligible nodes do not count",
        ),
    ],
)
def test_score(pod: PodInfo, nodes: list[NodeInfo], scores: list[int] | None) -> None:
    assert run_score(pod, nodes) == scores


def test_score_counts_domains_of_the_scored_nodes_only() -> None:
    """The pods on every node count, but only in the domains of the nodes being scored; the
    normalizing weight comes from those domains too."""
    nodes = cluster(matching(3, "a"), [], matching(1, "x"))
    # Only node-b (zone1: 3 pods) and node-y (zone2: 1 pod) passed the filters.
    scores = run_score(spread_pod(soft()), nodes, [nodes[1], nodes[3]])
    assert scores == [25, 100]


def test_registers_pod_and_node_events() -> None:
    assert PodTopologySpread(FakeHandle([])).events_to_register() == {
        POD_ADD,
        POD_UPDATE,
        POD_DELETE,
        NODE_ADD,
        NODE_UPDATE,
    }
