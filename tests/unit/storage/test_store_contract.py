"""Every store backend against the contract of `kubelite.storage.interface`: SQLite and etcd.

Revisions are compared with the revision a test starts at: a new etcd is at revision 1 before
anything is written, a new SQLite store at 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.etcd_server import EtcdServer

from kubelite.storage.etcd import EtcdStore
from kubelite.storage.interface import (
    CREATE,
    DELETE,
    UPDATE,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    Store,
    Watch,
    WatchClosedError,
)
from kubelite.storage.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", "etcd", "etcd-watch-in-process"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store; etcd's twice, its watch stream read by the relay process (the default) and
    in the API server's own process (storage/etcd_watch.py)."""
    s: Store
    if request.param == "sqlite":
        s = await SqliteStore.open(tmp_path / "state.db")
    else:
        server: EtcdServer = request.getfixturevalue("etcd_server")
        s = await EtcdStore.open([server.endpoint], watch_relay=request.param == "etcd")
    yield s
    await s.close()


async def _events(watch: Watch, count: int) -> list[Event]:
    events: list[Event] = []
    while len(events) < count:
        events += await asyncio.wait_for(watch.next(), 5)
    return events


async def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_revisions_grow_by_one_per_write(store: Store) -> None:
    base = store.revision
    a = await store.create("/a", b"1")
    b = await store.create("/b", b"2")
    c = await store.update("/a", b"3", a.mod_revision)
    assert (a.mod_revision, b.mod_revision, c.mod_revision) == (base + 1, base + 2, base + 3)
    assert a.create_revision == c.create_revision == base + 1
    assert store.revision == base + 3
    assert await store.get("/a") == c


async def test_create_refuses_an_existing_key(store: Store) -> None:
    await store.create("/a", b"1")
    with pytest.raises(KeyExistsError):
        await store.create("/a", b"2")
    kv = await store.get("/a")
    assert kv is not None and kv.value == b"1"


async def test_update_is_compare_and_swap_on_the_revision(store: Store) -> None:
    a = await store.create("/a", b"1")
    b = await store.update("/a", b"2", a.mod_revision)
    with pytest.raises(RevisionConflictError) as err:
        await store.update("/a", b"3", a.mod_revision)
    assert err.value.current == b
    unconditional = await store.update("/a", b"4", 0)
    assert unconditional.mod_revision == b.mod_revision + 1
    with pytest.raises(KeyNotFoundError):
        await store.update("/missing", b"x", 0)
    with pytest.raises(KeyNotFoundError):
        await store.update("/missing", b"x", a.mod_revision)


async def test_delete_returns_the_last_value_and_frees_the_key(store: Store) -> None:
    a = await store.create("/a", b"1")
    gone = await store.delete("/a")
    assert gone.value == b"1" and gone.mod_revision == a.mod_revision + 1
    assert gone.create_revision == a.create_revision
    assert await store.get("/a") is None
    with pytest.raises(KeyNotFoundError):
        await store.delete("/a")
    again = await store.create("/a", b"new")
    assert again.create_revision == again.mod_revision == gone.mod_revision + 1


async def test_delete_is_compare_and_swap_when_asked(store: Store) -> None:
    a = await store.create("/a", b"1")
    b = await store.update("/a", b"2", a.mod_revision)
    with pytest.raises(RevisionConflictError) as err:
        await store.delete("/a", a.mod_revision)
    assert err.value.current == b
    gone = await store.delete("/a", b.mod_revision)
    assert gone.value == b"2"


async def test_concurrent_writes_to_one_key_serialize(store: Store) -> None:
    a = await store.create("/a", b"0")
    results = await asyncio.gather(
        *(store.update("/a", str(i).encode(), a.mod_revision) for i in range(20)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, RevisionConflictError) for r in results) == 19


async def test_list_by_prefix_in_pages(store: Store) -> None:
    for i in range(10):
        await store.create(f"/pods/ns/p{i}", b"x")
    await store.create("/pods/other/q", b"y")
    await store.create("/pods/ns", b"not under the prefix /pods/ns/")
    first = await store.list("/pods/ns/", limit=4)
    assert [kv.key for kv in first.items] == [f"/pods/ns/p{i}" for i in range(4)]
    assert first.more and first.remaining == 6
    assert first.revision == store.revision
    rest = await store.list("/pods/ns/", start=first.items[-1].key + "\x00")
    assert len(rest.items) == 6 and not rest.more and rest.remaining == 0
    assert await store.count("/pods/") == 12
    assert await store.count("/pods/ns/") == 10


async def test_list_at_a_past_revision_sees_the_past(store: Store) -> None:
    a = await store.create("/k/a", b"a1")
    await store.create("/k/b", b"b1")
    past = store.revision
    await store.update("/k/a", b"a2", a.mod_revision)
    await store.delete("/k/b")
    await store.create("/k/c", b"c1")
    then = await store.list("/k/", revision=past)
    assert [(kv.key, kv.value) for kv in then.items] == [("/k/a", b"a1"), ("/k/b", b"b1")]
    assert then.revision == past
    page = await store.list("/k/", revision=past, limit=1)
    assert page.more and page.remaining == 1
    now = await store.list("/k/")
    assert [(kv.key, kv.value) for kv in now.items] == [("/k/a", b"a2"), ("/k/c", b"c1")]


async def test_a_future_revision_is_refused(store: Store) -> None:
    await store.create("/f/a", b"1")
    with pytest.raises(FutureRevisionError):
        await store.list("/f/", revision=store.revision + 100)
    with pytest.raises(FutureRevisionError):
        await store.watch("/f/", store.revision + 100)


async def test_watch_sees_every_change_in_order(store: Store) -> None:
    base = store.revision
    watch = await store.watch("/w/", base)
    a = await store.create("/w/a", b"1")
    await store.create("/other", b"no")
    b = await store.update("/w/a", b"2", a.mod_revision)
    gone = await store.delete("/w/a")
    events = await _events(watch, 3)
    assert [e.type for e in events] == [CREATE, UPDATE, DELETE]
    assert [e.revision for e in events] == [base + 1, base + 3, base + 4]
    assert events[0].kv == a and events[0].prev is None
    assert events[1].kv == b and events[1].prev == a
    # A delete carries the last value, at the delete's revision, as delete() returned it.
    assert events[2].kv == gone and events[2].prev == b
    assert watch.progress() == base + 4
    watch.close()


async def test_watch_from_a_past_revision_replays_then_follows(store: Store) -> None:
    base = store.revision
    for i in range(5):
        await store.create(f"/r/{i}", b"v")
    watch = await store.watch("/r/", base + 2)
    await store.create("/r/5", b"v")
    events = await _events(watch, 4)
    assert [e.revision for e in events] == [base + 3, base + 4, base + 5, base + 6]
    assert [e.kv.key for e in events] == ["/r/2", "/r/3", "/r/4", "/r/5"]
    watch.close()


async def test_compaction_expires_old_revisions_and_keeps_the_state(store: Store) -> None:
    base = store.revision
    a = await store.create("/c/a", b"1")
    a = await store.update("/c/a", b"2", a.mod_revision)
    await store.create("/c/b", b"1")
    await store.delete("/c/b")
    await store.compact(store.revision)
    assert store.compacted_revision >= base + 4
    with pytest.raises(CompactedError) as caught:
        await store.watch("/c/", base + 1)
    assert caught.value.requested == base + 1
    with pytest.raises(CompactedError):
        await store.list("/c/", revision=base + 1)
    listed = await store.list("/c/", revision=store.revision)
    assert [(kv.key, kv.value) for kv in listed.items] == [("/c/a", b"2")]
    # Watching from the compacted revision itself still works: it asks for what came after.
    watch = await store.watch("/c/", store.compacted_revision)
    await store.create("/c/c", b"1")
    (event,) = await _events(watch, 1)
    assert event.kv.key == "/c/c"
    watch.close()


async def test_progress_moves_with_events_and_a_closed_watch_ends(store: Store) -> None:
    start = store.revision
    watch = await store.watch("/p/", start)
    assert watch.progress() >= start
    kv = await store.create("/p/a", b"1")
    await _events(watch, 1)
    assert watch.progress() >= kv.mod_revision
    watch.close()
    with pytest.raises(WatchClosedError):
        await watch.next()
    watch.close()  # twice is fine


async def test_closing_the_store_ends_its_watches(store: Store) -> None:
    watch = await store.watch("/e/", store.revision)
    waiting = asyncio.ensure_future(watch.next())
    await asyncio.sleep(0.05)
    await store.close()
    with pytest.raises(WatchClosedError):
        await asyncio.wait_for(waiting, 5)
