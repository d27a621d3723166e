"""A per-key exponential back-off for retries the work queue does not pace.

client-go's `flowcontrol.Backoff` (without jitter). The DaemonSet controller keys it by
DaemonSet and node: a kubelet that keeps failing a daemon pod would otherwise have it deleted
and made again as fast as the watch delivers, so each node's delete-and-recreate waits 1 s,
then 2, 4, ... up to 15 minutes. A key left alone for twice the maximum starts over, and `gc`
forgets such keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# The DaemonSet controller's failedPodsBackoff (kube-controller-manager's daemon options).
INITIAL = 1.0
MAXIMUM = 15 * 60.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(
        self,
        initial: float = INITIAL,
        maximum: float = MAXIMUM,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.last_update > 2 * self.maximum

    def next(self, key: str, now: float | None = None) -> None:
        """Record a retry of `key` now: the next wait is twice the last (Backoff.Next)."""
        now = self.clock() if now is None else now
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            self._entries[key] = _Entry(self.initial, now)
            return
        entry.backoff = min(entry.backoff * 2, self.maximum)
        entry.last_update = now

    def get(self, key: str) -> float:
        """The current wait of `key`; 0 when it has none."""
        entry = self._entries.get(key)
        return entry.backoff if entry is not None else 0.0

    def in_backoff(self, key: str, now: float | None = None) -> bool:
        """Whether `key`'s wait since its last retry has not yet passed
        (IsInBackOffSinceUpdate)."""
        now = self.clock() if now is None else now
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            return False
        return now - entry.last_update < entry.backoff

    def gc(self, now: float | None = None) -> None:
        """Forget keys not retried for twice the maximum wait."""
        now = self.clock() if now is None else now
        for key in [k for k, e in self._entries.items() if self._expired(e, now)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
