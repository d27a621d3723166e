"""The errors the API client raises: one class per way a request can fail.

An answer with an error code from the API server becomes an `APIError` that carries the `Status`
the server sent, so a caller can branch on the class (`except APINotFoundError`) and still print
what the server said (`err.reason`, `err.message`). The classes follow the status codes
Kubernetes uses (apimachinery's `pkg/api/errors`): 4xx are the caller's problem
(`APIClientError`), 5xx the server's (`APIServerError`).

Failures that never got an answer (connection refused, TLS, timeouts) are `APIConnectionError`,
and names that discovery cannot map to a resource are `UnknownResourceError`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

Status = dict[str, Any]


class APIError(Exception):
    """The API server answered with an error; `status` is the `Status` object it sent."""

    def __init__(self, status: Status) -> None:
        self.status = status
        super().__init__(self.message)

    @property
    def code(self) -> int:
        return int(self.status.get("code") or 0)

    @property
    def reason(self) -> str:
        return str(self.status.get("reason") or "")

    @property
    def message(self) -> str:
        return str(self.status.get("message") or "")

    @property
    def details(self) -> dict[str, Any]:
        details = self.status.get("details")
        return details if isinstance(details, dict) else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


class APIClientError(APIError):
    """4xx: the request was wrong or not allowed."""


class APIBadRequestError(APIClientError):
    """400, e.g. a strict decoding error."""


class APIUnauthorizedError(APIClientError):
    """401: no or bad credentials."""


class APIForbiddenError(APIClientError):
    """403: authenticated, but not allowed."""


class APINotFoundError(APIClientError):
    """404: no such object (or no such resource)."""


class APIConflictError(APIClientError):
    """409: a stale resourceVersion, or a server-side apply conflict."""


class APIAlreadyExistsError(APIConflictError):
    """409 with reason AlreadyExists: a create of a name that is taken."""


class APIGoneError(APIClientError):
    """410: a resourceVersion older than the server's history; list again."""


class APIInvalidError(APIClientError):
    """422: the object failed validation; `details.causes` names the fields."""


class APITooManyRequestsError(APIClientError):
    """429: slow down and retry."""


class APIServerError(APIError):
    """5xx: the server failed."""


_BY_CODE: dict[int, type[APIError]] = {
    400: APIBadRequestError,
    401: APIUnauthorizedError,
    403: APIForbiddenError,
    404: APINotFoundError,
    409: APIConflictError,
    410: APIGoneError,
    422: APIInvalidError,
    429: APITooManyRequestsError,
}

# The reasons apimachinery gives a bare HTTP error that carries no Status
# (errors.NewGenericServerResponse), and the message it writes for a 404.
_GENERIC_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_NOT_FOUND_MESSAGE = "the server could not find the requested resource"


def status_for(code: int, body: Any) -> Status:
    """The `Status` of an error answer, made up the way client-go does when the body is none."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        status = dict(body)
        status.setdefault("code", code)
        return status
    text = body.decode(errors="replace").strip() if isinstance(body, bytes) else ""
    if code == 404 and not text:
        text = _NOT_FOUND_MESSAGE
    if not text:
        try:
            text = HTTPStatus(code).phrase
        except ValueError:
            text = f"status code {code}"
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": text,
        "reason": _GENERIC_REASONS.get(code, ""),
        "code": code,
    }


def error_from_status(status: Status) -> APIError:
    """The most specific `APIError` for a `Status`."""
    code = int(status.get("code") or 0)
    if code == 409 and status.get("reason") == "AlreadyExists":
        return APIAlreadyExistsError(status)
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = APIServerError if code >= 500 else APIClientError
    return cls(status)


class APIConnectionError(Exception):
    """No answer from the server: refused, unreachable, TLS failure or timeout."""

    def __init__(self, server: str, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.server = server
        self.refused = refused


class UnknownResourceError(LookupError):
    """Discovery knows no resource by this name, or no resource of this kind."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
