"""The kubelet's back-off: 10 s doubling to 300 s, forgotten after 10 quiet minutes."""

from __future__ import annotations

import pytest

from kubelite.kubelet.backoff import Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_delay_doubles_from_ten_seconds_to_five_minutes() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    delays = []
    for _ in range(8):
        backoff.next("c", clock.now)
        delays.append(backoff.get("c"))
        clock.now += backoff.get("c")
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


def test_a_key_is_in_back_off_until_its_delay_has_passed_since_the_failure() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    assert not backoff.in_backoff_since("c", clock.now)
    finished = clock.now
    backoff.next("c", finished)
    clock.now += 9.9
    assert backoff.in_backoff_since("c", finished)
    assert backoff.remaining("c", finished) == pytest.approx(0.1)
    clock.now += 0.1
    assert not backoff.in_backoff_since("c", finished)


def test_ten_quiet_minutes_start_the_back_off_over() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    for _ in range(4):
        backoff.next("c", clock.now)
    assert backoff.get("c") == 80
    clock.now += 601
    backoff.next("c", clock.now)
    assert backoff.get("c") == 10


def test_gc_forgets_quiet_keys_only() -> None:
    clock = Clock()
    backoff = Backoff(clock)
    backoff.next("old", clock.now)
    clock.now += 601
    backoff.next("new", clock.now)
    backoff.gc()
    assert backoff.get("old") == 0 and backoff.get("new") == 10
