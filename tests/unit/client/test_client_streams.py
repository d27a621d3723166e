"""The client's streamed GETs (`stream` for a followed log, `watch`) against a small HTTP server:
what they yield, how an error answer raises, and that a server that stops answering in the
middle of a body raises the connection error `request` raises, not aiohttp's own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kubelite.api.resources import PODS
from kubelite.client import errors
from kubelite.client.api import APIClient, WatchEvent
from kubelite.client.events import EventRecorder
from kubelite.client.kubeconfig import ClientConfig

NOT_FOUND = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "message": 'pods "web" not found',
    "reason": "NotFound",
    "code": 404,
}


async def _log(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for line in (b"one\n", b"two\n"):
        await response.write(line)
        await asyncio.sleep(0)
    await response.write_eof()
    return response


async def _cut_short(request: web.Request) -> web.StreamResponse:
    """A chunked body the server abandons after its first chunk."""
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"partial\n")
    assert request.transport is not None
    request.transport.close()
    return response


async def _missing(request: web.Request) -> web.Response:
    return web.json_response(NOT_FOUND, status=404)


async def _plain_error(request: web.Request) -> web.Response:
    return web.Response(status=500, text="boom")


async def _pods(request: web.Request) -> web.StreamResponse:
    if request.query.get("watch") != "true":
        return web.json_response({"kind": "PodList", "items": []})
    if request.query.get("resourceVersion") == "1":
        gone = dict(NOT_FOUND, reason="Expired", code=410, message="too old resource version")
        return web.json_response(gone, status=410)
    response = web.StreamResponse(headers={"Warning": '299 - "watch with care"'})
    await response.prepare(request)
    added = {"type": "ADDED", "object": {"metadata": {"name": "a"}}}
    # One event split over two writes, and a last one with no newline after it.
    line = orjson.dumps(added) + b"\n"
    await response.write(line[:10])
    await asyncio.sleep(0)
    await response.write(line[10:])
    await response.write(orjson.dumps({"type": "DELETED", "object": {"metadata": {"name": "a"}}}))
    await response.write_eof()
    return response


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/log", _log)
    app.router.add_get("/cut", _cut_short)
    app.router.add_get("/missing", _missing)
    app.router.add_get("/plain", _plain_error)
    app.router.add_get("/api/v1/namespaces/default/pods", _pods)
    async with TestServer(app) as test_server:
        yield test_server


def _client(server: TestServer, warnings: list[str] | None = None) -> APIClient:
    handler = warnings.append if warnings is not None else (lambda _: None)
    return APIClient(ClientConfig(server=str(server.make_url(""))), warning_handler=handler)


async def test_stream_yields_the_body_as_it_arrives(server: TestServer) -> None:
    async with _client(server) as client:
        body = b"".join([chunk async for chunk in client.stream("/log")])
    assert body == b"one\ntwo\n"


async def test_stream_error_answers_raise_their_status(server: TestServer) -> None:
    async with _client(server) as client:
        with pytest.raises(errors.APINotFoundError) as found:
            async for _ in client.stream("/missing"):
                pass
        assert found.value.message == 'pods "web" not found'
        # A body that is not JSON: the generic Status of the code.
        with pytest.raises(errors.APIServerError) as failed:
            async for _ in client.stream("/plain"):
                pass
        assert failed.value.code == 500


async def test_stream_cut_short_is_a_connection_error(server: TestServer) -> None:
    async with _client(server) as client:
        chunks: list[bytes] = []
        with pytest.raises(errors.APIConnectionError):
            async for chunk in client.stream("/cut"):
                chunks.append(chunk)
    assert b"".join(chunks) == b"partial\n"


async def test_stream_to_no_server_is_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with APIClient(ClientConfig(server=f"http://127.0.0.1:{port}")) as client:
        with pytest.raises(errors.APIConnectionError) as refused:
            async for _ in client.stream("/log"):
                pass
    assert refused.value.refused


async def test_watch_yields_events_and_reports_warnings(server: TestServer) -> None:
    warnings: list[str] = []
    async with (
        _client(server, warnings) as client,
        contextlib.aclosing(client.watch(PODS, namespace="default")) as events,
    ):
        seen = [event async for event in events]
    assert seen == [
        WatchEvent("ADDED", {"metadata": {"name": "a"}}),
        WatchEvent("DELETED", {"metadata": {"name": "a"}}),
    ]
    assert warnings == ["watch with care"]


async def test_watch_error_answer_raises(server: TestServer) -> None:
    async with _client(server) as client:
        with pytest.raises(errors.APIGoneError):
            async for _ in client.watch(PODS, namespace="default", resource_version="1"):
                pass


async def test_a_closed_client_opens_no_new_connection(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A component stops with an Event still being posted: the request fails and nothing is
    left open (aiohttp would log an unclosed session and connector)."""
    client = _client(server)
    assert (await client.request("GET", "/api/v1/namespaces/default/pods"))["kind"] == "PodList"
    await client.close()
    with pytest.raises(errors.APIConnectionError, match="closed"):
        await client.request("GET", "/api/v1/namespaces/default/pods")
    assert client._session is None
    recorder = EventRecorder(client, "test-controller")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "default"}}
    with caplog.at_level(logging.DEBUG, logger="kubelite.client.events"):
        assert await recorder.event(pod, "Normal", "Started", "started") is None
    assert client._session is None
    # Dropped quietly: the component is gone, nobody is to be warned.
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
