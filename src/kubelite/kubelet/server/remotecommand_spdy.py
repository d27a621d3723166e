"""`kubectl exec` and `kubectl attach` over SPDY (remotecommand v2 to v4), as kubectl 1.27 to
1.29 speak them (and newer ones when a WebSocket upgrade fails).

Each of the command's streams is a SPDY stream the client opens, named by its `streamType`
header: `error` always, then `stdin`, `stdout`, `stderr` as asked for in the query, and `resize`
with a terminal (v3 and v4). The kubelet waits for exactly those (Kubernetes'
`waitStreamReply`, up to `STREAM_CREATION_TIMEOUT`), then runs the session: stdin's data to the
process and its FIN as the end of stdin; stdout and stderr back until the process has closed
them; resize as a run of JSON `{"Width":W,"Height":H}` objects. At the end the status goes on
the error stream, as JSON (v4) or as plain text on failure only (v2, v3), and the connection
closes, which kubectl reads as the end of every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from kubelite.kubelet.server import exec_stream, spdy
from kubelite.runtime.cri import ExecSession, TerminalSize

log = logging.getLogger(__name__)

PROTOCOL_V4 = "v4.channel.k8s.io"
PROTOCOL_V3 = "v3.channel.k8s.io"
PROTOCOL_V2 = "v2.channel.k8s.io"
PROTOCOL_V1 = "channel.k8s.io"
# In order of preference (the kubelet's SupportedStreamingProtocols).
PROTOCOLS = (PROTOCOL_V4, PROTOCOL_V3, PROTOCOL_V2, PROTOCOL_V1)
# The kubelet's --streaming-connection-idle-timeout's sibling: how long the client has to open
# its streams after the upgrade (DefaultStreamCreationTimeout, 30 s).
STREAM_CREATION_TIMEOUT = 30.0

STREAM_TYPE = "streamtype"
ERROR, STDIN, STDOUT, STDERR, RESIZE = "error", "stdin", "stdout", "stderr", "resize"

StartSession = Callable[[TerminalSize | None], Awaitable[ExecSession]]


class StreamsMissing(Exception):
    """The client did not open the streams its request asked for in time."""


def expected_streams(
    protocol: str, *, stdin: bool, stdout: bool, stderr: bool, tty: bool
) -> set[str]:
    wanted = {ERROR}
    if stdin:
        wanted.add(STDIN)
    if stdout:
        wanted.add(STDOUT)
    if stderr and not tty:
        wanted.add(STDERR)
    if tty and protocol in (PROTOCOL_V4, PROTOCOL_V3):
        wanted.add(RESIZE)
    return wanted


async def collect_streams(
    session: spdy.Session, wanted: set[str], timeout: float = STREAM_CREATION_TIMEOUT
) -> dict[str, spdy.Stream]:
    """The client's streams by type, once every wanted one is open."""
    found: dict[str, spdy.Stream] = {}

    async def gather() -> None:
        while not wanted <= found.keys():
            stream = await session.accept()
            if stream is None:
                raise StreamsMissing("the connection closed before its streams were opened")
            kind = stream.header(STREAM_TYPE)
            if kind not in (ERROR, STDIN, STDOUT, STDERR, RESIZE):
                await stream.send_reset(spdy.PROTOCOL_ERROR)
                continue
            found[kind] = stream

    try:
        await asyncio.wait_for(gather(), timeout)
    except TimeoutError:
        missing = sorted(wanted - found.keys())
        raise StreamsMissing(f"timed out waiting for client to create streams {missing}") from None
    return found


def parse_sizes(buffer: bytearray) -> list[TerminalSize]:
    """Take the complete JSON size objects off the front of `buffer` (a resize stream is a run
    of them, as Go's json.Decoder reads it)."""
    decoder = json.JSONDecoder()
    sizes: list[TerminalSize] = []
    text = buffer.decode("utf-8", errors="replace")
    offset = 0
    while True:
        while offset < len(text) and text[offset].isspace():
            offset += 1
        if offset >= len(text):
            break
        try:
            value, end = decoder.raw_decode(text, offset)
        except json.JSONDecodeError:
            break  # incomplete: wait for the rest
        offset = end
        with contextlib.suppress(KeyError, TypeError, ValueError):
            sizes.append(TerminalSize(width=int(value["Width"]), height=int(value["Height"])))
    del buffer[: len(text[:offset].encode())]
    return sizes


async def _first_size(stream: spdy.Stream, buffer: bytearray) -> TerminalSize | None:
    """Wait a little for the client's terminal size, so the command starts at the right size
    (exec_stream.FIRST_SIZE_WAIT explains why)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + exec_stream.FIRST_SIZE_WAIT
    while (left := deadline - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(stream.read(), left)
        except TimeoutError:
            return None
        if not data:
            return None
        buffer += data
        sizes = parse_sizes(buffer)
        if sizes:
            return sizes[-1]
    return None


async def _pump_out(chunks: AsyncIterator[bytes], stream: spdy.Stream | None) -> None:
    async for chunk in chunks:
        if stream is not None and not stream.reset:
            with contextlib.suppress(ConnectionError):
                await stream.write(chunk)
    if stream is not None:
        await stream.close()


async def _pump_stdin(stream: spdy.Stream, session: ExecSession) -> None:
    try:
        while data := await stream.read():
            await session.write_stdin(data)
    finally:
        with contextlib.suppress(Exception):
            await session.close_stdin()


async def _pump_resize(stream: spdy.Stream, session: ExecSession, buffer: bytearray) -> None:
    for size in parse_sizes(buffer):
        await session.resize(size.width, size.height)
    while data := await stream.read():
        buffer += data
        for size in parse_sizes(buffer):
            await session.resize(size.width, size.height)


def _status_bytes(protocol: str, status: dict[str, Any]) -> bytes:
    if protocol == PROTOCOL_V4:
        return orjson.dumps(status)
    # v1 to v3 carry only a failure's message.
    return b"" if status.get("status") == "Success" else str(status.get("message", "")).encode()


async def serve(
    session: spdy.Session,
    protocol: str,
    start: StartSession,
    *,
    cmd: list[str],
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
    on_client_gone: Callable[[], None] | None = None,
    failure: str = exec_stream.EXEC_FAILED,
) -> None:
    """Run one exec or attach over an upgraded SPDY connection until the process is done (or,
    with `on_client_gone`, until the client leaves: an attach must not outlive its client)."""
    wanted = expected_streams(protocol, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
    try:
        streams = await collect_streams(session, wanted)
    except StreamsMissing as exc:
        log.info("remotecommand over SPDY: %s", exc)
        return
    error = streams[ERROR]
    resize_buffer = bytearray()
    size = await _first_size(streams[RESIZE], resize_buffer) if RESIZE in streams else None
    try:
        process = await start(size)
    except Exception as exc:
        log.info("%s: %s", failure, exc)
        status = exec_stream.internal_error_status(str(exc), failure)
        with contextlib.suppress(ConnectionError):
            await error.write(_status_bytes(protocol, status))
        await error.close()
        return
    helpers = []
    if STDIN in streams:
        helpers.append(asyncio.create_task(_pump_stdin(streams[STDIN], process)))
    if RESIZE in streams:
        helpers.append(asyncio.create_task(_pump_resize(streams[RESIZE], process, resize_buffer)))
    outputs = asyncio.gather(
        _pump_out(process.stdout(), streams.get(STDOUT)),
        _pump_out(process.stderr(), streams.get(STDERR)),
    )
    gone = asyncio.create_task(session.closed.wait())
    try:
        either: set[asyncio.Future[Any]] = {outputs, gone}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not outputs.done():
            # The client left first.
            if on_client_gone is not None:
                on_client_gone()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(outputs), 5.0)
            return
        try:
            outputs.result()
            code = await process.wait()
            status = (
                exec_stream.success_status() if code == 0 else exec_stream.exit_status(cmd, code)
            )
        except Exception as exc:
            log.exception("exec of %s failed", cmd)
            status = exec_stream.internal_error_status(str(exc))
        with contextlib.suppress(ConnectionError):
            payload = _status_bytes(protocol, status)
            if payload:
                await error.write(payload)
            await error.close()
    finally:
        gone.cancel()
        if not outputs.done():
            outputs.cancel()
        with contextlib.suppress(BaseException):
            await outputs
        for task in helpers:
            task.cancel()
        for task in helpers:
            with contextlib.suppress(BaseException):
                await task
