"""Kubernetes API errors: the `Status` objects a client reads, and field errors.

Every refusal the API server gives is a `StatusError` that renders as a `meta/v1 Status`, with
the `reason` and `code` Kubernetes uses for the same situation (apimachinery's
`pkg/api/errors/errors.go`), so that kubectl prints `Error from server (NotFound): ...` exactly as
it does against Kubernetes. Validation problems are collected as `FieldError`s first and turned
into one `Invalid` (422) error that names every field, like `field.ErrorList.ToAggregate()`.
A bad value prints as field.Error prints it: strings with Go's %q (`go_quote`), and a value that
is a []string in Kubernetes, wrapped in `GoStrings`, with %#v.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kubelite.api.goformat import go_quote

# Status reasons, as apimachinery names them (metav1.StatusReason*).
REASON_BAD_REQUEST = "BadRequest"
REASON_UNAUTHORIZED = "Unauthorized"
REASON_FORBIDDEN = "Forbidden"
REASON_NOT_FOUND = "NotFound"
REASON_ALREADY_EXISTS = "AlreadyExists"
REASON_CONFLICT = "Conflict"
REASON_GONE = "Gone"
REASON_EXPIRED = "Expired"
REASON_INVALID = "Invalid"
REASON_METHOD_NOT_ALLOWED = "MethodNotAllowed"
REASON_NOT_ACCEPTABLE = "NotAcceptable"
REASON_UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
REASON_REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
REASON_TOO_MANY_REQUESTS = "TooManyRequests"
REASON_INTERNAL_ERROR = "InternalError"
REASON_TIMEOUT = "Timeout"
REASON_SERVICE_UNAVAILABLE = "ServiceUnavailable"


class StatusError(Exception):
    """An API failure that renders as a Kubernetes `Status` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        """The `Status` body, with its keys in the order kube-apiserver writes them.

        Go's encoder writes a struct's fields in declaration order and leaves out the empty
        ones tagged `omitempty`: metav1.Status declares kind, apiVersion, metadata, status,
        message, reason, details, code (`apis/meta/v1/types.go`). Clients that compare an
        error's text with kube-apiserver's (the official Python client's tests do) see the
        same bytes.
        """
        return go_status("Failure", self.message, self.reason, self.details, self.code)

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


# metav1.StatusDetails and metav1.StatusCause, their JSON fields in declaration order; every
# one of them is `omitempty`.
_DETAILS_FIELDS = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_FIELDS = ("reason", "message", "field")


def go_status(
    status: str,
    message: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
    code: int = 0,
) -> dict[str, Any]:
    """A metav1.Status as Go encodes it: fields in declaration order, empty ones left out."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}}
    if status:
        body["status"] = status
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        # A pointer in Go: an empty StatusDetails is still written, as `{}`.
        body["details"] = _go_details(details)
    if code:
        body["code"] = code
    return body


def _go_details(details: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: details[k] for k in _DETAILS_FIELDS if details.get(k)}
    if "causes" in ordered:
        ordered["causes"] = [
            {k: cause[k] for k in _CAUSE_FIELDS if cause.get(k)} for cause in ordered["causes"]
        ]
    return ordered


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    if kind:
        details["kind"] = kind
    details.update({k: v for k, v in extra.items() if v})
    return details


def qualified_resource(resource: str, group: str) -> str:
    """`pods` for the core group, `deployments.apps` otherwise (schema.GroupResource.String)."""
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    """404: `pods "web" not found` (the name as Go's %q prints it)."""
    return StatusError(
        404,
        REASON_NOT_FOUND,
        f"{qualified_resource(resource, group)} {go_quote(name)} not found",
        _details(name, group, resource),
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    """409: `pods "web" already exists`."""
    return StatusError(
        409,
        REASON_ALREADY_EXISTS,
        f"{qualified_resource(resource, group)} {go_quote(name)} already exists",
        _details(name, group, resource),
    )


def conflict(resource: str, name: str, reason: str, group: str = "") -> StatusError:
    """409: `Operation cannot be fulfilled on pods "web": <reason>`."""
    return StatusError(
        409,
        REASON_CONFLICT,
        f"Operation cannot be fulfilled on {qualified_resource(resource, group)} "
        f"{go_quote(name)}: {reason}",
        _details(name, group, resource),
    )


OPTIMISTIC_LOCK_MESSAGE = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def stale_resource_version(resource: str, name: str, group: str = "") -> StatusError:
    """409 for an update whose resourceVersion is no longer the stored one."""
    return conflict(resource, name, OPTIMISTIC_LOCK_MESSAGE, group)


def bad_request(message: str) -> StatusError:
    return StatusError(400, REASON_BAD_REQUEST, message)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, REASON_UNAUTHORIZED, message)


def forbidden(resource: str, name: str, message: str, group: str = "") -> StatusError:
    """403: `pods "web" is forbidden: <message>`."""
    subject = (
        f"{qualified_resource(resource, group)} {go_quote(name)}"
        if name
        else qualified_resource(resource, group)
    )
    return StatusError(
        403, REASON_FORBIDDEN, f"{subject} is forbidden: {message}", _details(name, group, resource)
    )


def method_not_allowed() -> StatusError:
    """405, worded as the API server's router words it."""
    return StatusError(
        405,
        REASON_METHOD_NOT_ALLOWED,
        "the server does not allow this method on the requested resource",
    )


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, REASON_NOT_ACCEPTABLE, message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(
        415,
        REASON_UNSUPPORTED_MEDIA_TYPE,
        f"the body of the request was in an unknown format - accepted media types include: "
        f"application/json, application/yaml, application/vnd.kubernetes.protobuf "
        f"({content_type})",
    )


def request_entity_too_large(limit: int) -> StatusError:
    return StatusError(
        413,
        REASON_REQUEST_ENTITY_TOO_LARGE,
        f"Request entity too large: limit is {limit}",
    )


def gone(message: str) -> StatusError:
    """410 Expired: a resourceVersion or continue token older than the compacted history."""
    return StatusError(410, REASON_EXPIRED, message)


def timeout(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(504, REASON_TIMEOUT, message, {"retryAfterSeconds": retry_after})


def too_large_resource_version(requested: int, current: int) -> StatusError:
    """504 with the cause client-go's reflector looks for before relisting."""
    return StatusError(
        504,
        REASON_TIMEOUT,
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def internal_error(message: str) -> StatusError:
    return StatusError(
        500,
        REASON_INTERNAL_ERROR,
        f"Internal error occurred: {message}",
        {"causes": [{"message": message}]},
    )


def too_many_requests(message: str, retry_after: int = 1) -> StatusError:
    return StatusError(429, REASON_TOO_MANY_REQUESTS, message, {"retryAfterSeconds": retry_after})


# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) ---------------------------

# Field error types, with the Status cause reason and the text Kubernetes prints for each.
REQUIRED = ("FieldValueRequired", "Required value")
INVALID = ("FieldValueInvalid", "Invalid value")
NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
FORBIDDEN = ("FieldValueForbidden", "Forbidden")
TOO_LONG = ("FieldValueTooLong", "Too long")
TOO_MANY = ("FieldValueTooMany", "Too many")
NOT_FOUND = ("FieldValueNotFound", "Not found")
INTERNAL = ("InternalError", "Internal error")

_OMIT = object()


def go_strings(values: Sequence[str] | None, type_name: str = "[]string") -> str:
    """A []string as %#v prints it: `[]string{"a", "b"}`, or `[]string(nil)`."""
    if values is None:
        return f"{type_name}(nil)"
    return type_name + "{" + ", ".join(go_quote(v) for v in values) + "}"


class GoPrinted:
    """A bad value that knows how Go's %#v prints it (its `__str__`): a Go struct that has no
    JSON form in the message, such as the internal rbac.RoleRef."""


@dataclass(frozen=True)
class GoStrings:
    """A bad value that is a Go []string in Kubernetes (`service.Spec.ClusterIPs`, say).

    field.Error prints such a value with %#v, so an error about it reads
    `Invalid value: []string{"10.44.0.1"}`; a plain Python list would print as JSON.
    """

    values: tuple[str, ...] | None

    def __str__(self) -> str:
        return go_strings(self.values)


def _render_value(value: Any) -> str:
    """Print a bad value the way field.Error does: strings quoted, numbers bare, Go slices
    with %#v."""
    if isinstance(value, GoStrings | GoPrinted):
        return str(value)
    if isinstance(value, str):
        # %q: a NUL is `\x00` and a zero-width space `\u200b`, where JSON would differ.
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        # A nil becomes the string "null", which %q then quotes (1.33's ErrorBody).
        return '"null"'
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    """One problem at one field path, e.g. `spec.containers[0].image: Required value`."""

    kind: tuple[str, str]
    field: str
    value: Any = _OMIT
    detail: str = ""

    @property
    def reason(self) -> str:
        return self.kind[0]

    def body(self) -> str:
        """The message without the field path, e.g. `Invalid value: "x": must be ...`."""
        text = self.kind[1]
        if self.kind in (REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL) or self.value is _OMIT:
            return f"{text}: {self.detail}" if self.detail else text
        if self.kind == TOO_MANY:
            return f"{text}: {_render_value(self.value)}: {self.detail}" if self.detail else text
        rendered = f"{text}: {_render_value(self.value)}"
        return f"{rendered}: {self.detail}" if self.detail else rendered

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.body(), "field": self.field}


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, path, detail=detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(INVALID, path, value, detail)


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    detail = ""
    if supported:
        detail = "supported values: " + ", ".join(f'"{s}"' for s in supported)
    return FieldError(NOT_SUPPORTED, path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(DUPLICATE, path, value)


def forbidden_field(path: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, path, detail=detail)


def too_long(path: str, max_length: int) -> FieldError:
    return FieldError(TOO_LONG, path, detail=f"must have at most {max_length} bytes")


def too_many(path: str, actual: int, max_items: int) -> FieldError:
    return FieldError(TOO_MANY, path, actual, f"must have at most {max_items} items")


def field_not_found(path: str, value: Any) -> FieldError:
    return FieldError(NOT_FOUND, path, value)


def child(path: str, name: str) -> str:
    """`spec` + `containers` -> `spec.containers`: field paths as Kubernetes prints them."""
    return f"{path}.{name}" if path else name


def aggregate(errors: list[FieldError] | list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one error bare, several in brackets."""
    texts = [str(e) for e in errors]
    # Kubernetes de-duplicates identical messages in an aggregate.
    seen: list[str] = []
    for text in texts:
        if text not in seen:
            seen.append(text)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def qualified_kind(kind: str, group: str) -> str:
    """`Pod` for the core group, `Deployment.apps` otherwise (schema.GroupKind.String)."""
    return f"{kind}.{group}" if group else kind


def invalid_object(kind: str, name: str, errors: list[FieldError], group: str = "") -> StatusError:
    """422: `Pod "web" is invalid: spec.containers[0].image: Required value`."""
    return StatusError(
        422,
        REASON_INVALID,
        f"{qualified_kind(kind, group)} {go_quote(name)} is invalid: {aggregate(errors)}",
        {
            **_details(name, group, kind),
            "causes": [e.cause() for e in errors],
        },
    )
