"""An image's root filesystem, assembled in memory and written as one deterministic layer tar.

Files come from .deb data archives, then from what the recipe adds (users, directories, its own
files, busybox's applet links). Nothing is unpacked onto disk: the tree lives in a dict keyed by
path, so building needs no root and the layer is the same bytes every time: entries sorted by
path, every mtime set to one fixed instant, owners numeric only, hard links pointing at the entry
that comes first in the tar (an extractor can only link to a file it has already written).
"""

from __future__ import annotations

import copy
import fnmatch
import io
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Where busybox lives in every image that has it; applet links point here.
BUSYBOX = "bin/busybox"

# What nothing in a container reads: manuals, translations, lintian overrides. Copyright files
# stay (they are the packages' licences). glibc's gconv modules go too: they are iconv()'s
# converters for legacy character sets, which none of these programs use, and a third of a
# small image.
DROPPED_PATHS = (
    "usr/lib/x86_64-linux-gnu/gconv/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
    "usr/share/lintian/*",
    "usr/share/bug/*",
    "usr/share/doc/*/*",
)
KEPT_PATHS = ("usr/share/doc/*/copyright",)


@dataclass
class Entry:
    """One path of the tree: its tar header and, for a regular file, its content."""

    info: tarfile.TarInfo
    data: bytes | None = None


class RootFS:
    """A file tree keyed by relative path (`usr/bin/x`); later additions replace earlier ones."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self.entries

    def add(self, info: tarfile.TarInfo, data: bytes | None = None) -> None:
        """Add one entry as a tar header describes it, creating missing parent directories."""
        info = copy.copy(info)
        info.name = info.name.strip("/")
        self._parents(info.name)
        existing = self.entries.get(info.name)
        if existing is not None and existing.info.isdir() and info.isdir():
            return  # a directory shipped by several packages keeps its first owner and mode
        self.entries[info.name] = Entry(info, data)

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent not in self.entries:
                self.entries[parent] = Entry(_header(parent, tarfile.DIRTYPE, 0o755))

    def mkdir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        """Create (or re-own) a directory."""
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = Entry(_header(path, tarfile.DIRTYPE, mode, uid, gid))

    def write(self, path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        """Create or replace a regular file."""
        info = _header(path.strip("/"), tarfile.REGTYPE, mode, uid, gid)
        info.size = len(data)
        self.add(info, data)

    def symlink(self, path: str, target: str) -> None:
        """Create or replace a symbolic link."""
        info = _header(path.strip("/"), tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.add(info)

    def read(self, path: str) -> bytes:
        """A regular file's content."""
        entry = self.entries[path.strip("/")]
        if entry.data is None:
            raise FileNotFoundError(f"{path}: not a regular file in the image")
        return entry.data

    def drop(self, patterns: Iterable[str], keep: Iterable[str] = ()) -> None:
        """Remove the paths matching any pattern, except those matching `keep`."""
        patterns, keep = tuple(patterns), tuple(keep)
        for path in list(self.entries):
            if any(fnmatch.fnmatchcase(path, p) for p in patterns) and not any(
                fnmatch.fnmatchcase(path, k) for k in keep
            ):
                del self.entries[path]

    def install_busybox_links(self, layout: str) -> None:
        """Link every busybox applet to /bin/busybox, as `busybox --install -s` would.

        `layout` "bin" puts every applet in /bin, as Docker Hub's busybox image does; "fhs" puts
        each where busybox says it belongs (/bin/sh, /usr/bin/wget, /sbin/ip). A program a package
        ships under the same name in any of the four bin directories wins over the applet.
        """
        for full in _applets(self.read(BUSYBOX)):
            name = full.rsplit("/", 1)[-1]
            if any(f"{d}/{name}" in self.entries for d in ("bin", "sbin", "usr/bin", "usr/sbin")):
                continue
            self.symlink(f"bin/{name}" if layout == "bin" else full, "/" + BUSYBOX)

    def layer(self, mtime: int) -> bytes:
        """The tree as an uncompressed tar: sorted, one fixed mtime, numeric owners only."""
        first_of = _hardlink_leaders(self.entries)
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(self.entries):
                entry = self.entries[path]
                info = copy.copy(entry.info)
                info.mtime = mtime
                info.uname = info.gname = ""
                data = entry.data
                if info.islnk():
                    target = self.entries.get(info.linkname)
                    leader = first_of.get(info.linkname)
                    if leader is None or target is None:
                        raise ValueError(f"{path}: hard link to {info.linkname}, not in the image")
                    if leader == path:  # this entry comes first: it carries the content
                        info.type, info.linkname = tarfile.REGTYPE, ""
                        data = target.data
                        info.size = len(data or b"")
                        info.mode = target.info.mode
                    else:
                        info.linkname = leader
                elif first_of.get(path, path) != path:
                    # A file that links were made to, but one of the links sorts before it: that
                    # link carries the content and this file becomes a link to it.
                    info.type, info.linkname, info.size = tarfile.LNKTYPE, first_of[path], 0
                    data = None
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return out.getvalue()


def _hardlink_leaders(entries: dict[str, Entry]) -> dict[str, str]:
    """For each hard-linked file, the name of its group that sorts first in the tar."""
    groups: dict[str, list[str]] = {}
    for path, entry in entries.items():
        if entry.info.islnk():
            groups.setdefault(entry.info.linkname, []).append(path)
    return {target: min([target, *links]) for target, links in groups.items()}


def _header(path: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    return info


def _applets(busybox: bytes) -> list[str]:
    """`busybox --list-full` of the image's own binary (busybox-static runs anywhere)."""
    with tempfile.TemporaryDirectory(prefix="kubelite-busybox-") as tmp:
        binary = Path(tmp) / "busybox"
        binary.write_bytes(busybox)
        binary.chmod(stat.S_IRWXU)
        out = subprocess.run(
            [str(binary), "--list-full"], capture_output=True, text=True, check=True
        ).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]
