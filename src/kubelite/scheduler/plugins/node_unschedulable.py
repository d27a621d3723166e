"""NodeUnschedulable: keeps pods off cordoned nodes.

A node with `spec.unschedulable: true` (what `kubectl cordon` sets) takes no new pods, except
those that tolerate the `node.kubernetes.io/unschedulable:NoSchedule` taint (DaemonSet pods do).
The refusal is UnschedulableAndUnresolvable: evicting pods would not help.
Kubernetes: pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go.
"""

from __future__ import annotations

from kubelite.api.tolerations import (
    NO_SCHEDULE,
    TAINT_NODE_UNSCHEDULABLE,
    compile_tolerations,
    tolerations_tolerate_taint,
)
from kubelite.scheduler.framework.events import NODE_ADD, NODE_UPDATE, UNSCHEDULED_POD_UPDATE
from kubelite.scheduler.framework.status import SUCCESS, Status, unresolvable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo

NAME = "NodeUnschedulable"

ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"

_UNSCHEDULABLE_TAINT = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": NO_SCHEDULE}


class NodeUnschedulable:
    """Refuses cordoned nodes unless the pod tolerates their unschedulable taint."""

    name = NAME

    def __init__(self) -> None:
        # One status for every refused node: nothing in it depends on the node.
        self._refused = unresolvable(ERR_REASON_UNSCHEDULABLE, plugin=NAME)

    def events_to_register(self) -> set[str]:
        """A node added or uncordoned; the pod given the toleration."""
        return {NODE_ADD, NODE_UPDATE, UNSCHEDULED_POD_UPDATE}

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.unschedulable:
            return SUCCESS
        tolerates = pod.memo.get(NAME)
        if tolerates is None:
            tolerations = compile_tolerations(pod.spec.get("tolerations"))
            tolerates = pod.memo[NAME] = tolerations_tolerate_taint(
                tolerations, _UNSCHEDULABLE_TAINT
            )
        return SUCCESS if tolerates else self._refused

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status]:
        """`filter` for many nodes: schedulable nodes pass without a call."""
        return [self.filter(state, pod, node) if node.unschedulable else SUCCESS for node in nodes]
