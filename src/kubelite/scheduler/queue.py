"""The scheduling queue: which pending pod is tried next, and when a refused one is tried again.

Three places, as in kube-scheduler:

- the active queue, ordered by priority (higher first), then by the time the pod entered the
  queue (the PrioritySort plugin's order);
- the back-off queue: pods that failed recently wait 1 s, doubling per attempt up to 10 s;
- the unschedulable pods: pods no node could take. They stay there until a cluster event
  happens that could make them fit (a node added or changed, a pod deleted, ...; each plugin
  that refused the pod names the events it cares for), then go to the active queue, or to the
  back-off queue if their back-off has not run out. A pod parked for 5 minutes is retried
  anyway, in case an event was missed.

An event that happens while a pod is being scheduled is remembered, so that a pod refused in
that cycle goes straight back instead of waiting for another event it might never see.

No busy loop: `pop` waits for a pod; back-offs end on timers; only the 5-minute leftover flush
looks at the parked pods periodically (every 30 s), as kube-scheduler does.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.types import Obj
from kubelite.scheduler.framework.events import (  # noqa: F401  (re-exported for callers)
    NODE_ADD,
    NODE_UPDATE,
    POD_ADD,
    POD_DELETE,
    POD_UPDATE,
    UNSCHEDULED_POD_UPDATE,
)
from kubelite.scheduler.framework.types import PodInfo, pod_key

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_IN_UNSCHEDULABLE = 300.0
FLUSH_UNSCHEDULABLE_INTERVAL = 30.0

WILDCARD = "*"


@dataclass(slots=True)
class QueuedPod:
    """A pending pod in the queue, with what its retries depend on: attempts, timing, and the
    plugins that last refused it."""

    info: PodInfo
    # When the pod (re-)entered the queue: the tie-breaker after priority.
    timestamp: float
    initial_attempt: float | None = None
    attempts: int = 0
    # The plugins that refused the pod in its last cycle (empty: an error, or never tried).
    unschedulable_plugins: set[str] = field(default_factory=set)
    last_failure: float = 0.0
    # When its back-off ends, while it is in the back-off queue.
    backoff_until: float = 0.0

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def priority(self) -> int:
        return self.info.spec.get("priority") or 0


def _changed(old: Obj, new: Obj) -> bool:
    """Whether an update changed the pod itself, not just its status or bookkeeping
    (kube-scheduler's isPodUpdated): a new label or toleration may make it fit."""

    def essence(pod: Obj) -> tuple[Any, Any]:
        md = dict(pod.get("metadata") or {})
        for name in ("resourceVersion", "generation", "managedFields"):
            md.pop(name, None)
        return md, pod.get("spec")

    return essence(old) != essence(new)


class SchedulingQueue:
    """Orders pending pods by priority and age, backs refused pods off, and moves them back when an
    event that could help them happens."""

    def __init__(
        self,
        *,
        plugin_events: dict[str, set[str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # plugin name -> the events after which a pod it refused may fit.
        self.plugin_events = plugin_events or {}
        self.clock = clock
        self._seq = itertools.count()
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPod] = {}
        # Every pod the queue holds (in any place, or being scheduled), by key.
        self._pods: dict[str, QueuedPod] = {}
        self._where: dict[str, str] = {}
        # Events seen while each pod was being scheduled: a set, as only their kinds matter.
        self._in_flight: dict[str, set[str]] = {}
        self._ready = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # --- what the informer tells -----------------------------------------------------------

    def add(self, pod: Obj) -> None:
        """A new pending pod."""
        key = pod_key(pod)
        if key in self._pods:
            self.update(pod)
            return
        queued = QueuedPod(PodInfo(pod), self.clock())
        self._pods[key] = queued
        self._push_active(queued)

    def update(self, pod: Obj) -> None:
        """A pending pod changed: its new spec may fit where the old did not."""
        key = pod_key(pod)
        queued = self._pods.get(key)
        if queued is None:
            self.add(pod)
            return
        old = queued.info.pod
        queued.info = PodInfo(pod)
        if key in self._in_flight:
            self._in_flight[key].add(UNSCHEDULED_POD_UPDATE)
        if self._where.get(key) == "unschedulable" and _changed(old, pod):
            del self._unschedulable[key]
            self._requeue(queued)

    def delete(self, pod: Obj) -> None:
        key = pod_key(pod)
        self._pods.pop(key, None)
        self._unschedulable.pop(key, None)
        self._where.pop(key, None)
        # Entries left in the heaps are skipped when they come up.

    def move_all(self, event: str) -> None:
        """A cluster event: parked pods it may help go back to be tried."""
        for flight in self._in_flight.values():
            flight.add(event)
        for key, queued in list(self._unschedulable.items()):
            if self._may_help(queued, event):
                del self._unschedulable[key]
                self._requeue(queued)

    def _may_help(self, queued: QueuedPod, event: str) -> bool:
        if not queued.unschedulable_plugins:
            return True
        for plugin in queued.unschedulable_plugins:
            events = self.plugin_events.get(plugin)
            if events is None or WILDCARD in events or event in events:
                return True
        return False

    # --- the scheduler's side ----------------------------------------------------------------

    async def pop(self) -> QueuedPod | None:
        """The next pod to schedule, waiting for one; None once closed."""
        while not self._closed:
            while self._active:
                _, _, _, key = heapq.heappop(self._active)
                queued = self._pods.get(key)
                if queued is None or self._where.get(key) != "active":
                    if queued is None:
                        self._where.pop(key, None)
                    continue
                del self._where[key]
                self._in_flight[key] = set()
                queued.attempts += 1
                if queued.initial_attempt is None:
                    queued.initial_attempt = self.clock()
                return queued
            self._ready.clear()
            await self._ready.wait()
        return None

    def done(self, key: str) -> None:
        """The pod's cycle ended and it was not sent back: forget the events it saw."""
        self._in_flight.pop(key, None)

    def forget(self, key: str) -> None:
        """The pod is bound (or gone): the queue lets go of it."""
        self._in_flight.pop(key, None)
        self._pods.pop(key, None)
        self._where.pop(key, None)
        self._unschedulable.pop(key, None)

    def uid_of(self, key: str) -> str | None:
        """The uid of the pod the queue holds under `key`, or None."""
        queued = self._pods.get(key)
        return queued.info.uid if queued is not None else None

    def requeue_unschedulable(self, queued: QueuedPod, plugins: set[str]) -> None:
        """No node could take the pod: park it until an event may help (or straight back, if
        such an event came during its cycle)."""
        events = self._in_flight.pop(queued.key, set())
        if queued.key not in self._pods:
            return  # deleted meanwhile
        queued.unschedulable_plugins = set(plugins)
        queued.last_failure = self.clock()
        queued.timestamp = queued.last_failure
        if any(self._may_help(queued, e) for e in events):
            self._requeue(queued)
        else:
            self._where[queued.key] = "unschedulable"
            self._unschedulable[queued.key] = queued

    def requeue_error(self, queued: QueuedPod) -> None:
        """The cycle failed for the scheduler's own reasons: back off, then try again."""
        self._in_flight.pop(queued.key, None)
        if queued.key not in self._pods:
            return
        queued.unschedulable_plugins = set()
        queued.last_failure = self.clock()
        queued.timestamp = queued.last_failure
        self._push_backoff(queued)

    def backoff_duration(self, queued: QueuedPod) -> float:
        duration = INITIAL_BACKOFF
        for _ in range(1, queued.attempts):
            duration *= 2
            if duration >= MAX_BACKOFF:
                return MAX_BACKOFF
        return duration

    def flush_unschedulable_leftover(self) -> None:
        """Pods parked longer than MAX_IN_UNSCHEDULABLE are tried again."""
        now = self.clock()
        for key, queued in list(self._unschedulable.items()):
            if now - queued.last_failure >= MAX_IN_UNSCHEDULABLE:
                del self._unschedulable[key]
                self._requeue(queued)

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._ready.set()

    # --- sizes, for metrics and tests ---------------------------------------------------------

    def counts(self) -> dict[str, int]:
        places = list(self._where.values())
        return {
            "active": places.count("active"),
            "backoff": places.count("backoff"),
            "unschedulable": places.count("unschedulable"),
        }

    def __contains__(self, key: str) -> bool:
        return key in self._pods

    # --- moving pods between places ---------------------------------------------------------------

    def _requeue(self, queued: QueuedPod) -> None:
        if queued.last_failure and self.clock() < queued.last_failure + self.backoff_duration(
            queued
        ):
            self._push_backoff(queued)
        else:
            self._push_active(queued)

    def _push_active(self, queued: QueuedPod) -> None:
        self._where[queued.key] = "active"
        heapq.heappush(
            self._active, (-queued.priority, queued.timestamp, next(self._seq), queued.key)
        )
        self._ready.set()

    def _push_backoff(self, queued: QueuedPod) -> None:
        self._where[queued.key] = "backoff"
        expiry = queued.backoff_until = queued.last_failure + self.backoff_duration(queued)
        heapq.heappush(self._backoff, (expiry, next(self._seq), queued.key))
        self._arm_timer()

    def _arm_timer(self) -> None:
        """Wake when the earliest back-off ends (loop time and the clock agree in production;
        tests drive `flush_backoff` themselves)."""
        if not self._backoff or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is not None:
            self._timer.cancel()
        # A millisecond more: uvloop rounds timers and may fire them that much early.
        delay = max(0.0, self._backoff[0][0] - self.clock()) + 0.001
        self._timer = loop.call_later(delay, self.flush_backoff)

    def flush_backoff(self) -> None:
        """Pods whose back-off ended go to the active queue."""
        self._timer = None
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            expiry, _, key = heapq.heappop(self._backoff)
            queued = self._pods.get(key)
            if queued is None:
                self._where.pop(key, None)
            elif self._where.get(key) == "backoff" and queued.backoff_until == expiry:
                self._push_active(queued)
        self._arm_timer()
