"""A work queue of object keys, as client-go's rate-limited workqueue behaves.

A key is queued at most once however often it is added (bursts collapse); a key being worked on
is not handed to a second worker, and if it is added meanwhile it comes back once the first is
done. A failed key is retried after a per-key exponential back-off (client-go's
ItemExponentialFailureRateLimiter: 5 ms doubling to 1000 s), which `forget` resets.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

from kubelite.client import workqueue_metrics
from kubelite.client.errors import APIConnectionError, APIError

log = logging.getLogger(__name__)

BASE_DELAY = 0.005
MAX_DELAY = 1000.0


class RetryLater(Exception):
    """Raised by a sync that could not finish for a reason that may pass (a write refused,
    a dependency missing): the key comes back after the queue's back-off, which grows with
    each consecutive failure and resets on success."""


class WorkQueue:
    """The keys of objects waiting for a controller's sync: one place where bursts of events
    collapse, one key is never synced twice at once, and failures are retried with back-off.

    `name` labels the queue's metrics (client-go's named queues); unnamed queues have none."""

    def __init__(
        self, name: str = "", base_delay: float = BASE_DELAY, max_delay: float = MAX_DELAY
    ) -> None:
        self.name = name
        # Monotonic times: when each queued key was added, when each key in work started.
        self._added_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}
        provider = workqueue_metrics.provider() if name else None
        self._metrics = provider
        if provider is not None:
            provider.scraped.queues.add(self)
        self._queue: collections.deque[str] = collections.deque()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._ready = asyncio.Event()
        self._base = base_delay
        self._max = max_delay

    def add(self, key: str) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        if key in self._queued:
            return
        self._queued.add(key)
        self._queue.append(key)
        if self._metrics is not None:
            self._metrics.adds.labels(self.name).inc()
            self._added_at[key] = time.monotonic()
        self._ready.set()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: str) -> None:
        self._timers.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        """Retry later, each failure of the key doubling the wait."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if self._metrics is not None:
            self._metrics.retries.labels(self.name).inc()
        self.add_after(key, min(self._base * (2**failures), self._max))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    async def get(self) -> str:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        if self._metrics is not None:
            now = time.monotonic()
            added = self._added_at.pop(key, now)
            self._metrics.queue_duration.labels(self.name).observe(now - added)
            self._started_at[key] = now
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if self._metrics is not None:
            started = self._started_at.pop(key, None)
            if started is not None:
                self._metrics.work_duration.labels(self.name).observe(time.monotonic() - started)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def __len__(self) -> int:
        return len(self._queue)

    def depth(self) -> int:
        return len(self._queue)

    def processing_since(self) -> list[float]:
        return list(self._started_at.values())

    def shut_down(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


async def process(
    queue: WorkQueue,
    sync: Callable[[str], Awaitable[float | None]],
    *,
    what: str,
    describe: Callable[[str], str] = str,
) -> None:
    """One worker of a controller: take keys from `queue` and `sync` them, forever.

    client-go's processNextWorkItem: a failed request to the API (refused now, allowed later)
    puts the key back with back-off; any other exception is a bug, not the cluster's state,
    so it is logged and the key forgotten rather than retried the same way for ever, and the
    worker goes on. `sync` may return a delay after which the key is looked at again.
    """
    while True:
        key = await queue.get()
        try:
            again = await sync(key)
        except (APIError, APIConnectionError, OSError, RetryLater) as e:
            log.warning("%s %s: %s; will retry", what, describe(key), e)
            queue.add_rate_limited(key)
        except Exception:
            log.exception("%s %s: sync failed", what, describe(key))
            queue.forget(key)
        else:
            queue.forget(key)
            if again is not None:
                queue.add_after(key, again)
        finally:
            queue.done(key)
