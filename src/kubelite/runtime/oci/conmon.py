"""Starting a container's monitor, conmon, and learning from it whether `runc create` worked.

conmon runs `runc create`, keeps the container's stdio, writes its output to a CRI-format log
file and, when the container exits, its exit code to `<exit dir>/<id>` (and an `oom` file in
its persist dir after an OOM kill). It outlives the runtime process, which is what lets
containers keep running across a restart (CRI-O's design).

Handshake: the runtime passes the write end of a pipe as `_OCI_SYNCPIPE`; with `--api-version
1` conmon writes one JSON line on it once `runc create` is done: `{"data": <container pid>}` on
success, or `{"data": -1, "message": "<runc's error>"}` on failure (conmon's
`write_or_close_sync_fd`). If conmon dies before that, the pipe just closes.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

from kubelite.runtime.oci.runc import _error_text

CONMON = Path("/usr/bin/conmon")  # Debian's conmon
CONMON_API_VERSION = "1"
# How long a `runc create` may take before it counts as hung (CRI-O's ContainerCreateTimeout
# is 240 s for loaded hosts; a create here takes about 50 ms).
CREATE_TIMEOUT = 60.0


class ConmonError(Exception):
    """conmon or `runc create` failed; the message is runc's or conmon's."""


@dataclass(frozen=True, slots=True)
class ConmonPaths:
    """The files and directories one container's conmon is pointed at: bundle, pid files, log, exit
    file and attach socket."""

    bundle: Path
    container_pidfile: Path
    conmon_pidfile: Path
    log_path: Path
    exit_dir: Path
    persist_dir: Path
    socket_dir: Path


async def start_conmon(
    *,
    container_id: str,
    name: str,
    paths: ConmonPaths,
    runtime: Path,
    runtime_root: Path,
    terminal: bool,
    stdin: bool,
    leave_stdin_open: bool = False,
    conmon: Path = CONMON,
) -> tuple[int, int]:
    """Launch conmon, which creates (not starts) the container; return (conmon pid, pid)."""
    for d in (paths.exit_dir, paths.persist_dir, paths.socket_dir):
        d.mkdir(parents=True, exist_ok=True)  # conmon dies quietly on a missing dir
    argv = [
        str(conmon),
        "--api-version", CONMON_API_VERSION,
        "-c", container_id,
        # conmon names its attach socket dir after the uuid; a short one keeps the socket
        # path under the 108 bytes a Unix socket address allows.
        "-u", container_id[:24],
        "-n", name,
        "-r", str(runtime),
        "--runtime-arg", f"--root={runtime_root}",
        "-b", str(paths.bundle),
        "-p", str(paths.container_pidfile),
        "-P", str(paths.conmon_pidfile),
        "-l", f"k8s-file:{paths.log_path}",
        "--exit-dir", str(paths.exit_dir),
        "--persist-dir", str(paths.persist_dir),
        "--socket-dir-path", str(paths.socket_dir),
        "--syslog",
    ]  # fmt: skip
    if terminal:
        argv.append("-t")
    if stdin:
        argv.append("-i")
        if leave_stdin_open:
            # Without stdinOnce, stdin outlives each attach (CRI-O passes this the same way).
            argv.append("--leave-stdin-open")
    read_fd, write_fd = os.pipe()
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        env["_OCI_SYNCPIPE"] = str(write_fd)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            pass_fds=(write_fd,),
            # conmon writes its `oom` marker into its working directory.
            cwd=paths.bundle,
        )
        os.close(write_fd)
        write_fd = -1
        # The first conmon forks its monitor and exits at once; the monitor reports on the pipe.
        _, err = await proc.communicate()
        line = await asyncio.wait_for(_read_line(read_fd), CREATE_TIMEOUT)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    if not line:
        raise ConmonError(f"conmon exited before creating the container: {err.decode().strip()}")
    reply = json.loads(line)
    pid = int(reply.get("data", -1))
    if pid <= 0:
        raise ConmonError(_error_text(reply.get("message", "").encode()) or "runc create failed")
    conmon_pid = int(paths.conmon_pidfile.read_text().strip())
    return conmon_pid, pid


async def _read_line(fd: int) -> bytes:
    """Read from a pipe until a newline or EOF, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    buf = bytearray()

    def readable() -> None:
        chunk = os.read(fd, 65536)
        buf.extend(chunk)
        if (not chunk or b"\n" in buf) and not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return bytes(buf).split(b"\n", 1)[0]
