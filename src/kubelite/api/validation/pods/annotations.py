"""The annotations a pod's rules look at (ValidatePodSpecificAnnotations and
ValidatePodSpecificAnnotationUpdates): mirror pods, deletion cost, AppArmor.
"""

from __future__ import annotations

import re

from kubelite.api.errors import FieldError, forbidden_field, invalid
from kubelite.api.types import Obj
from kubelite.api.validation.pods.fields import MAX_INT32, _key

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _validate_pod_annotations(pod: Obj) -> list[FieldError]:
    """ValidatePodSpecificAnnotations: the mirror pod and pod deletion cost annotations."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    path = "metadata.annotations"
    errs: list[FieldError] = []
    if MIRROR_POD_ANNOTATION in annotations and not (pod.get("spec") or {}).get("nodeName"):
        errs.append(
            invalid(
                _key(path, MIRROR_POD_ANNOTATION),
                annotations[MIRROR_POD_ANNOTATION],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    cost = annotations.get(POD_DELETION_COST_ANNOTATION)
    if cost is not None and not _is_int32_text(cost):
        errs.append(
            invalid(_key(path, POD_DELETION_COST_ANNOTATION), cost, "must be a 32bit integer")
        )
    return errs


def _is_int32_text(text: str) -> bool:
    """strconv.ParseInt(text, 10, 32) succeeds."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return False
    return -(2**31) <= int(text) <= MAX_INT32


def _validate_annotation_updates(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePodSpecificAnnotationUpdates: AppArmor and mirror annotations are fixed."""
    new_annotations = (new.get("metadata") or {}).get("annotations") or {}
    old_annotations = (old.get("metadata") or {}).get("annotations") or {}
    path = "metadata.annotations"
    errs: list[FieldError] = []
    for key, value in old_annotations.items():
        if new_annotations.get(key) == value and key in new_annotations:
            continue
        if key.startswith(APPARMOR_ANNOTATION_PREFIX):
            errs.append(
                forbidden_field(_key(path, key), "may not remove or update AppArmor annotations")
            )
        if key == MIRROR_POD_ANNOTATION:
            errs.append(
                forbidden_field(_key(path, key), "may not remove or update mirror pod annotation")
            )
    for key in new_annotations:
        if key in old_annotations:
            continue
        if key.startswith(APPARMOR_ANNOTATION_PREFIX):
            errs.append(forbidden_field(_key(path, key), "may not add AppArmor annotations"))
        if key == MIRROR_POD_ANNOTATION:
            errs.append(forbidden_field(_key(path, key), "may not add mirror pod annotation"))
    errs.extend(_validate_pod_annotations(new))
    return errs
