"""The type checks a DELETE's DeleteOptions body goes through, with Go's messages.

Kubernetes decodes the body of a DELETE (and of a DELETE of a collection) in two passes
(handlers/delete.go): the serializer first reads `apiVersion` and `kind` into an anonymous struct
with encoding/json (`SimpleMetaFactory.Interpret`, case-insensitive keys), then decodes the whole
body into `metav1.DeleteOptions` with sigs.k8s.io/json (case-sensitive keys; unknown keys are
ignored, whatever `fieldValidation` says). A value of the wrong type fails the request with the
decoder's own `json: cannot unmarshal ...` text. Since 1.35 (#133358) such a failure is a 400
BadRequest; before, it fell through to a 500.

Only the shape is checked here; what the values mean (`propagationPolicy`, `dryRun`, the
conflict with `orphanDependents`) is `options.delete_options`'s business, answered with 422.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import errors
from kubelite.api.goformat import json_type

# The anonymous struct Interpret decodes into, as reflect prints its type.
_TYPE_META_STRUCT = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)
_INTERPRET_PREFIX = "couldn't get version/kind; json parse error: "

# Go's kinds of value, for choosing what the decoder says it met.
_STRING, _INT64, _BOOL, _STRING_LIST, _STRUCT = "string", "int64", "bool", "[]string", "struct"

# DeleteOptions' fields: JSON name -> (kind, the Go type reflect names in an error).
_DELETE_OPTIONS_FIELDS: dict[str, tuple[str, str]] = {
    "kind": (_STRING, "string"),
    "apiVersion": (_STRING, "string"),
    "gracePeriodSeconds": (_INT64, "int64"),
    "preconditions": (_STRUCT, "v1.Preconditions"),
    "orphanDependents": (_BOOL, "bool"),
    "propagationPolicy": (_STRING, "v1.DeletionPropagation"),
    "dryRun": (_STRING_LIST, "[]string"),
    "ignoreStoreReadErrorWithClusterBreakingPotential": (_BOOL, "bool"),
}
_PRECONDITIONS_FIELDS: dict[str, tuple[str, str]] = {
    "uid": (_STRING, "types.UID"),
    "resourceVersion": (_STRING, "string"),
}


class _TypeError(Exception):
    """encoding/json's UnmarshalTypeError: what was met, the struct, the field path, the type."""

    def __init__(self, met: str, struct: str, field: str, go_type: str) -> None:
        super().__init__(
            f"json: cannot unmarshal {met} into Go struct field {struct}.{field} of type {go_type}"
        )


def _number_text(value: int | float) -> str:
    """The number as it was written, as near as Python's parse keeps it."""
    return repr(value)


def _check(value: Any, kind: str, go_type: str, struct: str, field: str) -> None:
    """Raise the decoder's first error for `value` going into a field of `kind`; null is fine
    (it leaves the field as it was)."""
    if value is None:
        return
    if kind == _STRING:
        if not isinstance(value, str):
            raise _TypeError(json_type(value), struct, field, go_type)
    elif kind == _BOOL:
        if not isinstance(value, bool):
            raise _TypeError(json_type(value), struct, field, go_type)
    elif kind == _INT64:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _TypeError(json_type(value), struct, field, go_type)
        # strconv.ParseInt of the literal: a fraction or exponent, or a value past int64, fails
        # and the decoder then names the number it met.
        if isinstance(value, float) or not -(2**63) <= value < 2**63:
            raise _TypeError(f"number {_number_text(value)}", struct, field, go_type)
    elif kind == _STRING_LIST:
        if not isinstance(value, list):
            raise _TypeError(json_type(value), struct, field, go_type)
        for item in value:
            # An element's error names the slice's field and the element's type.
            _check(item, _STRING, "string", struct, field)
    elif kind == _STRUCT:
        if not isinstance(value, dict):
            raise _TypeError(json_type(value), struct, field, go_type)
        for key, item in value.items():
            spec = _PRECONDITIONS_FIELDS.get(key)
            if spec is not None:
                _check(item, spec[0], spec[1], "Preconditions", f"{field}.{key}")


def check(body: Any) -> dict[str, Any]:
    """`body` (a parsed DELETE body) as a DeleteOptions object, or the 400 Kubernetes 1.35+
    answers for it. A JSON `null` body decodes to no options at all."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.bad_request(
            f"{_INTERPRET_PREFIX}json: cannot unmarshal {json_type(body)} into Go value of type "
            f"{_TYPE_META_STRUCT}"
        )
    # Interpret: encoding/json matches `apiVersion` and `kind` whatever their case.
    for key, value in body.items():
        name = {"apiversion": "apiVersion", "kind": "kind"}.get(key.lower())
        if name is not None and value is not None and not isinstance(value, str):
            raise errors.bad_request(
                f"{_INTERPRET_PREFIX}json: cannot unmarshal {json_type(value)} into Go struct "
                f"field .{name} of type string"
            )
    try:
        for key, value in body.items():
            spec = _DELETE_OPTIONS_FIELDS.get(key)
            if spec is not None:
                _check(value, spec[0], spec[1], "DeleteOptions", key)
    except _TypeError as exc:
        raise errors.bad_request(str(exc)) from None
    return body
