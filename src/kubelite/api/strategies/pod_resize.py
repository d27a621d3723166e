"""The strategy of `pods/<name>/resize` (Kubernetes' podResizeStrategy, pkg/registry/core/pod).

A resize is a pod update that may only touch the containers' `resources` and `resizePolicy`
(regular and init containers alike) and the pod-level `resources` (InPlacePodLevelResources-
VerticalScaling, beta and on in 1.37). Whatever else the body says is put back to the stored
pod before validation, silently, as dropNonResizeUpdates does: the rest of the spec, the status
and the metadata a status write may not change either (ResetObjectMetaForStatus: labels,
annotations, finalizers, owner references, the deletion timestamp and the generation). A body
that adds, removes, renames or reorders containers is left as it is, for validation to refuse.

`metadata.generation` is bumped when the spec changed, as for any pod update, so that the
kubelet can report which resize it has seen through `status.observedGeneration`.
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.errors import FieldError
from kubelite.api.strategies.pods import PodStrategy, _drop_disabled_fields
from kubelite.api.strategy import spec_changed
from kubelite.api.types import Obj
from kubelite.api.validation.pods.resize import validate_pod_resize

# What a resize keeps from the stored pod's metadata (metav1.ResetObjectMetaForStatus).
_RESET_METADATA = (
    "deletionTimestamp",
    "generation",
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
)
# The fields of a container a resize may set.
_RESIZE_FIELDS = ("resources", "resizePolicy")


class PodResizeStrategy(PodStrategy):
    """Updates through `pods/resize`: the pod strategy with the resize rules for updates."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """PrepareForUpdate: drop what a resize may not change, then bump the generation."""
        _drop_non_resize_updates(new, old)
        _drop_disabled_fields(new, old)
        old_generation = meta.get_path(old, "metadata", "generation", default=0)
        changed = spec_changed(new, old)
        meta.metadata(new)["generation"] = old_generation + 1 if changed else old_generation

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return validate_pod_resize(new, old, self._validate_metadata_update(new, old))


def _drop_non_resize_updates(new: Obj, old: Obj) -> None:
    """dropNonResizeUpdates: the stored pod with the body's resize fields, in place of `new`."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    new_regular, old_regular = new_spec.get("containers") or [], old_spec.get("containers") or []
    new_init, old_init = new_spec.get("initContainers") or [], old_spec.get("initContainers") or []
    if len(new_regular) != len(old_regular) or len(new_init) != len(old_init):
        # Containers added or removed: validation refuses the body as it is.
        return
    # A renamed or reordered list stays as the body has it, for validation to refuse.
    containers = _resize_fields_merged(new_regular, old_regular)
    init = _resize_fields_merged(new_init, old_init)
    spec = meta.clone(old_spec)
    if "containers" in old_spec or containers:
        spec["containers"] = containers
    if "initContainers" in old_spec or init:
        spec["initContainers"] = init
    if "resources" in new_spec:
        spec["resources"] = meta.clone(new_spec["resources"])
    else:
        spec.pop("resources", None)
    new["spec"] = spec
    if "status" in old:
        new["status"] = meta.clone(old["status"])
    else:
        new.pop("status", None)
    metadata, old_metadata = meta.metadata(new), old.get("metadata") or {}
    for key in _RESET_METADATA:
        if key in old_metadata:
            metadata[key] = meta.clone(old_metadata[key])
        else:
            metadata.pop(key, None)


def _resize_fields_merged(new: list[Obj], old: list[Obj]) -> list[Obj]:
    """dropNonResizeUpdatesForContainers: the stored containers (as many as the new ones) with
    the new ones' resources and resize policies, or the new list as it is when a name moved."""
    merged = []
    for container, previous in zip(new, old, strict=True):
        if container.get("name") != previous.get("name"):
            return meta.clone(new)
        result = meta.clone(previous)
        for key in _RESIZE_FIELDS:
            if key in container:
                result[key] = meta.clone(container[key])
            elif key == "resources" and key in result:
                # Go's zero ResourceRequirements, which serializes as `{}`.
                result[key] = {}
            else:
                result.pop(key, None)
        merged.append(result)
    return merged
