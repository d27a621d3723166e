"""The work queue collapses bursts, never hands a key to two workers, and backs off."""

from __future__ import annotations

import asyncio
import itertools

from kubelite.client.workqueue import WorkQueue


async def test_a_key_added_many_times_is_queued_once() -> None:
    queue = WorkQueue()
    for _ in range(5):
        queue.add("default/web")
    queue.add("default/db")
    assert len(queue) == 2
    assert await queue.get() == "default/web"
    assert await queue.get() == "default/db"


async def test_a_key_added_while_processed_comes_back_after_done() -> None:
    queue = WorkQueue()
    queue.add("k")
    key = await queue.get()
    queue.add("k")
    assert len(queue) == 0  # not handed to a second worker meanwhile
    queue.done(key)
    assert await asyncio.wait_for(queue.get(), 1) == "k"


async def test_failures_back_off_exponentially_and_forget_resets() -> None:
    queue = WorkQueue(base_delay=0.01, max_delay=1.0)
    loop = asyncio.get_running_loop()
    queue.add_rate_limited("k")  # 10 ms
    started = loop.time()
    assert await asyncio.wait_for(queue.get(), 1) == "k"
    queue.done("k")
    queue.add_rate_limited("k")  # 20 ms
    queue.add_rate_limited("k")  # 40 ms, replacing the pending retry
    await asyncio.wait_for(queue.get(), 1)
    assert loop.time() - started >= 0.04
    queue.done("k")
    queue.forget("k")
    queue.add_rate_limited("k")
    before = loop.time()
    await asyncio.wait_for(queue.get(), 1)
    assert loop.time() - before < 0.04
    queue.shut_down()


async def test_a_worker_retries_api_failures_and_forgets_bugs() -> None:
    """client-go's worker: a refused request comes back with back-off, a bug does not, a
    returned delay brings the key back, and the worker outlives them all."""
    from kubelite.client.errors import APIError
    from kubelite.client.workqueue import process

    queue = WorkQueue(base_delay=0.01)
    calls: list[str] = []
    done = asyncio.Event()

    async def sync(key: str) -> float | None:
        calls.append(key)
        if key == "refused" and calls.count("refused") == 1:
            raise APIError({"code": 409, "reason": "Conflict", "message": "try again"})
        if key == "bug":
            raise ValueError("a bug")
        if key == "again" and calls.count("again") == 1:
            return 0.01
        if calls.count("refused") == 2 and calls.count("again") == 2:
            done.set()
        return None

    worker = asyncio.create_task(process(queue, sync, what="test"))
    for key in ("refused", "bug", "again"):
        queue.add(key)
    await asyncio.wait_for(done.wait(), 5)
    worker.cancel()
    assert sorted(calls) == ["again", "again", "bug", "refused", "refused"]


async def test_retry_later_backs_off_more_with_each_consecutive_failure() -> None:
    """A sync that raises RetryLater comes back after the queue's back-off, which grows with
    each failure in a row (a refused claim must not be retried in a hot loop)."""
    from kubelite.client.workqueue import RetryLater, process

    queue = WorkQueue(base_delay=0.02)
    times: list[float] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def sync(key: str) -> None:
        times.append(loop.time())
        if len(times) < 4:
            raise RetryLater("not yet")
        done.set()

    worker = asyncio.create_task(process(queue, sync, what="test"))
    queue.add("claim")
    await asyncio.wait_for(done.wait(), 5)
    worker.cancel()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 20 ms, 40 ms, 80 ms: each wait at least its back-off, and longer than the one before.
    assert [round(g, 2) >= 0.02 * 2**i for i, g in enumerate(gaps)] == [True, True, True]
    assert gaps[0] < gaps[1] < gaps[2]
    assert queue._failures == {}  # the success reset the key's failures
