"""The watch cache (`kubelite.storage.cacher`) over a real SQLite store.

`InnerDouble` wraps the SqliteStore to count the watches it opens, end them, hold their events
back, or report progress only when asked (as etcd's watches do): the only fake here.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kubelite.storage import cacher, watch_queue
from kubelite.storage.cacher import CachedStore, resource_prefix
from kubelite.storage.interface import (
    CREATE,
    CompactedError,
    Event,
    FutureRevisionError,
    KeyValue,
    ListResult,
    Store,
    Watch,
    WatchClosedError,
)
from kubelite.storage.sqlite import SqliteStore

PODS = "/registry/pods/"
TIMEOUT = 5.0


class _DoubleWatch(Watch):
    def __init__(self, store: InnerDouble, inner: Watch) -> None:
        self.store = store
        self.inner = inner
        # What progress() reports: what was delivered, or more once progress was requested.
        self.reported = 0
        self.busy = False

    async def next(self) -> list[Event]:
        events = await self.inner.next()
        if self.store.delay:
            self.busy = True
            try:
                await asyncio.sleep(self.store.delay)
            finally:
                self.busy = False
        self.reported = max(self.reported, events[-1].revision)
        return events

    def progress(self) -> int:
        # Events held back are not delivered: progress stays below them, as the contract says.
        if self.store.lagging_progress or self.busy:
            return self.reported
        return self.inner.progress()

    def close(self) -> None:
        self.inner.close()


class InnerDouble(Store):
    """A SqliteStore whose watches can be counted, ended, delayed and made to lag."""

    def __init__(self, inner: SqliteStore) -> None:
        self.inner = inner
        self.watches: list[_DoubleWatch] = []
        self.delay = 0.0
        self.lagging_progress = False

    @property
    def revision(self) -> int:
        return self.inner.revision

    @property
    def compacted_revision(self) -> int:
        return self.inner.compacted_revision

    async def get(self, key: str) -> KeyValue | None:
        return await self.inner.get(key)

    async def list(
        self, prefix: str, *, revision: int = 0, start: str = "", limit: int = 0
    ) -> ListResult:
        return await self.inner.list(prefix, revision=revision, start=start, limit=limit)

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self.inner.create(key, value)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        return await self.inner.update(key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self.inner.delete(key, expected_revision)

    async def watch(self, prefix: str, revision: int) -> Watch:
        w = _DoubleWatch(self, await self.inner.watch(prefix, revision))
        self.watches.append(w)
        return w

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()

    def end_watches(self) -> None:
        for w in self.watches:
            w.close()


class ProgressingDouble(InnerDouble):
    """An InnerDouble with etcd's WatchProgressRequest: idle watches catch up when asked."""

    def __init__(self, inner: SqliteStore) -> None:
        super().__init__(inner)
        self.progress_requests = 0

    async def request_progress(self) -> None:
        self.progress_requests += 1
        for w in self.watches:
            if not w.busy:
                w.reported = max(w.reported, w.inner.progress())


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "state.db")
    yield s
    await s.close()


@pytest.fixture
async def double(sqlite: SqliteStore) -> InnerDouble:
    return InnerDouble(sqlite)


@pytest.fixture
async def cached(double: InnerDouble) -> AsyncIterator[CachedStore]:
    store = CachedStore(double, relist_backoff=0.05)
    yield store
    await store.close()


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


async def collect(w: Watch, upto: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(TIMEOUT):
        while not events or events[-1].revision < upto:
            events += await w.next()
    return events


def shape(result: ListResult) -> tuple[object, ...]:
    return ([(kv.key, kv.value, kv.create_revision, kv.mod_revision) for kv in result.items],
            result.revision, result.more, result.remaining)  # fmt: skip


def event_shape(events: builtins.list[Event]) -> builtins.list[tuple[object, ...]]:
    return [(e.type, e.kv.key, e.kv.value, e.revision, e.prev) for e in events]


async def all_pages(store: Store, prefix: str, limit: int) -> list[tuple[object, ...]]:
    pages = []
    result = await store.list(prefix, limit=limit)
    pages.append(shape(result))
    while result.more:
        start = result.items[-1].key + "\x00"
        result = await store.list(prefix, revision=result.revision, start=start, limit=limit)
        pages.append(shape(result))
    return pages


@pytest.mark.parametrize(
    ("prefix", "resource"),
    [
        ("/registry/pods/", "/registry/pods/"),
        ("/registry/pods/default/", "/registry/pods/"),
        ("/registry/pods/def", "/registry/pods/"),
        ("/registry/deployments/kube-system/", "/registry/deployments/"),
        ("/registry/", None),
        ("/registry/po", None),
        ("/other/pods/", None),
    ],
)
def test_the_resource_of_a_prefix_is_its_first_two_segments(
    prefix: str, resource: str | None
) -> None:
    assert resource_prefix(prefix) == resource


async def test_lists_equal_the_inner_stores_at_every_point(
    cached: CachedStore, sqlite: SqliteStore
) -> None:
    prefixes = [PODS, PODS + "a/", PODS + "b/", "/registry/minions/", "/registry/"]

    async def same() -> None:
        for prefix in prefixes:
            assert shape(await cached.list(prefix)) == shape(await sqlite.list(prefix)), prefix
            for limit in (1, 3):
                cached_pages = await all_pages(cached, prefix, limit)
                assert cached_pages == await all_pages(sqlite, prefix, limit), (prefix, limit)
            assert await cached.count(prefix) == await sqlite.count(prefix)

    await same()
    for i in range(12):
        await cached.create(f"{PODS}{'ab'[i % 2]}/p{i:02}", b"v%d" % i)
        await cached.create(f"/registry/minions/n{i}", b"n")
        await same()
    kv = await cached.update(f"{PODS}a/p04", b"new", 0)
    await cached.delete(f"{PODS}b/p05")
    await cached.delete("/registry/minions/n3")
    await same()
    assert kv.value == b"new"
    # A continue token from before a write reads the past, from the inner store's history.
    first = await cached.list(PODS, limit=4)
    await cached.create(f"{PODS}a/p00a", b"between")
    rest = await cached.list(
        PODS, revision=first.revision, start=first.items[-1].key + "\x00", limit=4
    )
    inner_rest = await sqlite.list(
        PODS, revision=first.revision, start=first.items[-1].key + "\x00", limit=4
    )
    assert shape(rest) == shape(inner_rest)
    stats = cached.stats()
    assert stats["inner_watches"] == 2  # pods and minions; "/registry/" is not cached
    assert stats["cache_lists"] > 100
    assert stats["list_fallbacks"] == 1  # the continue token from before the write


async def test_a_watch_from_a_revision_in_the_window_replays_exactly(
    cached: CachedStore, sqlite: SqliteStore, double: InnerDouble
) -> None:
    await cached.list(PODS)  # builds the cache
    middle = 0
    for i in range(10):
        kv = await cached.create(f"{PODS}ns/p{i}", b"v")
        await cached.update(kv.key, b"w", kv.mod_revision)
        await cached.create(f"/registry/minions/n{i}", b"n")
        if i == 4:
            middle = sqlite.revision
    await cached.delete(f"{PODS}ns/p2")
    end = sqlite.revision
    for prefix in (PODS, PODS + "ns/"):
        got = await collect(await cached.watch(prefix, middle), end)
        want = await collect(await sqlite.watch(prefix, middle), end)
        assert event_shape(got) == event_shape(want)
        assert got[0].revision > middle
    # Served from the window: the only inner watch is the cache's own.
    assert len(double.watches) == 1
    assert cached.stats()["cache_watches"] == 2


async def test_a_hundred_watchers_make_one_inner_watch_and_share_events(
    cached: CachedStore, double: InnerDouble
) -> None:
    revision = (await cached.list(PODS)).revision
    watchers = await asyncio.gather(
        *(cached.watch(PODS if i % 2 else f"{PODS}ns/", revision) for i in range(100))
    )
    kv = await cached.create(f"{PODS}ns/web", b"pod")
    batches = await asyncio.gather(*(collect(w, kv.mod_revision) for w in watchers))
    assert len(double.watches) == 1
    assert cached.stats()["inner_watches"] == 1
    # One Event object for all: its memo (decoded object, encodings) is made once.
    assert len({id(b[0]) for b in batches}) == 1
    batches[0][0].memo["decoded"] = "once"
    assert all(b[0].memo.get("decoded") == "once" for b in batches)


async def test_the_cache_takes_the_stores_events_in_the_stores_own_callback(
    sqlite: SqliteStore,
) -> None:
    """Not a turn of the event loop later in the cache's task: under load a turn takes
    milliseconds, and every client's watch would wait for it."""
    store = CachedStore(sqlite)
    try:
        await store.list(PODS)
        cache = store._caches[PODS]
        w = await store.watch(PODS, cache.revision)
        inner = cache.inner_watch
        assert isinstance(inner, watch_queue.QueuedWatch)
        revision = sqlite.revision + 1
        event = Event(CREATE, KeyValue(f"{PODS}ns/web", b"pod", revision, revision), None)
        # As the store hands an event over (SQLite as it commits, etcd as its stream is read):
        inner._push([event], watch_queue.event_bytes(event))
        assert cache.revision == revision
        assert cache.live[event.kv.key] is event.kv
        assert await asyncio.wait_for(w.next(), TIMEOUT) == [event]
    finally:
        await store.close()


async def test_a_consistent_list_right_after_a_write_sees_it(
    cached: CachedStore, double: InnerDouble
) -> None:
    await cached.list(PODS)
    # The inner watch brings each change 50 ms after it is written, and reports no progress
    # beyond what it delivered: only waiting for the written revision finds the write.
    double.delay = 0.05
    double.lagging_progress = True
    for i in range(5):
        kv = await cached.create(f"{PODS}ns/p{i}", b"v")
        result = await cached.list(PODS + "ns/")
        assert result.revision >= kv.mod_revision
        assert [item.key for item in result.items][-1] == kv.key
    assert cached.stats()["list_fallbacks"] == 0


async def test_an_idle_resource_catches_up_by_requesting_progress(sqlite: SqliteStore) -> None:
    double = ProgressingDouble(sqlite)
    double.lagging_progress = True
    store = CachedStore(double)
    try:
        await store.create(f"{PODS}ns/p", b"v")
        await store.list(PODS)
        # Writes elsewhere move the store's revision; nothing of pods comes down their watch.
        for i in range(3):
            await store.create(f"/registry/minions/n{i}", b"n")
        result = await store.list(PODS)
        assert result.revision == sqlite.revision
        assert double.progress_requests >= 1
        assert store.stats()["list_fallbacks"] == 0
    finally:
        await store.close()


async def test_a_list_falls_back_to_the_inner_store_when_the_cache_lags(
    sqlite: SqliteStore,
) -> None:
    double = InnerDouble(sqlite)
    store = CachedStore(double, block_timeout=0.2)
    try:
        await store.list(PODS)
        double.delay = 30.0  # the inner watch stalls
        await store.create(f"{PODS}ns/p", b"v")
        result = await store.list(PODS)
        assert shape(result) == shape(await sqlite.list(PODS))
        assert store.stats()["list_fallbacks"] == 1
    finally:
        await store.close()


async def test_a_watch_from_a_revision_never_written_is_refused_without_the_block(
    double: InnerDouble,
) -> None:
    # A block of 60 s: the refusal must not wait for it, since no wait makes such a
    # revision valid (the fuzz test sent many, each one spent 3 s on etcd).
    store = CachedStore(double, block_timeout=60.0)
    try:
        revision = (await store.list(PODS)).revision
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(FutureRevisionError):
                await store.watch(PODS, revision + 1000)
    finally:
        await store.close()


async def test_a_watcher_that_never_reads_is_cut_off(
    cached: CachedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_queue, "MAX_WATCHER_BACKLOG", 10)
    revision = (await cached.list(PODS)).revision
    idle = await cached.watch(PODS, revision)
    reader = await cached.watch(PODS, revision)
    events: list[Event] = []
    for i in range(20):
        kv = await cached.create(f"{PODS}ns/p{i}", b"v")
        events += await collect(reader, kv.mod_revision)
    assert len(events) == 20
    with pytest.raises(WatchClosedError, match="too far behind"):
        await idle.next()


async def test_the_inner_watch_ending_makes_the_cache_relist_and_end_its_watchers(
    cached: CachedStore, double: InnerDouble
) -> None:
    revision = (await cached.list(PODS)).revision
    w = await cached.watch(PODS, revision)
    double.end_watches()
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(WatchClosedError):
            while True:
                await w.next()
    await until(lambda: cached.stats()["inner_lists"] == 2, "the cache lists again")
    await until(lambda: len(double.watches) == 2, "the cache watches again")
    # The new watch follows: a write after it is in the cache's lists and watches.
    revision = (await cached.list(PODS)).revision
    fresh = await cached.watch(PODS, revision)
    kv = await cached.create(f"{PODS}ns/after", b"v")
    assert [e.kv.key for e in await collect(fresh, kv.mod_revision)] == [kv.key]
    assert [item.key for item in (await cached.list(PODS)).items] == [kv.key]
    assert len(double.watches) == 2


async def test_revisions_older_than_the_window_come_from_the_inner_store_or_are_gone(
    cached: CachedStore, sqlite: SqliteStore, double: InnerDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cacher, "EVENT_WINDOW", 5)
    start = (await cached.list(PODS)).revision
    for i in range(20):
        await cached.create(f"{PODS}ns/p{i}", b"v")
    end = sqlite.revision
    # Before the window, not compacted: the inner store replays its history.
    got = await collect(await cached.watch(PODS, start + 2), end)
    assert [e.revision for e in got] == builtins.list(range(start + 3, end + 1))
    assert len(double.watches) == 2
    await cached.compact(end - 3)
    with pytest.raises(CompactedError):
        await cached.watch(PODS, start + 2)
    with pytest.raises(CompactedError):
        await cached.list(PODS, revision=start + 2)
    # Inside the window, the cache still answers.
    got = await collect(await cached.watch(PODS, end - 2), end)
    assert [e.revision for e in got] == [end - 1, end]


async def test_close_ends_the_cache_watchers_and_the_inner_store(
    double: InnerDouble, sqlite: SqliteStore
) -> None:
    store = CachedStore(double)
    revision = (await store.list(PODS)).revision
    w = await store.watch(PODS, revision)
    await store.close()
    with pytest.raises(WatchClosedError, match="closed"):
        await w.next()
    assert sqlite._closed


async def test_bookmarks_carry_the_cache_revision(cached: CachedStore, sqlite: SqliteStore) -> None:
    revision = (await cached.list(PODS)).revision
    w = await cached.watch(PODS, revision)
    await cached.create("/registry/minions/n", b"n")
    # Nothing of pods changed: the watcher has everything up to the store's revision.
    await until(lambda: w.progress() == sqlite.revision, "progress reaches the revision")


async def test_without_consistent_reads_newest_lists_go_to_the_inner_store(
    double: InnerDouble,
) -> None:
    store = CachedStore(double, consistent_reads=False)
    try:
        await store.create(f"{PODS}ns/p", b"v")
        first = await store.list(PODS, limit=1)
        assert store.stats()["list_fallbacks"] == 1
        await until(lambda: store.stats()["inner_watches"] == 1, "the cache is built")
        await until(lambda: store._caches[PODS].ready, "the cache is ready")
        # A continue page at a revision the cache holds is still served from memory.
        page = await store.list(PODS, revision=first.revision, start=f"{PODS}ns/p\x00", limit=1)
        assert (page.items, page.more) == ([], False)
        assert store.stats()["cache_lists"] == 1
    finally:
        await store.close()


# --- the same over both backends: SQLite, and a real etcd (tests/etcd_server.py) -------------


@pytest.fixture(params=["sqlite", "etcd"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The inner store; the CachedStore over it closes it."""
    if request.param == "sqlite":
        yield await SqliteStore.open(tmp_path / "state.db")
        return
    from kubelite.storage.etcd import EtcdStore

    server = request.getfixturevalue("etcd_server")
    yield await EtcdStore.open([server.endpoint])


async def test_over_each_backend_lists_and_pages_equal_the_inner_stores(backend: Store) -> None:
    store = CachedStore(backend)
    try:
        for i in range(7):
            await store.create(f"{PODS}{'ab'[i % 2]}/p{i}", b"v%d" % i)
            await store.create(f"/registry/leases/l{i}", b"l")
            for prefix in (PODS, PODS + "a/"):
                assert shape(await store.list(prefix)) == shape(await backend.list(prefix))
                assert await all_pages(store, prefix, 2) == await all_pages(backend, prefix, 2)
        assert store.stats()["list_fallbacks"] == 0
        assert store.stats()["inner_watches"] == 1
    finally:
        await store.close()


async def test_over_each_backend_a_consistent_list_sees_the_last_write(backend: Store) -> None:
    store = CachedStore(backend)
    try:
        await store.list(PODS)
        for i in range(5):
            kv = await store.create(f"{PODS}ns/p{i}", b"v")
            result = await store.list(PODS)
            assert result.items[-1].key == kv.key
            assert result.revision >= kv.mod_revision
            # Another resource's write moves the revision; pods catch up by progress alone.
            lease = await store.create(f"/registry/leases/l{i}", b"l")
            assert (await store.list(PODS)).revision >= lease.mod_revision
        assert store.stats()["list_fallbacks"] == 0
    finally:
        await store.close()


async def test_over_each_backend_watchers_share_one_inner_watch_and_replay_the_window(
    backend: Store,
) -> None:
    store = CachedStore(backend)
    try:
        start = (await store.list(PODS)).revision
        keys = []
        for i in range(5):
            keys.append((await store.create(f"{PODS}ns/p{i}", b"v")).key)
        end = (await store.list(PODS)).revision
        watchers = await asyncio.gather(*(store.watch(PODS, start) for _ in range(20)))
        batches = await asyncio.gather(*(collect(w, end) for w in watchers))
        assert all([e.kv.key for e in b] == keys for b in batches)
        assert store.stats()["inner_watches"] == 1
        assert store.stats()["watch_fallbacks"] == 0
    finally:
        await store.close()


async def test_over_each_backend_a_compacted_revision_is_gone(
    backend: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cacher, "EVENT_WINDOW", 2)
    store = CachedStore(backend)
    try:
        start = (await store.list(PODS)).revision
        for i in range(6):
            await store.create(f"{PODS}ns/p{i}", b"v")
        end = (await store.list(PODS)).revision
        await store.compact(end - 1)
        with pytest.raises(CompactedError):
            await store.watch(PODS, start + 1)
        with pytest.raises(CompactedError):
            await store.list(PODS, revision=start + 1)
    finally:
        await store.close()


async def test_stale_reads_come_from_memory_and_see_this_stores_own_writes(
    cached: CachedStore, double: InnerDouble
) -> None:
    await cached.list(PODS)
    inner_gets = 0
    real_get = double.get

    async def counting_get(key: str) -> KeyValue | None:
        nonlocal inner_gets
        inner_gets += 1
        return await real_get(key)

    double.get = counting_get  # type: ignore[method-assign]
    # The inner watch brings each change 50 ms late and reports no progress past it: only
    # waiting for this store's own write finds it.
    double.delay = 0.05
    double.lagging_progress = True
    for i in range(3):
        kv = await cached.create(f"{PODS}ns/p{i}", b"v")
        assert await cached.get_stale(kv.key) == kv
        listed = await cached.list_stale(PODS + "ns/")
        assert [item.key for item in listed.items][-1] == kv.key
    deleted = await cached.delete(f"{PODS}ns/p0")
    assert deleted.key == f"{PODS}ns/p0"
    assert await cached.get_stale(f"{PODS}ns/p0") is None
    assert inner_gets == 0


async def test_a_cache_that_fails_to_apply_events_stops_serving_at_once_and_relists(
    sqlite: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CachedStore(sqlite, relist_backoff=0.05)
    try:
        await store.list(PODS)
        cache = store._caches[PODS]
        w = await store.watch(PODS, cache.revision)

        def broken(events: builtins.list[Event]) -> None:
            raise RuntimeError("no room")

        monkeypatch.setattr(cache, "_apply", broken)
        kv = await sqlite.create(f"{PODS}ns/web", b"pod")
        # In the write's own callback: memory is not served from any more.
        assert not cache.ready
        assert not cache.can_serve(kv.mod_revision)
        with pytest.raises(WatchClosedError):
            await asyncio.wait_for(w.next(), TIMEOUT)
        monkeypatch.undo()
        await until(lambda: cache.ready, "the cache listed again")
        lists = store.stats()["cache_lists"]
        assert [item.key for item in (await store.list(PODS)).items] == [kv.key]
        assert store.stats()["cache_lists"] == lists + 1
    finally:
        await store.close()
