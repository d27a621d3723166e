"""Leader election over a coordination.k8s.io/v1 Lease, as client-go's `tools/leaderelection`.

Several copies of a component (one per API server machine) contend for one Lease
(`kube-system/kube-scheduler`, `kube-system/kube-controller-manager`); the one whose identity
the Lease holds acts, the others wait. The state machine is client-go's:

- **acquire**: every retry period (jittered by up to 1.2 times, `wait.JitterUntil`) read the
  Lease; create it if missing; take it when its holder is empty, is this candidate, or has
  not renewed for `leaseDurationSeconds` *as measured on this machine's monotonic clock since
  the record last changed* (the timestamps in the record are never compared with the local
  clock, so clock skew between machines does not matter).
- **renew**: the leader writes `renewTime` every retry period; when it has not managed to
  for a whole renew deadline (API errors, 409 conflicts, 503s, a server that does not
  answer), it stops leading and its work is cancelled.
- **release** (client-go's ReleaseOnCancel): on a clean stop, after the work has ended, the
  leader writes the record with an empty holder, `leaseDurationSeconds: 1` and fresh times, so
  a waiting candidate takes over at its next try instead of waiting the lease out.

Every write is a PUT carrying the resourceVersion last read, so two candidates that both saw
an expired Lease cannot both win: the second gets 409 Conflict and tries again later.

`LeaderElector.run(work)` is the whole cycle: acquire, run `work` while renewing, raise
`LeaderElectionLost` when renewing failed (Kubernetes' components then exit: "leaderelection
lost"), or release when cancelled. On acquiring, a `LeaderElection` Event "<identity> became
leader" is recorded on the Lease, and "<identity> stopped leading" when leadership ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from kubelite.api import meta
from kubelite.api.resources import LEASES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConnectionError, APIError, APINotFoundError
from kubelite.client.events import NORMAL, EventRecorder
from kubelite.client.kubeconfig import ClientConfig

log = logging.getLogger(__name__)

# component-base's RecommendedDefaultLeaderElectionConfiguration, the defaults of
# kube-scheduler's and kube-controller-manager's --leader-elect-* flags.
LEASE_DURATION = 15.0
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0
# Both components keep their Leases in kube-system (--leader-elect-resource-namespace).
LEASE_NAMESPACE = "kube-system"
# leaderelection.JitterFactor: how much later than the retry period a candidate may try.
JITTER_FACTOR = 1.2
# The reason of the Events recorded on the Lease (resourcelock's RecordEvent).
EVENT_REASON = "LeaderElection"
# kube-scheduler's and kube-controller-manager's NewLeaderHealthzAdaptor(20 * time.Second):
# how long past its lease a leader that has not renewed may go before /healthz fails.
HEALTHZ_TOLERANCE = 20.0


class LeaderElectionLost(Exception):
    """The leader could not renew its Lease within the renew deadline."""

    def __init__(self, lease: str) -> None:
        self.lease = lease
        super().__init__(f"leaderelection lost: {lease}")


def default_identity() -> str:
    """`<hostname>_<uuid>`: what kube-scheduler and kube-controller-manager hold leases as, new
    at every start, so that two processes on one host never share an identity."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass(frozen=True)
class Timings:
    """The three durations of an election, in seconds (LeaderElectionConfig's)."""

    lease_duration: float = LEASE_DURATION
    renew_deadline: float = RENEW_DEADLINE
    retry_period: float = RETRY_PERIOD

    def problems(self) -> list[str]:
        """What NewLeaderElector refuses, in its words."""
        found = []
        if self.lease_duration <= self.renew_deadline:
            found.append("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            found.append("renewDeadline must be greater than retryPeriod*JitterFactor")
        for name, value in (
            ("leaseDuration", self.lease_duration),
            ("renewDeadline", self.renew_deadline),
            ("retryPeriod", self.retry_period),
        ):
            if value <= 0:
                found.append(f"{name} must be greater than zero")
        return found

    @property
    def request_timeout(self) -> float:
        """resourcelock.NewFromKubeconfig's client timeout, max(1 s, renewDeadline / 2): one
        hung request must not use up the whole renew deadline."""
        return max(1.0, self.renew_deadline / 2)


def lease_client(config: ClientConfig, user_agent: str, timings: Timings) -> APIClient:
    """A client of its own for the election (client-go's `<agent>/leader-election`), so that
    renewals neither wait behind the component's requests nor hang longer than allowed."""
    return APIClient(
        config,
        user_agent=f"{user_agent}/leader-election",
        request_timeout=timings.request_timeout,
    )


@dataclass(frozen=True)
class ElectionRecord:
    """resourcelock.LeaderElectionRecord: the election fields of a Lease's spec."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    leader_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Obj) -> ElectionRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime") or "",
            renew_time=spec.get("renewTime") or "",
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> Obj:
        """LeaderElectionRecordToLeaseSpec: every field written, the holder even when empty."""
        return {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.leader_transitions,
        }


class LeaseLock:
    """resourcelock.LeaseLock: reads and writes one Lease, remembering the last version seen so
    that each update is conditional on it."""

    def __init__(
        self,
        client: APIClient,
        name: str,
        identity: str,
        *,
        namespace: str = LEASE_NAMESPACE,
        recorder: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.recorder = recorder
        self._lease: Obj | None = None

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    async def get(self) -> ElectionRecord:
        """The current record; APINotFoundError when there is no Lease yet."""
        self._lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        return ElectionRecord.from_lease(self._lease)

    async def create(self, record: ElectionRecord) -> None:
        body: Obj = {
            "apiVersion": LEASES.api_version,
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.to_spec(),
        }
        self._lease = await self.client.create(LEASES, body, namespace=self.namespace)

    async def update(self, record: ElectionRecord) -> None:
        """PUT the record over the Lease last read; 409 if someone wrote it since."""
        if self._lease is None:
            raise RuntimeError("lease not initialized, call get or create first")
        body = {**self._lease, "spec": {**(self._lease.get("spec") or {}), **record.to_spec()}}
        self._lease = await self.client.update(LEASES, body, namespace=self.namespace)

    async def record_event(self, what: str) -> None:
        """A `LeaderElection` Event on the Lease: "<identity> <what>"."""
        if self.recorder is None or self._lease is None:
            return
        subject = {**self._lease, "apiVersion": LEASES.api_version, "kind": "Lease"}
        await self.recorder.event(subject, NORMAL, EVENT_REASON, f"{self.identity} {what}")


class Clock(Protocol):
    """Time as the elector sees it; a fake one makes the state machine testable."""

    def monotonic(self) -> float: ...

    def now(self) -> dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> dt.datetime:
        return meta.now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class LeaderElector:
    """One candidate for one Lease (client-go's LeaderElector)."""

    def __init__(
        self,
        lock: LeaseLock,
        timings: Timings | None = None,
        *,
        release_on_cancel: bool = True,
        clock: Clock | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.lock = lock
        self.timings = timings or Timings()
        problems = self.timings.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.release_on_cancel = release_on_cancel
        self.clock = clock or SystemClock()
        self._jitter = jitter
        self._observed = ElectionRecord()
        # When the observed record last changed, on the local monotonic clock.
        self._observed_at = self.clock.monotonic()
        self._reported_leader = ""
        self._events: set[asyncio.Task[None]] = set()

    # --- what others may ask -----------------------------------------------------------------

    @property
    def identity(self) -> str:
        return self.lock.identity

    @property
    def leader(self) -> str:
        """The holder last observed ("" before any, or after a release)."""
        return self._observed.holder_identity

    def is_leader(self) -> bool:
        return self._observed.holder_identity == self.identity

    def check(self, tolerance: float = HEALTHZ_TOLERANCE) -> str | None:
        """HealthzAdaptor's check: a reason to fail /healthz when this leader has gone more than
        its lease and `tolerance` without renewing (it should have stopped by then; a hung
        process should be restarted), else None. Candidates that wait are healthy."""
        if not self.is_leader():
            return None
        if self.clock.monotonic() - self._observed_at > self.timings.lease_duration + tolerance:
            return f"failed election to renew leadership on lease {self.lock.name}"
        return None

    # --- the state machine -------------------------------------------------------------------

    def _observe(self, record: ElectionRecord) -> None:
        self._observed = record
        self._observed_at = self.clock.monotonic()

    def _lease_valid(self) -> bool:
        expires = self._observed_at + self._observed.lease_duration_seconds
        return expires > self.clock.monotonic()

    def _report_transition(self) -> None:
        """OnNewLeader: say once whenever the observed holder changes."""
        holder = self._observed.holder_identity
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        if holder and holder != self.identity:
            log.info("lease %s is held by %s", self.lock.describe(), holder)

    async def try_acquire_or_renew(self) -> bool:
        """tryAcquireOrRenew: one attempt; True when this candidate holds the Lease after it."""
        now = meta.format_micro_time(self.clock.now())
        record = ElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=int(self.timings.lease_duration),
            acquire_time=now,
            renew_time=now,
        )
        try:
            # The leader's fast path: update over the version it wrote last, without a GET.
            if self.is_leader() and self._lease_valid():
                kept = dataclasses.replace(
                    record,
                    acquire_time=self._observed.acquire_time,
                    leader_transitions=self._observed.leader_transitions,
                )
                try:
                    await self.lock.update(kept)
                except (APIError, APIConnectionError, TimeoutError) as e:
                    log.info("failed to update lock optimistically: %s, falling back", e)
                else:
                    self._observe(kept)
                    return True
            try:
                old = await self.lock.get()
            except APINotFoundError:
                await self.lock.create(record)
                self._observe(record)
                return True
            if old != self._observed:
                self._observe(old)
            if old.holder_identity and self._lease_valid() and not self.is_leader():
                return False
            if self.is_leader():
                # Renewing (or a restarted process taking back its own Lease): the term goes on.
                record = dataclasses.replace(
                    record,
                    acquire_time=old.acquire_time or now,
                    leader_transitions=old.leader_transitions,
                )
            else:
                record = dataclasses.replace(record, leader_transitions=old.leader_transitions + 1)
            await self.lock.update(record)
        except (APIError, APIConnectionError, TimeoutError) as e:
            log.warning("error acquiring or renewing lease %s: %s", self.lock.describe(), e)
            return False
        self._observe(record)
        return True

    async def acquire(self) -> None:
        """Try every retry period (jittered) until this candidate holds the Lease."""
        log.info("attempting to acquire leader lease %s...", self.lock.describe())
        while True:
            acquired = await self._attempt(self.timings.renew_deadline)
            self._report_transition()
            if acquired:
                log.info(
                    "successfully acquired lease %s as %s", self.lock.describe(), self.identity
                )
                self._record_event("became leader")
                return
            period = self.timings.retry_period
            await self.clock.sleep(period + self._jitter() * JITTER_FACTOR * period)

    async def renew(self) -> None:
        """Renew every retry period; return when a renew deadline passed without success.

        Like client-go, failed renewals are retried every retry period until the deadline;
        unlike it, seeing another holder ends leadership at once rather than at the deadline.
        """
        period = self.timings.retry_period
        while True:
            deadline = self.clock.monotonic() + self.timings.renew_deadline
            while True:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    log.error("failed to renew lease %s", self.lock.describe())
                    return
                if await self._attempt(remaining):
                    break
                self._report_transition()
                if not self.is_leader():
                    log.error("lease %s was taken by %r", self.lock.describe(), self.leader)
                    return
                await self.clock.sleep(min(period, remaining))
            await self.clock.sleep(period)

    async def _attempt(self, limit: float) -> bool:
        """One try, given at most `limit` seconds (the rest of the renew deadline)."""
        try:
            async with asyncio.timeout(limit):
                return await self.try_acquire_or_renew()
        except TimeoutError:
            log.warning("renewing lease %s took too long", self.lock.describe())
            return False

    async def release(self) -> bool:
        """Give the Lease up, if held: an empty holder and a one-second lease."""
        if not self.is_leader():
            return True
        now = meta.format_micro_time(self.clock.now())
        record = ElectionRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            leader_transitions=self._observed.leader_transitions,
        )
        try:
            async with asyncio.timeout(self.timings.request_timeout):
                await self.lock.update(record)
        except (APIError, APIConnectionError, TimeoutError) as e:
            log.error("failed to release lock %s: %s", self.lock.describe(), e)
            return False
        self._observe(record)
        log.info("released lease %s", self.lock.describe())
        return True

    def _record_event(self, what: str) -> None:
        task = asyncio.create_task(self.lock.record_event(what))
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    async def run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Acquire, then run `work` for as long as this candidate leads.

        Raises LeaderElectionLost (after cancelling `work`) when renewing fails. Cancelled, it
        cancels `work`, waits for it to end and only then releases the Lease (when
        `release_on_cancel`): nothing guarded by the Lease may still act once another
        candidate can take it. When `work` returns or fails on its own, the Lease is released
        the same way and its result or error is passed on.
        """
        await self.acquire()
        work_task: asyncio.Task[None] = asyncio.ensure_future(work())
        renew_task = asyncio.create_task(self.renew(), name=f"renew {self.lock.describe()}")
        lost = False
        try:
            await asyncio.wait({work_task, renew_task}, return_when=asyncio.FIRST_COMPLETED)
            lost = renew_task.done()
        finally:
            work_task.cancel()
            renew_task.cancel()
            # Wait for both to end, without raising what `work` raised: that comes last.
            await asyncio.wait({work_task, renew_task})
            if not lost and self.release_on_cancel:
                await self.release()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timings.retry_period):
                    await self.lock.record_event("stopped leading")
        if lost:
            raise LeaderElectionLost(self.lock.describe())
        await work_task
