"""`kubectl exec` at the kubelet: a command's streams over one WebSocket (remotecommand v4/v5).

The protocol is Kubernetes' channel protocol (k8s.io/apimachinery `remotecommand`, subprotocols
`v5.channel.k8s.io` and `v4.channel.k8s.io`): every binary message starts with a channel byte,
0 stdin, 1 stdout, 2 stderr, 3 the final status, 4 terminal resizes (JSON
`{"Width":W,"Height":H}`). v5 adds one signal, `[255, channel]` from the client, which closes
that stream: how `kubectl exec -i` says its stdin has ended. v4 cannot say it, so with v4 stdin
ends only when the connection does.

The session ends when the command has exited and its stdout and stderr are read to their ends:
the status goes on channel 3 (a `Status`, Success or Failure with reason `NonZeroExitCode` and
the exit code as its cause, worded as the kubelet words it) and the WebSocket closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
from aiohttp import WSMessage, WSMsgType, web

from kubelite.runtime.cri import ExecSession, TerminalSize

log = logging.getLogger(__name__)

# remotecommand's channels (k8s.io/apimachinery/pkg/util/remotecommand/constants.go).
STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE_SIGNAL = 255  # v5 only: [255, channel] closes a stream
PROTOCOL_V5 = "v5.channel.k8s.io"
PROTOCOL_V4 = "v4.channel.k8s.io"
# In order of preference; aiohttp picks the first of the client's list found here.
PROTOCOLS = (PROTOCOL_V5, PROTOCOL_V4)
# remotecommand's NonZeroExitCodeReason and ExitCodeCauseType.
REASON_NON_ZERO_EXIT = "NonZeroExitCode"
CAUSE_EXIT_CODE = "ExitCode"

_TRUE = ("1", "true")


def flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in _TRUE


def go_list(items: list[str]) -> str:
    """A []string as Go's %v prints it: `[sh -c exit 3]`."""
    return "[" + " ".join(items) + "]"


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(cmd: list[str], code: int) -> dict[str, Any]:
    """The kubelet's status for a command that ended with a non-zero exit code."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"{go_list(cmd)}, exit code {code}"
        ),
        "reason": REASON_NON_ZERO_EXIT,
        "details": {"causes": [{"reason": CAUSE_EXIT_CODE, "message": str(code)}]},
    }


# How the kubelet words a failure to run an exec, or to attach (ServeExec, ServeAttach).
EXEC_FAILED = "error executing command in container"
ATTACH_FAILED = "error attaching to container"


def internal_error_status(message: str, what: str = EXEC_FAILED) -> dict[str, Any]:
    """A failure to run the command (or attach) at all: kubectl prints `error: <message>`."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {what}: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": f"{what}: {message}"}]},
        "code": 500,
    }


async def pump_output(
    ws: web.WebSocketResponse, chunks: AsyncIterator[bytes], channel: int, wanted: bool
) -> None:
    """Send a stream on its channel; a stream the client did not ask for is read and dropped,
    so that the command never blocks on a full pipe."""
    prefix = bytes([channel])
    async for chunk in chunks:
        if wanted and not ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await ws.send_bytes(prefix + chunk)


# How long an exec with a terminal waits for the client's first terminal size before it starts
# the command. kubectl sends its terminal's size as soon as the stream is up; a command started
# before it arrives sees a 0x0 terminal (`stty size` prints "0 0", full-screen programs draw
# into nothing). A client that sends no size only pays this wait.
FIRST_SIZE_WAIT = 1.0


async def until_first_size(
    ws: web.WebSocketResponse, timeout: float = FIRST_SIZE_WAIT
) -> list[bytes]:
    """The client's messages up to and including its first resize, to be handed to the session
    once it has started (`pump_input(pending=...)`); fewer if the client closes or is slow."""
    pending: list[bytes] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        data = _message_bytes(msg)
        if data is None:
            break  # closed, or an error: the session will find the socket closed
        if data:
            pending.append(data)
            if data[0] == RESIZE:
                break
    return pending


def _message_bytes(msg: WSMessage) -> bytes | None:
    """A data message's bytes; None for a close or an error."""
    if msg.type == WSMsgType.BINARY:
        return bytes(msg.data)
    if msg.type == WSMsgType.TEXT:
        # The Python client sends text frames; the kubelet reads both kinds alike.
        return str(msg.data).encode()
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return None
    return b""


async def pump_input(
    ws: web.WebSocketResponse,
    session: ExecSession,
    *,
    stdin: bool,
    v5: bool,
    pending: Sequence[bytes] = (),
) -> None:
    """Feed the client's stdin and resizes to the session until the client closes; `pending`
    are messages read before the session started, handled first."""
    stdin_open = stdin

    async def handle(data: bytes) -> None:
        nonlocal stdin_open
        channel, payload = data[0], data[1:]
        if channel == STDIN and stdin_open:
            if payload:
                await session.write_stdin(payload)
        elif channel == RESIZE:
            await _resize(session, payload)
        elif channel == CLOSE_SIGNAL and v5 and payload[:1] == bytes([STDIN]) and stdin_open:
            stdin_open = False
            await session.close_stdin()

    try:
        for early in pending:
            await handle(early)
        async for msg in ws:
            data = _message_bytes(msg)
            if data:
                await handle(data)
    finally:
        if stdin_open:
            # The connection is gone: nothing more will come.
            with contextlib.suppress(Exception):
                await session.close_stdin()


def _size(payload: bytes) -> TerminalSize | None:
    """A resize message's size (`{"Width":W,"Height":H}`); None for a malformed one."""
    try:
        size = orjson.loads(payload)
        return TerminalSize(width=int(size["Width"]), height=int(size["Height"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.debug("ignoring a malformed resize message %r", payload[:100])
        return None


def last_size(messages: Sequence[bytes]) -> TerminalSize | None:
    """The last terminal size among messages read before the session started."""
    sizes = [_size(m[1:]) for m in messages if m[:1] == bytes([RESIZE])]
    return next((s for s in reversed(sizes) if s is not None), None)


async def _resize(session: ExecSession, payload: bytes) -> None:
    size = _size(payload)
    if size is not None:
        await session.resize(size.width, size.height)


async def run(
    ws: web.WebSocketResponse,
    session: ExecSession,
    cmd: list[str],
    *,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    pending: Sequence[bytes] = (),
    on_client_gone: Callable[[], None] | None = None,
) -> int:
    """Pump the session's streams until the command is done; send its status; return its code
    (-1 when the session failed). `pending`: the client's messages read before the session
    started (`until_first_size`). `on_client_gone` is called if the client closes first (an
    attach lets go of the container then, or it would wait for the container's end)."""
    v5 = ws.ws_protocol == PROTOCOL_V5
    reader = asyncio.create_task(pump_input(ws, session, stdin=stdin, v5=v5, pending=pending))
    if on_client_gone is not None:
        reader.add_done_callback(lambda task: None if task.cancelled() else on_client_gone())
    try:
        try:
            await asyncio.gather(
                pump_output(ws, session.stdout(), STDOUT, stdout),
                pump_output(ws, session.stderr(), STDERR, stderr),
            )
            code = await session.wait()
            status = success_status() if code == 0 else exit_status(cmd, code)
        except Exception as exc:
            log.exception("exec of %s failed", cmd)
            code, status = -1, internal_error_status(str(exc))
        if not ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await ws.send_bytes(bytes([ERROR]) + orjson.dumps(status))
        return code
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        await ws.close()
