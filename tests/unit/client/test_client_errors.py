"""Error answers become the APIError subclass of their code, carrying the server's Status."""

from __future__ import annotations

import pytest

from kubelite.client import errors
from kubelite.client.errors import error_from_status, status_for


def status(code: int, reason: str, message: str = "m") -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "code": code,
        "reason": reason,
        "message": message,
    }


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", errors.APIBadRequestError),
        (401, "Unauthorized", errors.APIUnauthorizedError),
        (403, "Forbidden", errors.APIForbiddenError),
        (404, "NotFound", errors.APINotFoundError),
        (409, "Conflict", errors.APIConflictError),
        (409, "AlreadyExists", errors.APIAlreadyExistsError),
        (410, "Expired", errors.APIGoneError),
        (422, "Invalid", errors.APIInvalidError),
        (429, "TooManyRequests", errors.APITooManyRequestsError),
        (405, "MethodNotAllowed", errors.APIClientError),
        (500, "InternalError", errors.APIServerError),
        (504, "Timeout", errors.APIServerError),
    ],
)
def test_each_code_has_its_class(code: int, reason: str, cls: type):
    err = error_from_status(status(code, reason))
    assert type(err) is cls
    assert isinstance(err, errors.APIError)
    assert (err.code, err.reason, err.message) == (code, reason, "m")


def test_the_hierarchy_lets_callers_catch_broadly():
    already = error_from_status(status(409, "AlreadyExists"))
    assert isinstance(already, errors.APIConflictError)
    assert isinstance(already, errors.APIClientError)
    assert not isinstance(error_from_status(status(500, "")), errors.APIClientError)


def test_details_and_str():
    body = status(422, "Invalid", 'Pod "p" is invalid')
    body["details"] = {"name": "p", "kind": "Pod", "causes": [{"field": "spec"}]}
    err = error_from_status(body)
    assert str(err) == 'Pod "p" is invalid'
    assert err.details["causes"] == [{"field": "spec"}]
    assert err.status is body


def test_a_status_body_is_kept_and_given_its_code():
    kept = status_for(404, {"kind": "Status", "reason": "NotFound", "message": "x"})
    assert kept["code"] == 404 and kept["message"] == "x"


@pytest.mark.parametrize(
    ("code", "body", "reason", "message"),
    [
        (404, b"", "NotFound", "the server could not find the requested resource"),
        (503, b"", "ServiceUnavailable", "Service Unavailable"),
        (500, b"boom\n", "InternalError", "boom"),
        (418, b"", "", "I'm a Teapot"),
    ],
)
def test_answers_without_a_status_get_one(code: int, body: bytes, reason: str, message: str):
    made = status_for(code, body)
    assert (made["code"], made["reason"], made["message"]) == (code, reason, message)
    assert made["kind"] == "Status"
