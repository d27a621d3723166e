"""Mounting tmpfs for memory-backed volumes, bind mounts for subPaths and read-only overlays for
image volumes, unmounting them, and finding what is mounted.

Kubernetes' kubelet does this through `k8s.io/mount-utils` (`Mounter.MountSensitive`,
`IsLikelyNotMountPoint`); here it is the mount(2) and umount2(2) system calls through libc, with
/proc/self/mountinfo as the record of what is mounted. It sits behind the small `Mounter`
protocol so that everything else in `volumes` can be tested without root.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path
from typing import Protocol

# mount(2) flags for a bind mount and a read-only one (linux/fs.h MS_BIND, MS_RDONLY).
_MS_BIND = 4096
_MS_RDONLY = 1
# umount2(2) flag: detach now, finish when the mount is no longer busy (linux/fs.h MNT_DETACH).
_MNT_DETACH = 2


class Mounter(Protocol):
    """The mount calls the volume manager makes, as a seam: real mounts need root, and the unit
    tests use a recording double."""

    def mount_tmpfs(self, target: Path, size_bytes: int | None) -> None:
        """Mount a tmpfs on `target` (an existing directory); no size: the kernel's default."""
        ...

    def bind_mount(self, source: str, target: Path) -> None:
        """Bind-mount `source` (a path or /proc/self/fd/N) on `target`, which exists."""
        ...

    def mount_overlay(self, lower: list[Path], target: Path) -> None:
        """Mount a read-only overlay of `lower` (topmost first, at least two) on `target`."""
        ...

    def unmount(self, target: Path) -> None: ...

    def mounts_under(self, root: Path) -> list[tuple[Path, str]]:
        """(mount point, filesystem type) of every mount at or below `root`, with mount points
        as the kernel names them (links resolved)."""
        ...


def _unescape_mountinfo(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (`\\040`)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and len(field[i + 1 : i + 4]) == 3 and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[tuple[Path, str]]:
    """(mount point, filesystem type) of each line of /proc/<pid>/mountinfo (proc(5))."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields:
            continue
        separator = fields.index("-")
        mounts.append((Path(_unescape_mountinfo(fields[4])), fields[separator + 1]))
    return mounts


class HostMounter:
    """The real one: libc mount(2)/umount2(2); needs CAP_SYS_ADMIN."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def mount_tmpfs(self, target: Path, size_bytes: int | None) -> None:
        # No flags, as Kubernetes mounts an emptyDir's tmpfs (emptydir.go setupTmpfs).
        options = f"size={size_bytes}".encode() if size_bytes else None
        if self._libc.mount(b"tmpfs", os.fsencode(target), b"tmpfs", 0, options) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"mount tmpfs on {target}: {os.strerror(error)}")

    def bind_mount(self, source: str, target: Path) -> None:
        if self._libc.mount(os.fsencode(source), os.fsencode(target), None, _MS_BIND, None) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"bind mount {source} on {target}: {os.strerror(error)}")

    def mount_overlay(self, lower: list[Path], target: Path) -> None:
        # No upper directory: nothing can be written, whatever the mount's own flags say.
        options = ("lowerdir=" + ":".join(str(p) for p in lower)).encode()
        target_b = os.fsencode(target)
        if self._libc.mount(b"overlay", target_b, b"overlay", _MS_RDONLY, options) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"mount overlay on {target}: {os.strerror(error)}")

    def unmount(self, target: Path) -> None:
        if self._libc.umount2(os.fsencode(target), 0) != 0:
            error = ctypes.get_errno()
            if error == errno.EBUSY:
                # Still in use (a container not yet gone): detach now, the kernel finishes later.
                if self._libc.umount2(os.fsencode(target), _MNT_DETACH) == 0:
                    return
                error = ctypes.get_errno()
            raise OSError(error, f"unmount {target}: {os.strerror(error)}")

    def mounts_under(self, root: Path) -> list[tuple[Path, str]]:
        root = root.resolve()  # mountinfo names mount points without links
        return [
            (point, fstype)
            for point, fstype in parse_mountinfo(Path("/proc/self/mountinfo").read_text())
            if point == root or root in point.parents
        ]
