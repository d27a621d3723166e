"""Giving the memory of a burst of connections back to the system once they are gone.

A TLS connection costs the server some tens of kilobytes, most of it allocated by OpenSSL and
the event loop through C's malloc. When a thousand connections close, glibc keeps what they
freed in its heap for later use rather than returning it: measured with bench/stalled_bench.py,
the API server's RSS went from 71 MB to 121 MB with 1,000 stalled connections and stayed at 121
MB after all of them had been dropped, with no object of theirs left alive. glibc's
`malloc_trim(0)` hands free pages back (83 MB then). Go's runtime does the same on its own (its
scavenger returns freed heap to the system in the background), which is why kube-apiserver's
memory comes back after such a burst.

`HeapTrimmer` calls it once connections have fallen to half their high-water mark, and by at
least `MIN_DROP`, and then no connection has closed for a second: a busy server's ordinary
churn never triggers it, the end of a burst does, once. Elsewhere than on glibc it does nothing.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable

from kubelite.apiserver import memory

log = logging.getLogger(__name__)

# How many connections must have gone since the high-water mark before a trim is worth it:
# below this the memory at stake is a few megabytes at most.
MIN_DROP = 100
# Connections stalled together time out together, over a second or a few: the trim waits until
# closes have stopped for this long, so that one trim follows a burst rather than one per close.
QUIET = 1.0
# ... but no longer than this after it was first due, should closes never stop.
MAX_WAIT = 10.0


def _malloc_trim() -> Callable[[], object] | None:
    """`memory.malloc_trim` where the C library has it (glibc), else None: nothing to trim."""
    return memory.malloc_trim if memory.has_malloc_trim() else None


class HeapTrimmer:
    """Counts open connections and trims the C heap once a burst of them has closed."""

    def __init__(
        self,
        trim: Callable[[], object] | None = None,
        *,
        min_drop: int = MIN_DROP,
        quiet: float = QUIET,
        max_wait: float = MAX_WAIT,
        on_trim: Callable[[], None] = lambda: None,
    ) -> None:
        self._trim = trim if trim is not None else _malloc_trim()
        self._on_trim = on_trim
        self._min_drop = min_drop
        self._quiet = quiet
        self._max_wait = max_wait
        self.open = 0
        # The most connections open at once since the last trim.
        self.high_water = 0
        self._due_since: float | None = None
        self._pending: asyncio.TimerHandle | None = None

    def opened(self) -> None:
        self.open += 1
        self.high_water = max(self.high_water, self.open)

    def closed(self) -> None:
        self.open -= 1
        if self._trim is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._due_since is None:
            if self.high_water - self.open < self._min_drop or self.open > self.high_water // 2:
                return
            self._due_since = now
        if self._pending is not None:
            self._pending.cancel()
        when = min(now + self._quiet, self._due_since + self._max_wait)
        self._pending = loop.call_at(when, self._run)

    def _run(self) -> None:
        self._pending = None
        self._due_since = None
        assert self._trim is not None
        # What the connections left in reference cycles (aiohttp's requests, tasks and
        # transports refer to one another) is freed by the collector, which a quiet server may
        # not run for a long time: collected first, so that its memory is trimmed too.
        gc.collect()
        self._trim()
        self._on_trim()
        log.debug("trimmed the heap: %d connections open of %d", self.open, self.high_water)
        self.high_water = self.open

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
