"""NodeName: a pod that names its node (`spec.nodeName`) fits only that node.

Kubernetes has only a Filter here, no PreFilter that narrows the nodes: narrowing would change
the FailedScheduling message (`node(s) didn't satisfy plugin(s) [NodeName]` instead of this
plugin's reason for the other nodes). The PreFilter below never narrows; it answers Skip for a
pod that names no node, whose Filter would pass every node, so that the Filter is not called
once per node for nothing. Such pods rarely reach a scheduler anyway, since a pod created with
`spec.nodeName` is already bound.
Kubernetes: pkg/scheduler/framework/plugins/nodename/node_name.go.
"""

from __future__ import annotations

from kubelite.scheduler.framework.events import NODE_ADD
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Status, unresolvable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

NAME = "NodeName"

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    """Keeps a pod that names its node (`spec.nodeName`) to that node."""

    name = NAME

    def __init__(self) -> None:
        self._refused = unresolvable(ERR_REASON, plugin=NAME)

    def events_to_register(self) -> set[str]:
        """Only the named node appearing can help."""
        return {NODE_ADD}

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        return None, (SUCCESS if pod.spec.get("nodeName") else SKIP)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        wanted = pod.spec.get("nodeName")
        if not wanted or wanted == node.name:
            return SUCCESS
        return self._refused
