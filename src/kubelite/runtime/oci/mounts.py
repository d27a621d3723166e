"""mount(2) and umount2(2) through libc, for the overlay roots and the pods' /dev/shm.

Calling the syscalls directly saves a fork and exec of mount(8) per container, and gives the
errno to put in an error message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

# <sys/mount.h>
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MNT_DETACH = 0x2


def mount(source: str, target: Path, fstype: str, flags: int = 0, data: str = "") -> None:
    if (
        _libc.mount(
            source.encode(), str(target).encode(), fstype.encode(), flags, data.encode() or None
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def umount(target: Path) -> None:
    """Unmount `target` (lazily, so a process still inside does not block removal)."""
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (22, 2):  # EINVAL: not a mount point; ENOENT: gone already
            raise OSError(err, f"umount {target}: {os.strerror(err)}")


def is_mount(target: Path) -> bool:
    target_s = os.path.realpath(target)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target_s for line in f)


def mount_overlay(lower: list[Path], upper: Path, work: Path, target: Path) -> None:
    """An overlay of `lower` (topmost first, overlayfs' order) with writes going to `upper`."""
    options = f"lowerdir={':'.join(str(p) for p in lower)},upperdir={upper},workdir={work}"
    mount("overlay", target, "overlay", 0, options)


def mount_tmpfs(target: Path, size_bytes: int) -> None:
    mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"mode=1777,size={size_bytes}")
