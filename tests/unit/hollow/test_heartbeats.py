"""Leases are renewed and status reported as a kubelet does, with as few requests."""

from __future__ import annotations

import random

import orjson
import pytest
from conftest import FakeClient, FakeClock, api_error

from kubelite.client.api import PatchType
from kubelite.hollow import nodes
from kubelite.hollow.heartbeats import NodeFleet
from kubelite.hollow.nodes import HollowNode, LeaseBody, NodeShape
from kubelite.hollow.timing import Beat, HeartbeatPolicy

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/hollow-node-0"
STATUS_PATH = "/api/v1/nodes/hollow-node-0/status"


def _fleet(client: FakeClient, clock: FakeClock, count: int = 1) -> NodeFleet:
    fleet_nodes = [HollowNode.numbered("hollow-node-", i, 110) for i in range(count)]
    for node in fleet_nodes:
        node.uid = f"uid-{node.index}"
        node.ready_since = "2026-01-01T00:00:00Z"
        node.lease = LeaseBody(node, 40)
        node.lease_version = "10"
        node.last_report = clock.now
    shape = NodeShape(
        capacity={"cpu": "4", "memory": "8Gi", "pods": "110"},
        kubelet_version="v1.33.0",
        kernel_version="6.1",
    )
    fleet = NodeFleet(
        client,  # type: ignore[arg-type]
        fleet_nodes,
        shape,
        policy=HeartbeatPolicy(),
        clock=clock,
        rng=random.Random(7),
    )
    fleet._registered = True
    return fleet


async def test_a_renewal_is_one_conditional_put_with_the_renew_time(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    client.reply("PUT", LEASE_PATH, {"metadata": {"resourceVersion": "11"}})
    await fleet.beat(Beat.LEASE, 0, clock.now)
    (call,) = client.calls
    sent = orjson.loads(call.body)
    assert sent["metadata"]["resourceVersion"] == "10"
    assert sent["spec"]["renewTime"] == nodes.rfc3339_micro(clock.time())
    assert sent["spec"]["holderIdentity"] == "hollow-node-0"
    assert fleet.nodes[0].lease_version == "11"
    assert fleet.stats.lease_renewals == 1
    # The next renewal: 10 to 10.4 s after this one finished.
    due = fleet.timers.due_at(Beat.LEASE, 0)
    assert due is not None and 10.0 <= due - clock.now <= 10.4


async def test_a_conflict_reads_the_lease_again_and_retries(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    client.reply(
        "PUT", LEASE_PATH, api_error(409, "Conflict"), {"metadata": {"resourceVersion": "21"}}
    )
    client.reply("GET", LEASE_PATH, {"metadata": {"resourceVersion": "20"}})
    await fleet.beat(Beat.LEASE, 0, clock.now)
    assert [c.method for c in client.calls] == ["PUT", "GET", "PUT"]
    assert orjson.loads(client.calls[2].body)["metadata"]["resourceVersion"] == "20"
    assert fleet.nodes[0].lease_version == "21"
    assert fleet.stats.lease_failures == 0


async def test_a_deleted_lease_is_created_again(client: FakeClient, clock: FakeClock) -> None:
    fleet = _fleet(client, clock)
    client.reply("PUT", LEASE_PATH, api_error(404, "NotFound"))
    client.reply(
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        {"metadata": {"resourceVersion": "30"}},
    )
    await fleet.beat(Beat.LEASE, 0, clock.now)
    created = client.calls[-1].body
    assert created["metadata"]["ownerReferences"][0]["uid"] == "uid-0"
    assert created["spec"]["leaseDurationSeconds"] == 40
    assert fleet.nodes[0].lease_version == "30"


async def test_a_failed_renewal_is_counted_and_the_next_one_still_scheduled(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    client.reply("PUT", LEASE_PATH, api_error(500, "InternalError"))
    await fleet.beat(Beat.LEASE, 0, clock.now)
    assert fleet.stats.lease_failures == 1
    assert fleet.timers.due_at(Beat.LEASE, 0) is not None


async def test_lateness_is_measured_against_the_due_time(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    await fleet.beat(Beat.LEASE, 0, clock.now - 2.5)
    assert fleet.stats.max_lateness == pytest.approx(2.5)
    assert fleet.stats.late == 1


async def test_a_status_report_patches_heartbeat_times_and_comes_back_in_five_minutes(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    await fleet.beat(Beat.STATUS, 0, clock.now)
    (call,) = client.calls
    assert (call.method, call.path) == ("PATCH", STATUS_PATH)
    assert call.content_type == str(PatchType.STRATEGIC)
    conditions = orjson.loads(call.body)["status"]["conditions"]
    assert {c["lastHeartbeatTime"] for c in conditions} == {nodes.rfc3339(clock.time())}
    assert {c["lastTransitionTime"] for c in conditions} == {"2026-01-01T00:00:00Z"}
    assert fleet.timers.due_at(Beat.STATUS, 0) == clock.now + 300.0
    assert fleet.stats.status_reports == 1


def _watched(conditions: list[dict], uid: str = "uid-0") -> dict:
    return {
        "metadata": {"name": "hollow-node-0", "uid": uid, "labels": {}},
        "status": {"conditions": conditions},
    }


async def test_no_status_write_while_the_watched_node_looks_healthy(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    fleet.timers.schedule(Beat.STATUS, 0, clock.now + 250.0)
    fleet._on_node_event("MODIFIED", _watched(nodes.node_conditions("t0", "t1")))
    assert fleet.timers.due_at(Beat.STATUS, 0) == clock.now + 250.0


async def test_a_node_marked_not_ready_by_someone_else_reports_ready_again_soon(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock)
    fleet.timers.schedule(Beat.STATUS, 0, clock.now + 250.0)
    fleet.nodes[0].last_report = clock.now - 4.0
    unknown = nodes.node_conditions("t0", "t1")
    unknown[-1].update(status="Unknown", reason="NodeStatusUnknown")
    fleet._on_node_event("MODIFIED", _watched(unknown))
    # At the next 10 s status computation, not in five minutes and not in a loop.
    assert fleet.timers.due_at(Beat.STATUS, 0) == clock.now + 6.0
    # Ready again is a transition: its time is now.
    assert fleet.nodes[0].ready_since == nodes.rfc3339(clock.time())


async def test_a_deleted_node_stops_heartbeating(client: FakeClient, clock: FakeClock) -> None:
    fleet = _fleet(client, clock)
    fleet.timers.schedule(Beat.LEASE, 0, clock.now + 5.0)
    fleet.timers.schedule(Beat.STATUS, 0, clock.now + 50.0)
    fleet._on_node_event("DELETED", _watched(nodes.node_conditions("t0", "t1")))
    assert not fleet.nodes[0].active
    assert len(fleet.timers) == 0
    await fleet.beat(Beat.LEASE, 0, clock.now)
    assert client.calls == []


async def test_delete_on_exit_removes_leases_and_nodes(
    client: FakeClient, clock: FakeClock
) -> None:
    fleet = _fleet(client, clock, count=2)
    client.reply("DELETE", LEASE_PATH, api_error(404, "NotFound"))
    await fleet.delete_all()
    deleted = sorted(c.path for c in client.calls)
    assert deleted == [
        "/api/v1/nodes/hollow-node-0",
        "/api/v1/nodes/hollow-node-1",
        LEASE_PATH,
        LEASE_PATH.replace("node-0", "node-1"),
    ]
