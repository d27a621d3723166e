"""Pods, nodes and a snapshot for the plugin tests, built as compactly as kube-scheduler's
`st.MakePod()` / `st.MakeNode()` wrappers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubelite.scheduler.framework.status import SUCCESS, Code, Status
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo

Obj = dict[str, Any]


def make_pod(
    name: str = "pod",
    namespace: str = "default",
    *,
    labels: dict[str, str] | None = None,
    requests: list[dict[str, str]] | None = None,
    init_requests: list[dict[str, str]] | None = None,
    overhead: dict[str, str] | None = None,
    node_name: str | None = None,
    node_selector: dict[str, str] | None = None,
    affinity: Obj | None = None,
    tolerations: list[Obj] | None = None,
    host_ports: list[Obj] | None = None,
) -> PodInfo:
    """A pod with one container per entry of `requests` (none when it is None)."""
    containers: list[Obj] = [
        {"name": f"c{i}", "resources": {"requests": r}} for i, r in enumerate(requests or ())
    ]
    if host_ports is not None:
        containers.append({"name": "ports", "ports": host_ports})
    spec: Obj = {"containers": containers}
    if init_requests:
        spec["initContainers"] = [
            {"name": f"i{i}", "resources": {"requests": r}} for i, r in enumerate(init_requests)
        ]
    for key, value in (
        ("overhead", overhead),
        ("nodeName", node_name),
        ("nodeSelector", node_selector),
        ("affinity", affinity),
        ("tolerations", tolerations),
    ):
        if value is not None:
            spec[key] = value
    metadata: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"}
    if labels is not None:
        metadata["labels"] = labels
    return PodInfo({"metadata": metadata, "spec": spec})


def make_node(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    allocatable: dict[str, str] | None = None,
    taints: list[Obj] | None = None,
    unschedulable: bool = False,
    pods: Sequence[PodInfo] = (),
) -> NodeInfo:
    """A node labelled with its hostname, 4 cpus, 8Gi and 110 pods unless told otherwise."""
    spec: Obj = {}
    if taints is not None:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    node: Obj = {
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name} if labels is None else labels,
        },
        "spec": spec,
        "status": {
            "allocatable": (
                {"cpu": "4", "memory": "8Gi", "pods": "110"} if allocatable is None else allocatable
            )
        },
    }
    info = NodeInfo(name)
    info.set_node(node)
    for pod in pods:
        info.add_pod(pod)
    return info


class FakeSnapshot:
    """The Snapshot protocol over a fixed list of nodes."""

    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.nodes = nodes

    def list(self) -> list[NodeInfo]:
        return self.nodes

    def get(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def with_pods_with_affinity(self) -> list[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_affinity]

    def with_pods_with_required_anti_affinity(self) -> list[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_required_anti_affinity]


class FakeListers:
    """The WorkloadListers protocol over lists of objects, as an informer would cache them."""

    def __init__(self, *objects: Obj) -> None:
        self.objects = list(objects)

    def services(self, namespace: str) -> list[Obj]:
        return [o for o in self._of("Service") if o["metadata"].get("namespace") == namespace]

    def replication_controller(self, namespace: str, name: str) -> Obj | None:
        return self._get("ReplicationController", namespace, name)

    def replica_set(self, namespace: str, name: str) -> Obj | None:
        return self._get("ReplicaSet", namespace, name)

    def stateful_set(self, namespace: str, name: str) -> Obj | None:
        return self._get("StatefulSet", namespace, name)

    def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return self._get("PersistentVolumeClaim", namespace, name)

    def _of(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def _get(self, kind: str, namespace: str, name: str) -> Obj | None:
        for o in self._of(kind):
            md = o["metadata"]
            if md.get("namespace") == namespace and md["name"] == name:
                return o
        return None


class FakeHandle:
    def __init__(self, nodes: list[NodeInfo], listers: FakeListers | None = None) -> None:
        self._snapshot = FakeSnapshot(nodes)
        self._listers = listers

    @property
    def snapshot(self) -> FakeSnapshot:
        return self._snapshot

    @property
    def listers(self) -> FakeListers | None:
        return self._listers


def filter_all(plugin: Any, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status]:
    """PreFilter (when the plugin has one) then Filter on each node, as the framework runs
    them: a PreFilter refusal stands for every node, Skip passes every node."""
    state = CycleState()
    if hasattr(plugin, "pre_filter"):
        _, status = plugin.pre_filter(state, pod, nodes)
        if status.code == Code.SKIP:
            return [SUCCESS for _ in nodes]
        if not status.ok:
            return [status for _ in nodes]
    return [plugin.filter(state, pod, node) for node in nodes]


def score_all(plugin: Any, pod: PodInfo, nodes: list[NodeInfo]) -> list[int] | None:
    """PreScore, Score and NormalizeScore over the nodes; None when PreScore answers Skip."""
    state = CycleState()
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, pod, nodes)
        if status.code == Code.SKIP:
            return None
        assert status.ok, status
    scores = []
    for node in nodes:
        value, status = plugin.score(state, pod, node)
        assert status.ok, status
        scores.append((node.name, value))
    if hasattr(plugin, "normalize_score"):
        scores, status = plugin.normalize_score(state, pod, scores)
        assert status.ok, status
    return [value for _, value in scores]
