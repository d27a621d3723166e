"""Commands run in a running container with `runc exec`: one-shot (`exec_sync`, for probes) and
streaming (`ExecSession`, for `kubectl exec`), with pipes or a terminal.

A streaming exec with a terminal hands runc a Unix socket (`--console-socket`); runc sends the
master end of the pty it made back over it (SCM_RIGHTS), and the session reads and writes that
master and resizes it with TIOCSWINSZ. The exec'd process takes the container's process
settings (env, user, capabilities) from its config.json, as `runc exec` does by default.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import termios
from collections.abc import AsyncIterator
from pathlib import Path

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci.runc import Runc, _error_text

# Exit codes a shell gives a command it cannot find or cannot run (POSIX, "Command Search and
# Execution"); runc itself exits 255 with "exec failed: ..." in both cases.
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
_RUNC_FAILED = 255
READ_SIZE = 65536


def _exit_code(returncode: int, stderr: bytes) -> int:
    """The command's exit code, with runc's own failure to start it told apart."""
    # runc: "exec failed: ... executable file not found in $PATH"; crun: "executable file
    # `x` not found in $PATH".
    if returncode == _RUNC_FAILED and (b"exec failed" in stderr or b"executable file" in stderr):
        if b"not found" in stderr or b"no such file" in stderr.lower():
            return EXIT_NOT_FOUND
        return EXIT_NOT_EXECUTABLE
    return returncode


def _exec_argv(runc: Runc, container_id: str, cmd: list[str], *extra: str) -> list[str]:
    return runc.argv("exec", *extra, container_id, *cmd)


async def exec_sync(
    runc: Runc, container_id: str, cmd: list[str], timeout: float | None
) -> cri.ExecSyncResult:
    """Run `cmd` to its end; raise TimeoutError (after killing it) if it outlives `timeout`."""
    tmp = Path(tempfile.mkdtemp(prefix="kl-exec-"))
    pidfile = tmp / "pid"
    try:
        proc = await asyncio.create_subprocess_exec(
            *_exec_argv(runc, container_id, cmd, "--tty=false", f"--pid-file={pidfile}"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            # runc passes signals on to the process but not SIGKILL; kill the process itself.
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise TimeoutError(
                f"command {cmd!r} in container {container_id} timed out after {timeout}s"
            ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    code = _exit_code(proc.returncode or 0, err)
    if code != proc.returncode:
        err = _error_text(err).encode() + b"\n"
    return cri.ExecSyncResult(stdout=out, stderr=err, exit_code=code)


class PipeExecSession:
    """`runc exec` with pipes: stdout and stderr apart, stdin if asked for."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self._stderr_tail = bytearray()
        self._stderr_taken = False

    @classmethod
    async def start(
        cls, runc: Runc, container_id: str, cmd: list[str], *, stdin: bool
    ) -> PipeExecSession:
        proc = await asyncio.create_subprocess_exec(
            *_exec_argv(runc, container_id, cmd, "--tty=false"),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def write_stdin(self, data: bytes) -> None:
        if self._proc.stdin is None:
            raise ContainerError("exec session has no stdin")
        self._proc.stdin.write(data)
        await self._proc.stdin.drain()

    async def close_stdin(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await self._proc.stdin.wait_closed()

    async def stdout(self) -> AsyncIterator[bytes]:
        assert self._proc.stdout is not None
        while chunk := await self._proc.stdout.read(READ_SIZE):
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        assert self._proc.stderr is not None
        self._stderr_taken = True
        while chunk := await self._proc.stderr.read(READ_SIZE):
            # Kept to tell runc's own "exec failed" from the command's exit code.
            self._stderr_tail = (self._stderr_tail + chunk)[-4096:]
            yield chunk

    async def resize(self, width: int, height: int) -> None:
        """Nothing to resize without a terminal."""

    async def wait(self) -> int:
        code = await self._proc.wait()
        if not self._stderr_taken and self._proc.stderr is not None:
            # Nobody reads stderr: runc's own error, if any, is still in the pipe.
            self._stderr_tail += (await self._proc.stderr.read())[-4096:]
        return _exit_code(code, bytes(self._stderr_tail))


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


def _sized_process(bundle: Path, cmd: list[str], size: cri.TerminalSize, tmp: Path) -> Path:
    """An OCI process for `runc exec --process`: the container's own process settings, as
    `runc exec` takes them from config.json by default, running `cmd` on a terminal whose
    size runc sets before the command starts (`consoleSize`)."""
    process = json.loads((bundle / "config.json").read_text())["process"]
    process.update(
        args=cmd,
        terminal=True,
        consoleSize={"height": size.height, "width": size.width},
    )
    path = tmp / "process.json"
    path.write_text(json.dumps(process))
    return path


class TtyExecSession:
    """`runc exec --tty`: one pty whose master runc hands over on a console socket."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int, tmp: Path) -> None:
        self._proc = proc
        self._tmp = tmp  # the console socket and runc's pid file, for the helper to read
        self._master = master
        self._reading = False
        os.set_blocking(master, False)

    @classmethod
    async def start(
        cls,
        runc: Runc,
        container_id: str,
        cmd: list[str],
        *,
        bundle: Path,
        size: cri.TerminalSize | None = None,
    ) -> TtyExecSession:
        """Start `cmd` on a new pty; with `size`, the pty has that size before the command runs
        (from the container's `bundle`), not from a resize that may come after its start."""
        loop = asyncio.get_running_loop()
        tmp = Path(tempfile.mkdtemp(prefix="kl-tty-"))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(tmp / "console.sock"))
            listener.listen(1)
            listener.setblocking(False)
            options = [
                "--detach",
                "--tty",
                f"--console-socket={tmp}/console.sock",
                f"--pid-file={tmp}/pid",
            ]
            if size is not None:
                options.append(f"--process={_sized_process(bundle, cmd, size, tmp)}")
                cmd = []
            # runc passes the pty only when detached; the subreaper helper waits for the
            # detached process in runc's place and exits with its code.
            argv = _exec_argv(runc, container_id, cmd, *options)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "kubelite.runtime.oci.subreaper",
                f"{tmp}/pid",
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            accept = asyncio.ensure_future(loop.sock_accept(listener))
            exited = asyncio.ensure_future(proc.wait())
            await asyncio.wait({accept, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not accept.done():
                accept.cancel()
                assert proc.stderr is not None
                err = await proc.stderr.read()
                raise ContainerError(
                    f"exec in container {container_id}: {_error_text(err)}", reason="ExecError"
                )
            exited.cancel()
            conn, _ = accept.result()
            with conn:
                conn.setblocking(True)
                _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
            return cls(proc, fds[0], tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            listener.close()

    async def write_stdin(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                await asyncio.sleep(0.01)  # the pty's input buffer is full: let the reader run

    async def close_stdin(self) -> None:
        # A terminal has no end of input of its own; ^D at a line start is how a user ends it.
        await self.write_stdin(b"\x04")

    async def stdout(self) -> AsyncIterator[bytes]:
        self._reading = True
        try:
            async for chunk in self._read_master():
                yield chunk
        finally:
            self._close()

    async def _read_master(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        while self._master >= 0:
            try:
                chunk = os.read(self._master, READ_SIZE)
            except BlockingIOError:
                await _readable(loop, self._master)
                continue
            except OSError as e:
                if e.errno == errno.EIO:  # every slave end closed: the command is gone
                    return
                raise
            if not chunk:
                return
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        return
        yield b""  # an async generator that yields nothing: a terminal merges stderr

    async def resize(self, width: int, height: int) -> None:
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        code = await self._proc.wait()
        assert self._proc.stderr is not None
        err = await self._proc.stderr.read()
        shutil.rmtree(self._tmp, ignore_errors=True)
        if not self._reading:
            self._close()
        return _exit_code(code, err)

    def _close(self) -> None:
        if self._master >= 0:
            os.close(self._master)
            self._master = -1
