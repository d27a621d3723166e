"""Promoting a joining server's etcd learner, or removing it if it stalls (k3s' manageLearners
and trackLearnerProgress, pkg/etcd/etcd.go).

A server joins as a learner (`client.add_member`, k3s' MemberAddAsLearner): it receives the
raft log but does not vote, so a member that is still copying the data, or never starts, does
not count towards the quorum it could otherwise break. etcd refuses to promote it ("can only
promote a learner member which is in sync with leader") until its log has reached 90 % of the
leader's, and etcd 3.4 allows one learner at a time ("too many learner members in cluster").

Every server runs a `LearnerManager` beside its member (k3s starts manageLearners in
ETCD.Start on every server), and each tick acts only where the local member is the etcd leader,
so exactly one server manages the learner and a new leader takes over after an election. A tick:

1. tries MemberPromote of the learner once it has started (etcd lists a member that has not
   started yet without a name); done if etcd accepts;
2. otherwise reads the learner's raft applied index (Status at its client URLs) and keeps the
   last index and when it last grew in etcd under `kubelite/etcd/learnerProgress` (k3s keeps the
   same JSON under `k3s/etcd/learnerProgress`), so a new leader goes on with the same clock;
3. removes the learner (MemberRemove) once it has made no progress for `LEARNER_MAX_STALL`
   (k3s' learnerMaxStallTime, 5 minutes): a joining server that died, or never started its
   etcd, does not block the next join for ever. A member that has not started has no client
   URL to ask, so it counts as stalled from when it was first seen.

k3s ticks every 15 s (manageTickerTime); kubelite ticks every `MANAGE_INTERVAL` (2 s), since a
joining server waits for its promotion before it serves (`cli.cluster.embedded_etcd`) and one
tick is only a Status call on the local member while there is no learner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

import orjson

from kubelite.etcd import client
from kubelite.etcd.client import EtcdError, Member, Status
from kubelite.etcd.pki import EtcdPki
from kubelite.etcd.ticker import Ticker

MANAGE_INTERVAL = 2.0
# k3s' learnerMaxStallTime.
LEARNER_MAX_STALL = 300.0
# How long a learner may go without progress before each tick warns about it (k3s warns at
# every 15 s tick without progress).
STALL_WARNING = 15.0
# k3s asks a learner for its status with defaultDialTimeout (2 s).
LEARNER_STATUS_TIMEOUT = 2.0
PROGRESS_KEY = "kubelite/etcd/learnerProgress"
# etcd's refusals of a promotion that only mean "not yet": the learner is behind
# (ErrLearnerNotReady), or promoting it would leave too few started voters
# (ErrNotEnoughStartedMembers, the strict reconfiguration check).
NOT_YET = (
    "can only promote a learner member which is in sync with leader",
    "re-configuration failed due to not enough started members",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """The learner being watched: the last raft applied index it reported, and when it grew
    (seconds since the epoch; kept in etcd, so a wall clock)."""

    id: int = 0
    name: str = ""
    raft_applied_index: int = 0
    last_progress: float = 0.0

    def to_json(self) -> bytes:
        """k3s' learnerProgress JSON (lastProgress as a metav1.Time, RFC 3339)."""
        stamp = datetime.fromtimestamp(self.last_progress, UTC)
        return orjson.dumps(
            {
                "id": self.id,
                "name": self.name,
                "raftAppliedIndex": self.raft_applied_index,
                "lastProgress": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | None) -> Progress:
        """The stored progress; a missing or unreadable record is no progress at all (the
        learner then starts a fresh clock, as on a first sight)."""
        if not raw:
            return cls()
        try:
            value = orjson.loads(raw)
            stamp = value.get("lastProgress") or ""
            last = datetime.fromisoformat(stamp).timestamp() if stamp else 0.0
            return cls(
                id=int(value.get("id", 0)),
                name=str(value.get("name", "")),
                raft_applied_index=int(value.get("raftAppliedIndex", 0)),
                last_progress=last,
            )
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return cls()


def started(member: Member) -> bool:
    """Whether the learner's etcd has started: until then etcd lists the added member with its
    peer URL only, no name and no client URL (the member publishes them when it starts)."""
    return bool(member.name)


def promotion_not_yet(error: EtcdError) -> bool:
    return any(reason in str(error) for reason in NOT_YET)


def track(progress: Progress, member: Member, applied_index: int | None, now: float) -> Progress:
    """The progress after this tick (k3s' trackLearnerProgress): a member not tracked before
    (another ID, or a name it has since published) starts at index 0 now; an applied index
    above the last one is progress now; no answer is no progress."""
    if progress.id != member.id or progress.name != member.name:
        progress = Progress(id=member.id, name=member.name, raft_applied_index=0, last_progress=now)
    if applied_index is not None and applied_index > progress.raft_applied_index:
        progress = replace(progress, raft_applied_index=applied_index, last_progress=now)
    return progress


def stalled(progress: Progress, now: float, max_stall: float = LEARNER_MAX_STALL) -> bool:
    return now - progress.last_progress > max_stall


class Admin(Protocol):
    """The etcd calls a manager makes (the local member's, and a learner's Status)."""

    async def status(self, endpoint: str, timeout: float) -> Status: ...

    async def members(self) -> list[Member]: ...

    async def promote(self, member_id: int) -> None: ...

    async def remove(self, member_id: int) -> bool: ...

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes) -> None: ...


@dataclass(frozen=True)
class EtcdAdmin:
    """`Admin` on the local member, with the etcd client certificate."""

    endpoint: str
    pki: EtcdPki

    async def status(self, endpoint: str, timeout: float) -> Status:
        return await client.status(endpoint, self.pki, timeout)

    async def members(self) -> list[Member]:
        return await client.members(self.endpoint, self.pki)

    async def promote(self, member_id: int) -> None:
        await client.promote_member(self.endpoint, self.pki, member_id)

    async def remove(self, member_id: int) -> bool:
        return await client.remove_member(self.endpoint, self.pki, member_id)

    async def get(self, key: str) -> bytes | None:
        return await client.get_value(self.endpoint, self.pki, key)

    async def put(self, key: str, value: bytes) -> None:
        await client.put_value(self.endpoint, self.pki, key, value)


class LearnerManager(Ticker):
    task_name = "etcd-learner-manager"
    what = "etcd learner management"
    # The local member restarting, or an election: the next tick tries again.
    transient = (EtcdError,)

    def __init__(
        self,
        admin: Admin,
        local_endpoint: str,
        *,
        interval: float = MANAGE_INTERVAL,
        max_stall: float = LEARNER_MAX_STALL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(interval)
        self.admin = admin
        self.local_endpoint = local_endpoint
        self.max_stall = max_stall
        self.clock = clock

    async def tick(self) -> str | None:
        """One round; what was done to a learner ("promoted", "waiting", "removed"), or None
        where this member is not the leader or there is no learner."""
        status = await self.admin.status(self.local_endpoint, client.CALL_TIMEOUT)
        if status.member_id != status.leader:
            return None
        learner = next((m for m in await self.admin.members() if m.is_learner), None)
        if learner is None:
            return None
        return await self.manage(learner)

    async def manage(self, learner: Member) -> str:
        label = f"{learner.name or '(not started)'} ({learner.id:x})"
        if started(learner):
            try:
                await self.admin.promote(learner.id)
            except EtcdError as e:
                if not promotion_not_yet(e):
                    log.warning("cannot promote etcd learner %s: %s", label, e)
            else:
                log.info("promoted etcd learner %s to a voting member", label)
                return "promoted"
        now = self.clock()
        progress = Progress.from_json(await self.admin.get(PROGRESS_KEY))
        applied: int | None = None
        for endpoint in learner.client_urls:
            try:
                status = await self.admin.status(endpoint, LEARNER_STATUS_TIMEOUT)
            except EtcdError:
                continue
            applied = status.raft_applied_index
            break
        progress = track(progress, learner, applied, now)
        quiet = now - progress.last_progress
        if quiet >= STALL_WARNING:
            log.warning(
                "etcd learner %s stalled at raft applied index %d for %.0f s",
                label,
                progress.raft_applied_index,
                quiet,
            )
        if stalled(progress, now, self.max_stall):
            await self.admin.remove(learner.id)
            log.warning(
                "removed etcd learner %s: no progress for %.0f s (more than %.0f s)",
                label,
                quiet,
                self.max_stall,
            )
            return "removed"
        await self.admin.put(PROGRESS_KEY, progress.to_json())
        return "waiting"
