"""NodePorts: a pod that asks for host ports fits only a node where they are free.

A port conflicts with one already taken on the node for the same protocol when either side binds
all addresses (0.0.0.0) or both bind the same one (NodeInfo.port_taken). The pod's host ports are
those of its app containers and sidecars (restartable init containers), as in Kubernetes 1.33.x
since the fix of kubernetes#132037.
Kubernetes: pkg/scheduler/framework/plugins/nodeports/node_ports.go.
"""

from __future__ import annotations

from kubelite.scheduler.framework.events import NODE_ADD, POD_DELETE
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Status, unschedulable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

NAME = "NodePorts"

ERR_REASON = "node(s) didn't have free ports for the requested pod ports"

_STATE_KEY = "PreFilter" + NAME


class NodePorts:
    """Refuses nodes where a host port the pod asks for is already taken."""

    name = NAME

    def __init__(self) -> None:
        # Unschedulable, not unresolvable: evicting the pod that holds the port would help.
        self._refused = unschedulable(ERR_REASON, plugin=NAME)

    def events_to_register(self) -> set[str]:
        """A pod that held the port deleted, or a node added (ports are immutable in a pod)."""
        return {POD_DELETE, NODE_ADD}

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        if not pod.ports:
            return None, SKIP
        state[_STATE_KEY] = pod.ports
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.used_ports:
            return SUCCESS
        for ip, protocol, port in state.get(_STATE_KEY) or pod.ports:
            if node.port_taken(ip, protocol, port):
                return self._refused
        return SUCCESS
