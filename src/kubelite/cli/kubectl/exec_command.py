"""`kubelite exec`: run a command in a container, as `kubectl exec` does.

It speaks the API server's `pods/exec` WebSocket protocol (`v5.channel.k8s.io`): every
message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close),
stdout and stderr are copied to this command's own, stdin (with `-i`) is sent and then
closed, and the status channel's `Status` gives the exit code (`NonZeroExitCode` carries it
in its causes), which becomes this command's. With `-t` the terminal is put in raw mode and its
size sent, so interactive shells work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import termios
import tty

import aiohttp

from kubelite.api.resources import PODS
from kubelite.cli.kubectl.kubectl_args import CommandError, Session, add_global_flags, run_command
from kubelite.cli.kubectl.logs import choose_container

PROTOCOL = "v5.channel.k8s.io"
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pod", help="the pod's name")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    parser.add_argument("-c", "--container", default="", help="the container's name")
    parser.add_argument("-i", "--stdin", action="store_true", help="pass stdin to the command")
    parser.add_argument("-t", "--tty", action="store_true", help="stdin is a terminal")
    add_global_flags(parser)


def exit_code(status: dict) -> int:
    """The command's exit code from the status channel's `Status`."""
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or ():
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", "1"))
    raise CommandError(status.get("message") or "command failed")


async def _pump_stdin(ws: aiohttp.ClientWebSocketResponse) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while data := await reader.read(65536):
        await ws.send_bytes(bytes([STDIN]) + data)
    await ws.send_bytes(bytes([CLOSE, STDIN]))


async def _exec(session: Session, args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise CommandError("you must specify at least one command for the container")
    container = await choose_container(session, args.pod, args.container)
    params = [("container", container), ("stdout", "true")]
    params += [("stderr", "false" if args.tty else "true")]
    if args.stdin:
        params.append(("stdin", "true"))
    if args.tty:
        params.append(("tty", "true"))
    params += [("command", word) for word in command]
    path = PODS.path(namespace=session.namespace, name=args.pod, subresource="exec")
    ws = await session.client.websocket(path, params=params, protocols=(PROTOCOL,))
    feeding = None
    code = 0
    try:
        if args.tty:
            size = shutil.get_terminal_size()
            resize = json.dumps({"Width": size.columns, "Height": size.lines})
            await ws.send_bytes(bytes([RESIZE]) + resize.encode())
        if args.stdin:
            feeding = asyncio.create_task(_pump_stdin(ws))
        async for message in ws:
            if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                continue
            channel, data = message.data[0], message.data[1:]
            if channel == STDOUT:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            elif channel == STDERR:
                sys.stderr.buffer.write(data)
                sys.stderr.buffer.flush()
            elif channel == STATUS:
                code = exit_code(json.loads(data))
    finally:
        if feeding is not None:
            feeding.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feeding
        await ws.close()
    if code:
        print(f"command terminated with exit code {code}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if not (args.tty and sys.stdin.isatty()):
        return run_command(args, lambda session: _exec(session, args))
    saved = termios.tcgetattr(sys.stdin.fileno())
    tty.setraw(sys.stdin.fileno())
    try:
        return run_command(args, lambda session: _exec(session, args))
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
