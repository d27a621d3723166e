"""What the scheduler knows of nodes and the pods on them, including its own decisions.

A pod the scheduler has decided on is *assumed*: counted on its node at once, before the
binding is sent, so that the next pods decided in a row see the node as fuller and never
overcommit it while bindings are in flight. The watch later brings the bound pod, which then
replaces the assumed one (FinishBinding, then confirmation). A binding that fails is forgotten,
freeing what it held.

The node list is kept in kube-scheduler's nodeTree order: nodes of different zones
(`topology.kubernetes.io/zone`) interleaved, so that the first nodes a cycle looks at are spread
over zones.

This cache is also the snapshot plugins read (see framework.types): scheduling cycles run on the
event loop without awaiting, so it cannot change during one.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass

from kubelite.api.types import Obj
from kubelite.scheduler.framework.types import NodeInfo, PodInfo, pod_key

log = logging.getLogger(__name__)


ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"


def _zone_of(node: Obj) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get(REGION_LABEL, "")
    zone = labels.get(ZONE_LABEL, "")
    return f"{region}:\x00:{zone}" if region or zone else ""


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    node: str
    assumed: bool
    binding_finished: bool = False


class Cache:
    """The scheduler's view of nodes and their pods, including pods it assumed before their binding
    arrives, so that back-to-back decisions never overcommit a node."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        # Nodes removed while pods were still counted on them: kept until those pods go.
        self._ghosts: dict[str, NodeInfo] = {}
        self._zones: dict[str, list[str]] = {}
        self._order: list[NodeInfo] | None = None
        self._pods: dict[str, _PodState] = {}
        self._with_affinity: dict[str, NodeInfo] = {}
        self._with_required_anti_affinity: dict[str, NodeInfo] = {}

    # --- snapshot -----------------------------------------------------------------------------

    def list(self) -> list[NodeInfo]:
        if self._order is None:
            self._order = self._interleave()
        return self._order

    def get(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def with_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        return list(self._with_affinity.values())

    def with_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]:
        return list(self._with_required_anti_affinity.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def _interleave(self) -> builtins.list[NodeInfo]:
        columns = list(self._zones.values())
        order: list[NodeInfo] = []
        depth = max((len(c) for c in columns), default=0)
        for i in range(depth):
            for column in columns:
                if i < len(column):
                    order.append(self._nodes[column[i]])
        return order

    # --- nodes --------------------------------------------------------------------------------

    def add_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        info = self._nodes.get(name)
        if info is None:
            info = self._ghosts.pop(name, None) or NodeInfo(name)
            self._nodes[name] = info
            self._zones.setdefault(_zone_of(node), []).append(name)
            self._order = None
        elif _zone_of(info.node or {}) != _zone_of(node):
            self._remove_from_zone(info.node or {}, name)
            self._zones.setdefault(_zone_of(node), []).append(name)
            self._order = None
        info.set_node(node)
        self._track(info)
        return info

    update_node = add_node

    def remove_node(self, name: str) -> None:
        """The node is gone: it leaves the list; pods assumed on it are released."""
        info = self._nodes.get(name)
        if info is None:
            return
        # Released while the node is still the one they count on.
        for key, state in list(self._pods.items()):
            if state.node == name and state.assumed:
                self.forget_pod(key)
        del self._nodes[name]
        self._remove_from_zone(info.node or {}, name)
        self._order = None
        self._with_affinity.pop(name, None)
        self._with_required_anti_affinity.pop(name, None)
        if info.pods:
            info.node = None
            self._ghosts[name] = info

    def _remove_from_zone(self, node: Obj, name: str) -> None:
        zone = _zone_of(node)
        names = self._zones.get(zone, [])
        if name in names:
            names.remove(name)
            if not names:
                del self._zones[zone]

    def _info_for(self, name: str) -> NodeInfo:
        """The NodeInfo pods on `name` count against; a ghost when the node is not known (a
        pod's binding may be seen before its node, or after the node is gone)."""
        info = self._nodes.get(name) or self._ghosts.get(name)
        if info is None:
            info = self._ghosts[name] = NodeInfo(name)
        return info

    def _track(self, info: NodeInfo) -> None:
        if info.name not in self._nodes:
            return
        if info.pods_with_affinity:
            self._with_affinity[info.name] = info
        else:
            self._with_affinity.pop(info.name, None)
        if info.pods_with_required_anti_affinity:
            self._with_required_anti_affinity[info.name] = info
        else:
            self._with_required_anti_affinity.pop(info.name, None)

    def _release(self, info: NodeInfo, key: str) -> None:
        info.remove_pod(key)
        self._track(info)
        if not info.pods and info.node is None and self._ghosts.get(info.name) is info:
            del self._ghosts[info.name]

    # --- pods ---------------------------------------------------------------------------------

    def is_assumed(self, key: str) -> bool:
        state = self._pods.get(key)
        return state is not None and state.assumed

    def uid_of(self, key: str) -> str | None:
        """The uid of the pod the cache holds under `key` (assumed or confirmed), or None."""
        state = self._pods.get(key)
        return state.info.uid if state is not None else None

    def confirmed_pod(self, key: str) -> PodInfo | None:
        """The pod as last seen bound on the watch (None if unknown or only assumed)."""
        state = self._pods.get(key)
        return state.info if state is not None and not state.assumed else None

    def assume_pod(self, info: PodInfo, node: str) -> None:
        if info.key in self._pods:
            raise ValueError(f"pod {info.key} is already in the cache")
        self._pods[info.key] = _PodState(info, node, assumed=True)
        target = self._info_for(node)
        target.add_pod(info)
        self._track(target)

    def finish_binding(self, key: str) -> None:
        state = self._pods.get(key)
        if state is not None and state.assumed:
            state.binding_finished = True

    def forget_pod(self, key: str) -> None:
        """An assumed pod whose binding failed: what it held on its node is free again."""
        state = self._pods.get(key)
        if state is None or not state.assumed:
            return
        del self._pods[key]
        self._release(self._info_for(state.node), key)

    def add_pod(self, pod: Obj) -> None:
        """A bound pod seen on the watch: confirms an assumed one, or is counted anew."""
        key = pod_key(pod)
        node = pod["spec"]["nodeName"]
        state = self._pods.get(key)
        info = PodInfo(pod)
        if state is not None:
            # Assumed (or a repeat): the API's copy replaces ours, on the node it names.
            self._release(self._info_for(state.node), key)
            info.reuse_requests(state.info)
        self._pods[key] = _PodState(info, node, assumed=False)
        target = self._info_for(node)
        target.add_pod(info)
        self._track(target)

    def update_pod(self, pod: Obj) -> None:
        self.add_pod(pod)

    def remove_pod(self, pod: Obj) -> None:
        key = pod_key(pod)
        state = self._pods.pop(key, None)
        if state is not None:
            self._release(self._info_for(state.node), key)

    def pod_count(self) -> int:
        return len(self._pods)
