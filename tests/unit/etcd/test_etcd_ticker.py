"""The loop beside a server's etcd member (etcd/ticker.py): ticks until stopped, says a
passing failure once however often it repeats, and lets any other error end the task."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubelite.etcd.ticker import Ticker


class Flaky(Ticker):
    task_name = "test-ticker"
    what = "test chore"
    transient = (ConnectionError,)

    def __init__(self, outcomes: list[Exception | None]) -> None:
        super().__init__(interval=0.001)
        self.outcomes = outcomes
        self.ticks = 0
        self.done = asyncio.Event()

    async def tick(self) -> None:
        self.ticks += 1
        if self.ticks >= len(self.outcomes):
            self.done.set()
        outcome = self.outcomes[min(self.ticks, len(self.outcomes)) - 1]
        if outcome is not None:
            raise outcome


async def test_a_repeated_failure_is_logged_once_and_again_when_it_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    away = ConnectionError("member away")
    chore = Flaky([away, away, away, None, away, ConnectionError("election"), None])
    with caplog.at_level(logging.WARNING, logger="kubelite.etcd.ticker"):
        chore.start()
        await asyncio.wait_for(chore.done.wait(), 5)
        await chore.stop()
    assert [r.getMessage() for r in caplog.records] == [
        "test chore: member away",
        "test chore: member away",
        "test chore: election",
    ]


async def test_an_unexpected_error_ends_the_task() -> None:
    chore = Flaky([ValueError("bug")])
    chore.start()
    assert chore._task is not None
    with pytest.raises(ValueError, match="bug"):
        await asyncio.wait_for(chore._task, 5)
