"""NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory use the pod would make
more even, so that neither runs out while the other lies idle.

A node's balance is `(1 - std) * 100`, truncated, where for each resource the node has, the
fraction `requested / allocatable` is capped at 1, and the standard deviation of the two
fractions of cpu and memory is `|f1 - f2| / 2` (0 with a single one). Since 1.36
(kubernetes#135573) the score is the change the pod makes to that balance: with the balance
after placing the pod and before, both in [50, 100], the score is `50 + (50 + after - before) /
2` (integer division): 75 for no change, towards 100 for a pod that evens the node out, towards
50 for one that unbalances it. Unlike NodeResourcesFit's score, the requests here are the real
ones, without the scoring floors. A pod that requests neither cpu nor memory is not scored at all
(PreScore answers Skip), so that best-effort pods do not pile up on one node (kubernetes#129138).

Kubernetes: pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go (1.37).
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
        """balancedResourceScorer for many nodes in one loop: the balance with the pod
        against the balance without it (see the module's docstring)."""
        pod_cpu, pod_memory = state.get(_PRE_SCORE_KEY) or (
            pod.requests.milli_cpu,
            pod.requests.memory,
        )
        scores: list[int] = []
        append = scores.append
        half = MAX_NODE_SCORE // 2
        for node in nodes:
            allocatable = node.allocatable
            requested = node.requested
            cpu_capacity = allocatable.milli_cpu
            memory_capacity = allocatable.memory
            with_pod = _balance(
                requested.milli_cpu + pod_cpu,
                cpu_capacity,
                requested.memory + pod_memory,
                memory_capacity,
            )
            without_pod = _balance(
                requested.milli_cpu, cpu_capacity, requested.memory, memory_capacity
            )
            append(half + (half + with_pod - without_pod) // 2)
        return scores, SUCCESS


def _balance(cpu: int, cpu_capacity: int, memory: int, memory_capacity: int) -> int:
    """balancedResourceScore: 100 minus the spread of the cpu and memory shares in use (each
    capped at 1; a resource the node has none of is left out); the standard deviation of two
    fractions is half their distance. Python divides the exact integers and rounds once; Go
    rounds both to float64 first, which changes nothing below 2**53 (8 PiB of memory)."""
    if not cpu_capacity or not memory_capacity:
        return MAX_NODE_SCORE  # One fraction or none: no spread.
    cpu_share = min(cpu / cpu_capacity, 1.0)
    memory_share = min(memory / memory_capacity, 1.0)
    return int((1 - abs((cpu_share - memory_share) / 2)) * float(MAX_NODE_SCORE))
