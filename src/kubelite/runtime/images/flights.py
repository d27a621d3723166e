"""Collapsing concurrent calls for one key into a single piece of work ("single flight").

Concurrent pulls of one image, or of two images that share a layer, must download and unpack
each thing once: the first caller starts the work as a task, later callers with the same key
wait for that task's result. A waiter that is cancelled leaves the work to the others; when the
last one goes, the work is cancelled too, and the waiter returns only once it has stopped, so
that whatever it left half done has been cleaned up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self, task: asyncio.Task[T]) -> None:
        self.task = task
        self.waiters = 0


class SingleFlight(Generic[T]):
    """Runs one piece of work per key at a time: a caller asking for a key already in flight waits
    for that result instead of starting another (one pull per image, one download and one unpack per
    layer)."""

    def __init__(self) -> None:
        self._running: dict[Hashable, _Flight[T]] = {}

    def running(self, key: Hashable) -> bool:
        return key in self._running

    async def do(self, key: Hashable, work: Callable[[], Awaitable[T]]) -> T:
        flight = self._running.get(key)
        if flight is None:
            flight = _Flight(asyncio.ensure_future(work()))
            self._running[key] = flight
            flight.task.add_done_callback(lambda task: self._finished(key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        except asyncio.CancelledError:
            if flight.waiters == 1 and not flight.task.done():
                flight.task.cancel()
                await asyncio.wait([flight.task])
            raise
        finally:
            flight.waiters -= 1

    def _finished(self, key: Hashable, flight: _Flight[T]) -> None:
        if self._running.get(key) is flight:
            del self._running[key]
        if not flight.task.cancelled():
            flight.task.exception()  # retrieved: every waiter may have gone

    async def cancel_all(self) -> None:
        tasks = [flight.task for flight in self._running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
