"""TaintToleration: a pod runs only on nodes whose NoSchedule and NoExecute taints it
tolerates, and prefers nodes with fewer PreferNoSchedule taints it does not tolerate.

Filter refuses such a node with `node(s) had untolerated taint(s)`
(UnschedulableAndUnresolvable): since 1.35 (#134740, backported to 1.34) the reason no longer
names the taint, whose key and value may be sensitive; Kubernetes logs it instead. Score counts
the node's PreferNoSchedule taints that none of the pod's tolerations of effect
PreferNoSchedule (or of no effect) tolerates; NormalizeScore reverses the counts onto 0-100,
so the node with the most such taints scores 0 and nodes without any score 100; when no node
has such a taint, scoring is left out (see pre_score). The matching itself is
kubelite.api.tolerations.

Kubernetes: pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go (1.37).
"""

from __future__ import annotations

import logging

from kubelite.api.tolerations import (
    DO_NOT_SCHEDULE,
    PREFER_NO_SCHEDULE,
    Toleration,
    compile_tolerations,
    find_untolerated_taint,
)
from kubelite.scheduler.framework.events import NODE_ADD, NODE_UPDATE, UNSCHEDULED_POD_UPDATE
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Status, unresolvable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.plugins.helper import default_normalize_score

log = logging.getLogger(__name__)

NAME = "TaintToleration"

ERR_REASON_UNTOLERATED = "node(s) had untolerated taint(s)"

_PRE_SCORE_KEY = "PreScore" + NAME


class TaintToleration:
    """Refuses nodes with NoSchedule or NoExecute taints the pod does not tolerate, and prefers
    nodes with fewer untolerated PreferNoSchedule taints."""

    name = NAME

    def __init__(self) -> None:
        # The one refusal, kept: every untolerated taint gets the same words.
        self._refusal = unresolvable(ERR_REASON_UNTOLERATED, plugin=NAME)

    def events_to_register(self) -> set[str]:
        """A node added or its taints changed; the pod given a toleration."""
        return {NODE_ADD, NODE_UPDATE, UNSCHEDULED_POD_UPDATE}

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taints = node.taints
        if not taints:
            return SUCCESS
        taint = find_untolerated_taint(taints, _tolerations(pod), DO_NOT_SCHEDULE)
        if taint is None:
            return SUCCESS
        log.debug("node %s had untolerated taint %s for pod %s", node.name, taint, pod.key)
        return self._refusal

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status]:
        """`filter` for many nodes: untainted nodes pass without a call."""
        return [SUCCESS if not node.taints else self.filter(state, pod, node) for node in nodes]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        """Skip when no node has a PreferNoSchedule taint. Kubernetes scores such nodes 0 and
        normalizes every one to 100; leaving the plugin out instead lowers every total by the
        same 300, which changes no choice and saves a call per node."""
        for node in nodes:
            if node.taints and any(t.get("effect") == PREFER_NO_SCHEDULE for t in node.taints):
                break
        else:
            return SKIP
        state[_PRE_SCORE_KEY] = _prefer_no_schedule_tolerations(pod)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        taints = node.taints
        if not taints:
            return 0, SUCCESS
        tolerations: tuple[Toleration, ...] | None = state.get(_PRE_SCORE_KEY)
        if tolerations is None:
            tolerations = _prefer_no_schedule_tolerations(pod)
        count = 0
        for taint in taints:
            if taint.get("effect") != PREFER_NO_SCHEDULE:
                continue
            key = taint.get("key") or ""
            value = taint.get("value") or ""
            if not any(t.tolerates_parts(key, value, PREFER_NO_SCHEDULE) for t in tolerations):
                count += 1
        return count, SUCCESS

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: list[tuple[str, int]]
    ) -> tuple[list[tuple[str, int]], Status]:
        return default_normalize_score(scores, reverse=True), SUCCESS


def _tolerations(pod: PodInfo) -> tuple[Toleration, ...]:
    tolerations = pod.memo.get(NAME)
    if tolerations is None:
        tolerations = pod.memo[NAME] = compile_tolerations(pod.spec.get("tolerations"))
    return tolerations


def _prefer_no_schedule_tolerations(pod: PodInfo) -> tuple[Toleration, ...]:
    """getAllTolerationPreferNoSchedule: those of effect PreferNoSchedule or of no effect."""
    return tuple(t for t in _tolerations(pod) if t.effect in ("", PREFER_NO_SCHEDULE))
