"""`kubectl port-forward` at the kubelet: the `portforward.k8s.io` protocol over SPDY.

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
from collections.abc import Awaitable, Callable

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
