"""The watch every backend hands out: a queue of events its store fills and one client drains.

SQLite's watchers, etcd's and the watch cache's differ only in where their events come from
and in what they have seen when nothing is queued; how events wait, how a reader that stopped
reading is cut off and how a watch ends are the same, and are here.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import logging
from collections.abc import Callable

from kubelite.storage.interface import Event, Watch, WatchClosedError

log = logging.getLogger(__name__)

# A watcher this far behind (in events, or in bytes of values) is cut off (its client relists),
# as Kubernetes' cacher does. The events are shared with the window and other watchers, but a
# watcher whose client stopped reading keeps alive every event since, however large.
MAX_WATCHER_BACKLOG = 100_000
MAX_WATCHER_BACKLOG_BYTES = 256 << 20


def event_bytes(event: Event) -> int:
    """The bytes of values an event keeps alive (its previous value too, when that is not the
    same object, as it is for a delete)."""
    size = len(event.kv.value)
    prev = event.prev
    if prev is not None and prev.value is not event.kv.value:
        size += len(prev.value)
    return size


class QueuedWatch(Watch):
    """Events queued by the store for one reader, in revision order.

    `delivered` is the revision everything up to which the reader already has: a watch from
    revision r starts with r, since it only wants what comes after.
    """

    def __init__(self, prefix: str, delivered: int = 0) -> None:
        self.prefix = prefix
        self._queue: collections.deque[Event] = collections.deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._error: str | None = None
        self._closed = False
        self._delivered = delivered
        # Set by follow(): events go straight to it and are never queued.
        self._receive: Callable[[list[Event]], None] | None = None

    @abc.abstractmethod
    def _newest(self) -> int:
        """The newest revision the source has handed this watch everything up to."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Tell the source to stop filling this watch."""

    def _push(self, events: list[Event], size: int) -> None:
        """Queue `events` (with `size` bytes of values between them) for the reader."""
        if self._closed:
            return
        if self._receive is not None:
            self._hand(events)
            return
        self._queue.extend(events)
        self._queued_bytes += size
        if len(self._queue) > MAX_WATCHER_BACKLOG or self._queued_bytes > MAX_WATCHER_BACKLOG_BYTES:
            self._end("watcher fell too far behind")
            return
        self._wake()

    def follow(self, receive: Callable[[list[Event]], None]) -> bool:
        self._receive = receive
        if self._queue:
            self._hand(self._take_queued())
        return True

    def _hand(self, events: list[Event]) -> None:
        assert self._receive is not None
        try:
            self._receive(events)
        except Exception as exc:
            log.exception("a watch of %s failed to take its events", self.prefix)
            self._end(f"the watch's reader failed: {exc}")
            return
        self._delivered = events[-1].revision

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _end(self, reason: str) -> None:
        """End the watch; the reader's next() raises WatchClosedError with the first reason."""
        if self._error is None:
            self._error = reason
        self._queue.clear()
        self._queued_bytes = 0
        self.close()

    async def next(self) -> list[Event]:
        # Events stay queued until returned: a caller that times out loses none of them.
        while not self._queue:
            if self._closed:
                raise WatchClosedError(self._error or "watch closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        events = self._take_queued()
        self._delivered = events[-1].revision
        return events

    def _take_queued(self) -> list[Event]:
        events = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return events

    def progress(self) -> int:
        # With nothing queued, everything the source has seen under the prefix was handed over;
        # once ended, only what was (a batch its follower failed on, or a backlog cut off, was
        # not, though the source saw it).
        if self._queue or self._closed:
            return self._delivered
        return self._newest()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._release()
        self._wake()
