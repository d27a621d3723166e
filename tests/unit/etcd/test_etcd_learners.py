"""A joining server's etcd member is a learner until the etcd leader promotes it, and is removed
if it stalls (k3s' manageLearners / trackLearnerProgress; etcd/learners.py), and the joining
server waits for the promotion before it serves (cli/cluster/embedded_etcd.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubelite.cli.cluster import embedded_etcd
from kubelite.etcd import client, embedded, learners
from kubelite.etcd.client import EtcdError, Member, Status
from kubelite.etcd.learners import LEARNER_MAX_STALL, PROGRESS_KEY, LearnerManager, Progress
from kubelite.etcd.pki import EtcdPki
from kubelite.etcd.process import EtcdMember

LOCAL = "https://127.0.0.1:2379"
LEADER = Member(1, "a-1111", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"])
STARTED = Member(2, "b-2222", ["https://10.0.0.2:2380"], ["https://10.0.0.2:2379"], True)
# etcd lists an added member that has not started with its peer URL only.
NOT_STARTED = Member(2, "", ["https://10.0.0.2:2380"], [], True)
NOT_IN_SYNC = (
    "promoting member 2 at https://127.0.0.1:2379: "
    "etcdserver: can only promote a learner member which is in sync with leader"
)
NOW = 1_700_000_000.0


@dataclass
class FakeEtcd:
    """The local member (id 1) and what it knows; records what the manager did."""

    members_: list[Member]
    local_id: int = 1
    leader: int = 1
    promote_error: str = ""
    # The learner's raft applied index, None if its client URL does not answer.
    learner_index: int | None = None
    kv: dict[str, bytes] = field(default_factory=dict)
    promoted: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    async def status(self, endpoint: str, timeout: float) -> Status:
        self.asked.append(endpoint)
        if endpoint == LOCAL:
            return Status(self.local_id, self.leader, 100, False)
        if self.learner_index is None:
            raise EtcdError(f"status of {endpoint}: connection refused")
        return Status(2, self.leader, self.learner_index, True)

    async def members(self) -> list[Member]:
        return self.members_

    async def promote(self, member_id: int) -> None:
        if self.promote_error:
            raise EtcdError(self.promote_error)
        self.promoted.append(member_id)

    async def remove(self, member_id: int) -> bool:
        self.removed.append(member_id)
        return True

    async def get(self, key: str) -> bytes | None:
        return self.kv.get(key)

    async def put(self, key: str, value: bytes) -> None:
        self.kv[key] = value

    def progress(self) -> Progress:
        return Progress.from_json(self.kv.get(PROGRESS_KEY))


def manager(etcd: FakeEtcd, now: float = NOW) -> LearnerManager:
    return LearnerManager(etcd, LOCAL, clock=lambda: now)


async def test_a_started_learner_is_promoted_as_soon_as_etcd_accepts() -> None:
    etcd = FakeEtcd([LEADER, STARTED])
    assert await manager(etcd).tick() == "promoted"
    assert etcd.promoted == [2]
    assert etcd.removed == [] and PROGRESS_KEY not in etcd.kv


async def test_only_the_leader_manages_learners() -> None:
    etcd = FakeEtcd([LEADER, STARTED], local_id=3, leader=1)
    assert await manager(etcd).tick() is None
    assert etcd.promoted == [] and etcd.kv == {}


async def test_nothing_is_done_without_a_learner() -> None:
    etcd = FakeEtcd([LEADER, Member(2, "b-2222", [], [], False)])
    assert await manager(etcd).tick() is None
    assert etcd.promoted == [] and etcd.kv == {}


async def test_a_learner_not_in_sync_is_tracked_by_its_applied_index() -> None:
    etcd = FakeEtcd([LEADER, STARTED], promote_error=NOT_IN_SYNC, learner_index=40)
    assert await manager(etcd).tick() == "waiting"
    assert etcd.promoted == [] and etcd.removed == []
    # Asked at its own client URL, and recorded under k3s' JSON names.
    assert "https://10.0.0.2:2379" in etcd.asked
    assert etcd.progress() == Progress(2, "b-2222", 40, NOW)
    stored = orjson.loads(etcd.kv[PROGRESS_KEY])
    assert set(stored) == {"id", "name", "raftAppliedIndex", "lastProgress"}
    assert stored["lastProgress"] == "2023-11-14T22:13:20Z"
    # Caught up by the next tick: etcd accepts, and it is promoted.
    etcd.promote_error = ""
    assert await manager(etcd, NOW + 2).tick() == "promoted"
    assert etcd.promoted == [2]


async def test_a_learner_that_has_not_started_is_not_promoted_but_tracked() -> None:
    etcd = FakeEtcd([LEADER, NOT_STARTED])
    assert await manager(etcd).tick() == "waiting"
    assert etcd.promoted == []
    assert etcd.progress() == Progress(2, "", 0, NOW)


async def test_a_learner_that_never_starts_is_removed_after_the_stall_time() -> None:
    etcd = FakeEtcd([LEADER, NOT_STARTED])
    assert await manager(etcd).tick() == "waiting"
    assert await manager(etcd, NOW + LEARNER_MAX_STALL - 1).tick() == "waiting"
    assert etcd.removed == []
    assert await manager(etcd, NOW + LEARNER_MAX_STALL + 1).tick() == "removed"
    assert etcd.removed == [2]


async def test_a_learner_stalled_for_five_minutes_is_removed() -> None:
    etcd = FakeEtcd([LEADER, STARTED], promote_error=NOT_IN_SYNC, learner_index=40)
    etcd.kv[PROGRESS_KEY] = Progress(2, "b-2222", 40, NOW - LEARNER_MAX_STALL - 1).to_json()
    assert await manager(etcd).tick() == "removed"
    assert etcd.removed == [2]


async def test_progress_restarts_the_stall_clock() -> None:
    etcd = FakeEtcd([LEADER, STARTED], promote_error=NOT_IN_SYNC, learner_index=41)
    etcd.kv[PROGRESS_KEY] = Progress(2, "b-2222", 40, NOW - LEARNER_MAX_STALL - 1).to_json()
    assert await manager(etcd).tick() == "waiting"
    assert etcd.removed == []
    assert etcd.progress() == Progress(2, "b-2222", 41, NOW)


async def test_a_learner_that_does_not_answer_makes_no_progress() -> None:
    etcd = FakeEtcd([LEADER, STARTED], promote_error=NOT_IN_SYNC, learner_index=None)
    etcd.kv[PROGRESS_KEY] = Progress(2, "b-2222", 40, NOW - 10).to_json()
    assert await manager(etcd).tick() == "waiting"
    assert etcd.progress() == Progress(2, "b-2222", 40, NOW - 10)


async def test_another_learner_than_the_recorded_one_starts_a_fresh_clock() -> None:
    etcd = FakeEtcd([LEADER, STARTED], promote_error=NOT_IN_SYNC, learner_index=3)
    etcd.kv[PROGRESS_KEY] = Progress(9, "old-9999", 500, NOW - 10_000).to_json()
    assert await manager(etcd).tick() == "waiting"
    assert etcd.removed == []
    assert etcd.progress() == Progress(2, "b-2222", 3, NOW)


async def test_other_refusals_are_logged_and_the_learner_still_tracked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    etcd = FakeEtcd([LEADER, STARTED], promote_error="etcdserver: request timed out")
    etcd.learner_index = 7
    assert await manager(etcd).tick() == "waiting"
    assert "cannot promote etcd learner b-2222" in caplog.text
    assert etcd.progress().raft_applied_index == 7


def test_only_not_in_sync_and_not_enough_started_mean_not_yet() -> None:
    assert learners.promotion_not_yet(EtcdError(NOT_IN_SYNC))
    assert learners.promotion_not_yet(
        EtcdError("etcdserver: re-configuration failed due to not enough started members")
    )
    assert not learners.promotion_not_yet(EtcdError("etcdserver: member not found"))


def test_unreadable_progress_is_no_progress() -> None:
    assert Progress.from_json(None) == Progress()
    assert Progress.from_json(b"{not json") == Progress()
    assert Progress.from_json(b'{"id": 2, "lastProgress": "yesterday"}') == Progress()


# The joining server's side.


class FakeChild:
    def __init__(self) -> None:
        self.returncode: int | None = None


class FakeSupervised:
    def __init__(self) -> None:
        self.process = FakeChild()


def _member(tmp_path: Path) -> EtcdMember:
    return EtcdMember(name="b-2222", data_dir=tmp_path, address="127.0.0.1", pki=EtcdPki(tmp_path))


@pytest.fixture(autouse=True)
def fast_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_etcd, "PROMOTION_POLL", 0.0)
    monkeypatch.setattr(embedded, "ADD_MEMBER_RETRY", 0.0)


async def test_the_joining_server_waits_until_its_member_is_a_voter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [True, True, True, False]

    async def status(endpoint: str, pki: EtcdPki, timeout: float = 10.0) -> Status:
        return Status(2, 1, 10, answers.pop(0))

    monkeypatch.setattr(client, "status", status)
    supervised: Any = FakeSupervised()
    await embedded_etcd._wait_voting(supervised, _member(tmp_path))
    assert answers == []
    out = capsys.readouterr().out
    assert "b-2222 is a learner: waiting" in out and "b-2222 promoted" in out


async def test_a_voter_at_start_does_not_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def status(endpoint: str, pki: EtcdPki, timeout: float = 10.0) -> Status:
        return Status(1, 1, 10, False)

    monkeypatch.setattr(client, "status", status)
    supervised: Any = FakeSupervised()
    await embedded_etcd._wait_voting(supervised, _member(tmp_path))
    assert capsys.readouterr().out == ""


async def test_a_learner_whose_etcd_exits_fails_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    supervised: Any = FakeSupervised()

    async def status(endpoint: str, pki: EtcdPki, timeout: float = 10.0) -> Status:
        supervised.process.returncode = 0  # removed from the cluster, etcd stops
        return Status(2, 1, 10, True)

    monkeypatch.setattr(client, "status", status)
    with pytest.raises(embedded.EmbeddedEtcdError, match="while member b-2222 was a learner"):
        await asyncio.wait_for(embedded_etcd._wait_voting(supervised, _member(tmp_path)), 5)


async def test_a_join_waits_while_another_learner_is_in_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []

    async def add_member(endpoint: str, pki: EtcdPki, peer_url: str) -> Member:
        calls.append(True)
        if len(calls) < 3:
            raise EtcdError(
                f"adding member {peer_url} at {endpoint}: "
                "etcdserver: too many learner members in cluster"
            )
        return Member(3, "", [peer_url], [], True)

    monkeypatch.setattr(client, "add_member", add_member)
    member = _member(tmp_path)
    await embedded._add_self(member, [LEADER])
    assert len(calls) == 3
    assert member.initial_cluster_state == "existing"
