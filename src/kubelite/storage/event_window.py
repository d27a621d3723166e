"""Recent events held in memory, and the memos of the newest: what the SQLite store and the
watch cache both keep, bounded the same way.

The window lets a watch that resumes from a recent revision replay from memory; it is bounded
by a number of events and of bytes, and shrinks back once its events are old (as Kubernetes'
watch cache does: cacher/watch_cache.go). The memo keeper bounds how many events keep their
memo (the decoded object and the encodings watchers share).

Bounds are passed at each call, so that a store reads its own module's settings every time.
"""

from __future__ import annotations

import collections

from kubelite.storage.interface import Event
from kubelite.storage.watch_queue import event_bytes

# Events older than this leave the window once it holds more than WINDOW_FLOOR of them or more
# than WINDOW_FLOOR_BYTES, as Kubernetes' watch cache shrinks back to 100 events once its
# events are older than 75 s (eventFreshDuration, defaultLowerBoundCapacity): what a burst of
# writes brought in is let go once the burst is over, not when later writes push it out.
WINDOW_FRESH_SECONDS = 75.0
WINDOW_FLOOR = 100
WINDOW_FLOOR_BYTES = 4 << 20


class _Forgotten(dict[str, object]):
    """The memo of an event past the memo bounds: it keeps nothing put in it.

    Clearing the memo is not enough: the event stays in the window, and every watcher that
    replays it from there would fill the memo again, for as long as the window holds it.
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: object) -> None:
        pass


FORGOTTEN = _Forgotten()


class _TimedEvents:
    """Events oldest first, with when each came and the bytes of values they hold."""

    __slots__ = ("bytes", "events", "times")

    def __init__(self) -> None:
        self.events: collections.deque[Event] = collections.deque()
        self.times: collections.deque[float] = collections.deque()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.events)

    def add(self, events: list[Event], size: int, now: float, most: int, most_bytes: int) -> None:
        """Append `events` (`size` bytes of values), then let the oldest go past `most` events
        or `most_bytes`; the newest one always stays."""
        self.events.extend(events)
        self.times.extend([now] * len(events))
        self.bytes += size
        while len(self.events) > most or (self.bytes > most_bytes and len(self.events) > 1):
            self.drop_oldest()

    def drop_oldest(self) -> None:
        event = self.events.popleft()
        self.times.popleft()
        self.bytes -= event_bytes(event)
        self._let_go(event)

    def _let_go(self, event: Event) -> None:
        """What leaving means for an event."""

    def clear(self) -> None:
        self.events.clear()
        self.times.clear()
        self.bytes = 0


class EventWindow(_TimedEvents):
    """The recent events a watch from a recent revision replays."""

    __slots__ = ("floor",)

    def __init__(self) -> None:
        super().__init__()
        # Every event after this revision that was ever added is still here.
        self.floor = 0

    def _let_go(self, event: Event) -> None:
        self.floor = event.revision

    def drop_through(self, revision: int) -> None:
        """Let go of the events at and below `revision` (compacted away)."""
        while self.events and self.events[0].revision <= revision:
            self.drop_oldest()

    def expire(self, now: float) -> None:
        """Shrink back to the floor once the oldest events are past WINDOW_FRESH_SECONDS."""
        times = self.times
        while (
            times
            and now - times[0] > WINDOW_FRESH_SECONDS
            and (len(times) > WINDOW_FLOOR or self.bytes > WINDOW_FLOOR_BYTES)
        ):
            self.drop_oldest()


class MemoKeeper(_TimedEvents):
    """The newest events, which keep their memo; the others have it replaced by FORGOTTEN."""

    __slots__ = ()

    def _let_go(self, event: Event) -> None:
        event.memo = FORGOTTEN

    def expire(self, now: float, max_age: float) -> None:
        while self.times and now - self.times[0] > max_age:
            self.drop_oldest()
