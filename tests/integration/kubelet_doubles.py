"""Test doubles for the kubelet's server: a table of containers, and exec as local processes.

The real container runtime is finished elsewhere; these stand in for it in the logs, exec and
port-forward tests. `SubprocessExecRuntime` runs an exec'd command as a plain local process
(with pipes, or with a pseudo-terminal for tty), which gives real stdin, stdout, stderr, exit
codes and terminal sizes without containers or root, and forwards a pod's ports to local ones.
`TableLocator` answers `find` from a dict the test fills in. `KubeletInThread` runs the server
on an event loop of its own, so that a test can block on `kubectl` while the server serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import socket
import struct
import termios
import threading
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.kubelet.server import (
    ContainerNotAvailable,
    ContainerNotFound,
    KubeletServer,
    PodNotFound,
)
from kubelite.runtime.cri import ContainerMetadata, ContainerState, ContainerStatus, TerminalSize

READ_SIZE = 65536


@dataclass
class ContainerEntry:
    current: tuple[str, Path] | None = None  # (container id, log file) while it exists
    previous: tuple[str, Path] | None = None
    waiting_reason: str = "ContainerCreating"


@dataclass
class TableLocator:
    """`ContainerLocator` over a dict: (namespace, pod) -> container name -> entry."""

    pods: dict[tuple[str, str], dict[str, ContainerEntry]] = field(default_factory=dict)

    def find(self, namespace: str, pod: str, container: str, previous: bool) -> tuple[str, Path]:
        containers = self.pods.get((namespace, pod))
        if containers is None:
            raise PodNotFound(f'pod "{pod}" does not exist')
        entry = containers.get(container)
        if entry is None:
            raise ContainerNotFound(f'container "{container}" not found in pod "{pod}"')
        if previous:
            if entry.previous is None:
                raise ContainerNotAvailable(
                    f'previous terminated container "{container}" in pod "{pod}" not found'
                )
            return entry.previous
        if entry.current is None:
            raise ContainerNotAvailable(
                f'container "{container}" in pod "{pod}" is waiting to start: '
                f"{entry.waiting_reason}"
            )
        return entry.current

    def find_pod(self, namespace: str, pod: str) -> dict[str, Any]:
        containers = self.pods.get((namespace, pod))
        if containers is None:
            raise PodNotFound(f'pod "{pod}" does not exist')
        return {"spec": {"containers": [{"name": name} for name in containers]}}

    def find_sandbox(self, namespace: str, pod: str) -> tuple[str, str]:
        self.find_pod(namespace, pod)
        return f"sandbox-{namespace}-{pod}", f"uid-{pod}"


class PipeSession:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def write_stdin(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    async def stdout(self) -> AsyncIterator[bytes]:
        assert self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(READ_SIZE):
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(READ_SIZE):
            yield chunk

    async def resize(self, width: int, height: int) -> None:
        """No terminal, nothing to resize."""

    async def wait(self) -> int:
        return await self.proc.wait()


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(fd)


class TtySession:
    """A command on a pseudo-terminal: one output stream, resizable."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        os.set_blocking(master, False)

    async def write_stdin(self, data: bytes) -> None:
        os.write(self.master, data)

    async def close_stdin(self) -> None:
        await self.write_stdin(b"\x04")

    async def stdout(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    chunk = os.read(self.master, READ_SIZE)
                except BlockingIOError:
                    await _readable(loop, self.master)
                    continue
                except OSError as exc:
                    if exc.errno == errno.EIO:  # the command and its terminal are gone
                        return
                    raise
                if not chunk:
                    return
                yield chunk
        finally:
            os.close(self.master)

    async def stderr(self) -> AsyncIterator[bytes]:
        return
        yield b""

    async def resize(self, width: int, height: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        return await self.proc.wait()


@dataclass
class SubprocessExecRuntime:
    """The runtime's `exec` and `container_status`, as local processes (a test double)."""

    running: set[str] = field(default_factory=set)
    execs: int = 0
    # port-forward: a pod's port -> the local port that stands in for it
    forwards: dict[int, int] = field(default_factory=dict)

    async def port_forward(self, sandbox_id: str, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            target = ("127.0.0.1", self.forwards.get(port, 1))
            await asyncio.get_running_loop().sock_connect(sock, target)
        except OSError:
            sock.close()
            raise
        return sock

    async def container_status(self, container_id: str) -> ContainerStatus:
        state = (
            ContainerState.CONTAINER_RUNNING
            if container_id in self.running
            else ContainerState.CONTAINER_EXITED
        )
        return ContainerStatus(container_id, ContainerMetadata("c"), state, created_at=0)

    async def exec(
        self,
        container_id: str,
        cmd: list[str],
        *,
        stdin: bool,
        tty: bool,
        size: TerminalSize | None = None,
    ) -> PipeSession | TtySession:
        self.execs += 1
        if tty:
            master, slave = os.openpty()
            if size is not None:
                winsize = struct.pack("HHHH", size.height, size.width, 0, 0)
                fcntl.ioctl(slave, termios.TIOCSWINSZ, winsize)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
                )
            finally:
                os.close(slave)
            return TtySession(proc, master)
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return PipeSession(proc)


class KubeletInThread:
    """A `KubeletServer` on an event loop in a thread of its own."""

    def __init__(self, server: KubeletServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kubelet", daemon=True)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.run(self.server.start())

    def stop(self) -> None:
        try:
            self.run(self.server.stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
