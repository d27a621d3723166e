"""The host's device nodes, for privileged containers (containerd's `oci.HostDevices`).

A privileged container sees every device of the node: containerd walks the host's /dev and puts
each character and block device into the spec's `linux.devices`, which runc then creates in the
container's own /dev (`WithPrivilegedDevices`), beside a device cgroup that allows everything.
Directories the kernel or another runtime manages (pts, shm, fd, mqueue, LXC's and udev's) are
not walked; symlinks and FIFOs are skipped. An unprivileged container gets none of this: runc
creates only its default devices (null, zero, full, random, urandom, tty, console and the ptmx
of its own devpts).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

HOST_DEV = Path("/dev")
# getDevices' directories not to descend into (.lxc and .lxd-mounts for LXD, .udev for runc#2093).
SKIPPED_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def device(path: Path) -> dict[str, Any] | None:
    """An OCI `linux.devices` entry for the node at `path`, or None if it is no device
    (DeviceFromPath: lstat, so a symlink is no device; FIFOs are left out too)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None  # gone while walking
    if stat.S_ISCHR(info.st_mode):
        kind = "c"
    elif stat.S_ISBLK(info.st_mode):
        kind = "b"
    else:
        return None
    return {
        "path": str(path),
        "type": kind,
        "major": os.major(info.st_rdev),
        "minor": os.minor(info.st_rdev),
        "fileMode": stat.S_IMODE(info.st_mode),
        "uid": info.st_uid,
        "gid": info.st_gid,
    }


def host_devices(root: Path = HOST_DEV) -> list[dict[str, Any]]:
    """Every device under `root`, in name order as Go's os.ReadDir gives them."""
    found: list[dict[str, Any]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in SKIPPED_DIRS:
                found.extend(host_devices(Path(entry.path)))
            continue
        made = device(Path(entry.path))
        if made is not None:
            found.append(made)
    return found
