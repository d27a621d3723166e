"""The EtcdIsVoter Node condition, as k3s' setEtcdStatusCondition sets it (etcd/voter_condition.py):
which status, reason and message each member gets, when it is written, and that neither it nor
the kubelet's status patches wipe the other's conditions."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest

from kubelite.api import schema as schemas
from kubelite.api.patch.strategic import apply_strategic_merge_patch
from kubelite.api.resources import NODES
from kubelite.api.types import Obj
from kubelite.client.api import PatchType
from kubelite.client.errors import APINotFoundError
from kubelite.etcd.client import EtcdError, Member, Status
from kubelite.etcd.member_controller import ETCD_ROLE_LABEL, NODE_NAME_ANNOTATION
from kubelite.etcd.voter_condition import (
    HEARTBEAT_INTERVAL,
    MemberStatus,
    VoterCondition,
    condition_update,
    health_error,
    member_nodes,
    member_status,
)
from kubelite.kubelet.node import status as kubelet_status

LOCAL = "https://127.0.0.1:2379"
A = Member(1, "a-1111", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"])
B = Member(2, "b-2222", ["https://10.0.0.2:2380"], ["https://10.0.0.2:2379"])
B_LEARNER = Member(2, "b-2222", ["https://10.0.0.2:2380"], ["https://10.0.0.2:2379"], True)
NOT_STARTED = Member(3, "", ["https://10.0.0.3:2380"], [], True)
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
STAMP = "2026-01-02T03:04:05Z"
DOWN = "failed to check etcd member status: down"
VOTING = "Node is a voting member of the etcd cluster"
NOT_PROMOTED = "Node has not been promoted to voting member of the etcd cluster"


def node(name: str, member_name: str = "", conditions: list[Obj] | None = None) -> Obj:
    annotations = {NODE_NAME_ANNOTATION: member_name} if member_name else {}
    return {
        "metadata": {
            "name": name,
            "labels": {ETCD_ROLE_LABEL: "true"},
            "annotations": annotations,
        },
        "status": {"conditions": conditions or []},
    }


def test_members_are_paired_with_their_nodes_by_the_annotation() -> None:
    na, nb, orphan = node("a", "a-1111"), node("b", "b-2222"), node("c", "c-3333")
    paired, unjoined = member_nodes([A, B, NOT_STARTED], [na, nb, orphan])
    assert [(m.name, n["metadata"]["name"]) for m, n in paired] == [
        ("a-1111", "a"),
        ("b-2222", "b"),
    ]
    assert unjoined == [orphan]


def test_a_node_without_the_annotation_is_not_a_member_even_beside_an_unstarted_one() -> None:
    bare = node("d")
    paired, unjoined = member_nodes([NOT_STARTED], [bare])
    assert paired == [] and unjoined == [bare]


@pytest.mark.parametrize(
    ("member", "error", "status", "message"),
    [
        (A, "", MemberStatus.VOTER, ""),
        (B_LEARNER, "", MemberStatus.LEARNER, ""),
        (A, DOWN, MemberStatus.UNHEALTHY, DOWN),
        (B_LEARNER, "x", MemberStatus.UNHEALTHY, "x"),
    ],
)  # fmt: skip
def test_member_status(member: Member, error: str, status: MemberStatus, message: str) -> None:
    assert member_status(member, error) == (status, message)


def test_health_error_says_what_k3s_says() -> None:
    assert health_error(None, "refused") == "failed to check etcd member status: refused"
    alarmed = Status(1, 1, 10, False, errors=("NOSPACE", "CORRUPT"))
    assert health_error(alarmed, "") == "etcd member has status errors: NOSPACE,CORRUPT"
    assert health_error(Status(1, 1, 10, False), "") == ""


@pytest.mark.parametrize(
    ("status", "value", "reason", "message"),
    [
        (MemberStatus.VOTER, "True", "MemberNotLearner", VOTING),
        (MemberStatus.LEARNER, "False", "MemberIsLearner", NOT_PROMOTED),
        (MemberStatus.UNHEALTHY, "False", "Unhealthy", "Node is unhealthy"),
        (MemberStatus.UNJOINED, "False", "NotAMember", "Node is not a member of the etcd cluster"),
    ],
)  # fmt: skip
def test_a_new_condition_has_k3s_strings_and_both_times_now(
    status: MemberStatus, value: str, reason: str, message: str
) -> None:
    assert condition_update(None, status, "", NOW) == {
        "type": "EtcdIsVoter",
        "status": value,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": STAMP,
        "lastTransitionTime": STAMP,
    }


def test_a_given_message_replaces_the_default() -> None:
    made = condition_update(
        None, MemberStatus.UNHEALTHY, "etcd member has status errors: NOSPACE", NOW
    )
    assert made is not None and made["message"] == "etcd member has status errors: NOSPACE"


def _voter(beat: dt.datetime, since: str = "2025-12-01T00:00:00Z") -> Obj:
    return {
        "type": "EtcdIsVoter",
        "status": "True",
        "reason": "MemberNotLearner",
        "message": VOTING,
        "lastHeartbeatTime": beat.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastTransitionTime": since,
    }


def test_an_unchanged_condition_is_not_written_until_its_heartbeat_is_5_minutes_old() -> None:
    fresh = _voter(NOW - dt.timedelta(seconds=HEARTBEAT_INTERVAL - 1))
    assert condition_update(fresh, MemberStatus.VOTER, "", NOW) is None
    stale = _voter(NOW - dt.timedelta(seconds=HEARTBEAT_INTERVAL))
    again = condition_update(stale, MemberStatus.VOTER, "", NOW)
    assert again is not None
    assert again["lastHeartbeatTime"] == STAMP
    assert again["lastTransitionTime"] == "2025-12-01T00:00:00Z"


def test_a_change_moves_both_times() -> None:
    learner = {
        **_voter(NOW),
        "status": "False",
        "reason": "MemberIsLearner",
        "message": NOT_PROMOTED,
    }
    promoted = condition_update(learner, MemberStatus.VOTER, "", NOW + dt.timedelta(seconds=1))
    assert promoted is not None and promoted["status"] == "True"
    assert promoted["lastTransitionTime"] == "2026-01-02T03:04:06Z"
    # k3s moves the transition time on a change of reason or message too.
    unhealthy = {**learner, "reason": "Unhealthy", "message": "Node is unhealthy"}
    back = condition_update(unhealthy, MemberStatus.LEARNER, "", NOW + dt.timedelta(seconds=2))
    assert back is not None and back["lastTransitionTime"] == "2026-01-02T03:04:07Z"


# The tick, against fakes of etcd and of the API.


@dataclass
class FakeEtcd:
    members_: list[Member]
    local_id: int = 1
    leader: int = 1
    down: set[str] = field(default_factory=set)

    async def status(self, endpoint: str, timeout: float) -> Status:
        if endpoint in self.down:
            raise EtcdError(f"status of {endpoint}: connection refused")
        return Status(self.local_id, self.leader, 10, False)

    async def members(self) -> list[Member]:
        return self.members_


@dataclass
class FakeAPI:
    nodes: list[Obj]
    patches: list[tuple[str, Any, str | None]] = field(default_factory=list)
    selectors: list[str | None] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    async def list(self, resource: Any, *, label_selector: str | None = None) -> Obj:
        assert resource is NODES
        self.selectors.append(label_selector)
        return {"items": self.nodes}

    async def patch(
        self,
        resource: Any,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType,
        subresource: str | None = None,
    ) -> Obj:
        assert resource is NODES and patch_type is PatchType.STRATEGIC
        if name in self.gone:
            raise APINotFoundError({"code": 404, "reason": "NotFound"})
        self.patches.append((name, patch, subresource))
        return {}


def _tick(etcd: FakeEtcd, api: FakeAPI) -> list[str]:
    controller = VoterCondition(api, etcd, LOCAL, clock=NOW.timestamp)  # type: ignore[arg-type]
    return asyncio.run(controller.tick())


def test_the_leader_sets_the_condition_on_every_etcd_node() -> None:
    etcd = FakeEtcd([A, B_LEARNER], down=set())
    api = FakeAPI([node("a", "a-1111"), node("b", "b-2222"), node("c", "c-3333")])
    assert _tick(etcd, api) == ["a", "b", "c"]
    assert api.selectors == [f"{ETCD_ROLE_LABEL}=true"]
    reasons = {name: body["status"]["conditions"][0]["reason"] for name, body, _ in api.patches}
    assert reasons == {"a": "MemberNotLearner", "b": "MemberIsLearner", "c": "NotAMember"}
    assert {sub for _, _, sub in api.patches} == {"status"}
    assert all(len(body["status"]["conditions"]) == 1 for _, body, _ in api.patches)


def test_a_member_that_does_not_answer_is_unhealthy() -> None:
    etcd = FakeEtcd([A, B], down={"https://10.0.0.2:2379"})
    api = FakeAPI([node("b", "b-2222")])
    assert _tick(etcd, api) == ["b"]
    [(_, body, _)] = api.patches
    condition = body["status"]["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "Unhealthy")
    assert condition["message"].startswith("failed to check etcd member status: ")


def test_a_follower_writes_nothing() -> None:
    etcd = FakeEtcd([A, B], local_id=2, leader=1)
    api = FakeAPI([node("a", "a-1111")])
    assert _tick(etcd, api) == []
    assert api.selectors == [] and api.patches == []


def test_no_node_no_write_and_a_deleted_node_is_skipped() -> None:
    # --disable-agent everywhere: no Node, nothing to do.
    assert _tick(FakeEtcd([A]), FakeAPI([])) == []
    api = FakeAPI([node("a", "a-1111"), node("b", "b-2222")], gone={"a"})
    assert _tick(FakeEtcd([A, B]), api) == ["b"]


def test_a_quiet_cluster_costs_no_write() -> None:
    voter = _voter(NOW - dt.timedelta(seconds=60))
    api = FakeAPI([node("a", "a-1111", [voter])])
    assert _tick(FakeEtcd([A]), api) == []


def test_the_condition_and_the_kubelet_status_merge_by_type() -> None:
    """Both write nodes/status with a strategic merge patch; Node conditions merge on `type`,
    so the kubelet's report keeps EtcdIsVoter and the condition's patch keeps Ready."""
    schema = schemas.load().for_kind("", "v1", "Node")
    kubelet = kubelet_status.conditions(None, pressure={}, runtime_problem="", now=STAMP)
    live: Obj = {"metadata": {"name": "a"}, "status": {"conditions": kubelet}}
    voter = condition_update(None, MemberStatus.VOTER, "", NOW)
    assert voter is not None
    live = apply_strategic_merge_patch(live, {"status": {"conditions": [voter]}}, schema)
    report = kubelet_status.conditions(
        live["status"]["conditions"], pressure={}, runtime_problem="down", now=STAMP
    )
    live = apply_strategic_merge_patch(live, {"status": {"conditions": report}}, schema)
    by_type = {c["type"]: c for c in live["status"]["conditions"]}
    assert by_type["EtcdIsVoter"] == voter
    assert by_type["Ready"]["status"] == "False"
    assert set(by_type) == {"MemoryPressure", "DiskPressure", "PIDPressure", "Ready", "EtcdIsVoter"}
