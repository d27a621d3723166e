"""Streams the API server passes through to a kubelet untouched: SPDY upgrades and the
WebSocket tunnel of `kubectl port-forward`.

kube-apiserver does not speak SPDY itself: for exec, attach and port-forward it proxies the
client's `Upgrade: SPDY/3.1` request to the kubelet (UpgradeAwareHandler), hands the kubelet's
101 back, and from then on copies bytes both ways. kubelite does the same, for the same reasons:
the kubelet is where the streams end anyway, the protocol negotiation (`X-Stream-Protocol-
Version`) stays between the two ends that implement it, and the API server holds no per-stream
state, so a translation layer (SPDY to WebSocket) would be a second implementation of every
protocol for no gain.

kubectl 1.31+ runs port-forward as SPDY frames inside WebSocket binary messages (subprotocol
`SPDY/3.1+portforward.k8s.io`, KEP-4006's tunnel). kube-apiserver unwraps it (its
TunnelingHandler) and talks plain SPDY to the kubelet; so does this module: the messages'
payloads are the byte stream of an ordinary SPDY upgrade to the kubelet.

A kubelet that refuses the upgrade answers in plain text with a status code, which becomes the
`Status` kubectl prints, as for logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, hdrs, web

log = logging.getLogger(__name__)

PROTOCOL_HEADER = "X-Stream-Protocol-Version"
SPDY_UPGRADE = "SPDY/3.1"
# The subprotocol prefix of KEP-4006's tunnel (k8s.io/apimachinery constants).
TUNNEL_PREFIX = "SPDY/3.1+"
# How much of a kubelet's refusal is read, and how long its answer to the upgrade may take.
MAX_REFUSAL = 64 * 1024
HANDSHAKE_TIMEOUT = 10.0
READ_SIZE = 64 * 1024
# How much may wait to be sent to the kubelet before the client is read from no more.
WRITE_BUFFER_LIMIT = 1024 * 1024


class UpgradeRefused(Exception):
    """The kubelet answered the upgrade with something other than 101."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status}: {text}")
        self.status = status
        self.text = text


@dataclass
class Upstream:
    """A connection to a kubelet after its 101: the chosen protocol and the raw byte stream."""

    protocol: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


def spdy_protocols(request: web.Request) -> list[str]:
    found: list[str] = []
    for value in request.headers.getall(PROTOCOL_HEADER, []):
        found.extend(p.strip() for p in value.split(",") if p.strip())
    return found


def is_spdy(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower().startswith("spdy/")


async def open_spdy(
    context: ssl.SSLContext, url: str, method: str, protocols: list[str]
) -> Upstream:
    """Send an `Upgrade: SPDY/3.1` request to the kubelet at `url`; the stream after its 101.
    Raises UpgradeRefused with the kubelet's answer otherwise, OSError if it is unreachable."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host),
        HANDSHAKE_TIMEOUT,
    )
    try:
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {authority}",
            "Connection: Upgrade",
            f"Upgrade: {SPDY_UPGRADE}",
            "Content-Length: 0",
            *(f"{PROTOCOL_HEADER}: {p}" for p in protocols),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HANDSHAKE_TIMEOUT)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if status != 101:
            length = int(headers.get("content-length", "-1") or -1)
            if length >= 0:
                body = await reader.readexactly(min(length, MAX_REFUSAL))
            else:
                body = await asyncio.wait_for(reader.read(MAX_REFUSAL), HANDSHAKE_TIMEOUT)
            raise UpgradeRefused(status, body.decode(errors="replace").strip())
        return Upstream(headers.get(PROTOCOL_HEADER.lower(), ""), reader, writer)
    except BaseException:
        writer.close()
        raise


class _Relay:
    """aiohttp's payload-parser seam: every byte the client sends after the 101 goes to the
    kubelet as is. While the kubelet's side has more than `WRITE_BUFFER_LIMIT` waiting, the
    client is not read from, so that an upload to a slow pod does not pile up here."""

    def __init__(self, upstream: Upstream, client: asyncio.Transport) -> None:
        self._writer = upstream.writer
        self._client = client
        self._draining: asyncio.Task[None] | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._writer.is_closing():
            return False, b""
        self._writer.write(bytes(data))
        if (
            self._draining is None
            and self._writer.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT
        ):
            self._client.pause_reading()
            self._draining = asyncio.ensure_future(self._drain())
        return False, b""

    async def _drain(self) -> None:
        try:
            await self._writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._draining = None
            if not self._client.is_closing():
                self._client.resume_reading()

    def feed_eof(self) -> None:
        with contextlib.suppress(Exception):
            if self._writer.can_write_eof():
                self._writer.write_eof()


async def relay_spdy(request: web.Request, upstream: Upstream) -> web.StreamResponse:
    """Answer the client's SPDY upgrade with the kubelet's 101 and splice the two connections
    until either ends."""
    headers: dict[str, str] = {hdrs.CONNECTION: "Upgrade", hdrs.UPGRADE: SPDY_UPGRADE}
    if upstream.protocol:
        headers[PROTOCOL_HEADER] = upstream.protocol
    response = web.StreamResponse(status=101, headers=headers)
    response.force_close()
    await response.prepare(request)
    transport = request.transport
    protocol: Any = request.protocol
    if transport is None:
        upstream.close()
        return response
    protocol.set_parser(_Relay(upstream, transport))
    protocol.keep_alive(False)
    try:
        while chunk := await upstream.reader.read(READ_SIZE):
            if transport.is_closing():
                break
            transport.write(chunk)
            await protocol._drain_helper()
    except (ConnectionError, OSError) as exc:
        log.debug("SPDY relay ended: %s", exc)
    finally:
        upstream.close()
        if not transport.is_closing():
            transport.close()
    return response


def tunnel_protocol(request: web.Request, protocols: tuple[str, ...]) -> str | None:
    """The client's KEP-4006 tunnel subprotocol (`SPDY/3.1+portforward.k8s.io`), if it offers
    one for a stream protocol in `protocols`."""
    offered = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")
    for item in (p.strip() for p in offered.split(",")):
        if item.startswith(TUNNEL_PREFIX) and item[len(TUNNEL_PREFIX) :] in protocols:
            return item
    return None


async def relay_tunnel(
    request: web.Request, subprotocol: str, upstream: Upstream
) -> web.StreamResponse:
    """Accept the client's WebSocket and carry the kubelet's SPDY bytes in binary messages."""
    ws = web.WebSocketResponse(protocols=(subprotocol,), max_msg_size=0)
    await ws.prepare(request)

    async def client_to_kubelet() -> None:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                upstream.writer.write(msg.data)
                await upstream.writer.drain()
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                break

    async def kubelet_to_client() -> None:
        while chunk := await upstream.reader.read(READ_SIZE):
            await ws.send_bytes(chunk)

    try:
        await until_either_ends(client_to_kubelet(), kubelet_to_client())
    finally:
        upstream.close()
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


async def until_either_ends(*pumps: Coroutine[Any, Any, None]) -> None:
    """Run the two directions of a relay until one of them ends, then stop the other: a
    stream's end, or its failure, on either side ends the session."""
    tasks = [asyncio.create_task(pump) for pump in pumps]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
