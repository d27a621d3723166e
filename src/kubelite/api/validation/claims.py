"""Validation of PersistentVolumeClaims (Kubernetes' `ValidatePersistentVolumeClaim*`).

kubelite has no volume binder or provisioner yet, so a claim is mostly a record that a
StatefulSet made and a pod names; what is checked is what Kubernetes refuses before any of that
runs: the access modes, the storage request, the class names, and, on update, that the spec
stays as it was (only a bigger storage request and, once, the bound volume's name may change).
"""

from __future__ import annotations

from typing import Any

from kubelite.api import labels
from kubelite.api.errors import FieldError, child, forbidden_field, invalid, not_supported, required
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.objectmeta import IS_NEGATIVE, invalid_rendered

# supportedAccessModes and supportedVolumeModes, sorted as sets.List gives them.
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
READ_WRITE_ONCE_POD = "ReadWriteOncePod"
VOLUME_MODES = ("Block", "Filesystem")
CLAIM_BOUND = "Bound"
# ValidatePositiveQuantityValue's message (isNotPositiveErrorMsg).
NOT_POSITIVE = "must be greater than zero"
_DEFAULT_GROUP = "when referencing the default apiGroup"
SPEC_IMMUTABLE = (
    "spec is immutable after creation except resources.requests and volumeAttributesClassName "
    "for bound claims"
)


def validate_claim_spec(spec: Any, path: str) -> list[FieldError]:
    """ValidatePersistentVolumeClaimSpec, at `path` (`spec`, or a template's `spec`)."""
    spec = spec if isinstance(spec, dict) else {}
    errs: list[FieldError] = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(required(child(path, "accessModes"), "at least 1 access mode is required"))
    if spec.get("selector") is not None:
        errs += labels.validate_label_selector(spec["selector"], child(path, "selector"))
    found_rwop = found_other = False
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(child(path, "accessModes"), mode, ACCESS_MODES))
        elif mode == READ_WRITE_ONCE_POD:
            found_rwop = True
        else:
            found_other = True
    if found_rwop and found_other:
        errs.append(
            forbidden_field(
                child(path, "accessModes"), "may not use ReadWriteOncePod with other access modes"
            )
        )
    errs += _validate_storage_request(spec, path)
    for field in ("storageClassName", "volumeAttributesClassName"):
        value = spec.get(field)
        if isinstance(value, str) and value:
            errs += [
                invalid(child(path, field), value, msg)
                for msg in names.name_is_dns_subdomain(value, False)
            ]
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        errs.append(not_supported(child(path, "volumeMode"), mode, VOLUME_MODES))
    for field in ("dataSource", "dataSourceRef"):
        source = spec.get(field)
        if isinstance(source, dict):
            errs += _validate_data_source(source, child(path, field))
    return errs


def _validate_storage_request(spec: Obj, path: str) -> list[FieldError]:
    """resources.requests.storage is required and positive; Kubernetes names it by key."""
    where = f"{child(path, 'resources')}[storage]"
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        return [required(where)]
    try:
        value = Quantity.from_json(requests["storage"])
    except QuantityError:
        return [invalid(where, requests["storage"], "quantities must match the regular expression")]
    if value.sign() <= 0:
        return [invalid(where, str(value), NOT_POSITIVE if value.sign() == 0 else IS_NEGATIVE)]
    return []


def _validate_data_source(source: Obj, path: str) -> list[FieldError]:
    """validateDataSource: a name and a kind; an object of the core group is another claim."""
    errs: list[FieldError] = []
    if not source.get("name"):
        errs.append(required(child(path, "name")))
    kind = source.get("kind") or ""
    if not kind:
        errs.append(required(child(path, "kind")))
    group = source.get("apiGroup") or ""
    if not group and kind != "PersistentVolumeClaim":
        errs.append(invalid(path, kind, f"must be 'PersistentVolumeClaim' {_DEFAULT_GROUP}"))
    if group:
        errs += [
            invalid(child(path, "apiGroup"), group, msg)
            for msg in names.name_is_dns_subdomain(group, False)
        ]
    return errs


def validate_claim(claim: Obj) -> list[FieldError]:
    """ValidatePersistentVolumeClaim beyond metadata."""
    return validate_claim_spec(claim.get("spec"), "spec")


def validate_claim_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePersistentVolumeClaimUpdate beyond metadata.

    Kubernetes appends a diff of the two specs to its immutability message; kubelite gives the
    message alone.
    """
    errs = validate_claim(new)
    new_spec = dict(new.get("spec") or {})
    old_spec = dict(old.get("spec") or {})
    if not old_spec.get("volumeName"):
        # The binder may set volumeName once.
        old_spec["volumeName"] = new_spec.get("volumeName")
    new_phase = (new.get("status") or {}).get("phase")
    new_requests = _requests(new_spec)
    old_requests = _requests(old_spec)
    if new_phase == CLAIM_BOUND and new_requests is not None:
        new_spec = _with_storage_request(new_spec, (old_requests or {}).get("storage"))
    new_spec["volumeAttributesClassName"] = old_spec.get("volumeAttributesClassName")
    if _normalized(new_spec) != _normalized(old_spec):
        errs.append(forbidden_field("spec", SPEC_IMMUTABLE))
    new_size = _storage(new_requests)
    old_size = _storage(old_requests)
    if new_size is not None and old_size is not None and new_size < old_size:
        errs.append(
            forbidden_field(
                "spec.resources.requests.storage", "field can not be less than previous value"
            )
        )
    if (new.get("spec") or {}).get("volumeMode") != (old.get("spec") or {}).get("volumeMode"):
        mode = (new.get("spec") or {}).get("volumeMode")
        rendered = "null" if mode is None else f'"{mode}"'
        errs.append(invalid_rendered("volumeMode", rendered, "field is immutable"))
    return errs


def _requests(spec: Obj) -> Obj | None:
    requests = (spec.get("resources") or {}).get("requests")
    return requests if isinstance(requests, dict) else None


def _with_storage_request(spec: Obj, storage: Any) -> Obj:
    resources = dict(spec.get("resources") or {})
    requests = dict(resources.get("requests") or {})
    if storage is None:
        requests.pop("storage", None)
    else:
        requests["storage"] = storage
    resources["requests"] = requests
    return {**spec, "resources": resources}


def _storage(requests: Obj | None) -> Quantity | None:
    if not requests or "storage" not in requests:
        return None
    try:
        return Quantity.from_json(requests["storage"])
    except QuantityError:
        return None


def _normalized(value: Any) -> Any:
    """The spec as Semantic.DeepEqual sees it: empty and missing alike, quantities by value."""
    if isinstance(value, dict):
        out = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value
