"""NodeResourcesBalancedAllocation: the score of 1.36 and later, the change the pod makes to the
node's balance (kubernetes#135573), with kube-scheduler's own cases
(noderesources/balanced_allocation_test.go; cpu in millicores, memory in bytes)."""

from __future__ import annotations

import pytest
from plugin_objects import make_node, make_pod, score_all

from kubelite.scheduler.framework.types import PodInfo
from kubelite.scheduler.plugins.node_resources_balanced_allocation import (
    NodeResourcesBalancedAllocation,
)

CPU_ONLY = [{"cpu": "1000m", "memory": "0"}, {"cpu": "2000m", "memory": "0"}]
CPU_AND_MEMORY = [{"cpu": "1000m", "memory": "2000"}, {"cpu": "2000m", "memory": "3000"}]


def node(name: str, milli_cpu: int, memory: int, *pods: PodInfo):
    return make_node(
        name, allocatable={"cpu": f"{milli_cpu}m", "memory": str(memory)}, pods=list(pods)
    )


@pytest.mark.parametrize(
    ("pod", "nodes", "scores"),
    [
        pytest.param(
            make_pod(requests=CPU_AND_MEMORY),
            [node("node1", 4000, 10000), node("node2", 6000, 10000)],
            # node1: balance 100 before, 87 after (cpu .75, memory .5): 50 + (50 + 87 - 100) // 2.
            [68, 75],
            id="nothing scheduled, resources requested, differently sized nodes",
        ),
        pytest.param(
            make_pod(requests=CPU_AND_MEMORY),
            [
                node("node1", 10000, 20000, make_pod("a", requests=CPU_ONLY)),
                node("node2", 10000, 20000, make_pod("b", requests=CPU_AND_MEMORY)),
            ],
            # node1: 85 before (cpu .3, memory 0), 82 after; node2: 97 before, 95 after.
            [73, 74],
            id="resources requested, pods scheduled with resources",
        ),
        pytest.param(
            make_pod(requests=CPU_AND_MEMORY),
            [
                node("node1", 10000, 20000, make_pod("a", requests=CPU_ONLY)),
                node("node2", 10000, 50000, make_pod("b", requests=CPU_AND_MEMORY)),
            ],
            [73, 70],
            id="differently sized nodes",
        ),
        pytest.param(
            make_pod(requests=CPU_ONLY),
            [
                node("node1", 6000, 10000, make_pod("a", requests=CPU_ONLY)),
                node("node2", 6000, 10000, make_pod("b", requests=CPU_AND_MEMORY)),
            ],
            # Kubernetes' own expectation for this case (kubernetes#135573): 62 and 62.
            [62, 62],
            id="requested resources at node capacity",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "8", "memory": "1"}]),
            [node("node1", 4000, 10)],
            [52],
            id="fractions above 1 are capped",
        ),
        pytest.param(
            make_pod(requests=CPU_AND_MEMORY),
            [make_node("node1", allocatable={}), make_node("node2", allocatable={"cpu": "4"})],
            # One fraction, or none: no spread before or after, so no change.
            [75, 75],
            id="a resource the node lacks is left out",
        ),
    ],
)
def test_balanced_allocation_score_as_kubernetes_computes_it(
    pod: PodInfo, nodes: list, scores: list[int]
) -> None:
    assert score_all(NodeResourcesBalancedAllocation(), pod, nodes) == scores


@pytest.mark.parametrize(
    "pod",
    [make_pod(), make_pod(requests=[{}, {}]), make_pod(requests=[{"cpu": "0", "memory": "0"}])],
)
def test_best_effort_pods_are_not_scored(pod: PodInfo) -> None:
    assert score_all(NodeResourcesBalancedAllocation(), pod, [node("n1", 1000, 1000)]) is None


def test_a_pod_that_evens_a_node_out_scores_higher_than_one_that_unbalances_it() -> None:
    """The change to the balance counts, not only the balance after the pod."""
    memory_heavy = make_pod("m", requests=[{"cpu": "0", "memory": "6000"}])
    balanced = make_pod("b", requests=[{"cpu": "2000m", "memory": "2000"}])
    pod = make_pod(requests=[{"cpu": "4000m", "memory": "0"}])
    nodes = [node("evened", 10000, 10000, memory_heavy), node("skewed", 10000, 10000, balanced)]
    # evened: cpu 0 / memory .6 (70) before, .4 / .6 (90) after: 50 + (50 + 90 - 70) // 2.
    # skewed: .2 / .2 (100) before, .6 / .2 (80) after: 50 + (50 + 80 - 100) // 2.
    assert score_all(NodeResourcesBalancedAllocation(), pod, nodes) == [85, 65]
