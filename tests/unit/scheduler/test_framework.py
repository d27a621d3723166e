"""The framework runs the default plugins as kube-scheduler does, and FitError writes the
FailedScheduling message in Kubernetes' words (FitError.Error in pkg/scheduler/framework)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.scheduler.framework.runtime import Diagnosis, FitError, Framework, Weighted
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Code, Status, unschedulable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult
from kubelite.scheduler.plugins import DEFAULT_PROFILE, default_plugins

Obj = dict[str, Any]


def pod(spec: Obj | None = None) -> PodInfo:
    containers = [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]
    return PodInfo(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"containers": containers, **(spec or {})},
        }
    )


def node(name: str, *, cpu: str = "4", taints: list[Obj] | None = None) -> NodeInfo:
    info = NodeInfo(name)
    info.set_node(
        {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
        }
    )
    return info


class Snapshot:
    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.nodes = nodes

    def list(self) -> list[NodeInfo]:
        return self.nodes

    def get(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def with_pods_with_affinity(self) -> list[NodeInfo]:
        return []

    def with_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        return []


class Handle:
    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.snapshot = Snapshot(nodes)
        self.listers = None


def fit_error(framework: Framework, info: PodInfo, nodes: list[NodeInfo]) -> FitError:
    """A cycle's filtering as the scheduler runs it, and the error it raises."""
    state = CycleState()
    diagnosis = Diagnosis()
    result, status = framework.run_pre_filter(state, info, nodes)
    if not status.ok:
        diagnosis.pre_filter_message = status.message()
        for n in nodes:
            diagnosis.node_statuses[n.name] = status
        return FitError(info, len(nodes), diagnosis)
    diagnosis.absent_nodes_status = framework.absent_nodes_status(result)
    candidates = (
        nodes if result.node_names is None else [n for n in nodes if n.name in result.node_names]
    )
    filters = framework.filters_for(state)
    for n in candidates:
        status = framework.run_filters(filters, state, info, n)
        assert not status.ok, f"{n.name} fits"
        diagnosis.node_statuses[n.name] = status
    return FitError(info, len(nodes), diagnosis)


def default_framework(nodes: list[NodeInfo]) -> Framework:
    return Framework(default_plugins(Handle(nodes)), scheduler_name="default-scheduler")


def test_message_counts_reasons_over_nodes() -> None:
    nodes = [
        node("n1", cpu="500m"),
        node("n2", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        node("n3", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]),
    ]
    error = fit_error(default_framework(nodes), pod(), nodes)
    assert str(error) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s)."
    )


def test_the_first_refusing_plugin_gives_the_reason() -> None:
    # TaintToleration runs before NodeResourcesFit, so the tainted small node counts as tainted.
    nodes = [node("n1", cpu="500m", taints=[{"key": "k", "effect": "NoSchedule"}])]
    error = fit_error(default_framework(nodes), pod(), nodes)
    assert str(error) == "0/1 nodes are available: 1 node(s) had untolerated taint(s)."


def test_nodes_a_prefilter_left_out_count_with_its_reason() -> None:
    nodes = [node("n1", cpu="500m"), node("n2"), node("n3")]
    pinned = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["n1"]}
                            ]
                        }
                    ]
                }
            }
        }
    }
    error = fit_error(default_framework(nodes), pod(pinned), nodes)
    assert str(error) == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )


def test_a_prefilter_refusal_is_given_once() -> None:
    nodes = [node("n1"), node("n2")]
    conflicting = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["n1"]},
                                {"key": "metadata.name", "operator": "In", "values": ["n2"]},
                            ]
                        }
                    ]
                }
            }
        }
    }
    error = fit_error(default_framework(nodes), pod(conflicting), nodes)
    assert str(error) == "0/2 nodes are available: pod affinity terms conflict."


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        (
            {"n1": ["Node(s) failed Filter plugin FalseFilter-1"]}
            | {f"n{i}": ["Node(s) failed Filter plugin FalseFilter-1"] for i in (2, 3)},
            "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1.",
        ),
        (
            {
                "n1": ["Insufficient cpu", "Insufficient memory"],
                "n2": ["Insufficient cpu"],
                "n3": ["node(s) were unschedulable"],
            },
            "0/3 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, "
            "2 Insufficient cpu.",
        ),
        (
            # Sorted as strings, as Go's sort.Strings does: "10 ..." before "2 ...".
            {f"n{i}": ["Too many pods"] for i in range(10)}
            | {f"m{i}": ["Insufficient cpu"] for i in range(2)},
            "0/12 nodes are available: 10 Too many pods, 2 Insufficient cpu.",
        ),
    ],
)
def test_reasons_are_counted_and_sorted_as_strings(
    statuses: dict[str, list[str]], message: str
) -> None:
    diagnosis = Diagnosis(
        node_statuses={name: unschedulable(*reasons) for name, reasons in statuses.items()}
    )
    assert FitError(pod(), len(statuses), diagnosis).message() == message


def test_prefilter_message_stands_for_every_node() -> None:
    status = unschedulable("Node(s) failed PreFilter plugin FalsePreFilter")
    diagnosis = Diagnosis(
        node_statuses={n: status for n in ("a", "b", "c")},
        pre_filter_message=status.message(),
    )
    assert FitError(pod(), 3, diagnosis).message() == (
        "0/3 nodes are available: Node(s) failed PreFilter plugin FalsePreFilter."
    )


def test_message_for_topology_spread() -> None:
    """PodTopologySpread refuses after NodeResourcesFit: a skew on one node, a missing
    topology label on the other."""
    web = {"app": "web"}
    nodes = [node("n1"), node("n2")]
    # Only n1 has a zone: n2 is refused for lacking it, and counts for no constraint.
    n1 = nodes[0].node
    assert n1 is not None
    n1["metadata"]["labels"]["topology.kubernetes.io/zone"] = "z1"
    nodes[0].set_node(n1)
    nodes[0].add_pod(
        PodInfo({"metadata": {"name": "web-0", "namespace": "default", "labels": web}, "spec": {}})
    )
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": web},
            # One eligible host (n1) of the two wanted: the global minimum is 0.
            "minDomains": 2,
        }
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]
    info = pod({"topologySpreadConstraints": spread})
    info.pod["metadata"]["labels"] = web
    error = fit_error(default_framework(nodes), info, nodes)
    assert str(error) == (
        "0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
        "1 node(s) didn't match pod topology spread constraints (missing required label)."
    )


def test_default_profile_order_and_weights() -> None:
    assert DEFAULT_PROFILE == (
        ("NodeUnschedulable", 1),
        ("NodeName", 1),
        ("TaintToleration", 3),
        ("NodeAffinity", 2),
        ("NodePorts", 1),
        ("NodeResourcesFit", 1),
        ("VolumeBinding", 1),
        ("PodTopologySpread", 2),
        ("InterPodAffinity", 2),
        ("NodeResourcesBalancedAllocation", 1),
    )
    plugins = default_plugins(Handle([]))
    assert [(w.plugin.name, w.weight) for w in plugins] == list(DEFAULT_PROFILE)


# --- the framework's own rules, with stub plugins ----------------------------------------------


class Narrowing:
    def __init__(self, name: str, names: set[str] | None, status: Status = SUCCESS) -> None:
        self.name = name
        self.names = names
        self.status = status

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        return PreFilterResult(self.names), self.status


@pytest.mark.parametrize(
    ("plugins", "code", "message"),
    [
        (
            [Narrowing("A", {"n1"}), Narrowing("B", {"n2"})],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            "node(s) didn't satisfy plugin(s) [A B] simultaneously",
        ),
        (
            [Narrowing("B", {"n1"}), Narrowing("A", {"n2"})],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            "node(s) didn't satisfy plugin(s) [A B] simultaneously",
        ),
        (
            [Narrowing("A", set())],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            "node(s) didn't satisfy plugin A",
        ),
        # An Unschedulable refusal lets the other PreFilters run; an unresolvable one wins.
        (
            [
                Narrowing("A", None, unschedulable("first")),
                Narrowing("B", None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ["second"])),
            ],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            "second",
        ),
        (
            [Narrowing("A", None, unschedulable("first")), Narrowing("B", None, SKIP)],
            Code.UNSCHEDULABLE,
            "first",
        ),
    ],
)
def test_prefilter_outcomes(plugins: list[Narrowing], code: Code, message: str) -> None:
    framework = Framework([Weighted(p) for p in plugins], scheduler_name="s")
    _, status = framework.run_pre_filter(CycleState(), pod(), [])
    assert (status.code, status.message()) == (code, message)


def test_narrowed_result_names_its_plugins() -> None:
    framework = Framework(
        [Weighted(Narrowing("B", {"n1", "n2"})), Weighted(Narrowing("A", {"n1"}))],
        scheduler_name="s",
    )
    result, status = framework.run_pre_filter(CycleState(), pod(), [])
    assert status.ok
    assert (result.node_names, result.plugins) == ({"n1"}, ("A", "B"))
    absent = framework.absent_nodes_status(result)
    assert absent is not None
    assert absent.reasons == ["node(s) didn't satisfy plugin(s) [A B]"]
    assert framework.absent_nodes_status(PreFilterResult()) is None


def test_scores_are_normalized_weighted_and_summed() -> None:
    nodes = [
        node("tainted", taints=[{"key": "k", "effect": "PreferNoSchedule"}]),
        node("plain"),
    ]
    framework = default_framework(nodes)
    state = CycleState()
    info = pod()
    assert framework.run_pre_score(state, info, nodes).ok
    totals, status = framework.run_score(state, info, nodes)
    assert status.ok
    # TaintToleration 3 x (0 | 100); NodeResourcesFit: cpu (4000-1000)*100/4000 = 75, memory
    # (8Gi-200Mi) -> 97, mean 86; BalancedAllocation: cpu 0.25, memory 0 -> 87 after the pod,
    # 100 before on the empty node, so 50 + (50 + 87 - 100) // 2 = 68 (1.36+).
    assert totals == [0 + 86 + 68, 300 + 86 + 68]
