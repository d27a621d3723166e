"""The rules only a Pod has beyond its spec (ValidatePodCreate without ObjectMeta, which the
generic code validates): the projected token needs a service account, images have no stray
whitespace, and nothing may be created with ephemeral containers or a node name while gated.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError, child, forbidden_field, invalid
from kubelite.api.types import Obj
from kubelite.api.validation.pods.annotations import _validate_pod_annotations
from kubelite.api.validation.pods.fields import _index
from kubelite.api.validation.pods.spec import validate_pod_spec


def validate_pod(pod: Obj) -> list[FieldError]:
    """validatePodMetadataAndSpec without ObjectMeta: the spec and the pod-only rules."""
    spec = pod.get("spec") or {}
    errs = _validate_pod_annotations(pod)
    errs.extend(validate_pod_spec(spec, "spec", is_pod=True))
    if not spec.get("serviceAccountName"):
        for i, volume in enumerate(spec.get("volumes") or []):
            projected = volume.get("projected")
            if not isinstance(projected, dict):
                continue
            for j, source in enumerate(projected.get("sources") or []):
                if source.get("serviceAccountToken") is not None:
                    source_path = _index(f"spec.volumes[{i}].projected.sources", j)
                    errs.append(
                        forbidden_field(
                            child(source_path, "serviceAccountToken"),
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(key) or []):
            image = container.get("image") or ""
            if image != image.strip():
                errs.append(
                    invalid(
                        f"spec.{key}[{i}].image",
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    return errs


def validate_pod_create(pod: Obj) -> list[FieldError]:
    """ValidatePodCreate without ObjectMeta."""
    spec = pod.get("spec") or {}
    errs = validate_pod(pod)
    if spec.get("ephemeralContainers"):
        errs.append(forbidden_field("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(
            forbidden_field(
                "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
            )
        )
    return errs
