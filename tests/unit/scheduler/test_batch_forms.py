"""The batch form of Filter (filter_nodes) answers exactly as the plugin does node by node, over
nodes of every kind the plugin tells apart. (The Score plugins with a batch form score one node
through it, so their own score tests cover it.)"""

from __future__ import annotations

import pytest
from sched_objects import make_node, make_pod

from kubelite.scheduler.framework.interface import BatchFilterPlugin
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.plugins.node_affinity import NodeAffinity
from kubelite.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubelite.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubelite.scheduler.plugins.taint_toleration import TaintToleration


def nodes() -> list[NodeInfo]:
    """Free, nearly full, full of pods, tainted, cordoned, labelled and capacity-less nodes."""
    made = [
        NodeInfo("free", make_node("free")),
        NodeInfo("small", make_node("small", cpu="200m", memory="256Mi")),
        NodeInfo("two-pods", make_node("two-pods", pods="2")),
        NodeInfo(
            "tainted",
            make_node("tainted", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
        ),
        NodeInfo("cordoned", make_node("cordoned", unschedulable=True)),
        NodeInfo("zone-a", make_node("zone-a", labels={"zone": "a"})),
        NodeInfo("no-memory", make_node("no-memory", memory="0")),
        NodeInfo("gpu", make_node("gpu", **{})),
    ]
    made[-1].allocatable.scalar["example.com/gpu"] = 2
    for i in range(2):
        filler = PodInfo(make_pod(f"f{i}", cpu="150m", memory="200Mi", node="two-pods"))
        made[2].add_pod(filler)
    made[1].add_pod(PodInfo(make_pod("big", cpu="150m", memory="200Mi", node="small")))
    return made


PODS = {
    "no requests": make_pod("p"),
    "cpu and memory": make_pod("p", cpu="100m", memory="100Mi"),
    "too much cpu": make_pod("p", cpu="3", memory="1Gi"),
    "tolerates gpu": make_pod("p", cpu="100m", tolerations=[{"key": "gpu", "operator": "Exists"}]),
    "node selector": make_pod("p", cpu="100m", nodeSelector={"zone": "a"}),
    "ephemeral storage": make_pod("p"),
}
PODS["ephemeral storage"]["spec"]["containers"][0]["resources"] = {
    "requests": {"ephemeral-storage": "1Gi", "example.com/gpu": "1"}
}

FILTERS = [NodeResourcesFit, TaintToleration, NodeUnschedulable, NodeAffinity]


def prepared(plugin: object, pod: PodInfo, all_nodes: list[NodeInfo]) -> CycleState:
    state = CycleState()
    if hasattr(plugin, "pre_filter"):
        plugin.pre_filter(state, pod, all_nodes)
    return state


@pytest.mark.parametrize("plugin_class", FILTERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("pod_name", list(PODS))
def test_filter_nodes_gives_each_node_the_status_filter_gives(
    plugin_class: type, pod_name: str
) -> None:
    plugin = plugin_class()
    assert isinstance(plugin, BatchFilterPlugin)
    all_nodes = nodes()
    pod = PodInfo(PODS[pod_name])
    state = prepared(plugin, pod, all_nodes)
    one_by_one = [plugin.filter(state, pod, node) for node in all_nodes]
    batch = plugin.filter_nodes(state, pod, all_nodes)
    assert [(s.code, s.reasons) for s in batch] == [(s.code, s.reasons) for s in one_by_one]
