"""The PodResizeValidator admission plugin (plugin/pkg/admission/podresize, Kubernetes 1.36+).

A resize the pod's node can never grant is refused at once, with a 403, instead of being
accepted and later marked `PodResizePending`/`Infeasible` by the kubelet (kubernetes#136043):

- `pods "web" is forbidden: Node didn't have enough allocatable resources: cpu, requested: 8000,
  allocatable: 4000` (millicores for cpu, bytes for memory; both parts joined by `; `);
- `pods "web" is forbidden: pod resize is only supported on linux nodes, node "n" is "windows"`
  (from the node's `kubernetes.io/os` label);
- `pods "web" is forbidden: node "n" not found` for a pod bound to a node that does not exist.

Only writes through `pods/resize` that changed the spec (a new generation) of a pod bound to a
node are checked. The requests compared are GetResourceRequest's: the containers' sum, raised
to the largest init container's, plus the pod's overhead when anything is requested.
"""

from __future__ import annotations

import orjson

from kubelite.api import errors, meta
from kubelite.api.kinds import ResourceType
from kubelite.api.podlevel import pod_level as pod_level_of
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.apiserver.auth import current_request
from kubelite.storage.interface import Store

# The label every kubelet sets to its operating system (v1.LabelOSStable).
OS_LABEL = "kubernetes.io/os"


class PodResizeValidator:
    """The validating check of pod resizes against the node the pod runs on."""

    def __init__(self, store: Store, pods: ResourceType, nodes: ResourceType) -> None:
        self.store = store
        self.pods = pods
        self.nodes = nodes

    async def validate(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation != "UPDATE" or resource is not self.pods or old is None:
            return
        info = current_request.get()
        if info is None or info.subresource != "resize":
            return
        node_name = meta.get_path(obj, "spec", "nodeName", default="") or ""
        if not node_name:
            return
        # The generation only moves when the spec changed: nothing to check otherwise.
        if meta.get_path(old, "metadata", "generation") == meta.get_path(
            obj, "metadata", "generation"
        ):
            return
        kv = await self.store.get(self.nodes.key("", node_name))
        if kv is None:
            raise self._refuse(obj, f"node {errors.go_quote(node_name)} not found")
        node = orjson.loads(kv.value)
        short = _not_enough_allocatable(obj, node)
        if short:
            raise self._refuse(obj, short)
        os_name = (meta.get_path(node, "metadata", "labels", default={}) or {}).get(OS_LABEL)
        if os_name != "linux":
            raise self._refuse(
                obj,
                f"pod resize is only supported on linux nodes, node {errors.go_quote(node_name)} "
                f"is {errors.go_quote(os_name or '')}",
            )

    def _refuse(self, pod: Obj, message: str) -> errors.StatusError:
        return errors.forbidden(self.pods.plural, meta.name_of(pod), message)


def _not_enough_allocatable(pod: Obj, node: Obj) -> str:
    """validateNodeAllocatable: what the pod requests beyond the node's allocatable, or ""."""
    allocatable = meta.get_path(node, "status", "allocatable", default={}) or {}
    cpu_allocatable = Quantity.from_json(allocatable.get("cpu")).milli_value()
    memory_allocatable = Quantity.from_json(allocatable.get("memory")).value()
    cpu_requested = _request(pod, "cpu").milli_value()
    memory_requested = _request(pod, "memory").value()
    short = []
    if cpu_requested > cpu_allocatable:
        short.append(f"cpu, requested: {cpu_requested}, allocatable: {cpu_allocatable}")
    if memory_requested > memory_allocatable:
        short.append(f"memory, requested: {memory_requested}, allocatable: {memory_allocatable}")
    if not short:
        return ""
    return "Node didn't have enough allocatable resources: " + "; ".join(short)


def _request(pod: Obj, name: str) -> Quantity:
    """GetResourceRequestQuantity (pkg/api/v1/resource): the regular containers' sum, the
    largest init container's if larger, plus the overhead when anything is requested.

    Unlike PodRequests (`api.podresources.pod_requests`), sidecars count as plain init
    containers here and a pod requesting nothing gets no overhead."""
    spec = pod.get("spec") or {}
    pod_level = pod_level_of(pod, "requests").get(name)
    if pod_level is not None:
        # Pod-level requests stand for the containers' (PodLevelResources, on since 1.34),
        # so a pod-level resize is checked as a container one is.
        total = Quantity.from_json(pod_level)
    else:
        total = Quantity()
        for container in spec.get("containers") or []:
            value = _container_request(container, name)
            if value is not None:
                total = total + value
        for container in spec.get("initContainers") or []:
            value = _container_request(container, name)
            if value is not None and value > total:
                total = value
    overhead = (spec.get("overhead") or {}).get(name)
    if overhead is not None and not total.is_zero():
        total = total + Quantity.from_json(overhead)
    return total


def _container_request(container: Obj, name: str) -> Quantity | None:
    value = ((container.get("resources") or {}).get("requests") or {}).get(name)
    return Quantity.from_json(value) if value is not None else None
