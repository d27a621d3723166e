"""The shape most controllers share: informers -> handlers -> one work queue -> workers.

client-go's controller pattern, which every queue-driven controller of kube-controller-manager
writes out again: event handlers on shared informers put object keys on a rate-limited work
queue, and once the caches the sync reads have listed, a few workers take keys off the queue
and sync them (`workqueue.process`). Written once here, so that a controller says only what is
its own: which informers it reads, how a key is synced, and what else runs beside the workers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from kubelite.client.api import APIClient
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process


class QueueController:
    """A controller whose workers sync the keys its informers' handlers put on `self.queue`.

    A subclass calls `__init__` first (it makes the queue its handlers add to), asks
    `self.informers` for its informers, and says which of them `sync` reads in `caches`.
    """

    # Names the controller in the workers' log lines (and, for most, in its events).
    component: str

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None,
        *,
        queue: str,
        workers: int,
    ) -> None:
        self.client = client
        # Shared with the other controllers of the manager, so that each resource is listed and
        # watched once; a controller run alone gets its own.
        self.informers = informers or SharedInformerFactory(client)
        self.workers = workers
        self.queue = WorkQueue(queue)

    # --- what a subclass says ---------------------------------------------------------------------

    def caches(self) -> Sequence[Informer]:
        """The informers `sync` reads: no worker starts before they have listed once, since a
        sync on a half-filled cache would take objects not yet listed for gone."""
        raise NotImplementedError

    async def sync(self, key: str) -> float | None:
        """Bring the object of `key` to what it should be; seconds until it should be looked at
        again, if it should."""
        raise NotImplementedError

    def on_synced(self) -> None:
        """Called once the caches have listed, before the workers start (by default: nothing)."""

    def alongside(self) -> list[Coroutine[Any, Any, None]]:
        """Loops that run beside the workers for as long as they do (by default: none)."""
        return []

    # --- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start the informers, wait for `caches`, then run the workers until cancelled; the
        queue's pending retries are dropped on the way out."""
        self.informers.start()
        try:
            await self.informers.wait_synced(*self.caches())
            self.on_synced()
            await asyncio.gather(
                *(process(self.queue, self.sync, what=self.component) for _ in range(self.workers)),
                *self.alongside(),
            )
        finally:
            self.queue.shut_down()
