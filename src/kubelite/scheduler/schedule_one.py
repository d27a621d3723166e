"""One pod's scheduling cycle: filter the nodes, score the feasible ones, pick the best.

As kube-scheduler's `schedulePod`:

- PreFilter plugins run once; one may refuse the pod outright or narrow the nodes.
- Filters run node by node, starting where the previous cycle stopped (so that successive pods
  do not all look at the same first nodes), and stop once enough feasible nodes are found: all
  of them below 100 nodes; above, a share that shrinks as the cluster grows (50% minus 1% per 125
  nodes, at least 5% and at least 100 nodes: `percentageOfNodesToScore`'s adaptive default).
- With a single feasible node there is nothing to score. Otherwise the weighted scores are
  summed and the highest wins; ties are broken at random, each tied node equally likely.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from kubelite.scheduler.framework.interface import Snapshot
from kubelite.scheduler.framework.runtime import Diagnosis, FitError, Framework
from kubelite.scheduler.framework.status import SUCCESS, Code, Status
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
# The fewest nodes filtered in one batch once most of the feasible nodes sought are found: small
# enough that little work is thrown away, large enough to keep calls per node few.
MIN_FILTER_CHUNK = 32
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


class SchedulingError(Exception):
    """The scheduler's own failure (a plugin error): the pod is retried after a back-off."""

    def __init__(self, status: Status) -> None:
        self.status = status
        super().__init__(status.message())


class NoNodesAvailable(Exception):
    """Raised when the cluster has no nodes at all, which the scheduler reports with Kubernetes'
    message."""

    def __init__(self) -> None:
        super().__init__(NO_NODES_AVAILABLE)


@dataclass(slots=True)
class ScheduleResult:
    """The node chosen for a pod, and how many nodes the cycle evaluated and found feasible, as
    Kubernetes' ScheduleResult reports them."""

    node: str
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes a cycle looks for before it stops filtering."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = 50 - num_all_nodes // 125
        percentage = max(percentage, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    if percentage >= 100:
        return num_all_nodes
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    """Runs cycles for one framework over one snapshot, keeping where the last one stopped."""

    def __init__(
        self,
        framework: Framework,
        snapshot: Snapshot,
        *,
        percentage_of_nodes_to_score: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        self.framework = framework
        self.snapshot = snapshot
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self.next_start_node_index = 0

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        """The node for the pod; raises FitError, NoNodesAvailable or SchedulingError."""
        all_nodes = self.snapshot.list()
        if not all_nodes:
            raise NoNodesAvailable()
        state = CycleState()
        feasible, diagnosis, processed = self._find_feasible(state, pod, all_nodes)
        if not feasible:
            raise FitError(pod, len(all_nodes), diagnosis)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, processed, 1)
        status = self.framework.run_pre_score(state, pod, feasible)
        if not status.ok:
            raise SchedulingError(status)
        totals, status = self.framework.run_score(state, pod, feasible)
        if not status.ok:
            raise SchedulingError(status)
        return ScheduleResult(self._select_host(feasible, totals), processed, len(feasible))

    def _find_feasible(
        self, state: CycleState, pod: PodInfo, all_nodes: list[NodeInfo]
    ) -> tuple[list[NodeInfo], Diagnosis, int]:
        diagnosis = Diagnosis()
        narrowed, status = self.framework.run_pre_filter(state, pod, all_nodes)
        if status.code == Code.ERROR:
            raise SchedulingError(status)
        if not status.ok:
            # Every node is refused for the same reason; the message gives it once.
            diagnosis.pre_filter_message = status.message()
            diagnosis.unschedulable_plugins.add(status.plugin)
            for node in all_nodes:
                diagnosis.node_statuses[node.name] = status
            return [], diagnosis, 0
        nodes = all_nodes
        narrowed_to = narrowed.node_names
        if narrowed_to is not None:
            nodes = [n for n in (self.snapshot.get(name) for name in narrowed_to) if n is not None]
            # The nodes left out count in the message as refused by the plugins that narrowed.
            diagnosis.absent_nodes_status = self.framework.absent_nodes_status(narrowed)
            diagnosis.unschedulable_plugins.update(narrowed.plugins)
        wanted = num_feasible_nodes_to_find(len(nodes), self.percentage)
        filters = self.framework.filters_for(state)
        feasible: list[NodeInfo] = []
        count = len(nodes)
        start = self.next_start_node_index % count if count else 0
        # The nodes in order from `start`, wrapping around.
        ordered = nodes[start:] + nodes[:start] if start else nodes
        processed = 0
        looked = 0
        while looked < count and len(feasible) < wanted:
            # Filter as many nodes at once as could still be needed; the statuses of nodes past
            # the one that completes the set are dropped, so the result is exactly that of
            # filtering one node at a time (kube-scheduler's parallel filter does the same).
            size = max(wanted - len(feasible), MIN_FILTER_CHUNK)
            chunk = ordered[looked : looked + size]
            looked += len(chunk)
            statuses = self.framework.filter_nodes(filters, state, pod, chunk)
            for node, status in zip(chunk, statuses, strict=True):
                processed += 1
                if status is SUCCESS or status.code == Code.SUCCESS:
                    feasible.append(node)
                    if len(feasible) >= wanted:
                        break
                elif status.code == Code.ERROR:
                    raise SchedulingError(status)
                else:
                    diagnosis.node_statuses[node.name] = status
                    diagnosis.unschedulable_plugins.add(status.plugin)
        if narrowed_to is None:
            self.next_start_node_index = (start + processed) % len(all_nodes)
        else:
            # kube-scheduler advances over the nodes it looked at, whatever list they came from.
            self.next_start_node_index = (self.next_start_node_index + processed) % len(all_nodes)
        return feasible, diagnosis, processed

    def _select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """The highest total; among equals, each with the same chance (reservoir sampling)."""
        best = totals[0]
        chosen = nodes[0].name
        ties = 1
        for node, total in zip(nodes[1:], totals[1:], strict=True):
            if total > best:
                best, chosen, ties = total, node.name, 1
            elif total == best:
                ties += 1
                if self.rng.randrange(ties) == 0:
                    chosen = node.name
        return chosen
