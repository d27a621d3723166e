"""Snapshot files as k3s names, lists and prunes them (pkg/etcd/snapshot.go snapshotRetention):
only files with the scheduled prefix are pruned, newest kept by the time in their name."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from kubelite.etcd import snapshot


def _touch(directory: Path, name: str, mtime: float | None = None) -> Path:
    path = directory / name
    path.write_bytes(b"snapshot " + name.encode())
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_file_name_is_prefix_node_and_unix_time() -> None:
    assert snapshot.file_name("etcd-snapshot", "srv-a", 1767225600.7) == (
        "etcd-snapshot-srv-a-1767225600"
    )


def test_retention_keeps_the_newest_scheduled_and_every_manual_snapshot(tmp_path: Path) -> None:
    for stamp in (100, 400, 200, 300):
        _touch(tmp_path, f"etcd-snapshot-srv-a-{stamp}")
    _touch(tmp_path, "on-demand-srv-a-50")
    _touch(tmp_path, "before-upgrade-srv-a-60")

    deleted = snapshot.prune(tmp_path, "etcd-snapshot", 2)

    # Oldest first, and only those with the scheduled prefix.
    assert [p.name for p in deleted] == ["etcd-snapshot-srv-a-100", "etcd-snapshot-srv-a-200"]
    assert _names(tmp_path) == {
        "etcd-snapshot-srv-a-300",
        "etcd-snapshot-srv-a-400",
        "on-demand-srv-a-50",
        "before-upgrade-srv-a-60",
    }


def test_retention_orders_by_the_time_in_the_name_not_the_mtime(tmp_path: Path) -> None:
    # A copied-in old snapshot has a fresh mtime; its name still says it is the oldest.
    _touch(tmp_path, "etcd-snapshot-srv-a-100", mtime=9_000)
    _touch(tmp_path, "etcd-snapshot-srv-a-200", mtime=1_000)
    snapshot.prune(tmp_path, "etcd-snapshot", 1)
    assert _names(tmp_path) == {"etcd-snapshot-srv-a-200"}


def test_a_name_without_a_time_is_dated_by_its_mtime(tmp_path: Path) -> None:
    _touch(tmp_path, "etcd-snapshot-old", mtime=50)
    _touch(tmp_path, "etcd-snapshot-srv-a-100")
    snapshot.prune(tmp_path, "etcd-snapshot", 1)
    assert _names(tmp_path) == {"etcd-snapshot-srv-a-100"}


def test_compressed_snapshots_count_with_their_time_before_zip(tmp_path: Path) -> None:
    _touch(tmp_path, "etcd-snapshot-srv-a-300.zip")
    _touch(tmp_path, "etcd-snapshot-srv-a-200")
    _touch(tmp_path, "etcd-snapshot-srv-a-100.zip")
    snapshot.prune(tmp_path, "etcd-snapshot", 2)
    assert _names(tmp_path) == {"etcd-snapshot-srv-a-300.zip", "etcd-snapshot-srv-a-200"}


def test_a_save_in_progress_is_neither_listed_nor_pruned(tmp_path: Path) -> None:
    _touch(tmp_path, "etcd-snapshot-srv-a-100.part")
    _touch(tmp_path, "etcd-snapshot-srv-a-200")
    assert snapshot.prune(tmp_path, "etcd-snapshot", 1) == []
    assert [s.path.name for s in snapshot.list_dir(tmp_path)] == ["etcd-snapshot-srv-a-200"]
    assert (tmp_path / "etcd-snapshot-srv-a-100.part").exists()


@pytest.mark.parametrize("retention", [0, -1])
def test_retention_below_one_prunes_nothing(tmp_path: Path, retention: int) -> None:
    for stamp in (1, 2, 3):
        _touch(tmp_path, f"etcd-snapshot-srv-a-{stamp}")
    assert snapshot.prune(tmp_path, "etcd-snapshot", retention) == []
    assert len(_names(tmp_path)) == 3


def test_retention_in_a_missing_directory_is_a_no_op(tmp_path: Path) -> None:
    assert snapshot.prune(tmp_path / "none", "etcd-snapshot", 1) == []


def test_list_dates_snapshots_by_their_name(tmp_path: Path) -> None:
    _touch(tmp_path, "on-demand-srv-a-1767225600", mtime=5)
    [found] = snapshot.list_dir(tmp_path)
    assert found.created_text == "2026-01-01T00:00:00Z"
    assert found.size == len(b"snapshot on-demand-srv-a-1767225600")


def test_a_compressed_snapshot_holds_one_entry_named_as_the_snapshot(tmp_path: Path) -> None:
    plain = _touch(tmp_path, "etcd-snapshot-srv-a-100")
    zipped = snapshot._compress(plain, 1767225600)
    assert zipped.name == "etcd-snapshot-srv-a-100.zip"
    assert not plain.exists()
    with zipfile.ZipFile(zipped) as archive:
        assert archive.namelist() == ["etcd-snapshot-srv-a-100"]
    out = tmp_path / "out"
    out.mkdir()
    restored = snapshot.decompress(zipped, out)
    assert restored.read_bytes() == b"snapshot etcd-snapshot-srv-a-100"
