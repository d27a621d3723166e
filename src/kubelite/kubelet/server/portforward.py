"""`kubectl port-forward` at the kubelet: the `portforward.k8s.io` protocol over SPDY (and the
WebSocket variant other clients use).

For every local connection kubectl opens two SPDY streams carrying the same `requestID` and
`port` headers: an `error` stream (which kubectl half-closes at once) and a `data` stream
(k8s.io/kubelet `portforward/httpstream.go`). Once both are there the kubelet connects to the
port inside the pod's network namespace (the CRI runtime's PortForward: a socket made in that
namespace and connected to localhost, so that an app listening on 127.0.0.1 in the pod is
reachable too) and copies bytes both ways; a failure goes on the error stream as text, which
kubectl prints. kubectl 1.31+ sends the same SPDY frames inside WebSocket messages; the API
server unwraps them, so the kubelet sees SPDY either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from kubelite.kubelet.server import spdy

log = logging.getLogger(__name__)

PROTOCOL_V1 = "portforward.k8s.io"
PROTOCOLS = (PROTOCOL_V1,)

STREAM_TYPE = "streamtype"
PORT = "port"
REQUEST_ID = "requestid"
ERROR, DATA = "error", "data"
# How long the second stream of a pair may keep the first one waiting (the kubelet's
# stream creation timeout).
PAIR_TIMEOUT = 30.0
READ_SIZE = 64 * 1024

Dial = Callable[[int], Awaitable[socket.socket]]


class _Pair:
    def __init__(self) -> None:
        self.error: spdy.Stream | None = None
        self.data: spdy.Stream | None = None
        self.complete = asyncio.Event()


def _request_id(stream: spdy.Stream) -> str:
    found = stream.header(REQUEST_ID)
    if found:
        return found
    # Clients older than requestID pair a data stream with the error stream just before it.
    sid = stream.id - 2 if stream.header(STREAM_TYPE) == DATA else stream.id
    return str(sid)


async def serve(session: spdy.Session, dial: Dial, pod: str, uid: str) -> None:
    """Serve every stream pair of the connection until the client closes it."""
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.accept()) is not None:
            kind = stream.header(STREAM_TYPE)
            if kind not in (ERROR, DATA):
                log.info("port-forward: stream of unknown type %r", kind)
                await stream.send_reset(spdy.PROTOCOL_ERROR)
                continue
            key = _request_id(stream)
            pair = pairs.setdefault(key, _Pair())
            setattr(pair, kind, stream)
            if pair.error is not None and pair.data is not None:
                del pairs[key]
                task = asyncio.create_task(_forward(pair.error, pair.data, dial, pod, uid))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(BaseException):
                await task


async def _forward(error: spdy.Stream, data: spdy.Stream, dial: Dial, pod: str, uid: str) -> None:
    raw_port = data.header(PORT)
    try:
        port = int(raw_port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        await _fail(error, data, f'invalid port "{raw_port}"')
        return
    try:
        sock = await dial(port)
    except OSError as exc:
        message = f"error forwarding port {port} to pod {pod}, uid {uid}: {exc.strerror or exc}"
        log.info("%s", message)
        await _fail(error, data, message)
        return
    try:
        reader, writer = await asyncio.open_connection(sock=sock)
    except OSError as exc:
        sock.close()
        await _fail(error, data, f"error forwarding port {port} to pod {pod}, uid {uid}: {exc}")
        return

    async def to_pod() -> None:
        while chunk := await data.read():
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    async def from_pod() -> None:
        while chunk := await reader.read(READ_SIZE):
            await data.write(chunk)
        await data.close()

    upstream = asyncio.create_task(to_pod())
    downstream = asyncio.create_task(from_pod())
    try:
        # The pod's side ending ends the request (its FIN reaches kubectl); kubectl's side
        # ending only half-closes the pod's socket, as the CRI runtimes do.
        await downstream
    except (ConnectionError, OSError) as exc:
        log.debug("port-forward to port %d ended: %s", port, exc)
    finally:
        upstream.cancel()
        with contextlib.suppress(BaseException):
            await upstream
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        await error.close()
        await data.close()


async def _fail(error: spdy.Stream, data: spdy.Stream, message: str) -> None:
    with contextlib.suppress(ConnectionError):
        await error.write(message.encode())
    await error.close()
    await data.close()


# --- the WebSocket variant --------------------------------------------------------------------

# The kubelet's WebSocket port-forward subprotocols (portforward/websocket.go): binary channels.
WEBSOCKET_PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")
PORT_QUERY = "port"


def parse_ports(values: list[str]) -> list[int]:
    """The `port` query parameters (each may list several, comma-separated), as the kubelet
    parses them; ValueError with its words."""
    if not values:
        raise ValueError(f'query parameter "{PORT_QUERY}" is required')
    ports = []
    for value in values:
        if not value:
            raise ValueError(f'query parameter "{PORT_QUERY}" cannot be empty')
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                raise ValueError(f'unable to parse "{value}" as a port')
            if int(part) < 1:
                raise ValueError(f'port "{value}" must be > 0')
            ports.append(int(part))
    return ports


async def serve_websocket(
    ws: web.WebSocketResponse, ports: list[int], dial: Dial, pod: str, uid: str
) -> None:
    """Port-forward over one WebSocket (clients such as the Python client use it): for the
    i-th port, channel 2i carries data and 2i+1 errors, and each channel's first message is its
    port, two bytes little-endian. One connection to each port lasts as long as the socket;
    once every one has ended, the socket closes too (as the kubelet's does)."""
    writers: dict[int, asyncio.StreamWriter] = {}
    readers: list[asyncio.Task[None]] = []
    for index, port in enumerate(ports):
        header = struct.pack("<H", port)
        await ws.send_bytes(bytes([2 * index]) + header)
        await ws.send_bytes(bytes([2 * index + 1]) + header)
        try:
            reader, writer = await asyncio.open_connection(sock=await dial(port))
        except OSError as exc:
            message = f"error forwarding port {port} to pod {pod}, uid {uid}: {exc.strerror or exc}"
            await ws.send_bytes(bytes([2 * index + 1]) + message.encode())
            continue
        writers[2 * index] = writer
        readers.append(asyncio.create_task(_pod_to_websocket(ws, reader, 2 * index)))

    async def close_when_done() -> None:
        await asyncio.gather(*readers, return_exceptions=True)
        await ws.close()

    closer = asyncio.create_task(close_when_done())
    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY or not msg.data:
                continue
            to_pod = writers.get(msg.data[0])
            if to_pod is not None and not to_pod.is_closing():
                to_pod.write(msg.data[1:])
                await to_pod.drain()
    finally:
        for task in (*readers, closer):
            task.cancel()
        for writer in writers.values():
            writer.close()


async def _pod_to_websocket(
    ws: web.WebSocketResponse, reader: asyncio.StreamReader, channel: int
) -> None:
    prefix = bytes([channel])
    while chunk := await reader.read(READ_SIZE):
        await ws.send_bytes(prefix + chunk)
