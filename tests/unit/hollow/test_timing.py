"""Lease renewals and status reports come at a kubelet's pace, spread over the interval."""

from __future__ import annotations

import collections
import itertools
import random

import pytest

from conftest import FakeClock
from kubelite.hollow.timing import (
    LEASE_DURATION_SECONDS,
    NODE_STATUS_REPORT_FREQUENCY,
    Beat,
    HeartbeatPolicy,
    TimerHeap,
)


def test_the_defaults_are_the_kubelets() -> None:
    policy = HeartbeatPolicy()
    assert policy.lease_duration_seconds == LEASE_DURATION_SECONDS == 40
    assert policy.renew_interval == 10.0
    assert policy.status_report_frequency == NODE_STATUS_REPORT_FREQUENCY == 300.0


def test_a_renewal_follows_the_last_one_by_ten_seconds_plus_at_most_four_percent() -> None:
    policy = HeartbeatPolicy()
    rng = random.Random(1)
    gaps = [policy.next_renewal(50.0, rng) - 50.0 for _ in range(1000)]
    assert min(gaps) >= 10.0
    assert max(gaps) <= 10.4
    assert max(gaps) - min(gaps) > 0.3  # jittered, not all at once


def test_a_shorter_lease_is_renewed_every_quarter_of_its_duration() -> None:
    assert HeartbeatPolicy(lease_duration_seconds=8).renew_interval == 2.0


def test_first_renewals_of_a_fleet_form_an_even_stream_over_one_interval() -> None:
    policy = HeartbeatPolicy()
    rng = random.Random(2)
    count = 5000
    firsts = [policy.first_renewal(0.0, slot, count, rng) for slot in range(count)]
    assert all(0.0 <= due < policy.renew_interval for due in firsts)
    per_second = collections.Counter(int(due) for due in firsts)
    # 500 renewals in each of the ten seconds, never a burst.
    assert sorted(per_second) == list(range(10))
    assert all(count == 500 for count in per_second.values())


def test_first_reports_are_spread_over_one_report_period() -> None:
    policy = HeartbeatPolicy()
    rng = random.Random(3)
    count = 3000
    firsts = [policy.first_report(100.0, slot, count, rng) for slot in range(count)]
    assert all(100.0 <= due < 400.0 for due in firsts)
    per_minute = collections.Counter(int((due - 100.0) // 60) for due in firsts)
    assert all(count == 600 for count in per_minute.values())


def test_an_unchanged_status_is_reported_again_after_five_minutes() -> None:
    assert HeartbeatPolicy().next_report(20.0) == 320.0


@pytest.mark.parametrize(
    ("now", "last_report", "due"),
    [
        (100.0, 50.0, 100.0),  # the last write is old: write now
        (100.0, 95.0, 105.0),  # written 5 s ago: at the next 10 s status computation
    ],
)
def test_a_changed_status_is_written_at_the_next_status_computation(
    now: float, last_report: float, due: float
) -> None:
    assert HeartbeatPolicy().changed_report(now, last_report) == due


def test_in_steady_state_each_node_renews_every_ten_seconds_and_the_fleet_evenly() -> None:
    """Drive the policy with a fake clock for two simulated minutes, as the heartbeat loop
    does: pop what is due, renew, schedule the next one after it finished."""
    policy = HeartbeatPolicy()
    rng = random.Random(4)
    clock = FakeClock(0.0)
    timers = TimerHeap()
    count = 1000
    for slot in range(count):
        timers.schedule(Beat.LEASE, slot, policy.first_renewal(0.0, slot, count, rng))
    renewed: dict[int, list[float]] = collections.defaultdict(list)
    tick = 0.05
    while clock.now < 120.0:
        for beat, index, due in timers.pop_due(clock.now):
            assert beat is Beat.LEASE
            assert clock.now - due < tick + 1e-9  # never late by more than a tick
            renewed[index].append(clock.now)
            finished = clock.now + 0.002  # a renewal takes a couple of milliseconds
            timers.schedule(Beat.LEASE, index, policy.next_renewal(finished, rng))
        clock.now += tick
    assert len(renewed) == count
    for times in renewed.values():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(9.99 <= gap <= 10.5 for gap in gaps)
        # Every node renews within the first interval, so no lease comes near expiring.
        assert times[0] <= 10.0 + tick
    per_second = collections.Counter(int(t) for times in renewed.values() for t in times)
    busiest = max(per_second[s] for s in range(20, 110))
    quietest = min(per_second[s] for s in range(20, 110))
    assert quietest >= 70 and busiest <= 130  # about count / 10 a second throughout


def test_the_timer_heap_pops_due_entries_in_order_and_skips_rescheduled_ones() -> None:
    timers = TimerHeap()
    timers.schedule(Beat.LEASE, 1, 5.0)
    timers.schedule(Beat.LEASE, 2, 3.0)
    timers.schedule(Beat.STATUS, 1, 4.0)
    timers.schedule(Beat.LEASE, 2, 8.0)  # replaces its 3.0
    assert timers.next_due() == 4.0
    assert timers.pop_due(6.0) == [(Beat.STATUS, 1, 4.0), (Beat.LEASE, 1, 5.0)]
    assert timers.due_at(Beat.LEASE, 2) == 8.0
    assert len(timers) == 1
    timers.cancel(Beat.LEASE, 2)
    assert timers.next_due() is None
    assert timers.pop_due(100.0) == []
