"""A pod's shared namespaces, kept alive by bind mounts instead of a pause process.

Kubernetes' runtimes hold a pod's network, IPC and UTS namespaces open with an infrastructure
("pause") container. Here util-linux `unshare --net=FILE --ipc=FILE --uts=FILE` makes them and
bind-mounts each onto a file in the sandbox's state dir, which keeps it alive with no process
at all; containers join them by path (OCI `linux.namespaces[].path`). The command run inside,
`hostname NAME`, sets the pod's hostname in the new UTS namespace.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from kubelite.runtime.errors import SandboxError
from kubelite.runtime.oci.mounts import umount


@dataclass(frozen=True, slots=True)
class PinnedNamespaces:
    """The bind-mounted namespace files of a pod, which its containers join; None where the pod
    shares the host's."""

    net: Path | None  # None: the pod uses the host's network (and UTS) namespace
    ipc: Path | None  # None: the host's IPC namespace (hostIPC)
    uts: Path | None


async def pin_namespaces(
    ns_dir: Path, *, hostname: str, host_network: bool, host_ipc: bool = False
) -> PinnedNamespaces:
    """Make the pod's namespaces and pin them under `ns_dir` (net, ipc, uts files)."""
    ns_dir.mkdir(parents=True, exist_ok=True)
    pinned = PinnedNamespaces(
        net=None if host_network else ns_dir / "net",
        ipc=None if host_ipc else ns_dir / "ipc",
        uts=None if host_network else ns_dir / "uts",
    )
    args = []
    for flag, path in (("--net", pinned.net), ("--ipc", pinned.ipc), ("--uts", pinned.uts)):
        if path is not None:
            path.touch()  # unshare bind-mounts onto an existing file
            args.append(f"{flag}={path}")
    if not args:
        return pinned  # every namespace is the node's
    command = ["hostname", hostname] if pinned.uts is not None else ["true"]
    proc = await asyncio.create_subprocess_exec(
        "unshare",
        *args,
        *command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        unpin_namespaces(ns_dir)
        raise SandboxError(f"making the pod's namespaces: {err.decode().strip()}")
    return pinned


def is_namespace(path: Path) -> bool:
    """Whether `path` is a namespace (a pin or /proc/PID/ns/*), not just the file a pin was
    mounted on: after a reboot, or once the mount namespace that held the pins ended, the files
    are still in the sandbox's state dir but nothing is mounted on them."""
    try:
        # Every namespace lives in the one nsfs superblock, so they all share a device.
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


def unpin_namespaces(ns_dir: Path) -> None:
    """Unmount and delete the pinned namespace files; a namespace dies with its last user."""
    if not ns_dir.exists():
        return
    for name in ("net", "ipc", "uts"):
        path = ns_dir / name
        if path.exists():
            umount(path)
            path.unlink()
    ns_dir.rmdir()


# setns(2)'s flag for a network namespace (linux/sched.h).
_CLONE_NEWNET = 0x40000000


def _setns(fd: int, nstype: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _socket_in_netns(netns: Path, family: int, kind: int) -> socket.socket:
    """Runs in a thread of its own: setns changes only the calling thread's namespace, and a
    socket belongs to the namespace it was made in, whatever thread uses it later."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, _CLONE_NEWNET)
        try:
            return socket.socket(family, kind)
        finally:
            _setns(own, _CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)


async def socket_in_netns(
    netns: Path, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    """A new non-blocking socket in the network namespace at `netns` (a pinned namespace)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    def run() -> None:
        try:
            sock = _socket_in_netns(netns, family, kind)
        except BaseException as exc:  # handed to the waiting coroutine
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, sock, None)

    # A fresh thread, not the default executor's: were the namespace not restored, a pooled
    # thread would stay in the pod's network for whatever ran on it next.
    threading.Thread(target=run, name="netns-socket", daemon=True).start()
    sock = await done
    sock.setblocking(False)
    return sock


def _settle(
    future: asyncio.Future[socket.socket], sock: socket.socket | None, exc: BaseException | None
) -> None:
    if future.cancelled():
        if sock is not None:
            sock.close()
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert sock is not None
        future.set_result(sock)
