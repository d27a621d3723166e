"""`kubelite.apiserver.heap.HeapTrimmer`: one trim after a burst of connections has closed,
none for ordinary churn."""

from __future__ import annotations

import asyncio

from testcluster import wait_for

from kubelite.apiserver.heap import HeapTrimmer


class Trims:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def trimmer(trims: Trims, max_wait: float = 10.0) -> HeapTrimmer:
    return HeapTrimmer(trims, min_drop=10, quiet=0.05, max_wait=max_wait)


async def test_the_end_of_a_burst_of_closes_is_followed_by_one_trim() -> None:
    trims = Trims()
    heap = trimmer(trims)
    for _ in range(40):
        heap.opened()
    for _ in range(30):
        heap.closed()
    await wait_for(lambda: trims.count == 1, what="a trim")
    assert heap.high_water == heap.open == 10
    # The high-water mark starts again from there: ten more closes are not a burst of forty.
    for _ in range(5):
        heap.closed()
    assert heap._pending is None


async def test_churn_that_never_halves_the_connections_never_trims() -> None:
    trims = Trims()
    heap = trimmer(trims)
    for _ in range(40):
        heap.opened()
    for _ in range(100):
        heap.closed()
        heap.opened()
    assert heap._pending is None
    assert trims.count == 0


async def test_closes_that_never_stop_delay_the_trim_only_so_long() -> None:
    trims = Trims()
    heap = trimmer(trims, max_wait=0.2)
    for _ in range(100):
        heap.opened()
    # One close every 10 ms, never quiet for the 50 ms a trim waits for: the trim is due after
    # fifty (half of the hundred gone), and comes at most 0.2 s after that.
    while trims.count == 0 and heap.open > 0:
        heap.closed()
        await asyncio.sleep(0.01)
    assert trims.count == 1
    assert heap.open > 0
