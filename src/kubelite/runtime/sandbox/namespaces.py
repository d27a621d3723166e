"""A pod's shared namespaces, kept alive by bind mounts instead of a pause process.

Kubernetes' runtimes hold a pod's network, IPC and UTS namespaces open with an infrastructure
("pause") container. Here util-linux `unshare --net=FILE --ipc=FILE --uts=FILE` makes them and
bind-mounts each onto a file in the sandbox's state dir, which keeps it alive with no process
at all; containers join them by path (OCI `linux.namespaces[].path`). The command run inside,
`hostname NAME`, sets the pod's hostname in the new UTS namespace.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from kubelite.runtime.errors import SandboxError
from kubelite.runtime.oci.mounts import umount


@dataclass(frozen=True, slots=True)
class PinnedNamespaces:
    net: Path | None  # None: the pod uses the host's network (and UTS) namespace
    ipc: Path
    uts: Path | None


async def pin_namespaces(ns_dir: Path, *, hostname: str, host_network: bool) -> PinnedNamespaces:
    """Make the pod's namespaces and pin them under `ns_dir` (net, ipc, uts files)."""
    ns_dir.mkdir(parents=True, exist_ok=True)
    pinned = PinnedNamespaces(
        net=None if host_network else ns_dir / "net",
        ipc=ns_dir / "ipc",
        uts=None if host_network else ns_dir / "uts",
    )
    args = []
    for flag, path in (("--net", pinned.net), ("--ipc", pinned.ipc), ("--uts", pinned.uts)):
        if path is not None:
            path.touch()  # unshare bind-mounts onto an existing file
            args.append(f"{flag}={path}")
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
