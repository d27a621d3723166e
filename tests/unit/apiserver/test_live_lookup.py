"""Admission reads (`kubelite.apiserver.live_lookup`): recent state first, live on a miss, and
an empty live listing believed for LIVE_TTL, as Kubernetes' LimitRanger and ResourceQuota do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelite.apiserver import live_lookup
from kubelite.storage.interface import KeyValue, ListResult
from kubelite.storage.sqlite import SqliteStore


class StaleStore(SqliteStore):
    """A SqliteStore whose recent state is frozen (a watch cache that lags), counting reads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.frozen: dict[str, KeyValue] = {}
        self.live_reads = 0

    async def get_stale(self, key: str) -> KeyValue | None:
        return self.frozen.get(key)

    async def list_stale(self, prefix: str, *, start: str = "", limit: int = 0) -> ListResult:
        items = [kv for key, kv in sorted(self.frozen.items()) if key.startswith(prefix)]
        return ListResult(items, self.revision)

    async def get(self, key: str) -> KeyValue | None:
        self.live_reads += 1
        return await super().get(key)

    async def list(
        self, prefix: str, *, revision: int = 0, start: str = "", limit: int = 0
    ) -> ListResult:
        self.live_reads += 1
        return await super().list(prefix, revision=revision, start=start, limit=limit)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StaleStore]:
    s = StaleStore(tmp_path / "state.db")
    await s._start()
    yield s
    await s.close()


async def test_a_get_reads_live_only_when_the_recent_state_lacks_the_key(
    store: StaleStore,
) -> None:
    kv = await store.create("/registry/namespaces/a", b"{}")
    assert await live_lookup.get(store, kv.key) == kv  # too new for the recent state
    assert store.live_reads == 1
    store.frozen[kv.key] = kv
    assert await live_lookup.get(store, kv.key) == kv
    assert store.live_reads == 1


async def test_an_empty_live_listing_is_believed_for_the_live_ttl(store: StaleStore) -> None:
    now = [0.0]
    listings = live_lookup.EmptyListings(clock=lambda: now[0])
    prefix = "/registry/limitranges/a/"
    assert await listings.keys(store, prefix) == []
    assert await listings.keys(store, prefix) == []
    assert store.live_reads == 1
    kv = await store.create(prefix + "lr", b"{}")
    now[0] = live_lookup.LIVE_TTL + 1
    assert await listings.keys(store, prefix) == [kv]  # past the TTL: live again
    assert store.live_reads == 2
    store.frozen[kv.key] = kv
    assert await listings.keys(store, prefix) == [kv]  # the recent state has it
    assert store.live_reads == 2
