"""`kubelite.apiserver.server_log`: what aiohttp logs of a client's doing goes to debug and is
counted; anything else, a handler's exception above all, stays an ERROR with its traceback."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestPayloadError
from apiserver_fixtures import Api

from kubelite.apiserver import metrics
from kubelite.apiserver.app import Application
from kubelite.apiserver.server_log import ServerLog


class Counted:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (BadHttpMessage("Invalid header token"), metrics.MALFORMED_REQUEST),
        (LineTooLong("request line", "1048576"), metrics.MALFORMED_REQUEST),
        (RequestPayloadError("Can not decode content-encoding: gzip"), metrics.MALFORMED_REQUEST),
        (ConnectionResetError("Connection lost"), metrics.CLIENT_DISCONNECT),
        (BrokenPipeError(32, "Broken pipe"), metrics.CLIENT_DISCONNECT),
    ],
)
def test_a_clients_doing_is_logged_at_debug_in_one_line_and_counted(
    exc: BaseException, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    counted = Counted()
    ServerLog(counted).exception("Error handling request from %s", "127.0.0.1", exc_info=exc)
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.exc_info is None
    assert "127.0.0.1" in record.getMessage() and reason in record.getMessage()
    assert counted.reasons == [reason]


def test_nothing_is_formatted_when_debug_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    counted = Counted()
    ServerLog(counted).exception("Error handling request", exc_info=ConnectionResetError())
    assert caplog.records == []
    assert counted.reasons == [metrics.CLIENT_DISCONNECT]


def test_any_other_exception_stays_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counted = Counted()
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        ServerLog(counted).exception("Error handling request from %s", "127.0.0.1", exc_info=exc)
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert "boom" in caplog.text and "Traceback" in caplog.text
    assert counted.reasons == []


async def test_an_exception_in_a_handler_is_still_an_error_with_its_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object) -> web.StreamResponse:
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr(Application, "route", broken)
    response = await api.request("GET", "/version")
    assert response.status == 500
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "a bug in a handler" in caplog.text and "Traceback" in caplog.text
