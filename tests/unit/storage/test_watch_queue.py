"""`QueuedWatch.follow` (storage/watch_queue.py), on the SQLite store's watches: events go to
the follower in the store's own callback instead of waiting in the queue for a reader, and a
follower that fails ends the watch rather than the store's writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelite.storage.interface import Event, WatchClosedError
from kubelite.storage.sqlite import SqliteStore


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "state.db")
    yield s
    await s.close()


async def test_a_follower_gets_what_was_queued_then_each_event_as_it_is_committed(
    sqlite: SqliteStore,
) -> None:
    watch = await sqlite.watch("/r/", sqlite.revision)
    first = await sqlite.create("/r/a", b"1")
    taken: list[list[Event]] = []
    assert watch.follow(taken.append)
    # The queued event at once, without a turn of the loop.
    assert [[e.kv for e in batch] for batch in taken] == [[first]]
    second = await sqlite.create("/r/b", b"2")
    assert [e.kv for e in taken[-1]] == [second]
    assert watch.progress() == second.mod_revision
    # next() has nothing to return any more: it waits for the end.
    reader = asyncio.create_task(watch.next())
    await sqlite.create("/r/c", b"3")
    assert not reader.done()
    watch.close()
    with pytest.raises(WatchClosedError):
        await asyncio.wait_for(reader, 5)


async def test_a_follower_that_fails_ends_its_watch_and_not_the_write(
    sqlite: SqliteStore,
) -> None:
    watch = await sqlite.watch("/r/", sqlite.revision)

    def refuse(events: list[Event]) -> None:
        raise ValueError("no room")

    watch.follow(refuse)
    created = await sqlite.create("/r/a", b"1")
    assert created.key == "/r/a"
    with pytest.raises(WatchClosedError, match="reader failed: no room"):
        await asyncio.wait_for(watch.next(), 5)
    # The store no longer feeds it.
    assert not sqlite._watchers


async def test_a_watch_whose_follower_failed_reports_progress_only_to_what_it_took(
    sqlite: SqliteStore,
) -> None:
    watch = await sqlite.watch("/r/", sqlite.revision)
    taken: list[Event] = []

    def take_one(events: list[Event]) -> None:
        if taken:
            raise ValueError("full")
        taken.extend(events)

    watch.follow(take_one)
    first = await sqlite.create("/r/a", b"1")
    await sqlite.create("/r/b", b"2")
    await sqlite.create("/r/c", b"3")
    # The store moved on; the watch delivered its first event only.
    assert sqlite.revision > first.mod_revision
    assert watch.progress() == first.mod_revision
