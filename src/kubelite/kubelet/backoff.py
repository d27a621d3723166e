"""Exponential back-off per key, as client-go's `flowcontrol.Backoff` gives the kubelet.

The kubelet keeps two: one for restarting crashed containers (CrashLoopBackOff) and one for
pulling images (ImagePullBackOff). Both start at 10 s and double to 300 s
(`MaxContainerBackOff`, `backOffPeriod` in pkg/kubelet/kubelet.go). An entry not touched for
twice the maximum (10 minutes) is forgotten, so a container that ran for ten minutes
starts over at 10 s when it next crashes.

Times are the caller's (seconds, any monotonic-ish clock): a container's back-off is measured
from when it finished, not from when the kubelet noticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# pkg/kubelet/kubelet.go: backOffPeriod and MaxContainerBackOff.
INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    """Delays by key: `next` lengthens a key's delay, `in_backoff_since` asks whether it holds."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        initial: float = INITIAL_BACKOFF,
        maximum: float = MAX_BACKOFF,
    ) -> None:
        self.clock = clock
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current delay of a key (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float) -> None:
        """A failure at `event_time`: the first waits `initial`, each later one twice the last
        (up to `maximum`), unless the key was quiet long enough to start over."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            self._entries[key] = _Entry(self.initial, event_time)
            return
        entry.backoff = min(entry.backoff * 2, self.maximum)
        entry.last_update = event_time

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        """Whether less than the key's delay has passed since `event_time`."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return self.clock() - event_time < entry.backoff

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until the delay since `event_time` is over (0 when it is)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(entry.backoff - (self.clock() - event_time), 0.0)

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self) -> None:
        """Forget keys quiet for twice the maximum (client-go's GC)."""
        now = self.clock()
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]
