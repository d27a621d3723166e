"""One serialized worker per pod: every change to a pod is handled by its own worker, in order.

Kubernetes' kubelet runs a goroutine per pod (`pkg/kubelet/pod_workers.go`) so that one slow
pod (a long image pull, a long preStop hook) never holds up another, and so that two syncs of
the same pod never overlap. Here a worker is an asyncio task that sleeps until something wakes
it (the pod changed, one of its containers exited, a probe result changed) or until its next
timed sync (a back-off ending, the periodic resync), and then runs one sync. Wake-ups that
arrive during a sync collapse into one more sync after it.

The sync itself is the kubelet's (`Kubelet.sync_pod_worker`); it says when the worker is done
(the pod is gone and cleaned up), and the worker then ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api.types import Obj

log = logging.getLogger(__name__)


# The kubelet's --sync-frequency: how often a pod is synced with nothing to wake it.
RESYNC_INTERVAL = 60.0
# After a sync that failed unexpectedly, the next try (pod workers' back-off for errors).
ERROR_RETRY = 10.0


def _what_the_kubelet_acts_on(pod: Obj) -> tuple[Any, ...]:
    md = pod.get("metadata") or {}
    return (
        pod.get("spec"),
        md.get("labels"),
        md.get("annotations"),
        md.get("deletionTimestamp"),
        md.get("deletionGracePeriodSeconds"),
    )


class PodWorker:
    """The worker of one pod (by uid), holding the newest version of the pod object."""

    def __init__(self, pod: Obj, sync: Callable[[PodWorker], Awaitable[bool]]) -> None:
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self._sync = sync
        self._wake = asyncio.Event()
        self.next_sync = time.monotonic()
        # Set when the pod is no longer in the API (deleted for good, or never to be seen).
        self.removed = False
        # Set once the pod's containers are stopped for good (it reached Succeeded or Failed,
        # or it is being deleted); the worker then only waits for the pod to go.
        self.terminated = False
        # Why the kubelet itself ended the pod (its active deadline passed), if it did.
        self.evicted: Any = None
        # Admission: done once, when the worker first syncs a pod that is to run; a rejected
        # pod keeps the Failed status the rejection gave it.
        self.admitted = False
        self.rejected = False
        self.syncs = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"pod-worker {self.uid}")
        self._wake.set()

    def update(self, pod: Obj) -> None:
        """A newer version of the pod: sync it soon, unless only its status changed (the
        kubelet's own writes; Kubernetes' pod config passes on only changes of the spec, the
        labels and annotations, and the deletion)."""
        changed = _what_the_kubelet_acts_on(pod) != _what_the_kubelet_acts_on(self.pod)
        self.pod = pod
        if changed:
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def sync_in(self, seconds: float) -> None:
        """Sync again after `seconds` at the latest (earlier if woken)."""
        self.next_sync = min(self.next_sync, time.monotonic() + seconds)

    async def _run(self) -> None:
        while True:
            delay = self.next_sync - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            self.next_sync = time.monotonic() + RESYNC_INTERVAL
            self.syncs += 1
            try:
                if await self._sync(self):
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                md = self.pod.get("metadata") or {}
                log.exception("syncing pod %s/%s failed", md.get("namespace"), md.get("name"))
                self.sync_in(ERROR_RETRY)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
