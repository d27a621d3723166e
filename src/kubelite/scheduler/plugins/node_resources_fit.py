"""NodeResourcesFit: a pod fits a node only if the node has room for what it requests; among the
nodes that fit, the emptiest score highest.

Filter counts the pod against the node's allocatable minus what the pods already on it request
(NodeInfo.requested): one more pod than `pods` allows is `Too many pods`; cpu, memory,
ephemeral-storage and every extended resource the pod requests are each checked, and every
shortfall is a reason (`Insufficient cpu`, `Insufficient example.com/gpu`, ...). A pod that
requests nothing is only checked for the pod count. Refusals are Unschedulable (evicting pods
would make room).

Score is the default LeastAllocated strategy over cpu and memory, weight 1 each: per resource
`(allocatable - requested) * 100 / allocatable`, where `requested` is what the node's pods and
this pod request with the scoring floors (100m cpu, 200 MiB memory per container that names
none: NonZeroRequested), and 0 when that exceeds the node; the node's score is the weighted mean,
in integers as Kubernetes computes it. A node that has none of a resource leaves it out.

Kubernetes: pkg/scheduler/framework/plugins/noderesources/fit.go, resource_allocation.go,
least_allocated.go (1.37: a resized pod counts as `framework.resources.pod_requests` says; no
DRA extended resources).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.scheduler.framework.events import NODE_ADD, NODE_UPDATE, POD_DELETE
from kubelite.scheduler.framework.interface import MAX_NODE_SCORE
from kubelite.scheduler.framework.resources import Resource
from kubelite.scheduler.framework.status import SUCCESS, Status, unschedulable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

NAME = "NodeResourcesFit"

ERR_REASON_TOO_MANY_PODS = "Too many pods"
ERR_REASON_INSUFFICIENT_CPU = "Insufficient cpu"
ERR_REASON_INSUFFICIENT_MEMORY = "Insufficient memory"
ERR_REASON_INSUFFICIENT_EPHEMERAL_STORAGE = "Insufficient ephemeral-storage"
ERR_REASON_INSUFFICIENT = "Insufficient {}"

_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME


@dataclass(frozen=True, slots=True)
class _Request:
    """The pod's requests as Filter compares them; `scalars` leaves out zero amounts and is
    sorted, so that the reasons come in a stable order (Go walks a map)."""

    milli_cpu: int
    memory: int
    ephemeral_storage: int
    scalars: tuple[tuple[str, int], ...]
    # Nothing requested at all: only the pod count is checked.
    empty: bool

    @classmethod
    def of(cls, requests: Resource) -> _Request:
        return cls(
            requests.milli_cpu,
            requests.memory,
            requests.ephemeral_storage,
            tuple(sorted((name, n) for name, n in requests.scalar.items() if n != 0)),
            not (
                requests.milli_cpu
                or requests.memory
                or requests.ephemeral_storage
                or requests.scalar
            ),
        )


class NodeResourcesFit:
    """Refuses nodes without room for the pod's requests, and scores the rest by the room they would
    have left (LeastAllocated)."""

    name = NAME

    def __init__(self) -> None:
        # Statuses by their reasons: a refusal allocates nothing once its reasons were seen.
        self._refusals: dict[tuple[str, ...], Status] = {}

    def events_to_register(self) -> set[str]:
        """Room appears when an assigned pod is deleted, a node is added, or a node's
        allocatable grows."""
        return {POD_DELETE, NODE_ADD, NODE_UPDATE}

    # --- filtering ----------------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        state[_PRE_FILTER_KEY] = _Request.of(pod.requests)
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        request: _Request | None = state.get(_PRE_FILTER_KEY)
        if request is None:
            request = _Request.of(pod.requests)
        allocatable = node.allocatable
        reasons: list[str] | None = None
        if len(node.pods) + 1 > allocatable.allowed_pod_number:
            reasons = [ERR_REASON_TOO_MANY_PODS]
        if not request.empty:
            used = node.requested
            if request.milli_cpu > 0 and (
                request.milli_cpu > allocatable.milli_cpu - used.milli_cpu
            ):
                reasons = _add(reasons, ERR_REASON_INSUFFICIENT_CPU)
            if request.memory > 0 and request.memory > allocatable.memory - used.memory:
                reasons = _add(reasons, ERR_REASON_INSUFFICIENT_MEMORY)
            if request.ephemeral_storage > 0 and (
                request.ephemeral_storage > allocatable.ephemeral_storage - used.ephemeral_storage
            ):
                reasons = _add(reasons, ERR_REASON_INSUFFICIENT_EPHEMERAL_STORAGE)
            for resource, amount in request.scalars:
                free = allocatable.scalar.get(resource, 0) - used.scalar.get(resource, 0)
                if amount > free:
                    reasons = _add(reasons, ERR_REASON_INSUFFICIENT.format(resource))
        if reasons is None:
            return SUCCESS
        key = tuple(reasons)
        status = self._refusals.get(key)
        if status is None:
            status = self._refusals[key] = unschedulable(*key, plugin=NAME)
        return status

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status]:
        """`filter` for many nodes: a node with room for the pod's pod slot, cpu and memory
        passes at the cost of a few comparisons; anything else (a refusal, or a request for
        ephemeral storage or an extended resource) goes through `filter`."""
        request: _Request | None = state.get(_PRE_FILTER_KEY)
        if request is None:
            request = _Request.of(pod.requests)
        if request.ephemeral_storage or request.scalars:
            return [self.filter(state, pod, node) for node in nodes]
        cpu = request.milli_cpu
        memory = request.memory
        statuses: list[Status] = []
        append = statuses.append
        for node in nodes:
            allocatable = node.allocatable
            used = node.requested
            if (
                len(node.pods) < allocatable.allowed_pod_number
                and (cpu <= 0 or cpu <= allocatable.milli_cpu - used.milli_cpu)
                and (memory <= 0 or memory <= allocatable.memory - used.memory)
            ):
                append(SUCCESS)
            else:
                append(self.filter(state, pod, node))
        return statuses

    # --- scoring ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        requests = pod.non_zero_requests
        state[_PRE_SCORE_KEY] = (requests.milli_cpu, requests.memory)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        """leastRequestedScore: the unused share of cpu and memory on a 0-100 scale (see
        score_nodes, which the framework calls for many nodes at once)."""
        scores, status = self.score_nodes(state, pod, [node])
        return scores[0], status

    def score_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status]:
        """leastRequestedScore per resource, for many nodes in one loop: the unused share on a
        0-100 scale, 0 once overcommitted; a resource the node lacks is left out of the mean."""
        pod_cpu, pod_memory = state.get(_PRE_SCORE_KEY) or _non_zero(pod)
        scores: list[int] = []
        append = scores.append
        for node in nodes:
            allocatable = node.allocatable
            requested = node.non_zero_requested
            total = 0
            weights = 0
            capacity = allocatable.milli_cpu
            if capacity:
                used = requested.milli_cpu + pod_cpu
                if used <= capacity:
                    total += (capacity - used) * MAX_NODE_SCORE // capacity
                weights += 1
            capacity = allocatable.memory
            if capacity:
                used = requested.memory + pod_memory
                if used <= capacity:
                    total += (capacity - used) * MAX_NODE_SCORE // capacity
                weights += 1
            append(total // weights if weights else 0)
        return scores, SUCCESS


def _add(reasons: list[str] | None, reason: str) -> list[str]:
    if reasons is None:
        return [reason]
    reasons.append(reason)
    return reasons


def _non_zero(pod: PodInfo) -> tuple[int, int]:
    requests = pod.non_zero_requests
    return requests.milli_cpu, requests.memory
