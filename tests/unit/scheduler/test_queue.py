"""The scheduling queue: order, parking, waking on events, back-off."""

from __future__ import annotations

import asyncio

from sched_objects import make_pod

from kubelite.scheduler import queue as q
from kubelite.scheduler.queue import SchedulingQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def pop_now(queue: SchedulingQueue) -> q.QueuedPod | None:
    try:
        return await asyncio.wait_for(queue.pop(), 0.05)
    except TimeoutError:
        return None


async def test_higher_priority_first_then_the_earlier() -> None:
    clock = Clock()
    queue = SchedulingQueue(clock=clock)
    queue.add(make_pod("low", priority=0))
    clock.now += 1
    queue.add(make_pod("high", priority=100))
    clock.now += 1
    queue.add(make_pod("low2", priority=0))
    order = [(await queue.pop()).info.name for _ in range(3)]  # type: ignore[union-attr]
    assert order == ["high", "low", "low2"]


async def test_an_unschedulable_pod_waits_for_an_event_its_plugins_care_for() -> None:
    clock = Clock()
    queue = SchedulingQueue(
        plugin_events={"NodeResourcesFit": {q.NODE_ADD, q.POD_DELETE}}, clock=clock
    )
    queue.add(make_pod("p"))
    queued = await queue.pop()
    assert queued is not None
    queue.requeue_unschedulable(queued, {"NodeResourcesFit"})
    assert queue.counts()["unschedulable"] == 1
    queue.move_all(q.POD_ADD)  # not one it cares for
    assert await pop_now(queue) is None
    clock.now += 60  # well past its back-off
    queue.move_all(q.NODE_ADD)
    again = await pop_now(queue)
    assert again is not None and again.info.name == "p" and again.attempts == 2


async def test_an_event_during_the_cycle_sends_the_pod_straight_back() -> None:
    clock = Clock()
    queue = SchedulingQueue(plugin_events={"NodeResourcesFit": {q.NODE_ADD}}, clock=clock)
    queue.add(make_pod("p"))
    queued = await queue.pop()
    assert queued is not None
    queue.move_all(q.NODE_ADD)  # a node came while the pod was being scheduled
    queue.requeue_unschedulable(queued, {"NodeResourcesFit"})
    assert queue.counts() == {"active": 0, "backoff": 1, "unschedulable": 0}


async def test_back_off_doubles_from_one_second_to_ten() -> None:
    queue = SchedulingQueue(clock=Clock())
    queued = q.QueuedPod(q.PodInfo(make_pod("p")), 0.0)
    durations = []
    for attempts in range(1, 7):
        queued.attempts = attempts
        durations.append(queue.backoff_duration(queued))
    assert durations == [1, 2, 4, 8, 10, 10]


async def test_a_backed_off_pod_returns_when_its_back_off_ends() -> None:
    clock = Clock()
    queue = SchedulingQueue(clock=clock)
    queue.add(make_pod("p"))
    queued = await queue.pop()
    assert queued is not None
    queue.requeue_error(queued)
    assert await pop_now(queue) is None
    clock.now += 0.5
    queue.flush_backoff()
    assert await pop_now(queue) is None
    clock.now += 0.5
    queue.flush_backoff()
    back = await pop_now(queue)
    assert back is not None and back.info.name == "p"
    queue.close()


async def test_parked_pods_are_retried_after_five_minutes_anyway() -> None:
    clock = Clock()
    queue = SchedulingQueue(plugin_events={"X": {q.NODE_ADD}}, clock=clock)
    queue.add(make_pod("p"))
    queued = await queue.pop()
    assert queued is not None
    queue.requeue_unschedulable(queued, {"X"})
    clock.now += q.MAX_IN_UNSCHEDULABLE - 1
    queue.flush_unschedulable_leftover()
    assert queue.counts()["unschedulable"] == 1
    clock.now += 1
    queue.flush_unschedulable_leftover()
    assert (await pop_now(queue)) is not None


async def test_a_deleted_pod_leaves_every_place() -> None:
    queue = SchedulingQueue(clock=Clock())
    queue.add(make_pod("p"))
    queue.delete(make_pod("p"))
    assert await pop_now(queue) is None
    assert "default/p" not in queue


async def test_a_changed_spec_wakes_a_parked_pod() -> None:
    clock = Clock()
    queue = SchedulingQueue(plugin_events={"X": {q.NODE_ADD}}, clock=clock)
    queue.add(make_pod("p", cpu="64"))
    queued = await queue.pop()
    assert queued is not None
    queue.requeue_unschedulable(queued, {"X"})
    clock.now += 60
    queue.update(make_pod("p", cpu="64"))  # nothing of the spec changed
    assert queue.counts()["unschedulable"] == 1
    queue.update(make_pod("p", cpu="1"))
    again = await pop_now(queue)
    assert again is not None and again.info.requests.milli_cpu == 1000


async def test_events_seen_in_flight_are_kept_once_each() -> None:
    """A pod in flight for long must not collect every event of the cluster."""
    queue = SchedulingQueue(clock=Clock())
    queue.add(make_pod("p"))
    assert await queue.pop() is not None
    for _ in range(1000):
        queue.move_all(q.POD_ADD)
    assert queue._in_flight["default/p"] == {q.POD_ADD}


async def test_a_parked_pod_bound_elsewhere_leaves_the_queue() -> None:
    clock = Clock()
    queue = SchedulingQueue(plugin_events={"X": {q.NODE_ADD}}, clock=clock)
    queue.add(make_pod("p"))
    queued = await queue.pop()
    assert queued is not None
    queue.requeue_unschedulable(queued, {"X"})
    queue.forget("default/p")  # bound by someone else
    clock.now += 60
    queue.move_all(q.NODE_ADD)
    assert queue.counts() == {"active": 0, "backoff": 0, "unschedulable": 0}


async def test_a_label_change_wakes_a_parked_pod_a_status_change_does_not() -> None:
    clock = Clock()
    queue = SchedulingQueue(plugin_events={"X": {q.NODE_ADD}}, clock=clock)
    queue.add(make_pod("p", labels={"app": "a"}))
    queued = await queue.pop()
    assert queued is not None
    queue.requeue_unschedulable(queued, {"X"})
    clock.now += 60
    pending = make_pod("p", labels={"app": "a"})
    pending["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    pending["metadata"]["resourceVersion"] = "5"
    queue.update(pending)
    assert queue.counts()["unschedulable"] == 1
    queue.update(make_pod("p", labels={"app": "b"}))
    assert (await pop_now(queue)) is not None
