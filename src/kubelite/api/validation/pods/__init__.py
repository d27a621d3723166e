"""The semantic rules of pods (being split into modules by section)."""

from kubelite.api.validation.pods.update_diff import (
    DOWNWARD_API_LABELS,
    validate_pod,
    validate_pod_create,
    validate_pod_spec,
    validate_pod_status_update,
    validate_pod_update,
)

__all__ = [
    "DOWNWARD_API_LABELS",
    "validate_pod",
    "validate_pod_create",
    "validate_pod_spec",
    "validate_pod_status_update",
    "validate_pod_update",
]
