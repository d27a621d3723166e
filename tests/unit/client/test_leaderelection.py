"""The leader election state machine (client-go's tools/leaderelection) against a Lease store
double with resourceVersion conflicts, and a clock that only moves when the elector sleeps."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from typing import Any, cast

import pytest

from kubelite.api.resources import LEASES, Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConnectionError, error_from_status
from kubelite.client.leaderelection import (
    LeaderElectionLost,
    LeaderElector,
    LeaseLock,
    Timings,
)

NAME = "kube-scheduler"


def _status(code: int, reason: str, message: str = "") -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": message}


class FakeLeases:
    """Leases by name, each write bumping resourceVersion; an update over a stale version gets
    409 Conflict, as from the API server. `failing` makes every request fail with it."""

    def __init__(self) -> None:
        self.leases: dict[str, Obj] = {}
        self.version = 0
        self.failing: Exception | None = None
        self.requests: list[str] = []

    def _check(self, verb: str, resource: Resource) -> None:
        assert resource == LEASES
        self.requests.append(verb)
        if self.failing is not None:
            raise self.failing

    def _store(self, obj: Obj) -> Obj:
        self.version += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.leases[obj["metadata"]["name"]] = obj
        return copy.deepcopy(obj)

    async def get(self, resource: Resource, name: str, *, namespace: str) -> Obj:
        self._check("get", resource)
        if name not in self.leases:
            raise error_from_status(_status(404, "NotFound", f'leases "{name}" not found'))
        return copy.deepcopy(self.leases[name])

    async def create(self, resource: Resource, body: Obj, *, namespace: str) -> Obj:
        self._check("create", resource)
        if body["metadata"]["name"] in self.leases:
            raise error_from_status(_status(409, "AlreadyExists"))
        return self._store(body)

    async def update(self, resource: Resource, body: Obj, *, namespace: str) -> Obj:
        self._check("update", resource)
        current = self.leases[body["metadata"]["name"]]
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise error_from_status(_status(409, "Conflict", "the object has been modified"))
        return self._store(body)

    def spec(self, name: str = NAME) -> Obj:
        return cast(Obj, self.leases[name]["spec"])


class FakeClock:
    """Monotonic and wall time that advance only through `sleep` (or `advance`)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return self.base + dt.timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


def candidate(
    leases: FakeLeases, identity: str, clock: FakeClock, *, release: bool = True
) -> LeaderElector:
    lock = LeaseLock(cast(APIClient, leases), NAME, identity)
    return LeaderElector(lock, Timings(), release_on_cancel=release, clock=clock, jitter=lambda: 0)


async def until(check: Any, steps: int = 10_000) -> None:
    for _ in range(steps):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_the_first_candidate_creates_the_lease_and_holds_it() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "host-a_1", clock)
    assert await a.try_acquire_or_renew()
    spec = leases.spec()
    assert spec["holderIdentity"] == "host-a_1"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    # metav1.MicroTime: microseconds, UTC.
    assert spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["acquireTime"] == spec["renewTime"]
    assert a.is_leader()


async def test_a_candidate_waits_out_a_held_lease_then_takes_it() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a, b = candidate(leases, "a", clock), candidate(leases, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert b.leader == "a"
    # The lease is judged on b's clock, from when b saw the record change: 14 s is not enough.
    clock.advance(14)
    assert not await b.try_acquire_or_renew()
    clock.advance(1.5)
    assert await b.try_acquire_or_renew()
    spec = leases.spec()
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == "2026-01-01T00:00:15.500000Z"


async def test_renewals_by_the_holder_keep_others_waiting() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a, b = candidate(leases, "a", clock), candidate(leases, "b", clock)
    assert await a.try_acquire_or_renew()
    for _ in range(20):
        clock.advance(2)
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
    spec = leases.spec()
    assert spec["holderIdentity"] == "a"
    assert spec["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["renewTime"] == "2026-01-01T00:00:40.000000Z"


async def test_a_restarted_holder_takes_its_own_lease_back_at_once() -> None:
    leases, clock = FakeLeases(), FakeClock()
    assert await candidate(leases, "server-1_abc", clock).try_acquire_or_renew()
    clock.advance(3)
    # A new process with the same identity: no waiting, same term.
    again = candidate(leases, "server-1_abc", clock)
    assert await again.try_acquire_or_renew()
    spec = leases.spec()
    assert spec["leaseTransitions"] == 0
    assert spec["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["renewTime"] == "2026-01-01T00:00:03.000000Z"


async def test_a_released_lease_is_taken_at_once() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a, b = candidate(leases, "a", clock), candidate(leases, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.release()
    spec = leases.spec()
    # client-go's release: no holder, a one-second lease, the transitions kept.
    assert spec["holderIdentity"] == ""
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 0
    assert await b.try_acquire_or_renew()
    assert leases.spec()["leaseTransitions"] == 1


async def test_two_candidates_racing_for_an_expired_lease_one_wins() -> None:
    leases, clock = FakeLeases(), FakeClock()
    assert await candidate(leases, "old", clock).try_acquire_or_renew()
    b, c = candidate(leases, "b", clock), candidate(leases, "c", clock)
    assert not await b.try_acquire_or_renew()
    assert not await c.try_acquire_or_renew()
    clock.advance(16)
    # Both read the same version; the second write is a conflict.
    results = await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    assert leases.spec()["holderIdentity"] == ("b" if results[0] else "c")
    assert leases.spec()["leaseTransitions"] == 1


async def test_acquire_retries_every_retry_period_through_errors() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "a", clock)
    leases.failing = error_from_status(_status(503, "ServiceUnavailable"))
    task = asyncio.create_task(a.acquire())
    await until(lambda: clock.t >= 6)
    assert not task.done()
    leases.failing = None
    await asyncio.wait_for(task, 1)
    assert leases.spec()["holderIdentity"] == "a"
    # One try at once, then one each retry period (2 s, no jitter here): 0, 2, 4 failed.
    assert clock.t == 6
    assert leases.requests == ["get", "get", "get", "get", "create"]


async def test_leadership_survives_failures_shorter_than_the_renew_deadline() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "a", clock)
    assert await a.try_acquire_or_renew()
    renewing = asyncio.create_task(a.renew())
    leases.failing = APIConnectionError("https://x", "connection refused", refused=True)
    await until(lambda: clock.t >= 8)
    leases.failing = None
    await until(lambda: clock.t >= 30)
    assert not renewing.done()
    renewing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await renewing
    assert leases.spec()["holderIdentity"] == "a"


async def test_a_leader_that_cannot_renew_for_the_deadline_stops_its_work() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "a", clock)
    work_cancelled = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            work_cancelled.set()
            raise

    running = asyncio.create_task(a.run(work))
    await until(lambda: a.is_leader())
    leases.failing = error_from_status(_status(503, "ServiceUnavailable"))
    failed_from = clock.t
    leases.requests.clear()
    with pytest.raises(LeaderElectionLost, match="kube-system/kube-scheduler"):
        await asyncio.wait_for(running, 5)
    assert work_cancelled.is_set()
    # Lost once the renew deadline (10 s) passed, having tried every retry period meanwhile;
    # the first failing renewal is the leader's optimistic update, then a read each time.
    assert 10 <= clock.t - failed_from <= 12
    assert leases.requests.count("get") >= 4


async def test_a_leader_that_sees_another_holder_stops_at_once() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "a", clock)
    running = asyncio.create_task(a.run(asyncio.Event().wait))
    await until(lambda: a.is_leader())
    # Someone else wrote the Lease (an administrator, or a leader after a long pause).
    lease = leases.leases[NAME]
    lease["spec"]["holderIdentity"] = "intruder"
    leases.version += 1
    lease["metadata"]["resourceVersion"] = str(leases.version)
    with pytest.raises(LeaderElectionLost):
        await asyncio.wait_for(running, 5)
    assert leases.spec()["holderIdentity"] == "intruder"


async def test_cancelling_stops_the_work_before_the_lease_is_released() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "a", clock)
    holder_when_work_ended: list[str] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)
            holder_when_work_ended.append(leases.spec()["holderIdentity"])

    running = asyncio.create_task(a.run(work))
    await until(lambda: a.is_leader())
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert holder_when_work_ended == ["a"]
    assert leases.spec()["holderIdentity"] == ""
    assert leases.spec()["leaseDurationSeconds"] == 1


async def test_without_release_on_cancel_the_lease_is_left_to_expire() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a = candidate(leases, "a", clock, release=False)
    running = asyncio.create_task(a.run(asyncio.Event().wait))
    await until(lambda: a.is_leader())
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert leases.spec()["holderIdentity"] == "a"


async def test_work_does_not_start_until_the_lease_is_held() -> None:
    leases, clock = FakeLeases(), FakeClock()
    assert await candidate(leases, "a", clock).try_acquire_or_renew()
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.Event().wait()

    b = candidate(leases, "b", clock)
    running = asyncio.create_task(b.run(work))
    await until(lambda: clock.t >= 14)
    assert not started.is_set()
    await until(lambda: started.is_set())
    assert 15 <= clock.t <= 18
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running


@pytest.mark.parametrize(
    ("timings", "problem"),
    [
        (Timings(10, 10, 2), "leaseDuration must be greater than renewDeadline"),
        (Timings(15, 2, 2), "renewDeadline must be greater than retryPeriod*JitterFactor"),
        (Timings(15, 10, 0), "retryPeriod must be greater than zero"),
    ],
)
def test_timings_client_go_refuses(timings: Timings, problem: str) -> None:
    assert problem in timings.problems()
    with pytest.raises(ValueError, match=problem.replace("*", r"\*")):
        LeaderElector(LeaseLock(cast(APIClient, FakeLeases()), NAME, "a"), timings)


def test_the_defaults_are_kubernetes_own() -> None:
    timings = Timings()
    assert (timings.lease_duration, timings.renew_deadline, timings.retry_period) == (15, 10, 2)
    assert timings.problems() == []
    assert timings.request_timeout == 5


async def test_healthz_fails_for_a_leader_long_past_its_lease() -> None:
    leases, clock = FakeLeases(), FakeClock()
    a, b = candidate(leases, "a", clock), candidate(leases, "b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    clock.advance(34)
    assert a.check() is None
    clock.advance(2)
    assert a.check() == "failed election to renew leadership on lease kube-scheduler"
    # A candidate that waits is healthy however long it waits.
    assert b.check() is None
