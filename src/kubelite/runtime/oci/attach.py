"""Attaching to a running container's own stdio through its conmon (CRI's Attach).

conmon keeps the container's stdin, stdout and stderr (or its terminal) and serves them on a
Unix SOCK_SEQPACKET socket, `attach`, in its socket dir (`<socket dir>/<uuid>`, a symlink to
the bundle, keeps the path short). Every message conmon sends starts with one byte naming the
stream (2 stdout, 3 stderr: conmon's STDOUT_PIPE and STDERR_PIPE); what a client sends is the
container's stdin as is. A client that shuts down its sending side ends the container's stdin,
unless conmon was started with `--leave-stdin-open` (a container without `stdinOnce`).
Terminal sizes go to the bundle's `ctl` fifo as `1 <height> <width>\\n` (WIN_RESIZE_EVENT).

An attach ends when the container exits (conmon closes the socket) or when the client detaches;
it has no exit code of its own, so `wait()` answers 0, as the kubelet reports Success.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

# conmon's stream bytes (conmon's `enum pipe`) and the largest message it sends (STDIO_BUF_SIZE
# plus the stream byte).
STDOUT_PIPE = 2
STDERR_PIPE = 3
MESSAGE_SIZE = 8192 + 1
# conmon reads one message of stdin at a time into a buffer of this size.
STDIN_CHUNK = 8192
WIN_RESIZE_EVENT = 1


class AttachSession:
    """A client of one container's conmon attach socket (cri.ExecSession's shape)."""

    def __init__(
        self, sock: socket.socket, ctl_fifo: Path, *, tty: bool, stdin: bool = True
    ) -> None:
        self._sock = sock
        self._ctl = ctl_fifo
        self._tty = tty
        self._stdin = stdin
        self._stdout: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._stderr: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(), name="attach-reader")

    @classmethod
    async def open(
        cls, socket_dir: Path, ctl_fifo: Path, *, tty: bool, stdin: bool = True
    ) -> AttachSession:
        """Connect to the attach socket in `socket_dir` (through /proc/self/fd, as podman does,
        so that a long path does not matter)."""
        dir_fd = os.open(socket_dir, os.O_PATH | os.O_CLOEXEC)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await loop.sock_connect(sock, f"/proc/self/fd/{dir_fd}/attach")
        except BaseException:
            sock.close()
            raise
        finally:
            os.close(dir_fd)
        return cls(sock, ctl_fifo, tty=tty, stdin=stdin)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                message = await loop.sock_recv(self._sock, MESSAGE_SIZE)
                if not message:
                    break
                if message[0] == STDERR_PIPE and not self._tty:
                    self._stderr.put_nowait(message[1:])
                else:
                    self._stdout.put_nowait(message[1:])
        except OSError:
            pass
        finally:
            self._stdout.put_nowait(None)
            self._stderr.put_nowait(None)

    async def write_stdin(self, data: bytes) -> None:
        if not self._stdin:
            # A container without stdin has nowhere to put it; conmon would hold the message
            # and stop reading this socket, so it is dropped here.
            return
        loop = asyncio.get_running_loop()
        for start in range(0, len(data), STDIN_CHUNK):
            await loop.sock_sendall(self._sock, data[start : start + STDIN_CHUNK])

    async def close_stdin(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    async def _drain(self, queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
        while (chunk := await queue.get()) is not None:
            yield chunk

    def stdout(self) -> AsyncIterator[bytes]:
        return self._drain(self._stdout)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._drain(self._stderr)

    async def resize(self, width: int, height: int) -> None:
        if not self._tty:
            return
        line = f"{WIN_RESIZE_EVENT} {height} {width}\n".encode()
        try:
            fd = os.open(self._ctl, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return  # conmon has gone with its container
        try:
            os.write(fd, line)
        except OSError:
            pass
        finally:
            os.close(fd)

    async def wait(self) -> int:
        await asyncio.wait({self._reader})
        return 0

    def detach(self) -> None:
        """Leave the container running; its output stops coming here."""
        self._reader.cancel()
        self._sock.close()
