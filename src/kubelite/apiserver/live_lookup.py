"""What admission plugins read: a recent state first, the store's newest only when it has none.

Kubernetes' admission plugins (NamespaceLifecycle, ServiceAccount, LimitRanger, ResourceQuota,
PodSecurity) read from informers' caches, and look an object up live only when the cache lacks
it (it may be newer than the cache); LimitRanger and ResourceQuota remember what such a live
lookup found for 30 s (their liveTTL), so that a namespace with none of them is not listed
live on every request. Here the watch cache plays the informers on etcd, where a live read is a
round trip that a pod create would otherwise make five times; the SQLite store is its own
cache, and both reads are the same there.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kubelite.storage.interface import KeyValue, Store

T = TypeVar("T")

# How long an empty live listing is believed (limitranger and resourcequota's liveTTL).
LIVE_TTL = 30.0
# Namespaces remembered at most; past it, the expired ones are let go.
MAX_REMEMBERED = 4096


async def get(store: Store, key: str) -> KeyValue | None:
    """The recent value of `key`, or its newest if the recent state has none."""
    kv = await store.get_stale(key)
    return kv if kv is not None else await store.get(key)


class EmptyListings:
    """Lists from the recent state, and live when that is empty; an empty live answer is
    believed for LIVE_TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._empty_until: dict[str, float] = {}

    async def items(
        self,
        what: str,
        recent: Callable[[], Awaitable[list[T]]],
        live: Callable[[], Awaitable[list[T]]],
    ) -> list[T]:
        """`recent()`'s items, else `live()`'s unless `what` (a namespace, a prefix) was found
        empty live less than LIVE_TTL ago."""
        items = await recent()
        if items:
            return items
        now = self._clock()
        if self._empty_until.get(what, 0.0) > now:
            return []
        items = await live()
        if items:
            self._empty_until.pop(what, None)
        else:
            if len(self._empty_until) >= MAX_REMEMBERED:
                self._empty_until = {w: t for w, t in self._empty_until.items() if t > now}
            self._empty_until[what] = now + LIVE_TTL
        return items

    async def keys(self, store: Store, prefix: str) -> list[KeyValue]:
        """The keys under `prefix`, recent or live."""

        async def recent() -> list[KeyValue]:
            return (await store.list_stale(prefix)).items

        async def live() -> list[KeyValue]:
            return (await store.list(prefix)).items

        return await self.items(prefix, recent, live)
