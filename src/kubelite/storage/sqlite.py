"""The embedded store: an append-only log in SQLite, the model of k3s' kine.

Layout. `log` holds every change ever made (until compaction), one row per revision: the row id
*is* the revision, so revisions are global and gap-free, like etcd's. `kv` maps each live key to
the log row holding its newest value. `meta` keeps the current and the compacted revision.

Writes. Requests never write SQLite themselves: they queue an operation and wait. One writer
task takes everything queued, runs it in a single transaction on a dedicated thread (checking
each compare-and-swap against the database, so a batch behaves as if its operations ran one by
one), commits with one fsync (WAL, `synchronous=FULL`: an acknowledged write survives `kill -9`
and power loss), and only then answers the waiting requests. While one batch commits the next
one fills, so throughput grows with concurrency instead of stopping at one fsync per write.

Checkpoints. SQLite's own checkpoint runs inside a COMMIT every thousand pages, copying the WAL
into the database file and fsyncing it there: commits every half second under load took 100 to
400 ms, and every request waiting on them too. The writer turns that off; a thread of its own
copies the WAL back in PASSIVE mode, beside the writer rather than in its way, after every few
megabytes written. Under a load that never pauses the WAL is never entirely copied at the moment
a write starts, so it cannot start over; past WAL_RESTART_FRAMES the writer restarts it itself,
which costs little since by then nearly all of it is copied.

Reads. The newest state of every key is also kept in memory, updated on the event loop at the
moment a batch is acknowledged; gets and lists at the newest revision come from there, lists at
a past revision from the log.

Watch. After each commit the batch's events go, in revision order, to every watcher whose prefix
matches, on the event loop, so a watcher never sees a gap. A watch from a past revision replays
from a window of recent events in memory, or from the log when it reaches further back.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.storage.event_window import EventWindow, MemoKeeper
from kubelite.storage.interface import (
    CREATE,
    DELETE,
    UPDATE,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    Store,
    StoreError,
    Watch,
)
from kubelite.storage.watch_queue import QueuedWatch, event_bytes

log = logging.getLogger(__name__)

# Most operations one transaction takes; more wait for the next commit.
MAX_BATCH = 2000
# Recent events kept in memory for watches that resume from a recent revision: at most this
# many, holding at most WINDOW_BYTES of values between them. A watch from further back reads its
# history from the log table instead, so the bounds cost speed, never correctness. Kubernetes'
# watch cache counts events only (100 to 102,400 of them, enough for 75 s: cacher/watch_cache.go),
# but its objects are at most etcd's 1.5 MB; here a client writing 1 MB ConfigMaps made ten
# thousand events hold gigabytes, for as long as nothing newer pushed them out.
EVENT_WINDOW = 10_000
WINDOW_BYTES = 64 << 20
# The newest events whose memo (decoded objects, encodings shared by watchers) is kept: at most
# MEMO_EVENTS of them, with at most MEMO_BYTES of values (a memo holds a few times its event's
# bytes: the decoded object, and a line per form watchers asked for). Older ones drop it: a
# decoded pod is a hundred-odd objects the garbage collector walks on every full collection,
# and ten thousand of them made pauses of a tenth of a second. Watchers that far behind decode
# again.
MEMO_EVENTS = 512
MEMO_BYTES = 16 << 20
# ... and none older than this: watchers share a memo in the moments after the commit.
MEMO_SECONDS = 10.0
# How often the window and the memos are looked over for events past their age.
EXPIRY_INTERVAL = 5.0
# The most history (bytes of values) one watch from before the window replays from the log. It
# is read whole and held until sent: a client resuming from far back, in a store of big values,
# made each such watch read hundreds of megabytes. Past this the watch is a 410 Expired, as in
# Kubernetes for a revision older than its watch cache, and the client relists.
MAX_LOG_HISTORY_BYTES = 16 << 20
BUSY_TIMEOUT_MS = 10_000
# Bytes of values written after which the checkpoint thread copies the WAL into the database.
CHECKPOINT_BYTES = 4 << 20
# WAL frames (pages) past which the writer restarts the WAL from its start.
WAL_RESTART_FRAMES = 16384

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    revision        INTEGER PRIMARY KEY,
    key             TEXT    NOT NULL,
    deleted         INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER NOT NULL,
    value           BLOB    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS kv (
    key      TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0);
"""

_LIVE_ROW = (
    "SELECT kv.key, log.create_revision, log.revision, log.value "
    "FROM kv JOIN log ON log.revision = kv.revision"
)


# Rows per multi-row INSERT at most (a power of two), within SQLite's limit of 32766 bound
# variables for rows of up to 63 columns.
_ROWS_PER_STATEMENT = 512


def _chunk_sizes(count: int) -> list[int]:
    """How `count` rows are split into statements: whole statements of the most rows, then
    the rest by its binary digits (37 rows: 32, 4 and 1).

    Each number of rows is a statement text of its own, which Python's sqlite3 keeps prepared
    (128 per connection). Batches of every size from 1 to 500 kept as many statements, up to
    200 KB each: 25 MB of SQLite's memory on one connection, held for good. With sizes drawn
    from ten, a connection keeps ten statements per table, and every batch finds its
    statements prepared; it costs one statement per binary digit of the rest, which measured
    no slower than one statement for all.
    """
    whole, rest = divmod(count, _ROWS_PER_STATEMENT)
    sizes = [_ROWS_PER_STATEMENT] * whole
    size = _ROWS_PER_STATEMENT >> 1
    while size:
        if rest & size:
            sizes.append(size)
        size >>= 1
    return sizes


def _insert_many(
    con: sqlite3.Connection, statement: str, width: int, rows: list[tuple[Any, ...]]
) -> None:
    """`INSERT ... VALUES (...), (...), ...`: many rows in a few statements, each one step."""
    row = "(" + ", ".join("?" * width) + ")"
    start = 0
    for size in _chunk_sizes(len(rows)):
        chunk = rows[start : start + size]
        start += size
        values = [value for r in chunk for value in r]
        con.execute(f"{statement} {', '.join([row] * size)}", values)


def prefix_end(prefix: str) -> str:
    """The first key after every key that starts with `prefix`."""
    return prefix + "\U0010ffff"


# A row of `_read_history`: the log entry (revision, key, deleted, create and previous revision,
# value) joined with the entry it replaced (revision, create revision, value; NULL for a create).
_HistoryRow = tuple[int, str, int, int, int, bytes, int | None, int | None, bytes | None]


@dataclass(slots=True)
class _Op:
    type: str
    key: str
    value: bytes
    expected: int
    future: asyncio.Future[KeyValue]


class _SqliteWatch(QueuedWatch):
    def __init__(self, store: SqliteStore, prefix: str) -> None:
        super().__init__(prefix)
        self._store = store

    def _prepend(self, events: list[Event]) -> None:
        # Only while the store opens the watch, before anyone can follow() it.
        assert self._receive is None
        self._queue.extendleft(reversed(events))
        self._wake()

    def _newest(self) -> int:
        # Every committed event under the prefix has been handed over.
        return self._store.revision

    def _release(self) -> None:
        self._store._unregister(self)


class SqliteStore(Store):
    """The default store: one SQLite file in WAL mode under the data directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._writer_pool = concurrent.futures.ThreadPoolExecutor(1, "kubelite-sqlite-writer")
        self._reader_pool = concurrent.futures.ThreadPoolExecutor(2, "kubelite-sqlite-reader")
        self._checkpoint_pool = concurrent.futures.ThreadPoolExecutor(1, "kubelite-sqlite-ckpt")
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._unchecked_bytes = 0
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        self._queue: list[_Op] = []
        self._pending = asyncio.Event()
        self._writer_task: asyncio.Task[None] | None = None
        self._revision = 0
        self._compacted = 0
        # The newest state: key -> KeyValue, plus the keys in order for prefix lists.
        self._live: dict[str, KeyValue] = {}
        self._keys: list[str] = []
        self._window = EventWindow()
        self._memos = MemoKeeper()
        self._expiry_task: asyncio.Task[None] | None = None
        self._watchers: dict[str, set[_SqliteWatch]] = {}
        self._closed = False

    # --- lifecycle ----------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> SqliteStore:
        store = cls(path)
        await store._start()
        return store

    async def _start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        rows, self._revision, self._compacted = await loop.run_in_executor(
            self._writer_pool, self._open_writer
        )
        for key, create_rev, mod_rev, value in rows:
            self._live[key] = KeyValue(key, value, create_rev, mod_rev)
        self._keys = sorted(self._live)
        self._writer_task = asyncio.create_task(self._write_loop(), name="sqlite-writer")
        self._expiry_task = asyncio.create_task(self._expiry_loop(), name="sqlite-expiry")

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at every commit, so an acknowledged write is durable.
        con.execute("PRAGMA synchronous=FULL")
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return con

    def _open_writer(self) -> tuple[list[tuple[str, int, int, bytes]], int, int]:
        con = self._connect()
        con.execute("PRAGMA wal_autocheckpoint=0")  # see Checkpoints, above
        con.executescript(_SCHEMA)
        self._writer = con
        meta = dict(con.execute("SELECT name, value FROM meta").fetchall())
        rows = con.execute(_LIVE_ROW).fetchall()
        return rows, meta["revision"], meta["compacted"]

    def _reader(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._connect()
            self._local.con = con
            with self._readers_lock:
                self._readers.append(con)
        return con

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        if self._writer_task is not None:
            self._pending.set()
            await self._writer_task
        for watchers in list(self._watchers.values()):
            for w in list(watchers):
                w._end("store closed")
        loop = asyncio.get_running_loop()
        if self._checkpoint is not None:
            await self._checkpoint
        await loop.run_in_executor(self._checkpoint_pool, self._close_checkpointer)
        self._checkpoint_pool.shutdown()
        await loop.run_in_executor(self._writer_pool, self._close_writer)
        self._writer_pool.shutdown()
        self._reader_pool.shutdown()
        for con in self._readers:
            with contextlib.suppress(sqlite3.Error):
                con.close()
        self._readers.clear()

    def _close_writer(self) -> None:
        if self._writer is not None:
            # The last connection to close copies the WAL back and removes it.
            self._writer.close()
            self._writer = None

    def _close_checkpointer(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    # --- checkpoints --------------------------------------------------------------------------

    def _written(self, nbytes: int) -> None:
        """Count bytes committed; past CHECKPOINT_BYTES, start a checkpoint unless one runs."""
        self._unchecked_bytes += nbytes
        if self._unchecked_bytes < CHECKPOINT_BYTES or self._checkpoint is not None:
            return
        self._unchecked_bytes = 0
        loop = asyncio.get_running_loop()
        self._checkpoint = asyncio.ensure_future(self._run_checkpoint(loop))

    async def _run_checkpoint(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            frames = await loop.run_in_executor(self._checkpoint_pool, self._copy_wal)
            if frames > WAL_RESTART_FRAMES and not self._closed:
                await loop.run_in_executor(self._writer_pool, self._restart_wal)
        except sqlite3.Error:
            # Nothing is lost: the WAL holds every commit until a later checkpoint copies it.
            log.warning("checkpoint failed", exc_info=True)
        finally:
            self._checkpoint = None

    def _copy_wal(self) -> int:
        """A PASSIVE checkpoint; returns the WAL's length in frames."""
        if self._checkpointer is None:
            self._checkpointer = self._connect()
        row: tuple[int, int, int] = self._checkpointer.execute(
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
        _busy, frames, _copied = row
        return frames

    def _restart_wal(self) -> None:
        """On the writer's thread, between batches: copy the rest and start the WAL over."""
        con = self._writer
        if con is None:
            return
        # A reader still on the old frames makes it wait: not for long, the next one retries.
        con.execute("PRAGMA busy_timeout=50")
        try:
            con.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    # --- reads --------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        return self._live.get(key)

    def _range(self, prefix: str, start: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self._keys, max(prefix, start))
        hi = bisect.bisect_left(self._keys, prefix_end(prefix), lo)
        return lo, hi

    async def list(
        self, prefix: str, *, revision: int = 0, start: str = "", limit: int = 0
    ) -> ListResult:
        if revision and revision != self._revision:
            return await self._list_past(prefix, revision, start, limit)
        lo, hi = self._range(prefix, start)
        stop = min(hi, lo + limit) if limit > 0 else hi
        items = [self._live[k] for k in self._keys[lo:stop]]
        return ListResult(items, self._revision, stop < hi, hi - stop)

    async def count(self, prefix: str) -> int:
        lo, hi = self._range(prefix, "")
        return hi - lo

    async def _list_past(self, prefix: str, revision: int, start: str, limit: int) -> ListResult:
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(
            self._reader_pool, self._read_past, prefix, revision, start, limit
        )
        # Compaction may have run while we read: results from below it would be incomplete.
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        more = limit > 0 and len(rows) > limit
        items = [KeyValue(k, v, c, m) for k, c, m, v in rows[: limit or None]]
        remaining = 0
        if more:
            remaining = await loop.run_in_executor(
                self._reader_pool, self._count_past, prefix, revision, items[-1].key
            )
        return ListResult(items, revision, more, remaining)

    _PAST = (
        "SELECT key, create_revision, revision, value FROM ("
        " SELECT key, create_revision, MAX(revision) AS revision, value, deleted FROM log"
        " WHERE key >= ? AND key < ? AND revision <= ? GROUP BY key"
        ") WHERE deleted = 0 ORDER BY key"
    )

    def _read_past(
        self, prefix: str, revision: int, start: str, limit: int
    ) -> builtins.list[tuple[str, int, int, bytes]]:
        sql = self._PAST + (" LIMIT ?" if limit > 0 else "")
        args: tuple[object, ...] = (max(prefix, start), prefix_end(prefix), revision)
        if limit > 0:
            args += (limit + 1,)
        return self._reader().execute(sql, args).fetchall()

    def _count_past(self, prefix: str, revision: int, after: str) -> int:
        sql = (
            "SELECT COUNT(*) FROM ("
            " SELECT MAX(revision), deleted FROM log"
            " WHERE key > ? AND key < ? AND revision <= ? GROUP BY key"
            ") WHERE deleted = 0"
        )
        row: tuple[int] = (
            self._reader().execute(sql, (after, prefix_end(prefix), revision)).fetchone()
        )
        return row[0]

    # --- writes -------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._submit(CREATE, key, value, 0)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        return await self._submit(UPDATE, key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self._submit(DELETE, key, b"", expected_revision)

    def _submit(
        self, type_: str, key: str, value: bytes, expected: int
    ) -> asyncio.Future[KeyValue]:
        if self._closed:
            raise StoreError("store is closed")
        future: asyncio.Future[KeyValue] = asyncio.get_running_loop().create_future()
        self._queue.append(_Op(type_, key, value, expected, future))
        self._pending.set()
        return future

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._pending.wait()
            self._pending.clear()
            if not self._queue:
                if self._closed:
                    return
                continue
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            if self._queue:
                self._pending.set()
            try:
                outcomes, revision = await loop.run_in_executor(
                    self._writer_pool, self._write_batch, batch
                )
            except Exception as exc:  # the disk failed: nothing of the batch was written
                log.exception("store write failed")
                for op in batch:
                    if not op.future.done():
                        op.future.set_exception(StoreError(f"write failed: {exc}"))
                continue
            self._apply(batch, outcomes, revision)
            # Row, index and page overhead come to a few hundred bytes an operation.
            self._written(sum(len(op.value) + 256 for op in batch))

    def _write_batch(
        self, batch: builtins.list[_Op]
    ) -> tuple[builtins.list[Event | StoreError], int]:
        """Decide every operation of a batch, then write them all in one transaction.

        Conditions are checked in Python against the newest state, so the rows can go to
        SQLite in a few multi-row statements. Each statement step gives the GIL up and takes it
        back; one step per row would make this thread queue for the GIL behind the event loop
        (up to its 5 ms switch interval) hundreds of times per commit.
        """
        con = self._writer
        assert con is not None
        revision = self._revision
        outcomes: list[Event | StoreError] = []
        # Earlier operations of this batch on the same key; `_live` holds everything before it
        # (the event loop only changes `_live` between batches, never while one is written).
        written: dict[str, KeyValue | None] = {}
        log_rows: list[tuple[int, str, int, int, int, bytes]] = []
        for op in batch:
            current = written[op.key] if op.key in written else self._live.get(op.key)
            if op.type == CREATE:
                if current is not None:
                    outcomes.append(KeyExistsError(op.key))
                    continue
                revision += 1
                kv = KeyValue(op.key, op.value, revision, revision)
                log_rows.append((revision, op.key, 0, revision, 0, op.value))
                written[op.key] = kv
                outcomes.append(Event(CREATE, kv, None))
                continue
            if current is None:
                outcomes.append(KeyNotFoundError(op.key))
                continue
            if op.expected and op.expected != current.mod_revision:
                outcomes.append(RevisionConflictError(op.key, current))
                continue
            revision += 1
            if op.type == UPDATE:
                kv = KeyValue(op.key, op.value, current.create_revision, revision)
                log_rows.append(
                    (revision, op.key, 0, current.create_revision, current.mod_revision, op.value)
                )
                written[op.key] = kv
                outcomes.append(Event(UPDATE, kv, current))
            else:
                kv = KeyValue(op.key, current.value, current.create_revision, revision)
                log_rows.append(
                    (
                        revision,
                        op.key,
                        1,
                        current.create_revision,
                        current.mod_revision,
                        current.value,
                    )
                )
                written[op.key] = None
                outcomes.append(Event(DELETE, kv, current))
        if not log_rows:
            return outcomes, revision
        live = [(key, kv.mod_revision) for key, kv in written.items() if kv is not None]
        gone = [(key,) for key, kv in written.items() if kv is None]
        con.execute("BEGIN IMMEDIATE")
        try:
            _insert_many(con, "INSERT INTO log VALUES", 6, log_rows)
            if live:
                _insert_many(con, "INSERT OR REPLACE INTO kv VALUES", 2, live)
            if gone:
                con.executemany("DELETE FROM kv WHERE key = ?", gone)
            con.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (revision,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return outcomes, revision

    def _apply(
        self, batch: builtins.list[_Op], outcomes: builtins.list[Event | StoreError], revision: int
    ) -> None:
        """Make a committed batch visible: memory state, then watchers, then the callers."""
        events: list[Event] = []
        for outcome in outcomes:
            if not isinstance(outcome, Event):
                continue
            events.append(outcome)
            key = outcome.kv.key
            if outcome.type == DELETE:
                del self._live[key]
                i = bisect.bisect_left(self._keys, key)
                del self._keys[i]
            else:
                if outcome.type == CREATE:
                    bisect.insort(self._keys, key)
                self._live[key] = outcome.kv
        self._revision = revision
        if events:
            self._remember(events)
            self._dispatch(events)
        for op, outcome in zip(batch, outcomes, strict=True):
            if op.future.done():  # the caller went away
                continue
            if isinstance(outcome, Event):
                op.future.set_result(outcome.kv)
            else:
                op.future.set_exception(outcome)

    def _remember(self, events: builtins.list[Event]) -> None:
        """Add committed events to the window and to the memoized ones, and let the oldest go
        past either's bounds."""
        size = sum(event_bytes(e) for e in events)
        now = time.monotonic()
        self._window.add(events, size, now, EVENT_WINDOW, WINDOW_BYTES)
        self._memos.add(events, size, now, MEMO_EVENTS, MEMO_BYTES)

    def expire(self, now: float | None = None) -> None:
        """Let go of window events and memos past their age (see WINDOW_FRESH_SECONDS)."""
        now = time.monotonic() if now is None else now
        self._window.expire(now)
        self._memos.expire(now, MEMO_SECONDS)

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            self.expire()

    # --- watch --------------------------------------------------------------------------------

    def _dispatch(self, events: builtins.list[Event]) -> None:
        for prefix, watchers in list(self._watchers.items()):
            matched = [e for e in events if e.kv.key.startswith(prefix)]
            if matched:
                size = sum(event_bytes(e) for e in matched)
                for w in list(watchers):
                    w._push(matched, size)

    def _unregister(self, watch: _SqliteWatch) -> None:
        watchers = self._watchers.get(watch.prefix)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self._watchers[watch.prefix]

    async def watch(self, prefix: str, revision: int) -> Watch:
        if self._closed:
            raise StoreError("store is closed")
        if revision < self._compacted:
            raise CompactedError(revision, self._compacted)
        if revision > self._revision:
            raise FutureRevisionError(revision, self._revision)
        w = _SqliteWatch(self, prefix)
        # From here on, w receives every event after `current`; history fills the rest.
        self._watchers.setdefault(prefix, set()).add(w)
        current = self._revision
        if revision < current:
            try:
                history = await self._history(prefix, revision, current)
            except BaseException:
                w.close()
                raise
            w._prepend(history)
        return w

    async def _history(self, prefix: str, after: int, upto: int) -> builtins.list[Event]:
        """Events under `prefix` with revisions in (after, upto]."""
        window = self._window.events
        if window and window[0].revision <= after + 1:
            return [e for e in window if after < e.revision <= upto and e.kv.key.startswith(prefix)]
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(
            self._reader_pool, self._read_history, prefix, after, upto
        )
        if after < self._compacted:
            raise CompactedError(after, self._compacted)
        if rows is None:
            # Too much to replay: as if compacted up to where the window starts, so that the
            # client relists, as Kubernetes answers a revision older than its watch cache.
            oldest = window[0].revision - 1 if window else upto
            raise CompactedError(after, max(oldest, self._compacted))
        return list(self._events_from_rows(rows))

    def _read_history(
        self, prefix: str, after: int, upto: int
    ) -> builtins.list[_HistoryRow] | None:
        """The log's rows in (after, upto] under `prefix`; None past MAX_LOG_HISTORY_BYTES."""
        sql = (
            "SELECT l.revision, l.key, l.deleted, l.create_revision, l.prev_revision, l.value,"
            " p.revision, p.create_revision, p.value"
            " FROM log l LEFT JOIN log p ON p.revision = l.prev_revision"
            " WHERE l.revision > ? AND l.revision <= ? AND l.key >= ? AND l.key < ?"
            " ORDER BY l.revision"
        )
        cursor = self._reader().execute(sql, (after, upto, prefix, prefix_end(prefix)))
        rows: builtins.list[_HistoryRow] = []
        size = 0
        try:
            while page := cursor.fetchmany(256):
                for row in page:
                    size += len(row[5]) + len(row[8] or b"")
                rows += page
                if size > MAX_LOG_HISTORY_BYTES:
                    return None
        finally:
            cursor.close()
        return rows

    @staticmethod
    def _events_from_rows(rows: Iterable[_HistoryRow]) -> Iterable[Event]:
        for rev, key, deleted, create_rev, prev_rev, value, p_rev, p_create, p_value in rows:
            # A matched LEFT JOIN fills all three of p's columns (NOT NULL in `log`), or none.
            prev = None
            if p_rev is not None and p_create is not None and p_value is not None:
                prev = KeyValue(key, p_value, p_create, p_rev)
            kv = KeyValue(key, value, create_rev, rev)
            if deleted:
                yield Event(DELETE, kv, prev)
            elif prev_rev == 0:
                yield Event(CREATE, kv, None)
            else:
                yield Event(UPDATE, kv, prev)

    # --- compaction ---------------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        revision = min(revision, self._revision)
        if revision <= self._compacted:
            return
        # Raised first, so that reads racing the deletion fail instead of seeing holes.
        self._compacted = revision
        self._window.drop_through(revision)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer_pool, self._compact_log, revision)

    def _compact_log(self, revision: int) -> None:
        con = self._writer
        assert con is not None
        con.execute("BEGIN IMMEDIATE")
        try:
            # A row goes when a newer row of its key is also compacted, or when it is a delete:
            # the newest state as of `revision` stays readable.
            con.execute(
                "DELETE FROM log WHERE revision <= ?1 AND (deleted = 1 OR EXISTS ("
                " SELECT 1 FROM log newer WHERE newer.key = log.key"
                " AND newer.revision > log.revision AND newer.revision <= ?1))",
                (revision,),
            )
            con.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
