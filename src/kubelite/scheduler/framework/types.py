"""The scheduler's view of pods and nodes, shared by every plugin.

A `PodInfo` is a pod with what plugins ask of it again and again worked out once (requests,
host ports, whether it carries inter-pod affinity). A `NodeInfo` is a node with the pods on it
and their sums, kept up to date as pods are assumed, bound and deleted, so that a filter never
has to walk a node's pods to know how full it is.

There is no separate snapshot as in kube-scheduler, which copies changed NodeInfos before each
cycle because its cache changes under it from other goroutines. Here a scheduling cycle runs on
the event loop without awaiting, so nothing can change the cache while it runs: the cache is
its own consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.podresources import is_resize_infeasible
from kubelite.api.pods import sidecars
from kubelite.api.types import Obj
from kubelite.scheduler.framework.resources import (
    Resource,
    pod_non_zero_requests,
    pod_requests,
    resource_of,
)

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"


def pod_key(pod: Obj) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


def host_ports(pod: Obj) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) of every port the pod takes on its node.

    App containers and sidecars (restartable init containers) hold their ports while the pod
    runs; ordinary init containers have finished before them.
    """
    spec = pod.get("spec") or {}
    containers = sidecars(spec)
    containers.extend(spec.get("containers") or ())
    result = []
    for container in containers:
        for port in container.get("ports") or ():
            number = port.get("hostPort") or 0
            if number > 0:
                ip = port.get("hostIP") or DEFAULT_BIND_ALL_HOST_IP
                result.append((ip, port.get("protocol") or "TCP", number))
    return result


def _resized_status(pod: Obj) -> tuple[Any, ...]:
    """What of a pod's status its requests depend on (in-place resize): each container's
    applied and allocated resources, and whether its resize is Infeasible."""
    status = pod.get("status") or {}
    if not (status.get("containerStatuses") or status.get("initContainerStatuses")):
        return ()
    return (
        [
            (s.get("name"), s.get("resources"), s.get("allocatedResources"))
            for key in ("initContainerStatuses", "containerStatuses")
            for s in status.get(key) or ()
        ],
        is_resize_infeasible(pod),
    )


class PodInfo:
    """A pod and what plugins compute from it once."""

    __slots__ = (
        "_non_zero",
        "_requests",
        "affinity",
        "has_affinity",
        "has_required_anti_affinity",
        "key",
        "memo",
        "pod",
        "ports",
    )

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.key = pod_key(pod)
        spec = pod.get("spec") or {}
        self.affinity: Obj = spec.get("affinity") or {}
        pod_affinity = self.affinity.get("podAffinity") or {}
        anti = self.affinity.get("podAntiAffinity") or {}
        self.has_affinity = bool(pod_affinity or anti)
        self.has_required_anti_affinity = bool(
            anti.get("requiredDuringSchedulingIgnoredDuringExecution")
        )
        self.ports = host_ports(pod)
        self._requests: Resource | None = None
        self._non_zero: Resource | None = None
        # What plugins work out from this pod once and keep, by plugin name.
        self.memo: dict[str, Any] = {}

    def reuse_requests(self, earlier: PodInfo) -> None:
        """Take the sums worked out for an earlier copy of the pod when its containers are
        the same (a binding or a status change leaves them so): they cost quantity parsing."""
        spec, before = self.spec, earlier.spec
        if (
            spec.get("containers") == before.get("containers")
            and spec.get("initContainers") == before.get("initContainers")
            and spec.get("overhead") == before.get("overhead")
            and spec.get("resources") == before.get("resources")
            and _resized_status(self.pod) == _resized_status(earlier.pod)
        ):
            self._requests = earlier.requests
            self._non_zero = earlier.non_zero_requests

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.pod["metadata"].get("namespace", "")

    @property
    def uid(self) -> str:
        return self.pod["metadata"].get("uid", "")

    @property
    def labels(self) -> dict[str, str]:
        return self.pod["metadata"].get("labels") or {}

    @property
    def spec(self) -> Obj:
        return self.pod.get("spec") or {}

    @property
    def requests(self) -> Resource:
        if self._requests is None:
            self._requests = pod_requests(self.pod)
        return self._requests

    @property
    def non_zero_requests(self) -> Resource:
        if self._non_zero is None:
            self._non_zero = pod_non_zero_requests(self.pod)
        return self._non_zero


@dataclass(slots=True)
class NodeInfo:
    """A node, the pods on it (bound or assumed), and their sums."""

    name: str
    node: Obj | None = None
    pods: dict[str, PodInfo] = field(default_factory=dict)
    pods_with_affinity: dict[str, PodInfo] = field(default_factory=dict)
    pods_with_required_anti_affinity: dict[str, PodInfo] = field(default_factory=dict)
    requested: Resource = field(default_factory=Resource)
    non_zero_requested: Resource = field(default_factory=Resource)
    allocatable: Resource = field(default_factory=Resource)
    # (protocol, port) -> host IPs taken on it.
    used_ports: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    # Bumped on every change, so that a plugin may keep what it derived from an unchanged node.
    generation: int = 0
    # Read out of the node by set_node: filters and scores read them for every node of every
    # cycle, and a field costs a fraction of walking the node's dicts each time.
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    unschedulable: bool = False

    def __post_init__(self) -> None:
        if self.node is not None:
            self._read_node(self.node)

    def set_node(self, node: Obj) -> None:
        self.node = node
        self._read_node(node)
        self.generation += 1

    def _read_node(self, node: Obj) -> None:
        self.allocatable = resource_of((node.get("status") or {}).get("allocatable"))
        spec = node.get("spec") or {}
        self.labels = (node.get("metadata") or {}).get("labels") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))

    def add_pod(self, info: PodInfo) -> None:
        if info.key in self.pods:
            self.remove_pod(info.key)  # counted once, whatever the caller did before
        self.pods[info.key] = info
        if info.has_affinity:
            self.pods_with_affinity[info.key] = info
        if info.has_required_anti_affinity:
            self.pods_with_required_anti_affinity[info.key] = info
        self.requested.add(info.requests)
        self.non_zero_requested.add(info.non_zero_requests)
        for ip, protocol, port in info.ports:
            self.used_ports.setdefault((protocol, port), set()).add(ip)
        self.generation += 1

    def remove_pod(self, key: str) -> PodInfo | None:
        info = self.pods.pop(key, None)
        if info is None:
            return None
        self.pods_with_affinity.pop(key, None)
        self.pods_with_required_anti_affinity.pop(key, None)
        self.requested.subtract(info.requests)
        self.non_zero_requested.subtract(info.non_zero_requests)
        for ip, protocol, port in info.ports:
            taken = self.used_ports.get((protocol, port))
            if taken is not None:
                taken.discard(ip)
                if not taken:
                    del self.used_ports[(protocol, port)]
        self.generation += 1
        return info

    def port_taken(self, ip: str, protocol: str, port: int) -> bool:
        """Whether a host port conflicts with one on this node: the same protocol and port,
        and the same address or either side bound to all addresses."""
        taken = self.used_ports.get((protocol, port))
        if not taken:
            return False
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return True
        return ip in taken or DEFAULT_BIND_ALL_HOST_IP in taken


class CycleState(dict[str, Any]):
    """What plugins pass themselves between extension points during one pod's cycle.

    Keys are plugin names. `skip_filter` and `skip_score` hold the plugins whose PreFilter or
    PreScore answered Skip: the framework does not run their Filter or Score for this pod.
    """

    def __init__(self) -> None:
        super().__init__()
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()


@dataclass(slots=True)
class PreFilterResult:
    """A PreFilter may narrow the nodes worth filtering (NodeAffinity does, by matchFields on
    metadata.name): None means all nodes."""

    node_names: set[str] | None = None
    # The plugins whose narrowings made this result, sorted (set by the framework).
    plugins: tuple[str, ...] = ()

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return PreFilterResult(set(other.node_names))
        return PreFilterResult(self.node_names & other.node_names)


def iter_pods(nodes: list[NodeInfo]) -> Iterator[tuple[NodeInfo, PodInfo]]:
    for node in nodes:
        for info in node.pods.values():
            yield node, info
