"""The audit log backend: `--audit-log-path`, one JSON event a line, rotated as lumberjack does.

kube-apiserver's log backend (`plugin/pkg/audit/log/backend.go`, json format) writes each event
as one line to a `lumberjack.Logger` (`gopkg.in/natefinch/lumberjack.v2`), or to standard out
for `-`. lumberjack rotates before a write that would take the file past `--audit-log-maxsize`
megabytes (100 when 0), renaming it to `<name>-<UTC time>.<ext>` (time as
`2006-01-02T15-04-05.000`) and starting a new one; after each rotation it removes the backups
past `--audit-log-maxbackup` (newest kept; 0 keeps all) and those older than
`--audit-log-maxage` days by the time in their name (0 keeps all).

Writing must not stall the event loop: events are serialized where they happen, collected for
the rest of the loop's turn, and handed in one batch to a writer thread that owns the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
# lumberjack's size limit when none is given (defaultMaxSize, in megabytes).
DEFAULT_MAX_SIZE_MB = 100
# lumberjack's backupTimeFormat, in Python's words (milliseconds are added apart).
BACKUP_TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"
DAY = 24 * 3600.0
STDOUT = "-"


def backup_time(stamp: float) -> str:
    """The time part of a backup's name: `2006-01-02T15-04-05.000` in UTC."""
    moment = datetime.fromtimestamp(stamp, UTC)
    return moment.strftime(BACKUP_TIME_FORMAT) + f".{moment.microsecond // 1000:03d}"


def _parse_backup_time(text: str) -> float | None:
    stamp, _, millis = text.partition(".")
    if len(millis) != 3 or not millis.isdigit():
        return None
    try:
        moment = datetime.strptime(stamp, BACKUP_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp() + int(millis) / 1000


def ensure_log_file(path: Path) -> None:
    """ensureLogFile: the directory (0700) and the file (0600) exist and can be written, so
    that a wrong path stops the server at start rather than losing events later."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_RDWR, 0o600)
    os.close(fd)


class RotatingFile:
    """lumberjack.Logger: appends lines to a file, rotating it by size and pruning backups.

    Used from one thread only (the backend's writer)."""

    def __init__(
        self,
        path: Path,
        *,
        max_size_mb: int = 0,
        max_backups: int = 0,
        max_age_days: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_size = (max_size_mb or DEFAULT_MAX_SIZE_MB) * MEGABYTE
        self.max_backups = max_backups
        self.max_age_days = max_age_days
        self.clock = clock
        self._file: BinaryIO | None = None
        self._size = 0

    def write_lines(self, lines: list[bytes]) -> None:
        """Write each line, rotating before one that would not fit (lumberjack checks each
        Write, and the log backend writes one event per Write)."""
        pending: list[bytes] = []
        for line in lines:
            size = len(line)
            if size > self.max_size:
                log.error(
                    "Error writing audit event: write length %d exceeds maximum file size %d",
                    size,
                    self.max_size,
                )
                continue
            if self._file is None:
                self._open_existing_or_new(size)
            elif self._size + size > self.max_size:
                self._flush(pending)
                self._rotate()
            pending.append(line)
            self._size += size
        self._flush(pending)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _flush(self, pending: list[bytes]) -> None:
        if pending and self._file is not None:
            self._file.write(b"".join(pending))
            self._file.flush()
        pending.clear()

    def _open_existing_or_new(self, size: int) -> None:
        self._mill()
        try:
            existing = self.path.stat().st_size
        except FileNotFoundError:
            self._open_new()
            return
        if existing + size >= self.max_size:
            self._rotate()
            return
        self._file = self.path.open("ab")
        self._size = existing

    def _rotate(self) -> None:
        self.close()
        self._open_new()
        self._mill()

    def _open_new(self) -> None:
        self.path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        mode = 0o600
        with contextlib.suppress(FileNotFoundError):
            mode = self.path.stat().st_mode & 0o777
            self.path.rename(self.backup_path(self.clock()))
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
        self._file = os.fdopen(fd, "wb")
        self._size = 0

    def backup_path(self, stamp: float) -> Path:
        """backupName: `audit.log` -> `audit-2006-01-02T15-04-05.000.log`."""
        name = self.path.name
        stem, dot, ext = name.rpartition(".")
        prefix, suffix = (stem, dot + ext) if dot and stem else (name, "")
        return self.path.with_name(f"{prefix}-{backup_time(stamp)}{suffix}")

    def backups(self) -> list[tuple[float, Path]]:
        """oldLogFiles: the backups beside the file, newest first."""
        name = self.path.name
        stem, dot, ext = name.rpartition(".")
        prefix, suffix = (stem + "-", dot + ext) if dot and stem else (name + "-", "")
        found: list[tuple[float, Path]] = []
        try:
            entries = list(self.path.parent.iterdir())
        except FileNotFoundError:
            return []
        for entry in entries:
            entry_name = entry.name
            if not entry_name.startswith(prefix) or not entry_name.endswith(suffix):
                continue
            middle = entry_name[len(prefix) : len(entry_name) - len(suffix)]
            stamp = _parse_backup_time(middle)
            if stamp is not None and entry.is_file():
                found.append((stamp, entry))
        found.sort(key=lambda item: item[0], reverse=True)
        return found

    def _mill(self) -> None:
        """millRunOnce: remove backups past the count, then past the age."""
        if not self.max_backups and not self.max_age_days:
            return
        files = self.backups()
        remove: list[Path] = []
        if self.max_backups and len(files) > self.max_backups:
            remove += [path for _, path in files[self.max_backups :]]
            files = files[: self.max_backups]
        if self.max_age_days:
            cutoff = self.clock() - self.max_age_days * DAY
            remove += [path for stamp, path in files if stamp < cutoff]
        for path in remove:
            try:
                path.unlink()
            except OSError as e:
                log.error("cannot remove old audit log %s: %s", path, e)


class _Stdout:
    """`--audit-log-path -`: the lines go to standard out as they are."""

    def write_lines(self, lines: list[bytes]) -> None:
        sys.stdout.buffer.write(b"".join(lines))
        sys.stdout.buffer.flush()

    def close(self) -> None:
        sys.stdout.buffer.flush()


class LogBackend:
    """Takes serialized events on the event loop and writes them from a thread of its own.

    `emit` costs a list append; the batch of one loop turn goes to the writer in one hand-off.
    """

    def __init__(self, sink: RotatingFile | _Stdout) -> None:
        self._sink = sink
        self._pending: list[bytes] = []
        self._queue: queue.SimpleQueue[list[bytes] | threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
        self._thread.start()
        self._closed = False

    @classmethod
    def open(
        cls, path: str, *, max_size_mb: int = 0, max_backups: int = 0, max_age_days: int = 0
    ) -> LogBackend:
        """The backend of `--audit-log-path` (`-`: standard out) and its rotation flags."""
        if path == STDOUT:
            return cls(_Stdout())
        file = Path(path)
        ensure_log_file(file)
        return cls(
            RotatingFile(
                file, max_size_mb=max_size_mb, max_backups=max_backups, max_age_days=max_age_days
            )
        )

    def emit(self, line: bytes) -> None:
        if self._closed:
            return
        pending = self._pending
        pending.append(line)
        if len(pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self._hand_off)
            except RuntimeError:
                self._hand_off()

    def _hand_off(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._queue.put(batch)

    def flush(self) -> None:
        """Wait until everything emitted so far is written (tests, shutdown)."""
        self._hand_off()
        done = threading.Event()
        self._queue.put(done)
        done.wait(10)

    def close(self) -> None:
        if self._closed:
            return
        self._hand_off()
        self._closed = True
        self._queue.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self._sink.write_lines(item)
            except OSError as e:
                # The log backend reports a failed write and goes on (a full disk must not stop
                # the server answering).
                log.error("Error writing audit events: %s", e)
        self._sink.close()
