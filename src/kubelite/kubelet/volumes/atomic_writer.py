"""Atomic projection of a set of files into a volume directory (configMap, secret, downwardAPI,
projected), as Kubernetes' `pkg/volume/util/atomic_writer.go` lays them out.

The real files live in a hidden timestamped directory; `..data` is a symlink to it; each name a
container sees at the top of the volume is a symlink through `..data`:

    cfg/..2026_12_02_03_20_00.2818596386/app.conf   the data, mode as asked
    cfg/..data -> ..2026_12_02_03_20_00.2818596386
    cfg/app.conf -> ..data/app.conf
    cfg/conf.d -> ..data/conf.d                      nested paths go through their top directory

An update writes a whole new timestamped directory and renames a new symlink over `..data`, so a
reader sees either the old set of files or the new one, never a mix; names that left the payload
are then removed and the old directory deleted. Nothing is written when nothing changed. Names
starting with `..` are reserved for this machinery.
"""

from __future__ import annotations

import os
import posixpath
import random
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_NAME = "..data"
_NEW_DATA_DIR_NAME = "..data_tmp"
# Limits of validatePath (atomic_writer.go).
_MAX_FILE_NAME_LENGTH = 255
_MAX_PATH_LENGTH = 4096
# Directories must let any user of the container walk the tree (atomic_writer.go: 0755).
_DIR_MODE = 0o755


@dataclass(frozen=True)
class FileProjection:
    """One file of a payload: its bytes, its permission bits, and the user to own it (None: the
    kubelet's own)."""

    data: bytes
    mode: int = 0o644
    fs_user: int | None = None


class PayloadError(ValueError):
    """A payload path the writer refuses; the message is Kubernetes' validatePath error."""


def validate_path(target: str) -> None:
    """atomic_writer.go validatePath: relative, no `..` element, no leading `..name`."""
    if not target:
        raise PayloadError(f'invalid path: must not be empty: "{target}"')
    if target.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {target}")
    if len(target) > _MAX_PATH_LENGTH:
        raise PayloadError(
            f"invalid path: must be less than or equal to {_MAX_PATH_LENGTH} characters"
        )
    items = target.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {target}")
        if len(item) > _MAX_FILE_NAME_LENGTH:
            raise PayloadError(
                "invalid path: filenames must be less than or equal to "
                f"{_MAX_FILE_NAME_LENGTH} characters"
            )
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {target}")


def _clean_payload(payload: Mapping[str, FileProjection]) -> dict[str, FileProjection]:
    clean = {}
    for path, projection in payload.items():
        validate_path(path)
        clean[posixpath.normpath(path)] = projection
    return clean


def _relative_tree(root: Path) -> set[str]:
    """Every file and directory below `root`, as paths relative to it."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        base = os.path.relpath(dirpath, root)
        for name in [*dirnames, *filenames]:
            found.add(name if base == "." else f"{base}/{name}")
    return found


def _with_parents(paths: set[str]) -> set[str]:
    """The paths and every directory above them, so non-empty directories are kept."""
    result = set()
    for path in paths:
        while path:
            result.add(path)
            path = posixpath.dirname(path)
    return result


class AtomicWriter:
    """Writes payloads into `target_dir`, which must exist. Not safe for concurrent writers."""

    def __init__(self, target_dir: Path) -> None:
        if not target_dir.is_dir():
            raise FileNotFoundError(f"atomic writer target {target_dir} does not exist")
        self.target_dir = target_dir

    def write(
        self,
        payload: Mapping[str, FileProjection],
        set_perms: Callable[[], None] | None = None,
    ) -> bool:
        """Project `payload` (relative path -> file); True when the volume changed.
        `set_perms` runs once the new files are written, before they are switched in (the
        volume's fsGroup ownership)."""
        clean = _clean_payload(payload)
        data_dir = self.target_dir / DATA_DIR_NAME
        try:
            old_ts_name: str | None = os.readlink(data_dir)
        except FileNotFoundError:
            old_ts_name = None

        stale: set[str] = set()
        if old_ts_name is not None:
            old_ts_dir = self.target_dir / old_ts_name
            stale = _relative_tree(old_ts_dir) - _with_parents(set(clean))
            if not stale and not self._changed(clean, old_ts_dir):
                return False

        ts_dir = self._new_timestamp_dir()
        try:
            self._write_payload(clean, ts_dir)
            if set_perms is not None:
                set_perms()
            new_data_dir = self.target_dir / _NEW_DATA_DIR_NAME
            if new_data_dir.is_symlink():
                new_data_dir.unlink()  # left over by an interrupted write
            os.symlink(ts_dir.name, new_data_dir)
            os.rename(new_data_dir, data_dir)  # the atomic switch
        except BaseException:
            shutil.rmtree(ts_dir, ignore_errors=True)
            raise

        # Links are made once `..data` holds their targets, so no new name ever dangles.
        for top in sorted({path.split("/", 1)[0] for path in clean}):
            visible = self.target_dir / top
            if not visible.is_symlink() and not visible.exists():
                os.symlink(f"{DATA_DIR_NAME}/{top}", visible)
        for path in sorted(stale):
            if "/" not in path:  # only top-level names are links of ours
                (self.target_dir / path).unlink(missing_ok=True)
        if old_ts_name is not None:
            shutil.rmtree(self.target_dir / old_ts_name, ignore_errors=True)
        return True

    @staticmethod
    def _changed(payload: Mapping[str, FileProjection], old_ts_dir: Path) -> bool:
        """shouldWritePayload: a file is new or its bytes differ (its mode too, here)."""
        for path, projection in payload.items():
            current = old_ts_dir / path
            try:
                if current.is_symlink() or current.read_bytes() != projection.data:
                    return True
                if current.stat().st_mode & 0o7777 != projection.mode:
                    return True
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return True
        return False

    def _new_timestamp_dir(self) -> Path:
        """`..<UTC time>.<random>`, the name Go's os.MkdirTemp gives Kubernetes' writer."""
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        while True:
            candidate = self.target_dir / f"{stamp}{random.randrange(1 << 32)}"
            try:
                candidate.mkdir(mode=_DIR_MODE)
            except FileExistsError:
                continue
            os.chmod(candidate, _DIR_MODE)  # whatever the umask
            return candidate

    @staticmethod
    def _write_payload(payload: Mapping[str, FileProjection], ts_dir: Path) -> None:
        for path, projection in payload.items():
            full = ts_dir / path
            parent = full.parent
            if not parent.is_dir():
                parent.mkdir(mode=_DIR_MODE, parents=True)
                for directory in [parent, *parent.parents]:
                    if directory == ts_dir:
                        break
                    os.chmod(directory, _DIR_MODE)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(projection.data)
                os.fchmod(fd, projection.mode)  # exactly the asked mode, whatever the umask
                if projection.fs_user is not None:
                    os.fchown(fd, projection.fs_user, -1)
