"""Stalled connections on a real HTTPS `APIServer`: the header, idle and request timeouts of
`kubelite.apiserver.connections`, the per-address cap, and what stays open (a quiet watch).

Each test runs its own server with timeouts shortened through `ServerConfig.connections`, and
talks to it over raw sockets, so that it can stop where a stalling client stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest
from apiserver_fixtures import admin_context
from testcluster import WAIT, wait_for

from kubelite.apiserver import metrics
from kubelite.apiserver.connections import ConnectionPolicy
from kubelite.apiserver.server import APIServer, ServerConfig

# Longer than any test waits: a timeout a test does not look at never fires.
NEVER = 60.0
SHORT = 0.3
# asyncio's timers may fire a little early (they round to the clock's resolution).
EARLY = 0.05

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@asynccontextmanager
async def serving(tmp_path: Path, policy: ConnectionPolicy) -> AsyncIterator[APIServer]:
    server = APIServer(
        ServerConfig(
            data_dir=tmp_path / "data",
            https_port=0,
            bind_address="127.0.0.1",
            connections=policy,
        )
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def connect(server: APIServer, *, tls: bool = True, source: str = "127.0.0.1") -> Stream:
    """A connection from `source` (any 127.0.0.0/8 address is this machine's)."""
    return await asyncio.open_connection(
        "127.0.0.1",
        server.port,
        ssl=admin_context(server) if tls else None,
        server_hostname="127.0.0.1" if tls else None,
        local_addr=(source, 0),
    )


async def until_closed(reader: asyncio.StreamReader, timeout: float = WAIT) -> bytes:
    """What the server sent before it closed the connection (a reset counts as closed)."""
    received = b""
    async with asyncio.timeout(timeout):
        while True:
            try:
                chunk = await reader.read(65536)
            except OSError:
                return received
            if not chunk:
                return received
            received += chunk


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length: status, headers (lower-cased), body."""
    async with asyncio.timeout(WAIT):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        status_line, *lines = head.strip().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


STALLED_BODY = (
    b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    b'{"metadata":'
)


def dropped(server: APIServer, reason: str) -> float:
    value = server.metrics.registry.get_sample_value(
        "kubelite_apiserver_dropped_connections_total", {"reason": reason}
    )
    return value or 0.0


async def test_a_tls_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, ConnectionPolicy(header_timeout=SHORT, idle_timeout=NEVER)) as s:
        reader, writer = await connect(s)
        opened = time.monotonic()
        # Closed without an answer, as Go closes a connection past its ReadHeaderTimeout.
        assert await until_closed(reader) == b""
        assert time.monotonic() - opened >= SHORT - EARLY
        assert dropped(s, metrics.HEADER_TIMEOUT) == 1
        writer.close()


async def test_a_request_head_cut_half_way_is_closed_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, ConnectionPolicy(header_timeout=SHORT, idle_timeout=NEVER)) as s:
        reader, writer = await connect(s)
        writer.write(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl")
        sent = time.monotonic()
        assert await until_closed(reader) == b""
        assert time.monotonic() - sent >= SHORT - EARLY
        writer.close()


async def test_the_header_timeout_starts_again_with_the_first_bytes_of_the_next_request(
    tmp_path: Path,
) -> None:
    """Go waits for a kept-alive connection's next request for the idle timeout, and gives it
    the header timeout from its first bytes: a second request stalled half-way through its
    head goes long before the idle timeout would close the connection."""
    async with serving(tmp_path, ConnectionPolicy(header_timeout=SHORT, idle_timeout=NEVER)) as s:
        reader, writer = await connect(s)
        writer.write(get("/version"))
        assert (await read_response(reader))[0] == 200
        writer.write(b"GET /version HTTP/1.1\r\nHo")
        sent = time.monotonic()
        assert await until_closed(reader) == b""
        assert time.monotonic() - sent >= SHORT - EARLY
        writer.close()


async def test_a_tcp_connection_that_never_starts_tls_is_closed_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    """Go's TLS handshake deadline is the least of its read timeouts, the header timeout."""
    async with serving(tmp_path, ConnectionPolicy(header_timeout=SHORT, idle_timeout=NEVER)) as s:
        reader, writer = await connect(s, tls=False)
        opened = time.monotonic()
        assert await until_closed(reader) == b""
        assert time.monotonic() - opened >= SHORT - EARLY
        assert dropped(s, metrics.TLS_HANDSHAKE) == 1
        tls_errors = s.metrics.registry.get_sample_value("apiserver_tls_handshake_errors_total")
        assert tls_errors == 1
        writer.close()


async def test_a_body_stalled_half_way_gets_a_504_after_the_request_timeout_and_is_closed(
    tmp_path: Path,
) -> None:
    """kube-apiserver's timeout filter answers a request past --request-timeout with a 504
    `Timeout` Status; the rest of the body may still come, so the connection closes after."""
    policy = ConnectionPolicy(header_timeout=NEVER, idle_timeout=NEVER, request_timeout=SHORT)
    async with serving(tmp_path, policy) as s:
        reader, writer = await connect(s)
        writer.write(STALLED_BODY)
        sent = time.monotonic()
        status, headers, body = await read_response(reader)
        assert time.monotonic() - sent >= SHORT - EARLY
        assert status == 504
        assert headers["connection"] == "close"
        answer = orjson.loads(body)
        assert answer["reason"] == "Timeout"
        assert answer["message"] == "Timeout: request did not complete within the allotted timeout"
        assert answer["code"] == 504
        assert await until_closed(reader) == b""
        assert dropped(s, metrics.REQUEST_TIMEOUT) == 1
        writer.close()


async def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, ConnectionPolicy(header_timeout=NEVER, idle_timeout=SHORT)) as s:
        reader, writer = await connect(s)
        writer.write(get("/version"))
        status, headers, _ = await read_response(reader)
        answered = time.monotonic()
        assert status == 200 and headers.get("connection", "keep-alive") != "close"
        assert await until_closed(reader) == b""
        assert time.monotonic() - answered >= SHORT - EARLY
        writer.close()


async def test_a_quiet_watch_outlives_every_timeout(tmp_path: Path) -> None:
    """A watch is a request in progress: neither idle nor waiting for a head, and it reads no
    body. While it stays quiet, a stalled head, an idle connection and a stalled body are each
    dropped (so every timeout has passed); then an event still reaches it."""
    # aiohttp's idle timer also runs while a connection waits for its first request: longer
    # than the header timeout, as kube-apiserver's are, it leaves that connection to the latter.
    policy = ConnectionPolicy(header_timeout=SHORT, idle_timeout=2 * SHORT, request_timeout=SHORT)
    async with serving(tmp_path, policy) as s, aiohttp.ClientSession() as session:
        url = f"https://127.0.0.1:{s.port}/api/v1/namespaces/default/configmaps?watch=1"
        async with session.get(url, ssl=admin_context(s)) as watch:
            assert watch.status == 200

            async def stalled_head() -> None:
                reader, writer = await connect(s)
                await until_closed(reader)
                writer.close()

            async def idle() -> None:
                reader, writer = await connect(s)
                writer.write(get("/version"))
                await read_response(reader)
                await until_closed(reader)
                writer.close()

            async def stalled_body() -> None:
                reader, writer = await connect(s)
                writer.write(STALLED_BODY)
                assert (await read_response(reader))[0] == 504
                writer.close()

            await asyncio.gather(stalled_head(), idle(), stalled_body())
            assert dropped(s, metrics.HEADER_TIMEOUT) >= 1
            assert dropped(s, metrics.REQUEST_TIMEOUT) == 1

            cms = s.resource_store("", "v1", "configmaps")
            await cms.create("default", {"metadata": {"name": "after-the-timeouts"}})
            async with asyncio.timeout(WAIT):
                line = await watch.content.readline()
            event = orjson.loads(line)
            assert event["type"] == "ADDED"
            assert event["object"]["metadata"]["name"] == "after-the-timeouts"


async def test_connections_over_the_per_address_cap_are_closed_and_others_still_served(
    tmp_path: Path,
) -> None:
    policy = ConnectionPolicy(header_timeout=NEVER, idle_timeout=NEVER, max_per_address=2)
    async with serving(tmp_path, policy) as s:
        assert s.site is not None
        slots = s.site.slots
        held = [await connect(s, tls=False), await connect(s, tls=False)]
        await wait_for(lambda: slots.held["127.0.0.1"] == 2, what="two connections held")

        reader, writer = await connect(s, tls=False)
        assert await until_closed(reader) == b""
        writer.close()
        assert dropped(s, metrics.ADDRESS_LIMIT) == 1

        # Another address has a cap of its own.
        reader, writer = await connect(s, source="127.0.0.2")
        writer.write(get("/version"))
        assert (await read_response(reader))[0] == 200
        writer.close()

        # A connection closed gives its place back.
        held.pop()[1].close()
        await wait_for(lambda: slots.held["127.0.0.1"] == 1, what="a place given back")
        reader, writer = await connect(s)
        writer.write(get("/version"))
        assert (await read_response(reader))[0] == 200
        writer.close()
        for _, held_writer in held:
            held_writer.close()


async def test_malformed_requests_and_hang_ups_are_counted_not_logged_as_errors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(tmp_path, ConnectionPolicy()) as s:
        reader, writer = await connect(s)
        writer.write(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n")
        assert (await read_response(reader))[0] == 400
        writer.close()

        # A client gone half-way through its body: aiohttp's read raises ConnectionResetError.
        reader, writer = await connect(s)
        writer.write(STALLED_BODY)
        await writer.drain()
        writer.transport.abort()
        await wait_for(lambda: dropped(s, metrics.CLIENT_DISCONNECT) == 1, what="a hang-up")
        assert dropped(s, metrics.MALFORMED_REQUEST) == 1

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert [r for r in caplog.records if r.exc_info] == []
    demoted = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(demoted) == 2
    assert all(r.levelno == logging.DEBUG for r in demoted)
