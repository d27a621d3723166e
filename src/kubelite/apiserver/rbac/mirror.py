"""What an authorizer reads, mirrored in memory from the store: listed once, then followed.

kube-apiserver's authorizers read informer caches (RBAC's listers, the Node authorizer's graph),
never etcd on a request's path. `StoreMirror` is that for kubelite's store: it lists its prefixes
before the server takes its first request, then applies every change in revision order, and
lists again when a watch ends or falls behind compaction. A subclass says what to keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from kubelite.storage.interface import (
    DELETE,
    CompactedError,
    Store,
    StoreError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)

# How often a mirror whose datastore cannot be reached tries to list again.
RETRY_INTERVAL = 1.0


class StoreMirror:
    """Keeps `apply(key, value)` fed with the objects under `prefixes` (None: deleted)."""

    prefixes: tuple[str, ...] = ()

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tasks: list[asyncio.Task[None]] = []
        self.revision = 0

    def apply(self, key: str, value: bytes | None) -> None:
        """Take one object's new state at its store key (None: it was deleted)."""
        raise NotImplementedError

    def _known(self, prefix: str) -> Iterable[str]:
        """The keys under `prefix` held now (a relist forgets those no longer listed)."""
        raise NotImplementedError

    async def start(self) -> None:
        """List everything once (so that the server authorizes from its first request), then
        follow each prefix's changes in the background."""
        for prefix in self.prefixes:
            revision = await self._list(prefix)
            self._tasks.append(
                asyncio.create_task(self._follow(prefix, revision), name=f"mirror {prefix}")
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _list(self, prefix: str) -> int:
        result = await self.store.list(prefix)
        present = {kv.key for kv in result.items}
        for key in [k for k in self._known(prefix) if k not in present]:
            self.apply(key, None)
        for kv in result.items:
            self.apply(kv.key, kv.value)
        self.revision = max(self.revision, result.revision)
        return result.revision

    async def _relist(self, prefix: str) -> int:
        """`_list` until the store answers: an etcd datastore may be away for a while."""
        while True:
            try:
                return await self._list(prefix)
            except StoreUnavailableError as exc:
                log.warning("mirror of %s: %s; listing again in %ss", prefix, exc, RETRY_INTERVAL)
                await asyncio.sleep(RETRY_INTERVAL)

    async def _follow(self, prefix: str, revision: int) -> None:
        """Apply the prefix's events; relist when the watch ends or falls behind compaction."""
        while True:
            try:
                watch = await self.store.watch(prefix, revision)
            except CompactedError:
                revision = await self._relist(prefix)
                continue
            except StoreUnavailableError:
                revision = await self._relist(prefix)
                continue
            try:
                while True:
                    for event in await watch.next():
                        self.apply(event.kv.key, None if event.type == DELETE else event.kv.value)
                        revision = event.revision
                        self.revision = max(self.revision, revision)
            except StoreError as exc:
                log.info("mirror of %s: the watch ended (%s); listing again", prefix, exc)
                revision = await self._relist(prefix)
            finally:
                watch.close()
