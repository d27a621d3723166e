"""The watch cache: each resource's objects and recent changes in memory, over any Store.

This is kubelite's counterpart of kube-apiserver's cacher (`storage/cacher/cacher.go`,
`watch_cache.go`, `cache_watcher.go`), a `Store` that decorates another as Kubernetes' Cacher
decorates the etcd3 store. Over etcd, every API server otherwise turns each informer's LIST into a
range read of the whole resource and each WATCH into a watch stream of its own; with the cache,
one list and ONE watch per resource feed every client of that API server.

Resources. A key is `/registry/<resource>/[<namespace>/]<name>` (`api/kinds.py`, `key_prefix`:
group resources too are `/registry/<plural>/`, and events.k8s.io shares `/registry/events/`), so
the resource prefix of any prefix is its first two path segments: `/registry/pods/default/` is
served by the cache of `/registry/pods/`. A prefix that is not within one resource
(`/registry/`, `/registry/po`, or anything outside `/registry/`) goes to the inner store.

A resource's cache is built on the first list or watch of it: one inner list at the newest
revision, then one inner watch from that revision. It keeps the newest value of each key, and a
window of the recent events bounded as the SQLite store bounds its own (the same constants and
reasons, `sqlite.py`), each bound holding *per resource*.

Reads.
- `list` at revision 0 is a consistent read (KEP-2340, "consistent reads from cache"): ask the
  inner store for its current revision, the way Kubernetes does (`GetCurrentResourceVersion-
  FromStorage`: a list with limit 1, or the inner store's `current_revision()` where it has one),
  wait until the cache has seen that revision, asking the inner store for watch progress every
  100 ms meanwhile (`request_progress`, etcd's WatchProgressRequest) so that an idle resource
  catches up without a write, and serve the page from memory. Past BLOCK_TIMEOUT (3 s, Kubernetes'
  blockTimeout) the list goes to the inner store, as Kubernetes' CacheDelegator falls back.
- `list` at an explicit revision (an exact read, a continue token) is served from memory when
  nothing of the resource changed between that revision and what the cache has seen, else by the
  inner store, which keeps history.
- `get` goes to the inner store, as Kubernetes serves a GET without resourceVersion from etcd;
  `count` comes from the cache once it is built.

Watches. A watch from a revision the window still covers replays from it and then follows; one
from further back is the inner store's (which replays from its history, or answers
CompactedError, a 410 "too old resource version"). Every watcher gets the very Event objects the
inner watch gave, so that `Event.memo` (the decoded object, its encodings) is shared by all of
them and made once (`apiserver/registry/generic.py`, `translate`). A watcher whose client stops
reading is cut off past a backlog bound, as Kubernetes' cacher closes an unresponsive watcher.

Failures. When the inner watch ends (WatchClosedError, CompactedError, the store unreachable), the
cache ends its watchers with WatchClosedError so that their clients relist, as Kubernetes'
`startCaching` terminates all watchers, then lists and watches again after RELIST_BACKOFF;
meanwhile lists go to the inner store.

Writes pass through; the cache learns of them from the watch, like every other change. It takes
the inner watch's events in the store's own callback (`Watch.follow`), so that a client's watch
waits for one turn of the event loop after the store has an event, not for two.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.storage.event_window import EventWindow, MemoKeeper
from kubelite.storage.interface import (
    DELETE,
    Event,
    KeyValue,
    ListResult,
    Store,
    Watch,
)
from kubelite.storage.sqlite import (
    EVENT_WINDOW,
    EXPIRY_INTERVAL,
    MEMO_BYTES,
    MEMO_EVENTS,
    MEMO_SECONDS,
    WINDOW_BYTES,
    prefix_end,
)
from kubelite.storage.watch_queue import QueuedWatch, event_bytes

log = logging.getLogger(__name__)

# Where every key lives; the path segment after it names the resource.
ROOT = "/registry/"
# How long a read waits for the cache to reach the revision it needs before it goes to the
# inner store (Kubernetes' blockTimeout, storage/cacher/watch_cache.go).
BLOCK_TIMEOUT = 3.0
# How often the inner store is asked for watch progress while a read waits (Kubernetes'
# progressRequestPeriod, storage/cacher/progress/watch_progress.go).
PROGRESS_REQUEST_PERIOD = 0.1
# How often a waiting read looks at the inner watch's progress, which a progress notification
# moves without delivering an event.
PROGRESS_POLL = 0.01
# The wait before listing and watching again after the inner watch ended: Kubernetes' cacher
# restarts its reflector every second (`wait.Until(..., time.Second, ...)` in cacher.go); here it
# doubles on each failure in a row, up to RELIST_BACKOFF_MAX, so that an unreachable store is not
# asked again every second by every resource.
RELIST_BACKOFF = 1.0
RELIST_BACKOFF_MAX = 30.0

ProgressRequester = Callable[[], Awaitable[None]]
RevisionReader = Callable[[], Awaitable[int]]


def resource_prefix(prefix: str) -> str | None:
    """The prefix of the one resource every key under `prefix` belongs to, or None.

    `/registry/pods/default/` -> `/registry/pods/`; `/registry/pods/` -> itself;
    `/registry/` and `/registry/po` -> None (keys of several resources).
    """
    if not prefix.startswith(ROOT):
        return None
    end = prefix.find("/", len(ROOT))
    if end <= len(ROOT):
        return None
    return prefix[: end + 1]


def _find(store: Store, name: str) -> Any:
    """`name` of `store` or of the first store it decorates (`.inner`) that has it: etcd's
    `request_progress` stays reachable through the encrypting store."""
    seen: Store | None = store
    while seen is not None:
        found = getattr(seen, name, None)
        if found is not None:
            return found
        seen = getattr(seen, "inner", None)
    return None


class _CacheWatch(QueuedWatch):
    """One client's watch: the resource cache's shared events under its prefix."""

    def __init__(self, cache: _ResourceCache, prefix: str) -> None:
        super().__init__(prefix)
        self._cache = cache

    def _newest(self) -> int:
        # Every event the cache has seen under the prefix.
        return self._cache.seen()

    def _release(self) -> None:
        self._cache.unregister(self)


class _ResourceCache:
    """The objects and recent events of one resource (Kubernetes' watchCache), kept by one
    inner list and watch (its reflector)."""

    def __init__(self, owner: CachedStore, prefix: str) -> None:
        self.owner = owner
        self.prefix = prefix
        self.ready = False
        # Every event of the resource up to here is applied (the list's revision at first).
        self.revision = 0
        self.live: dict[str, KeyValue] = {}
        self.keys: list[str] = []
        # Every event after `window.floor`, from the list's revision on.
        self.window = EventWindow()
        self.watchers: dict[str, set[_CacheWatch]] = {}
        self.inner_watch: Watch | None = None
        self._changed = asyncio.Event()
        self._last_progress_request = float("-inf")
        self.task = asyncio.create_task(self._run(), name=f"watch-cache {prefix}")

    # --- reflector ------------------------------------------------------------------------

    async def _run(self) -> None:
        owner = self.owner
        backoff = owner.relist_backoff
        while True:
            try:
                result = await owner.inner.list(self.prefix)
                owner.counters["inner_lists"] += 1
                watch = await owner.inner.watch(self.prefix, result.revision)
                owner.counters["inner_watches"] += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store failed, or is gone: try again later
                log.warning("watch cache %s: list and watch failed: %s", self.prefix, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RELIST_BACKOFF_MAX)
                continue
            backoff = owner.relist_backoff
            self._replace(result, watch)
            # The events are applied as the store hands them over, not one turn of the loop
            # later in this task: under load a turn takes milliseconds, and every client's
            # watch would wait for it.
            watch.follow(self._take)
            try:
                while True:  # with follow() on, only the end comes this way
                    self._take(await watch.next())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("watch cache %s: watch ended (%s); relisting", self.prefix, exc)
            finally:
                watch.close()
                self._reset("store closed" if owner.closed else "watch cache is reinitializing")
            await asyncio.sleep(backoff)

    def _replace(self, result: ListResult, watch: Watch) -> None:
        self.live = {kv.key: kv for kv in result.items}
        self.keys = [kv.key for kv in result.items]
        self.revision = self.window.floor = result.revision
        self.inner_watch = watch
        self.ready = True
        self._notify()

    def _reset(self, reason: str) -> None:
        """Forget everything and end every watcher: their clients relist, as Kubernetes'
        cacher terminates all watchers before it lists and watches again."""
        self.ready = False
        self.inner_watch = None
        self.live = {}
        self.keys = []
        self.window.clear()
        for watchers in builtins.list(self.watchers.values()):
            for w in builtins.list(watchers):
                w._end(reason)
        self._notify()

    def _take(self, events: builtins.list[Event]) -> None:
        """Apply events the inner watch hands over; should that fail, what is in memory may be
        no revision's state: nothing is served from it from then on (the watch ends, and the
        task resets the cache and lists again)."""
        try:
            self._apply(events)
        except Exception:
            self.ready = False
            raise

    def _apply(self, events: builtins.list[Event]) -> None:
        live, keys = self.live, self.keys
        for event in events:
            key = event.kv.key
            if event.type == DELETE:
                if live.pop(key, None) is not None:
                    del keys[bisect.bisect_left(keys, key)]
            else:
                if key not in live:
                    bisect.insort(keys, key)
                live[key] = event.kv
        self.revision = max(self.revision, events[-1].revision)
        size = sum(event_bytes(e) for e in events)
        now = time.monotonic()
        self.window.add(events, size, now, EVENT_WINDOW, WINDOW_BYTES)
        self.owner.memos.add(events, size, now, MEMO_EVENTS, MEMO_BYTES)
        self._dispatch(events, size)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- window -----------------------------------------------------------------------------

    def expire(self, now: float) -> None:
        self.window.expire(now)

    # --- reads ------------------------------------------------------------------------------

    def seen(self) -> int:
        """The revision the cache is complete up to: its last event's, or further when the
        inner watch reports progress past it (nothing of the resource changed since)."""
        watch = self.inner_watch
        if watch is None:
            return self.revision
        return max(self.revision, watch.progress())

    def can_serve(self, revision: int) -> bool:
        """Whether the state at `revision` is the state in memory: nothing of the resource
        changed between it and what the cache has seen."""
        return self.ready and self.revision <= revision <= self.seen()

    async def wait_fresh(self, revision: int, timeout: float) -> bool:
        """Wait until the cache is ready and has seen `revision`; False after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.ready and self.seen() >= revision):
            now = loop.time()
            if now >= deadline:
                return False
            if self.ready:
                await self._request_progress(now)
            changed = self._changed
            wait = min(deadline - now, PROGRESS_POLL if self.ready else deadline - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await changed.wait()
        return True

    async def _request_progress(self, now: float) -> None:
        request = self.owner.request_progress
        if request is None or now - self._last_progress_request < PROGRESS_REQUEST_PERIOD:
            return
        self._last_progress_request = now
        try:
            await request()
        except Exception as exc:  # the events (or the timeout) still move the wait along
            log.debug("watch cache %s: progress request failed: %s", self.prefix, exc)

    def page(self, prefix: str, start: str, limit: int, revision: int) -> ListResult:
        keys = self.keys
        lo = bisect.bisect_left(keys, max(prefix, start))
        hi = bisect.bisect_left(keys, prefix_end(prefix), lo)
        stop = min(hi, lo + limit) if limit > 0 else hi
        live = self.live
        return ListResult([live[k] for k in keys[lo:stop]], revision, stop < hi, hi - stop)

    def count(self, prefix: str) -> int:
        lo = bisect.bisect_left(self.keys, prefix)
        return bisect.bisect_left(self.keys, prefix_end(prefix), lo) - lo

    # --- watchers ---------------------------------------------------------------------------

    def add_watcher(self, prefix: str, revision: int) -> _CacheWatch:
        """A watcher of `prefix` from `revision` (which the window covers): history, then live."""
        w = _CacheWatch(self, prefix)
        window = self.window.events
        if window and window[-1].revision > revision:
            # The window is in revision order: skip what the watcher has, from the end.
            first = len(window)
            while first > 0 and window[first - 1].revision > revision:
                first -= 1
            history = [
                window[i] for i in range(first, len(window)) if window[i].kv.key.startswith(prefix)
            ]
            if history:
                w._push(history, sum(event_bytes(e) for e in history))
        self.watchers.setdefault(prefix, set()).add(w)
        return w

    def unregister(self, watch: _CacheWatch) -> None:
        watchers = self.watchers.get(watch.prefix)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self.watchers[watch.prefix]

    def _dispatch(self, events: builtins.list[Event], size: int) -> None:
        for prefix, watchers in builtins.list(self.watchers.items()):
            if prefix == self.prefix:
                matched, matched_size = events, size
            else:
                matched = [e for e in events if e.kv.key.startswith(prefix)]
                if not matched:
                    continue
                matched_size = sum(event_bytes(e) for e in matched)
            for w in builtins.list(watchers):
                w._push(matched, matched_size)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self._reset("store closed")


class CachedStore(Store):
    """`inner` with lists and watches of each resource served from memory.

    `request_progress` asks the inner store to have its watches report progress soon (etcd's
    WatchProgressRequest), `current_revision` reads the inner store's newest revision without
    lag; both default to methods of those names on `inner` or on a store it decorates
    (`.inner`), and the second to a list with limit 1, as Kubernetes reads it.

    `consistent_reads=False` is for an inner store whose watch progress cannot be trusted:
    etcd before 3.4.31 and 3.5.13, whose progress notification may run ahead of events not yet
    sent (etcd-io/etcd#15220), where Kubernetes turns consistent lists from cache off. Lists at
    the newest revision then go to the inner store; watches and lists at a given revision are
    still served from the cache, as Kubernetes' cacher serves them whatever etcd's version.
    """

    def __init__(
        self,
        inner: Store,
        *,
        request_progress: ProgressRequester | None = None,
        current_revision: RevisionReader | None = None,
        block_timeout: float = BLOCK_TIMEOUT,
        relist_backoff: float = RELIST_BACKOFF,
        consistent_reads: bool = True,
    ) -> None:
        self.inner = inner
        self.consistent_reads = consistent_reads
        self.request_progress: ProgressRequester | None = request_progress or _find(
            inner, "request_progress"
        )
        self._current_revision: RevisionReader | None = current_revision or _find(
            inner, "current_revision"
        )
        self.block_timeout = block_timeout
        self.relist_backoff = relist_backoff
        self._caches: dict[str, _ResourceCache] = {}
        # Resource prefix -> the newest revision this store wrote a key of it at.
        self._writes: dict[str, int] = {}
        self._expiry_task: asyncio.Task[None] | None = None
        # The newest events whose memo is kept, across resources (see sqlite.py's MEMO_*).
        self.memos = MemoKeeper()
        self.closed = False
        self.counters = {
            "inner_lists": 0,
            "inner_watches": 0,
            "cache_lists": 0,
            "list_fallbacks": 0,
            "cache_watches": 0,
            "watch_fallbacks": 0,
        }

    def stats(self) -> dict[str, int]:
        """What the cache did so far: inner lists and watches made, reads served from memory
        and passed to the inner store, and resources cached."""
        return {**self.counters, "resources": len(self._caches)}

    def _cache(self, prefix: str) -> _ResourceCache | None:
        """The cache of the resource `prefix` is within, built on first use; None for a
        prefix of several resources, or once closed."""
        if self.closed:
            return None
        resource = resource_prefix(prefix)
        if resource is None:
            return None
        cache = self._caches.get(resource)
        if cache is None:
            cache = self._caches[resource] = _ResourceCache(self, resource)
            if self._expiry_task is None:
                self._expiry_task = asyncio.create_task(self._expiry_loop(), name="watch-cache")
        return cache

    async def _inner_revision(self, resource: str) -> int:
        if self._current_revision is not None:
            return await self._current_revision()
        # Kubernetes' GetCurrentResourceVersionFromStorage: a list with limit 1 reads the
        # store's current revision (etcd's response header), where a cached figure could lag.
        return (await self.inner.list(resource, limit=1)).revision

    # --- memos ------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> None:
        """Let go of window events and memos past their age (as SqliteStore.expire)."""
        now = time.monotonic() if now is None else now
        for cache in self._caches.values():
            cache.expire(now)
        self.memos.expire(now, MEMO_SECONDS)

    async def _expiry_loop(self) -> None:
        while True:
            await asyncio.sleep(EXPIRY_INTERVAL)
            self.expire()

    # --- Store ------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self.inner.revision

    @property
    def compacted_revision(self) -> int:
        return self.inner.compacted_revision

    async def get(self, key: str) -> KeyValue | None:
        return await self.inner.get(key)

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        start: str = "",
        limit: int = 0,
    ) -> ListResult:
        cache = self._cache(prefix)
        if cache is not None:
            if revision:
                if cache.can_serve(revision):
                    self.counters["cache_lists"] += 1
                    return cache.page(prefix, start, limit, revision)
            elif self.consistent_reads:
                wanted = await self._inner_revision(cache.prefix)
                if await cache.wait_fresh(wanted, self.block_timeout):
                    self.counters["cache_lists"] += 1
                    return cache.page(prefix, start, limit, cache.seen())
            self.counters["list_fallbacks"] += 1
        return await self.inner.list(prefix, revision=revision, start=start, limit=limit)

    async def list_stale(self, prefix: str, *, start: str = "", limit: int = 0) -> ListResult:
        """resourceVersion "0": from memory, without asking the inner store its current
        revision (Kubernetes' cacher does the same); only this store's own writes to the
        resource are waited for, so that a client reads what it wrote through this server."""
        cache = self._cache(prefix)
        if cache is not None and await cache.wait_fresh(self._written(cache), self.block_timeout):
            self.counters["cache_lists"] += 1
            return cache.page(prefix, start, limit, cache.seen())
        return await self.list(prefix, start=start, limit=limit)

    async def get_stale(self, key: str) -> KeyValue | None:
        """From memory, as list_stale reads."""
        cache = self._cache(key)
        if cache is not None and await cache.wait_fresh(self._written(cache), self.block_timeout):
            return cache.live.get(key)
        return await self.inner.get(key)

    def _written(self, cache: _ResourceCache) -> int:
        return self._writes.get(cache.prefix, 0)

    def _wrote(self, kv: KeyValue) -> KeyValue:
        """Remember the newest revision this store wrote each resource at."""
        resource = resource_prefix(kv.key)
        if resource is not None and kv.mod_revision > self._writes.get(resource, 0):
            self._writes[resource] = kv.mod_revision
        return kv

    async def count(self, prefix: str) -> int:
        cache = self._cache(prefix)
        if cache is not None and cache.ready:
            return cache.count(prefix)
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> KeyValue:
        return self._wrote(await self.inner.create(key, value))

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        return self._wrote(await self.inner.update(key, value, expected_revision))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return self._wrote(await self.inner.delete(key, expected_revision))

    async def watch(self, prefix: str, revision: int) -> Watch:
        cache = self._cache(prefix)
        # A revision the cache has not seen yet (a write of this client's, not yet come back
        # through the watch) is waited for, as Kubernetes' cacher does; past the wait the inner
        # store answers, FutureRevisionError if it is newer than anything written.
        if cache is not None:
            if revision > cache.seen() and revision > await self._inner_revision(cache.prefix):
                # Newer than anything the store has written: no server handed it out, and no
                # wait would make it valid. The inner store says so at once (504), where
                # Kubernetes' cacher spends its whole 3 s block first.
                self.counters["watch_fallbacks"] += 1
                return await self.inner.watch(prefix, revision)
            fresh = await cache.wait_fresh(revision, self.block_timeout)
            # From before the window: the inner store replays its history, or answers 410.
            if fresh and revision >= cache.window.floor:
                self.counters["cache_watches"] += 1
                return cache.add_watcher(prefix, revision)
            self.counters["watch_fallbacks"] += 1
        return await self.inner.watch(prefix, revision)

    async def compact(self, revision: int) -> None:
        """Compact the inner store, and let the windows go up to where it is compacted: a watch
        from a compacted revision is 410 Gone, as on the SQLite store. (Kubernetes' watch
        cache keeps its window past etcd's compaction; with several API servers, those that
        did not compact still keep theirs.)"""
        await self.inner.compact(revision)
        compacted = self.inner.compacted_revision
        for cache in self._caches.values():
            cache.window.drop_through(compacted)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry_task
        for cache in builtins.list(self._caches.values()):
            await cache.close()
        self._caches.clear()
        await self.inner.close()
