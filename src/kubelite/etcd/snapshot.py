"""etcd snapshot files, as k3s names, lists and prunes them.

Both `kubelite etcd-snapshot save` and the server's scheduled snapshots
(`kubelite.etcd.snapshot_schedule`) save through `save()`, so a snapshot is the same file
either way: `<dir>/<name>-<node name>-<unix time>`, with `.zip` after it when compressed (k3s'
snapshot.CompressedExtension; the archive holds one entry named as the snapshot). Only the
name prefix tells them apart: scheduled ones take `--etcd-snapshot-name` (`etcd-snapshot`),
on-demand ones `etcd-snapshot save --name` (`on-demand`), and retention (k3s'
snapshotRetention) prunes only files whose name starts with the scheduled prefix.

`list_dir` is the one answer to "which files are snapshots": `ls` prints it, `prune` (the
server's retention and `etcd-snapshot prune`) and `delete` (`etcd-snapshot delete`) choose from
it, so a name `ls` prints is one `delete` takes, and neither ever reaches past the directory.
"""

from __future__ import annotations

import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kubelite.etcd import client
from kubelite.etcd.pki import EtcdPki

# k3s' defaults: --etcd-snapshot-name (scheduled) and `etcd-snapshot save --name` (on demand).
SCHEDULED_NAME = "etcd-snapshot"
ON_DEMAND_NAME = "on-demand"
# k3s' snapshot.CompressedExtension.
COMPRESSED_EXTENSION = ".zip"
# What client.save_snapshot writes to before the rename; never a snapshot.
PARTIAL_EXTENSION = ".part"


class SnapshotError(Exception):
    """A snapshot name the caller gave that cannot be acted on; the message names it."""


class InvalidNameError(SnapshotError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"snapshot name {name!r} is not a plain file name (no '/', not '.' or '..')"
        )
        self.name = name


class NotFoundError(SnapshotError):
    def __init__(self, name: str, directory: Path) -> None:
        super().__init__(f"snapshot {name!r} not found in {directory}")
        self.name = name


def is_file_name(name: str) -> bool:
    """Whether `name` names an entry of a directory and nothing beyond it: not empty, no `/`
    (nor NUL, which no path holds), not `.` or `..`. Snapshot names and name prefixes must be."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def default_dir(data_dir: Path) -> Path:
    """k3s' default --etcd-snapshot-dir, `${data-dir}/db/snapshots`."""
    return data_dir / "db" / "snapshots"


def file_name(prefix: str, node_name: str, now: float) -> str:
    """k3s' `<name>-<node name>-<unix time>`."""
    return f"{prefix}-{node_name}-{int(now)}"


@dataclass(frozen=True)
class SnapshotFile:
    path: Path
    size: int
    # The unix time in the name (k3s reads it there), else the file's mtime.
    created: float
    compressed: bool

    @property
    def created_text(self) -> str:
        return datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _created(path: Path) -> float:
    """As k3s' listLocalSnapshots: the digits after the last `-` of the name without `.zip`."""
    base = path.name.removesuffix(COMPRESSED_EXTENSION)
    stamp = base.rpartition("-")[2]
    if stamp.isdigit():
        return float(stamp)
    return path.stat().st_mtime


def list_dir(directory: Path) -> list[SnapshotFile]:
    """The snapshots in `directory`, by name; a missing directory holds none."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.endswith(PARTIAL_EXTENSION):
            continue
        found.append(
            SnapshotFile(
                path=path,
                size=path.stat().st_size,
                created=_created(path),
                compressed=path.name.endswith(COMPRESSED_EXTENSION),
            )
        )
    return found


async def save(
    endpoint: str,
    pki: EtcdPki,
    directory: Path,
    *,
    prefix: str,
    node_name: str,
    compress: bool = False,
) -> Path:
    """Stream a snapshot from the member at `endpoint` into `directory` under k3s' name."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = round(time.time())
    path = directory / file_name(prefix, node_name, now)
    await client.save_snapshot(endpoint, pki, path)
    if compress:
        path = _compress(path, now)
    return path


def _compress(path: Path, now: float) -> Path:
    """k3s' compressSnapshot: one deflated entry named as the snapshot, in `<name>.zip`; the
    plain file goes either way."""
    zipped = path.with_name(path.name + COMPRESSED_EXTENSION)
    partial = zipped.with_name(zipped.name + PARTIAL_EXTENSION)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            info = zipfile.ZipInfo(path.name, date_time=time.localtime(now)[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
        partial.replace(zipped)
    finally:
        partial.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
    return zipped


def decompress(path: Path, directory: Path) -> Path:
    """The snapshot inside a k3s `.zip`, written into `directory` (for a restore)."""
    with zipfile.ZipFile(path) as archive:
        [entry] = archive.infolist()
        target = directory / Path(entry.filename).name
        with archive.open(entry) as source, target.open("wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    return target


def delete(directory: Path, names: Sequence[str]) -> list[Path]:
    """k3s' DeleteSnapshots on the local directory: remove the snapshots `list_dir` finds under
    these names (as `ls` prints them, `.zip` included). All or nothing, unlike k3s (which logs a
    name it does not find and goes on): a name that is not a plain file name or not a snapshot
    here raises before anything is removed, so a typo in a list changes nothing. Returns what
    was deleted, in the order given."""
    for name in names:
        if not is_file_name(name):
            raise InvalidNameError(name)
    found = {s.path.name: s.path for s in list_dir(directory)}
    for name in names:
        if name not in found:
            raise NotFoundError(name, directory)
    deleted = []
    for name in dict.fromkeys(names):
        found[name].unlink(missing_ok=True)
        deleted.append(found[name])
    return deleted


def prune(directory: Path, prefix: str, retention: int) -> list[Path]:
    """k3s' snapshotRetention: of the files whose name starts with `prefix`, keep the
    `retention` newest (by the time in their name) and delete the others, oldest first;
    nothing is pruned when `retention` is below 1. Returns what was deleted."""
    if retention < 1:
        return []
    candidates = [s for s in list_dir(directory) if s.path.name.startswith(prefix)]
    candidates.sort(key=lambda s: s.created, reverse=True)
    deleted = []
    for old in reversed(candidates[retention:]):
        old.path.unlink(missing_ok=True)
        deleted.append(old.path)
    return deleted
