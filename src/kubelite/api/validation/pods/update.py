"""ValidatePodUpdate: what may change in a running pod's spec. A refused update carries the
go-cmp diff of the spec that Kubernetes appends, which `update_diff` prints.
"""

from __future__ import annotations

import copy

from kubelite.api.errors import FieldError, child, forbidden_field, invalid, required
from kubelite.api.types import Obj
from kubelite.api.validation.pods.annotations import _validate_annotation_updates
from kubelite.api.validation.pods.fields import MAX_INT32, _inclusive_range_error, _index
from kubelite.api.validation.pods.tolerations import validate_tolerations
from kubelite.api.validation.pods.update_diff import (
    go_pod_spec,
    render_spec_diff,
    semantic_equal,
)

# The fields ValidatePodUpdate lets change, in the words of its error (updatablePodSpecFields).
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePodUpdate without ObjectMeta and without re-validating the new pod's spec.

    Only images, a tighter activeDeadlineSeconds, more tolerations (or shorter
    tolerationSeconds), fewer scheduling gates, and a grace period of 1 replacing a negative
    one may change; nodeSelector may only grow while the pod is still gated. Anything else is
    one Forbidden error on `spec`, followed by the diff Kubernetes prints.
    """
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = _validate_annotation_updates(new, old)
    for key in ("containers", "initContainers"):
        container_errs, stop = _validate_container_updates(
            new_spec.get(key) or [], old_spec.get(key) or [], f"spec.{key}"
        )
        errs.extend(container_errs)
        if stop:
            return errs
    new_deadline = new_spec.get("activeDeadlineSeconds")
    old_deadline = old_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if not 0 <= new_deadline <= MAX_INT32:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds", new_deadline, _inclusive_range_error(0, MAX_INT32)
                )
            )
            return errs
        if old_deadline is not None and old_deadline < new_deadline:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds",
                    new_deadline,
                    "must be less than or equal to previous value",
                )
            )
            return errs
    elif old_deadline is not None:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    errs.extend(
        _validate_only_added_tolerations(
            new_spec.get("tolerations") or [], old_spec.get("tolerations") or [], "spec.tolerations"
        )
    )
    errs.extend(
        _validate_only_deleted_scheduling_gates(
            new_spec.get("schedulingGates") or [], old_spec.get("schedulingGates") or []
        )
    )
    old_tree, new_tree = go_pod_spec(old_spec), go_pod_spec(new_spec)
    if semantic_equal(new_tree, old_tree):
        return errs
    munged = _munge_updatable_fields(new_spec, old_spec)
    munged_tree = go_pod_spec(munged)
    if not semantic_equal(munged_tree, old_tree):
        errs.append(
            forbidden_field(
                "spec",
                "pod updates may not change fields other than "
                + ",".join(UPDATABLE_POD_SPEC_FIELDS)
                + "\n"
                + render_spec_diff(old_tree, munged_tree),
            )
        )
    return errs


def _validate_container_updates(
    new: list[Obj], old: list[Obj], path: str
) -> tuple[list[FieldError], bool]:
    """ValidateContainerUpdates: same number of containers, each with an image."""
    if len(new) != len(old):
        return [forbidden_field(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, container in enumerate(new):
        image = container.get("image") or ""
        if not image:
            errs.append(required(child(_index(path, i), "image")))
        if image != image.strip():
            errs.append(
                invalid(
                    child(_index(path, i), "image"),
                    image,
                    "must not have leading or trailing whitespace",
                )
            )
    return errs, False


def _validate_only_added_tolerations(new: list[Obj], old: list[Obj], path: str) -> list[FieldError]:
    """Every old toleration must still be there; only its tolerationSeconds may change."""

    def identity(toleration: Obj) -> tuple[str, ...]:
        return tuple(toleration.get(k) or "" for k in ("key", "operator", "value", "effect"))

    for previous in old:
        if not any(identity(t) == identity(previous) for t in new):
            return [
                forbidden_field(
                    path, "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return validate_tolerations(new, path)


def _validate_only_deleted_scheduling_gates(new: list[Obj], old: list[Obj]) -> list[FieldError]:
    old_names = {g.get("name") for g in old}
    return [
        forbidden_field(
            f"spec.schedulingGates[{i}].name",
            f"only deletion is allowed, but found new scheduling gate '{gate.get('name') or ''}'",
        )
        for i, gate in enumerate(new)
        if gate.get("name") not in old_names
    ]


def _munge_updatable_fields(new_spec: Obj, old_spec: Obj) -> Obj:
    """A copy of the new spec with the fields that may change set back to their old values."""
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        for container, previous in zip(munged.get(key) or [], old_spec.get(key) or [], strict=True):
            _copy_key(container, previous, "image")
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        _copy_key(munged, old_spec, key)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_spec.get("schedulingGates"):
        # A gated pod may gain node selector entries; changing or removing one is refused.
        old_selector = old_spec.get("nodeSelector") or {}
        new_selector = munged.get("nodeSelector") or {}
        if all(new_selector.get(k) == v for k, v in old_selector.items()):
            _copy_key(munged, old_spec, "nodeSelector")
    return munged


def _copy_key(target: Obj, source: Obj, key: str) -> None:
    if key in source:
        target[key] = copy.deepcopy(source[key])
    else:
        target.pop(key, None)
