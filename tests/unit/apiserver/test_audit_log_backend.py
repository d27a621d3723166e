"""The audit log file: lumberjack's rotation (size, backup names, count and age pruning) and
the writer thread that keeps the disk off the event loop."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubelite.apiserver.audit.log_backend import (
    MEGABYTE,
    LogBackend,
    RotatingFile,
    backup_time,
)

T0 = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def line(n: int, size: int) -> bytes:
    """A line of `size` bytes, newline included."""
    text = f"{n}:".encode()
    return text + b"x" * (size - len(text) - 1) + b"\n"


def test_backup_names_carry_the_utc_time_with_milliseconds(tmp_path: Path) -> None:
    assert backup_time(T0) == "2026-03-04T05-06-07.890"
    rotating = RotatingFile(tmp_path / "audit.log")
    assert rotating.backup_path(T0).name == "audit-2026-03-04T05-06-07.890.log"
    bare = RotatingFile(tmp_path / "audit")
    assert bare.backup_path(T0).name == "audit-2026-03-04T05-06-07.890"


def test_the_file_rotates_before_a_line_that_would_not_fit(tmp_path: Path) -> None:
    clock = Clock(T0)
    path = tmp_path / "audit.log"
    rotating = RotatingFile(path, max_size_mb=1, clock=clock)
    half = MEGABYTE // 2
    rotating.write_lines([line(1, half), line(2, half)])
    assert path.stat().st_size == MEGABYTE
    assert rotating.backups() == []
    rotating.write_lines([line(3, 10)])
    rotating.close()
    backup = tmp_path / "audit-2026-03-04T05-06-07.890.log"
    assert backup.read_bytes() == line(1, half) + line(2, half)
    assert path.read_bytes() == line(3, 10)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_existing_file_is_appended_to_or_rotated_if_full(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(line(0, 100))
    rotating = RotatingFile(path, max_size_mb=1, clock=Clock(T0))
    rotating.write_lines([line(1, 100)])
    rotating.close()
    assert path.read_bytes() == line(0, 100) + line(1, 100)
    path.write_bytes(b"x" * (MEGABYTE - 50))
    rotating = RotatingFile(path, max_size_mb=1, clock=Clock(T0))
    rotating.write_lines([line(2, 100)])
    rotating.close()
    assert path.read_bytes() == line(2, 100)
    assert len(rotating.backups()) == 1


def test_a_line_larger_than_the_limit_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    rotating = RotatingFile(path, max_size_mb=1, clock=Clock(T0))
    rotating.write_lines([line(1, MEGABYTE + 1), line(2, 10)])
    rotating.close()
    assert path.read_bytes() == line(2, 10)


def test_max_backups_keeps_the_newest(tmp_path: Path) -> None:
    clock = Clock(T0)
    path = tmp_path / "audit.log"
    rotating = RotatingFile(path, max_size_mb=1, max_backups=2, clock=clock)
    for n in range(5):
        rotating.write_lines([line(n, MEGABYTE)])
        clock.now += 1
    rotating.close()
    names = sorted(p.name for _, p in rotating.backups())
    assert names == ["audit-2026-03-04T05-06-10.890.log", "audit-2026-03-04T05-06-11.890.log"]
    # Other files beside it are never touched.
    assert path.exists()


def test_max_age_removes_backups_older_than_their_days(tmp_path: Path) -> None:
    clock = Clock(T0)
    path = tmp_path / "audit.log"
    old = tmp_path / f"audit-{backup_time(T0 - 3 * 86400)}.log"
    recent = tmp_path / f"audit-{backup_time(T0 - 86400)}.log"
    unrelated = tmp_path / "audit-notatime.log"
    for p in (old, recent, unrelated):
        p.write_bytes(b"{}\n")
    rotating = RotatingFile(path, max_size_mb=1, max_age_days=2, clock=clock)
    rotating.write_lines([line(1, 10)])
    rotating.close()
    assert not old.exists()
    assert recent.exists() and unrelated.exists()


def test_the_backend_writes_from_its_thread_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.log"
    backend = LogBackend.open(str(path))
    # The directory and file exist from the start, private to the server.
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    async def emit_some() -> None:
        for n in range(100):
            backend.emit(line(n, 20))
        # Nothing is written during the loop's turn that emitted the events.
        assert path.stat().st_size == 0
        await asyncio.sleep(0)

    asyncio.run(emit_some())
    backend.flush()
    assert path.read_bytes() == b"".join(line(n, 20) for n in range(100))
    backend.emit(line(100, 20))
    backend.close()
    assert path.read_bytes().endswith(line(100, 20))


def test_a_path_that_cannot_be_written_fails_at_start(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("")
        target = blocker / "audit.log"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "audit.log"
    with pytest.raises(OSError):
        LogBackend.open(str(target))
