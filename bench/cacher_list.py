"""LIST of 10,000 pod-sized values: from the watch cache (`storage/cacher.py`) vs the SQLite store.

Three reads, each timed from both:
- `full`: one LIST of every pod at the newest revision (a consistent read: the cache asks the
  store's revision first, then answers from memory);
- `paged`: the same in pages of 500, each continue page at the first page's revision;
- `paged+writes`: the same while another resource is written between pages, as leases and events
  are on a live cluster. The continue pages are then at a past revision: the SQLite store reads
  them from its log, the cache from memory (pods did not change).

Run: `.venv/bin/python bench/cacher_list.py [--objects N] [--size BYTES] [--rounds R]`. Prints
milliseconds per LIST (the median of the rounds) and the ratio SQLite / cache.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from kubelite.storage.cacher import CachedStore
from kubelite.storage.interface import Store
from kubelite.storage.sqlite import SqliteStore

PODS = "/registry/pods/"
PAGE = 500


async def full(store: Store, _: Store) -> int:
    return len((await store.list(PODS)).items)


async def paged(store: Store, writer: Store | None) -> int:
    result = await store.list(PODS, limit=PAGE)
    count = len(result.items)
    while result.more:
        if writer is not None:
            await writer.create(f"/registry/leases/l{time.perf_counter_ns()}", b"lease")
        start = result.items[-1].key + "\x00"
        result = await store.list(PODS, revision=result.revision, start=start, limit=PAGE)
        count += len(result.items)
    return count


async def paged_quiet(store: Store, _: Store) -> int:
    return await paged(store, None)


async def paged_writes(store: Store, writer: Store) -> int:
    return await paged(store, writer)


async def timed(
    read: Callable[[Store, Store], Awaitable[int]], store: Store, writer: Store, rounds: int
) -> float:
    figures = []
    for _ in range(rounds):
        begin = time.perf_counter()
        count = await read(store, writer)
        figures.append(time.perf_counter() - begin)
        assert count >= 1, count
    return statistics.median(figures) * 1000


async def main(objects: int, size: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await SqliteStore.open(Path(tmp) / "state.db")
        cached = CachedStore(sqlite)
        try:
            value = b"x" * size
            for start in range(0, objects, 1000):
                await asyncio.gather(
                    *(
                        sqlite.create(f"{PODS}ns{i % 10}/pod-{i:06}", value)
                        for i in range(start, min(objects, start + 1000))
                    )
                )
            await cached.list(PODS)  # builds the cache
            print(f"{objects} values of {size} bytes, median of {rounds} rounds (ms per LIST)")
            print(f"{'read':<14}{'sqlite':>10}{'cache':>10}{'ratio':>8}")
            for name, read in (
                ("full", full),
                ("paged", paged_quiet),
                ("paged+writes", paged_writes),
            ):
                inner = await timed(read, sqlite, sqlite, rounds)
                cache = await timed(read, cached, sqlite, rounds)
                print(f"{name:<14}{inner:>10.2f}{cache:>10.2f}{inner / cache:>8.2f}")
            print(f"cache stats: {cached.stats()}")
        finally:
            await cached.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.objects, args.size, args.rounds))
