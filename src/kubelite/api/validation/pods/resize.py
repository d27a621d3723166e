"""ValidatePodResize: what a write through `pods/<name>/resize` may change (KEP-1287, GA in 1.35).

The resize strategy (`kubelite.api.strategies.pod_resize`) has already put back everything but
the containers' `resources` and `resizePolicy` (and the pod-level `resources`), so what is left
to judge is whether those changes are a resize Kubernetes 1.37 accepts:

- static (mirror) pods and Windows pods are never resized: one Forbidden error on the empty path
  (which Go prints `[]`) replaces every other error;
- the QoS class may not change (`spec: Invalid value: "Guaranteed": Pod QOS Class may not change
  as a result of resizing`);
- while a running container reports no `status.containerStatuses[*].resources`, its node does
  not resize (the version-skew check Kubernetes keeps until GA+3, 1.38);
- requests and limits may change but not be removed; memory limits may be lowered whatever the
  resize policy (1.35, kubernetes#133012: the kubelet checks usage instead);
- only cpu and memory may change, for regular containers, sidecars and (1.37,
  InPlacePodVerticalScalingInitContainers GA) other init containers; `resizePolicy` itself is
  immutable (kubernetes#130183) and shows up as the same "only cpu and memory" error.

Quantities compare as Kubernetes' semantic equality does (`1` equals `1000m`; an empty list
equals a missing one), through the Go model `update_diff` builds for pod updates.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import FieldError, child, forbidden_field, invalid
from kubelite.api.pods import is_restartable_init_container
from kubelite.api.qos import compute_qos_class, qos_class
from kubelite.api.types import Obj
from kubelite.api.validation.pods import init_resize_policy
from kubelite.api.validation.pods.annotations import MIRROR_POD_ANNOTATION
from kubelite.api.validation.pods.fields import _index
from kubelite.api.validation.pods.pod import validate_pod
from kubelite.api.validation.pods.update_diff import go_pod_spec, semantic_equal

# field.NewPath("") as Go prints it: an element without a name prints as an index, `[]`.
ROOT_PATH = "[]"
# The resources an in-place resize may change (the only ones the kubelet can actuate).
RESIZABLE_RESOURCES = ("cpu", "memory")

STATIC_POD_MESSAGE = "static pods cannot be resized"
WINDOWS_POD_MESSAGE = "windows pods cannot be resized"
QOS_MESSAGE = "Pod QOS Class may not change as a result of resizing"
UNSUPPORTED_NODE_MESSAGE = "Pod running on node without support for resize"
ONLY_CPU_MEMORY_MESSAGE = "only cpu and memory resources are mutable"
ONLY_CPU_MEMORY_SIDECAR_MESSAGE = "only cpu and memory resources for sidecar containers are mutable"
REQUESTS_REMOVED_MESSAGE = "resource requests cannot be removed"
LIMITS_REMOVED_MESSAGE = "resource limits cannot be removed"


def validate_pod_resize(new: Obj, old: Obj, metadata_errors: list[FieldError]) -> list[FieldError]:
    """ValidatePodResize, after `metadata_errors` (ValidateObjectMetaUpdate's, which a refusal
    of the whole pod discards as Kubernetes does)."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = [*metadata_errors, *init_resize_policy.ratchet(validate_pod(new), old_spec)]
    annotations = (old.get("metadata") or {}).get("annotations") or {}
    if MIRROR_POD_ANNOTATION in annotations:
        return [forbidden_field(ROOT_PATH, STATIC_POD_MESSAGE)]
    if ((old_spec.get("os") or {}).get("name") or "") == "windows":
        return [forbidden_field(ROOT_PATH, WINDOWS_POD_MESSAGE)]
    if qos_class(old) != compute_qos_class(new):
        # Kubernetes reports the stored class (the status the strategy kept) as the value.
        errs.append(invalid("spec", (new.get("status") or {}).get("qosClass") or "", QOS_MESSAGE))
    if not _node_supports_resize(old):
        errs.append(forbidden_field("spec", UNSUPPORTED_NODE_MESSAGE))
    new_init, old_init = new_spec.get("initContainers") or [], old_spec.get("initContainers") or []
    new_regular, old_regular = new_spec.get("containers") or [], old_spec.get("containers") or []
    for i, (container, previous) in enumerate(zip(new_init, old_init, strict=False)):
        errs.extend(_validate_container_resize(container, previous, "spec.initContainers", i))
    for i, (container, previous) in enumerate(zip(new_regular, old_regular, strict=False)):
        errs.extend(_validate_container_resize(container, previous, "spec.containers", i))
    for container, previous in zip(new_regular, old_regular, strict=False):
        if not _same_but_cpu_and_memory(container, previous):
            errs.append(forbidden_field("spec", ONLY_CPU_MEMORY_MESSAGE))
    for container, previous in zip(new_init, old_init, strict=False):
        if not _same_but_cpu_and_memory(container, previous):
            message = (
                ONLY_CPU_MEMORY_SIDECAR_MESSAGE
                if is_restartable_init_container(previous)
                else ONLY_CPU_MEMORY_MESSAGE
            )
            errs.append(forbidden_field("spec", message))
    if errs:
        return errs
    if not semantic_equal(
        go_pod_spec(_cpu_memory_reverted(new_spec, old_spec)), go_pod_spec(old_spec)
    ):
        # Anything else: containers added, removed, renamed or reordered, or a pod-level
        # resource other than cpu and memory.
        errs.append(forbidden_field("spec", ONLY_CPU_MEMORY_MESSAGE))
    return errs


def _node_supports_resize(pod: Obj) -> bool:
    """isPodResizeRequestSupported: the first running container tells whether its kubelet
    reports actual resources (a kubelet that resizes does); without one, assume it does."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if (status.get("state") or {}).get("running") is not None:
            return status.get("resources") is not None
    return True


def _validate_container_resize(
    container: Obj, previous: Obj, path: str, i: int
) -> list[FieldError]:
    """validateContainerResize: requests and limits may change but not go away."""
    resources_path = child(_index(path, i), "resources")
    new_resources = container.get("resources") or {}
    old_resources = previous.get("resources") or {}
    errs: list[FieldError] = []
    if _removed(new_resources.get("requests"), old_resources.get("requests")):
        errs.append(forbidden_field(child(resources_path, "requests"), REQUESTS_REMOVED_MESSAGE))
    if _removed(new_resources.get("limits"), old_resources.get("limits")):
        errs.append(forbidden_field(child(resources_path, "limits"), LIMITS_REMOVED_MESSAGE))
    return errs


def _removed(new: dict[str, Any] | None, old: dict[str, Any] | None) -> bool:
    """resourcesRemoved: a resource the old list names is missing from the new one."""
    return any(name not in (new or {}) for name in old or {})


def _same_but_cpu_and_memory(container: Obj, previous: Obj) -> bool:
    """The container equals the stored one once its cpu and memory are put back."""
    reverted = _with_cpu_memory_of(container, previous)
    return semantic_equal(_go_container(reverted), _go_container(previous))


def _cpu_memory_reverted(new_spec: Obj, old_spec: Obj) -> Obj:
    """The new spec with every container's (and the pod's) cpu and memory set back."""
    spec = dict(new_spec)
    for key in ("containers", "initContainers"):
        new_list, old_list = new_spec.get(key), old_spec.get(key) or []
        if isinstance(new_list, list) and len(new_list) == len(old_list):
            spec[key] = [_with_cpu_memory_of(c, p) for c, p in zip(new_list, old_list, strict=True)]
    if isinstance(new_spec.get("resources"), dict):
        spec["resources"] = _cpu_memory_of(new_spec["resources"], old_spec.get("resources") or {})
    return spec


def _with_cpu_memory_of(container: Obj, previous: Obj) -> Obj:
    """dropCPUMemoryResourcesFromContainer: the container with cpu and memory as stored."""
    out = dict(container)
    out["resources"] = _cpu_memory_of(
        container.get("resources") or {}, previous.get("resources") or {}
    )
    return out


def _cpu_memory_of(resources: Obj, old: Obj) -> Obj:
    """Requests and limits with cpu and memory taken from `old` (others kept as they are)."""
    out: Obj = {}
    for key in ("requests", "limits"):
        values = {
            k: v for k, v in (resources.get(key) or {}).items() if k not in RESIZABLE_RESOURCES
        }
        values.update({k: v for k, v in (old.get(key) or {}).items() if k in RESIZABLE_RESOURCES})
        if values:
            out[key] = values
    for key, value in resources.items():
        if key not in ("requests", "limits"):
            out[key] = value
    return out


def _go_container(container: Obj) -> Any:
    """A container in the Go model pod updates are compared in."""
    return go_pod_spec({"containers": [container]})
