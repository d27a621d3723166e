"""Runs a profile's plugins at each extension point, and explains a pod that fits nowhere.

The order of plugins is the profile's; a plugin whose PreFilter or PreScore answered Skip is left
out of Filter or Score for that pod. Scores are weighted and summed per node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubelite.scheduler.framework.interface import (
    BatchFilterPlugin,
    BatchScorePlugin,
    FilterPlugin,
    NormalizeScorePlugin,
    Plugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
)
from kubelite.scheduler.framework.status import (
    SUCCESS,
    Code,
    Status,
    error,
    unresolvable,
)
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

NO_NODE_AVAILABLE = "0/{} nodes are available"


@dataclass(slots=True)
class Diagnosis:
    """Why a pod fit nowhere: each refused node's status, and which plugins refused."""

    node_statuses: dict[str, Status] = field(default_factory=dict)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_message: str = ""
    # The status of the nodes a PreFilter left out (Framework.absent_nodes_status): they count
    # in the message as the nodes not in `node_statuses` (kube-scheduler's AbsentNodesStatus).
    absent_nodes_status: Status | None = None


class FitError(Exception):
    """No node can run the pod; its message is the one FailedScheduling carries."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        super().__init__(self.message())

    def message(self) -> str:
        """`0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s).`
        The reasons are counted over the nodes and sorted as strings, as
        kube-scheduler's FitError does; a PreFilter's refusal is given once instead."""
        text = NO_NODE_AVAILABLE.format(self.num_all_nodes) + ":"
        if self.diagnosis.pre_filter_message:
            return text + f" {self.diagnosis.pre_filter_message}."
        histogram: Counter[str] = Counter()
        for status in self.diagnosis.node_statuses.values():
            histogram.update(status.reasons)
        absent = self.num_all_nodes - len(self.diagnosis.node_statuses)
        if absent > 0 and self.diagnosis.absent_nodes_status is not None:
            for reason in self.diagnosis.absent_nodes_status.reasons:
                histogram[reason] += absent
        reasons = sorted(f"{count} {reason}" for reason, count in histogram.items())
        return text + f" {', '.join(reasons)}."


@dataclass(slots=True)
class Weighted:
    """A plugin of a profile with the weight its scores are multiplied by."""

    plugin: Plugin
    weight: int = 1


class Framework:
    """One profile: its plugins by extension point, in order, with their score weights."""

    def __init__(self, plugins: Sequence[Weighted], *, scheduler_name: str) -> None:
        self.scheduler_name = scheduler_name
        self.plugins = [w.plugin for w in plugins]
        self.pre_filters = [p for p in self.plugins if isinstance(p, PreFilterPlugin)]
        self.filters = [p for p in self.plugins if isinstance(p, FilterPlugin)]
        self.pre_scores = [p for p in self.plugins if isinstance(p, PreScorePlugin)]
        self.scores = [(w.plugin, w.weight) for w in plugins if isinstance(w.plugin, ScorePlugin)]
        self._normalizing = {
            p.name: p for p, _ in self.scores if isinstance(p, NormalizeScorePlugin)
        }
        # isinstance() against a runtime_checkable Protocol inspects the class each time: the
        # plugins with batch forms are found once, here.
        self._batch_filters = {p.name: p for p in self.filters if isinstance(p, BatchFilterPlugin)}
        self._batch_scores = {p.name: p for p, _ in self.scores if isinstance(p, BatchScorePlugin)}

    # --- filtering --------------------------------------------------------------------------

    def run_pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult, Status]:
        """RunPreFilterPlugins: an UnschedulableAndUnresolvable answer stops at once; an
        Unschedulable one is kept while the other PreFilters still run (kube-scheduler does so
        for preemption's sake); narrowings are intersected, and an empty intersection refuses
        the pod. The plugins that narrowed are left in the result's `plugins`."""
        result = PreFilterResult()
        narrowed_by: list[str] = []
        refused = SUCCESS
        for plugin in self.pre_filters:
            narrowed, status = plugin.pre_filter(state, pod, nodes)
            if status.code == Code.SKIP:
                state.skip_filter.add(plugin.name)
                continue
            if not status.ok:
                status.plugin = status.plugin or plugin.name
                if not status.rejects:
                    return result, error(
                        f'running PreFilter plugin "{plugin.name}": {status.message()}',
                        plugin.name,
                    )
                if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    return result, status
                refused = status
                continue
            if narrowed is not None and narrowed.node_names is not None:
                narrowed_by.append(plugin.name)
                result = result.merge(narrowed)
                result.plugins = tuple(sorted(narrowed_by))
                if not result.node_names:
                    # Go prints the plugin list with %v: `[NodeAffinity Other]`.
                    if len(narrowed_by) == 1:
                        message = f"node(s) didn't satisfy plugin {narrowed_by[0]}"
                    else:
                        listed = " ".join(sorted(narrowed_by))
                        message = f"node(s) didn't satisfy plugin(s) [{listed}] simultaneously"
                    return result, unresolvable(message, plugin=narrowed_by[-1])
        return result, refused

    @staticmethod
    def absent_nodes_status(result: PreFilterResult) -> Status | None:
        """The status of the nodes a narrowing PreFilter left out, for Diagnosis:
        `node(s) didn't satisfy plugin(s) [NodeAffinity]`; None when nothing was narrowed."""
        if result.node_names is None:
            return None
        return unresolvable(
            f"node(s) didn't satisfy plugin(s) [{' '.join(result.plugins)}]",
            plugin=result.plugins[-1] if result.plugins else "",
        )

    def filters_for(self, state: CycleState) -> list[FilterPlugin]:
        """The Filter plugins that run for this pod (those not skipped by their PreFilter)."""
        return [p for p in self.filters if p.name not in state.skip_filter]

    @staticmethod
    def run_filters(
        filters: list[FilterPlugin], state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> Status:
        for plugin in filters:
            status = plugin.filter(state, pod, node)
            # Plugins answer the shared SUCCESS: an identity test spares the enum comparison
            # on the path every node of every cycle takes.
            if status is not SUCCESS and status.code != Code.SUCCESS:
                if not status.plugin:
                    status.plugin = plugin.name
                if not status.rejects:
                    return error(
                        f'running "{plugin.name}" filter plugin: {status.message()}', plugin.name
                    )
                return status
        return SUCCESS

    def filter_nodes(
        self, filters: list[FilterPlugin], state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> list[Status]:
        """run_filters for many nodes at once: each node's status, in order, the same as
        run_filters gives it. Each plugin sees the nodes every plugin before it passed, in one
        call when it has a batch form."""
        statuses: list[Status] = [SUCCESS] * len(nodes)
        survivors = list(range(len(nodes)))
        candidates = nodes
        for plugin in filters:
            if not survivors:
                break
            batch_filter = self._batch_filters.get(plugin.name)
            if batch_filter is not None:
                answers = batch_filter.filter_nodes(state, pod, candidates)
            else:
                answers = [plugin.filter(state, pod, node) for node in candidates]
            if all(status is SUCCESS for status in answers):
                continue
            kept: list[int] = []
            for index, status in zip(survivors, answers, strict=True):
                if status is SUCCESS or status.code == Code.SUCCESS:
                    kept.append(index)
                    continue
                if not status.plugin:
                    status.plugin = plugin.name
                if not status.rejects:
                    status = error(
                        f'running "{plugin.name}" filter plugin: {status.message()}', plugin.name
                    )
                statuses[index] = status
            survivors = kept
            candidates = [nodes[index] for index in kept]
        return statuses

    # --- scoring ----------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        for plugin in self.pre_scores:
            status = plugin.pre_score(state, pod, nodes)
            if status.code == Code.SKIP:
                state.skip_score.add(plugin.name)
            elif not status.ok:
                return error(f'running PreScore plugin "{plugin.name}": {status.message()}')
        return SUCCESS

    def run_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status]:
        """Each node's weighted total, in the order of `nodes`."""
        totals = [0] * len(nodes)
        for plugin, weight in self.scores:
            if plugin.name in state.skip_score:
                continue
            batch_score = self._batch_scores.get(plugin.name)
            if batch_score is not None:
                values, status = batch_score.score_nodes(state, pod, nodes)
                if not status.ok:
                    return totals, error(
                        f'running Score plugin "{plugin.name}": {status.message()}'
                    )
            else:
                values = []
                append = values.append
                score = plugin.score
                for node in nodes:
                    value, status = score(state, pod, node)
                    if status is not SUCCESS and not status.ok:
                        return totals, error(
                            f'running Score plugin "{plugin.name}": {status.message()}'
                        )
                    append(value)
            # isinstance() against a runtime_checkable Protocol inspects the class each time:
            # the normalizing plugins are found once, in __init__.
            normalizer = self._normalizing.get(plugin.name)
            if normalizer is not None:
                scored, status = normalizer.normalize_score(
                    state,
                    pod,
                    [(node.name, value) for node, value in zip(nodes, values, strict=True)],
                )
                if not status.ok:
                    return totals, error(
                        f'running Normalize on Score plugins "{plugin.name}": {status.message()}'
                    )
                values = [value for _, value in scored]
            totals = [total + value * weight for total, value in zip(totals, values, strict=True)]
        return totals, SUCCESS
