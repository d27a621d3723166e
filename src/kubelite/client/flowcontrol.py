"""Exponential back-off per key: client-go's `flowcontrol.Backoff` (without jitter).

Each failure of a key (`next`) doubles its delay, from `initial` up to `maximum`; a key quiet for
twice the maximum starts over, and `gc` forgets such keys. Two questions are asked of it:
whether the delay since a given time has passed (`in_backoff_since`, the kubelet's
CrashLoopBackOff and ImagePullBackOff, timed from when the container finished), and whether
it has passed since the key's last failure (`in_backoff`, IsInBackOffSinceUpdate: the
DaemonSet controller's failed pods).

Times are the caller's clock's seconds (monotonic or wall, as long as one key sees one clock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    """A delay per key that doubles with each failure up to a cap and resets after a quiet period,
    so that retries of one failing thing do not flood the API server."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        initial: float,
        maximum: float,
    ) -> None:
        self.clock = clock
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, now: float, entry: _Entry) -> bool:
        return now - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current delay of a key (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float | None = None) -> None:
        """A failure at `event_time` (now if None): the first waits `initial`, each later one
        twice the last (up to `maximum`), unless the key was quiet long enough to start over."""
        now = self.clock() if event_time is None else event_time
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry):
            self._entries[key] = _Entry(self.initial, now)
            return
        entry.backoff = min(entry.backoff * 2, self.maximum)
        entry.last_update = now

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """Whether less than the key's delay has passed since `event_time` (IsInBackOffSince)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return self.clock() - event_time < entry.backoff

    def in_backoff(self, key: str, now: float | None = None) -> bool:
        """Whether less than the key's delay has passed since its last failure
        (IsInBackOffSinceUpdate)."""
        now = self.clock() if now is None else now
        entry = self._entries.get(key)
        if entry is None or self._expired(now, entry):
            return False
        return now - entry.last_update < entry.backoff

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until the delay since `event_time` is over (0 when it is)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(entry.backoff - (self.clock() - event_time), 0.0)

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self, now: float | None = None) -> None:
        """Forget keys quiet for twice the maximum (client-go's GC)."""
        now = self.clock() if now is None else now
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
