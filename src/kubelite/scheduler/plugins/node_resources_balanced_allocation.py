"""NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be used in equal
shares once the pod is placed, so that neither runs out while the other lies idle.

For each resource the node has, the fraction `(requested on the node + the pod's request) /
allocatable` is capped at 1; with the two fractions of cpu and memory the standard deviation is
`|f1 - f2| / 2` (0 with a single one), and the score is `(1 - std) * 100`, truncated. Unlike
NodeResourcesFit's score, the requests here are the real ones, without the scoring floors. A pod
that requests neither cpu nor memory is not scored at all (PreScore answers Skip), so that
best-effort pods do not pile up on one node (kubernetes#129138, in 1.33).

Kubernetes: pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go (1.33).
"""

from __future__ import annotations

from kubelite.scheduler.framework.interface import MAX_NODE_SCORE
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Status
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo

NAME = "NodeResourcesBalancedAllocation"

_PRE_SCORE_KEY = "PreScore" + NAME


class NodeResourcesBalancedAllocation:
    """Prefers nodes whose cpu and memory would end up used in equal shares, so that neither runs
    out while the other sits idle."""

    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        requests = pod.requests
        if not requests.milli_cpu and not requests.memory:
            return SKIP
        state[_PRE_SCORE_KEY] = (requests.milli_cpu, requests.memory)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        """One node's balance of cpu and memory use (see score_nodes)."""
        scores, status = self.score_nodes(state, pod, [node])
        return scores[0], status

    def score_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status]:
        """balancedResourceScorer for many nodes in one loop: 100 minus the spread of the cpu
        and memory shares in use (capped at 1); the standard deviation of two fractions is half
        their distance. Python divides the exact integers and rounds once; Go rounds both to
        float64 first, which changes nothing below 2**53 (8 PiB of memory)."""
        pod_cpu, pod_memory = state.get(_PRE_SCORE_KEY) or (
            pod.requests.milli_cpu,
            pod.requests.memory,
        )
        scores: list[int] = []
        append = scores.append
        for node in nodes:
            allocatable = node.allocatable
            cpu_capacity = allocatable.milli_cpu
            memory_capacity = allocatable.memory
            if not cpu_capacity or not memory_capacity:
                append(MAX_NODE_SCORE)
                continue
            requested = node.requested
            cpu = (requested.milli_cpu + pod_cpu) / cpu_capacity
            memory = (requested.memory + pod_memory) / memory_capacity
            if cpu > 1:
                cpu = 1.0
            if memory > 1:
                memory = 1.0
            append(int((1 - abs((cpu - memory) / 2)) * float(MAX_NODE_SCORE)))
        return scores, SUCCESS
