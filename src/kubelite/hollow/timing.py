"""When each hollow node heartbeats: lease renewals and node status reports, on one timer heap.

A real kubelet keeps its node alive with two loops (`pkg/kubelet/kubelet_node_status.go` and the
node lease controller in `component-helpers/apimachinery/lease`):

- it renews its Lease every `renewInterval = leaseDuration * 0.25` (10 s for the default 40 s
  lease), with `wait.JitterUntil(..., jitter 0.04, sliding)`: the next renewal is 10 to 10.4 s
  after the previous one *finished*;
- it computes its node status every 10 s, but writes it only when it changed or when
  `nodeStatusReportFrequency` (5 minutes) has passed since the last write.

One process simulating thousands of nodes must not run thousands of sleeping tasks, nor renew all
leases in the same second. Here every due action is an entry on one heap, keyed by node index
and kind; a single loop pops what is due (a quarter second's worth at a time) and hands it to a
few workers. The first renewals and reports are spread evenly over one interval so that the
steady state is an even stream (500 renewals a second for 5,000 nodes), not bursts.

Time comes from a `Clock`, so the policy is tested without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

# The kubelet's defaults (KubeletConfiguration): nodeLeaseDurationSeconds, the renew fraction
# hard-coded in pkg/kubelet (nodeLeaseRenewIntervalFraction), the jitter factor the lease
# controller passes to wait.JitterUntil, nodeStatusUpdateFrequency and nodeStatusReportFrequency.
LEASE_DURATION_SECONDS = 40
LEASE_RENEW_FRACTION = 0.25
LEASE_RENEW_JITTER = 0.04
NODE_STATUS_UPDATE_FREQUENCY = 10.0
NODE_STATUS_REPORT_FREQUENCY = 300.0


class Clock(Protocol):
    """Where the heartbeat policy reads the time: monotonic for scheduling, wall for stamps."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


class SystemClock:
    """The real clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


class Beat(IntEnum):
    """What a due timer entry asks for."""

    LEASE = 0
    STATUS = 1


@dataclass(frozen=True)
class HeartbeatPolicy:
    """How often a node renews its lease and reports its status (the kubelet's defaults)."""

    lease_duration_seconds: int = LEASE_DURATION_SECONDS
    status_report_frequency: float = NODE_STATUS_REPORT_FREQUENCY
    status_update_frequency: float = NODE_STATUS_UPDATE_FREQUENCY
    jitter: float = LEASE_RENEW_JITTER

    @property
    def renew_interval(self) -> float:
        """10 s for a 40 s lease: a lease survives three missed renewals."""
        return self.lease_duration_seconds * LEASE_RENEW_FRACTION

    def next_renewal(self, finished: float, rng: random.Random) -> float:
        """JitterUntil with sliding=true: the period restarts when the last renewal is done."""
        return finished + self.renew_interval * (1.0 + self.jitter * rng.random())

    def first_renewal(self, start: float, slot: int, slots: int, rng: random.Random) -> float:
        """Node `slot` of `slots` renews first somewhere in its own share of one interval, so
        that the renewals of all nodes form an even stream from the start."""
        return start + self.renew_interval * (slot + rng.random()) / max(slots, 1)

    def first_report(self, start: float, slot: int, slots: int, rng: random.Random) -> float:
        """Status reports are spread over one report period the same way: no node waits
        longer than the kubelet would, and 5,000 nodes never report in the same second."""
        return start + self.status_report_frequency * (slot + rng.random()) / max(slots, 1)

    def next_report(self, reported: float) -> float:
        """A status that has not changed is written again after nodeStatusReportFrequency."""
        return reported + self.status_report_frequency

    def changed_report(self, now: float, last_reported: float) -> float:
        """A changed status is written at the kubelet's next status computation: at once if the
        last write is older than nodeStatusUpdateFrequency, else when it is due, so a status
        that someone keeps changing cannot make a node write in a loop."""
        return max(now, last_reported + self.status_update_frequency)


class TimerHeap:
    """Due times of (kind, node index) pairs; at most one live entry per pair.

    Rescheduling a pair leaves its old entry in the heap, marked stale by the due time recorded
    for the pair, and `pop_due` skips it: cheaper than removing from the middle of a heap.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, int]] = []
        self._due: dict[tuple[int, int], float] = {}
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, kind: Beat, index: int, due: float) -> None:
        """Make (kind, index) due at `due`, replacing any earlier schedule for it."""
        self._due[(kind, index)] = due
        heapq.heappush(self._heap, (due, next(self._order), kind, index))

    def due_at(self, kind: Beat, index: int) -> float | None:
        return self._due.get((kind, index))

    def cancel(self, kind: Beat, index: int) -> None:
        self._due.pop((kind, index), None)

    def next_due(self) -> float | None:
        """The earliest live due time, or None when nothing is scheduled."""
        heap = self._heap
        while heap:
            due, _, kind, index = heap[0]
            if self._due.get((kind, index)) == due:
                return due
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> list[tuple[Beat, int, float]]:
        """Every (kind, index, due time) due at or before `now`, earliest first; they are
        unscheduled."""
        heap = self._heap
        found: list[tuple[Beat, int, float]] = []
        while heap and heap[0][0] <= now:
            due, _, kind, index = heapq.heappop(heap)
            if self._due.get((kind, index)) == due:
                del self._due[(kind, index)]
                found.append((Beat(kind), index, due))
        return found
