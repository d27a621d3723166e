"""The SQLite store's own behaviour: its log, WAL, memory bounds and batching (the contract
every store keeps is tests/unit/storage/test_store_contract.py)."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kubelite.storage import event_window, sqlite, watch_queue
from kubelite.storage.interface import (
    CompactedError,
    WatchClosedError,
)
from kubelite.storage.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "state.db")
    yield s
    await s.close()


async def test_a_reopened_store_replays_a_watch_from_its_log(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    for i in range(5):
        await store.create(f"/r/{i}", b"v")
    await store.close()
    # After a restart the in-memory window is empty: history comes from the log.
    store = await SqliteStore.open(tmp_path / "s.db")
    watch = await store.watch("/r/", 2)
    await store.create("/r/5", b"v")
    events = []
    while len(events) < 4:
        events += await asyncio.wait_for(watch.next(), 5)
    assert [e.revision for e in events] == [3, 4, 5, 6]
    watch.close()
    await store.close()


async def test_acknowledged_writes_survive_a_reopen(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "d.db")
    await asyncio.gather(*(store.create(f"/d/{i}", b"x") for i in range(200)))
    revision = store.revision
    await store.close()
    store = await SqliteStore.open(tmp_path / "d.db")
    assert store.revision == revision
    assert await store.count("/d/") == 200
    await store.close()


async def test_the_wal_is_copied_into_the_database_beside_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits never checkpoint (that stalled them); the checkpoint thread copies the WAL."""
    monkeypatch.setattr(sqlite, "CHECKPOINT_BYTES", 64 << 10)
    path = tmp_path / "w.db"
    store = await SqliteStore.open(path)
    empty = path.stat().st_size
    for i in range(64):
        await store.create(f"/w/{i}", bytes(16 << 10))
    # 1 MiB went into the WAL; it reaches the database file only by a checkpoint.
    await _eventually(lambda: path.stat().st_size > empty + (512 << 10))
    assert store._writer is not None
    assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    await store.close()


async def test_the_wal_starts_over_under_a_load_that_never_pauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "CHECKPOINT_BYTES", 64 << 10)
    monkeypatch.setattr(sqlite, "WAL_RESTART_FRAMES", 64)
    path = tmp_path / "r.db"
    store = await SqliteStore.open(path)
    names = iter(range(1024))

    async def writer() -> None:
        for i in names:
            await store.create(f"/r/{i}", bytes(8 << 10))

    await asyncio.gather(*(writer() for _ in range(32)))
    # 8 MiB were written with always another batch waiting; the WAL was reused, not grown.
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size < 4 << 20
    await store.close()


async def test_only_the_newest_events_keep_their_memo(store: SqliteStore) -> None:
    """Decoded objects shared by watchers are dropped from older events: GC walks them all."""
    watch = await store.watch("/m/", store.revision)
    await store.create("/m/first", b"v")
    (first,) = await asyncio.wait_for(watch.next(), 5)
    first.memo["decoded"] = {"kind": "Pod"}
    for i in range(sqlite.MEMO_EVENTS - 1):
        await store.create(f"/m/{i}", b"v")
    assert first.memo == {"decoded": {"kind": "Pod"}}
    await store.create("/m/last", b"v")
    assert first.memo == {}
    # A watcher that replays it from the window later must not fill it again.
    first.memo["decoded"] = {"kind": "Pod"}
    assert first.memo == {}
    watch.close()


async def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_the_window_holds_a_bounded_number_of_bytes(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big values push old events out of the in-memory window early; a watch from before them
    still gets every event, read back from the log."""
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 1 << 20)
    start = store.revision
    value = b"x" * (100 << 10)
    for i in range(30):
        kv = await store.create(f"/big/{i}", value)
        await store.update(f"/big/{i}", value + b"y", kv.mod_revision)
    window = store._window.events
    assert sum(sqlite.event_bytes(e) for e in window) <= 1 << 20
    assert 0 < len(window) < 60
    watch = await store.watch("/big/", start)
    events = []
    while len(events) < 60:
        events += await asyncio.wait_for(watch.next(), 5)
    assert [e.revision for e in events] == list(range(start + 1, start + 61))
    assert events[1].prev is not None and events[1].prev.value == value
    watch.close()


async def test_memos_are_dropped_past_a_number_of_bytes(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "MEMO_BYTES", 1 << 20)
    watch = await store.watch("/mb/", store.revision)
    await store.create("/mb/first", b"v")
    (first,) = await asyncio.wait_for(watch.next(), 5)
    first.memo["decoded"] = {"kind": "ConfigMap"}
    await store.create("/mb/big", b"x" * (1 << 20))
    assert first.memo == {}
    watch.close()


async def test_a_watcher_too_far_behind_in_bytes_is_cut_off(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that stops reading must not keep every event since alive."""
    monkeypatch.setattr(watch_queue, "MAX_WATCHER_BACKLOG_BYTES", 1 << 20)
    stalled = await store.watch("/s/", store.revision)
    reading = await store.watch("/s/", store.revision)
    for i in range(12):
        await store.create(f"/s/{i}", b"x" * (100 << 10))
        assert len(await asyncio.wait_for(reading.next(), 5)) == 1
    with pytest.raises(WatchClosedError, match="too far behind"):
        await asyncio.wait_for(stalled.next(), 5)
    reading.close()


async def test_big_values_written_and_deleted_do_not_stay_in_memory(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the store keeps of values that are gone is bounded by its window and memo budgets,
    whatever their size: measured with tracemalloc, with a generous margin."""
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 4 << 20)
    monkeypatch.setattr(sqlite, "MEMO_BYTES", 1 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(64):
            await store.create(f"/gone/{i}", bytes([i]) * (256 << 10))
        for i in range(64):
            await store.delete(f"/gone/{i}")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 16 MiB were written; the window may keep 4 MiB of them.
    assert held < 8 << 20


async def test_a_watch_with_too_much_history_to_replay_is_expired(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replaying from the log is bounded: further back, the watch is told to relist (410)."""
    monkeypatch.setattr(sqlite, "WINDOW_BYTES", 256 << 10)
    monkeypatch.setattr(sqlite, "MAX_LOG_HISTORY_BYTES", 1 << 20)
    start = store.revision
    for i in range(30):
        await store.create(f"/h/{i}", b"x" * (100 << 10))
    with pytest.raises(CompactedError) as caught:
        await store.watch("/h/", start)
    # The revision the client is told it may resume from: where the window starts.
    assert caught.value.compacted == store._window.events[0].revision - 1
    assert not store._watchers  # the refused watch was not left registered
    recent = await store.watch("/h/", store.revision - 8)
    events = await asyncio.wait_for(recent.next(), 5)
    assert [e.revision for e in events] == list(range(store.revision - 7, store.revision + 1))
    recent.close()


async def test_old_events_leave_the_window_once_the_burst_is_over(store: SqliteStore) -> None:
    """Past their age, events go down to the floor (by count and by bytes), and memos go."""
    start = store.revision
    for i in range(event_window.WINDOW_FLOOR + 50):
        await store.create(f"/age/{i}", b"x" * (64 << 10))
    newest = store._window.events[-1]
    newest.memo["decoded"] = {"kind": "ConfigMap"}
    store.expire(time.monotonic())
    assert len(store._window.events) == event_window.WINDOW_FLOOR + 50  # still fresh
    store.expire(time.monotonic() + event_window.WINDOW_FRESH_SECONDS + 1)
    assert store._window.bytes <= event_window.WINDOW_FLOOR_BYTES
    assert store._window.events[-1] is newest
    assert newest.memo == {}
    # Watches from before still replay everything, from the log.
    watch = await store.watch("/age/", start)
    events = []
    while len(events) < event_window.WINDOW_FLOOR + 50:
        events += await asyncio.wait_for(watch.next(), 5)
    assert events[0].revision == start + 1
    watch.close()


def test_rows_are_split_into_statements_of_ten_sizes() -> None:
    seen: set[int] = set()
    for count in range(0, 2 * sqlite._ROWS_PER_STATEMENT + 7):
        sizes = sqlite._chunk_sizes(count)
        assert sum(sizes) == count
        seen.update(sizes)
    assert seen == {2**i for i in range(10)}
    assert sqlite._chunk_sizes(37) == [32, 4, 1]


def test_batches_of_every_size_keep_few_statements_prepared(tmp_path: Path) -> None:
    """Python's sqlite3 keeps up to 128 statements prepared per connection: one per batch size,
    as batches of 1 to 500 rows once made, held 25 MB of SQLite's memory."""
    import sqlite3

    from kubelite.apiserver import memory

    con = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    try:
        con.execute("PRAGMA cache_size=-256")  # the page cache out of the figure: 256 KiB
        con.execute("CREATE TABLE log (rev INTEGER PRIMARY KEY, key TEXT, value BLOB)")
        before = memory.sqlite_memory()
        revision = 0
        for count in range(1, 301):
            rows = [(revision + i, f"/registry/k{revision + i}", b"v" * 50) for i in range(count)]
            revision += count
            sqlite._insert_many(con, "INSERT INTO log VALUES", 3, rows)
        grown = memory.sqlite_memory() - before
        assert con.execute("SELECT count(*) FROM log").fetchone()[0] == revision
    finally:
        con.close()
    assert grown < 3 * 2**20, f"SQLite holds {grown / 2**20:.1f} MB more after the batches"
