"""Leases are renewed and status reported as a kubelet does, with as few requests.

Against the unit tests' real API server (`testcluster`): the nodes and their leases are made
there (named for the test, since nodes are cluster-wide), and `Calls` notes the requests."""

from __future__ import annotations

import random
from dataclasses import dataclass

import orjson
import pytest
from testcluster import TestCluster

from conftest import Calls, FakeClock, api_error
from kubelite.client.api import PatchType
from kubelite.hollow import nodes
from kubelite.hollow.heartbeats import LEASES, NODES, NodeFleet
from kubelite.hollow.nodes import HollowNode, LeaseBody, NodeShape
from kubelite.hollow.timing import Beat, HeartbeatPolicy

LEASE_NAMESPACE = "kube-node-lease"
SHAPE = NodeShape(
    capacity={"cpu": "4", "memory": "8Gi", "pods": "110"},
    kubelet_version="v1.33.0",
    kernel_version="6.1",
)


@dataclass
class Fleet:
    fleet: NodeFleet
    kube: TestCluster

    def node_name(self, index: int = 0) -> str:
        return self.fleet.nodes[index].name

    def lease_path(self, index: int = 0) -> str:
        return LEASES.path(namespace=LEASE_NAMESPACE, name=self.node_name(index))

    def status_path(self, index: int = 0) -> str:
        return NODES.path(name=self.node_name(index), subresource="status")

    async def lease(self, index: int = 0) -> dict:
        return await self.kube.client.get(LEASES, self.node_name(index), namespace=LEASE_NAMESPACE)


async def _fleet(client: Calls, clock: FakeClock, kube: TestCluster, count: int = 1) -> Fleet:
    """Registered nodes (with their leases) named for the test; they go when it ends."""
    fleet_nodes = [HollowNode.numbered(f"{kube.namespace}-node-", i, 110) for i in range(count)]
    for node in fleet_nodes:
        node.ready_since = "2026-01-01T00:00:00Z"
        made = await kube.create(NODES, nodes.node_object(node, SHAPE, node.ready_since))
        node.uid = made["metadata"]["uid"]
        # Last renewed ten seconds ago.
        renewed = nodes.rfc3339_micro(clock.time() - 10)
        lease = await kube.client.create(LEASES, nodes.lease_object(node, 40, renewed))
        kube.clean_up_later(LEASES, node.name, LEASE_NAMESPACE)
        node.lease = LeaseBody(node, 40)
        node.lease_version = lease["metadata"]["resourceVersion"]
        node.last_report = clock.now
    fleet = NodeFleet(
        client,  # type: ignore[arg-type]
        fleet_nodes,
        SHAPE,
        policy=HeartbeatPolicy(),
        clock=clock,
        rng=random.Random(7),
    )
    fleet._registered = True
    return Fleet(fleet, kube)


async def test_a_renewal_is_one_conditional_put_with_the_renew_time(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    before = f.fleet.nodes[0].lease_version
    await f.fleet.beat(Beat.LEASE, 0, clock.now)
    (call,) = client.calls
    assert (call.method, call.path) == ("PUT", f.lease_path())
    sent = orjson.loads(call.body)
    assert sent["metadata"]["resourceVersion"] == before
    assert sent["spec"]["renewTime"] == nodes.rfc3339_micro(clock.time())
    assert sent["spec"]["holderIdentity"] == f.node_name()
    lease = await f.lease()
    assert lease["spec"]["renewTime"] == sent["spec"]["renewTime"]
    assert f.fleet.nodes[0].lease_version == lease["metadata"]["resourceVersion"] != before
    assert f.fleet.stats.lease_renewals == 1
    # The next renewal: 10 to 10.4 s after this one finished.
    due = f.fleet.timers.due_at(Beat.LEASE, 0)
    assert due is not None and 10.0 <= due - clock.now <= 10.4


async def test_a_conflict_reads_the_lease_again_and_retries(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    # Someone else writes the lease: the node's resourceVersion is stale, the PUT conflicts.
    lease = await f.lease()
    lease["spec"]["leaseDurationSeconds"] = 41
    moved = await kube.client.update(LEASES, lease)
    await f.fleet.beat(Beat.LEASE, 0, clock.now)
    assert [c.method for c in client.calls] == ["PUT", "GET", "PUT"]
    retried = orjson.loads(client.calls[2].body)["metadata"]["resourceVersion"]
    assert retried == moved["metadata"]["resourceVersion"]
    assert f.fleet.nodes[0].lease_version == (await f.lease())["metadata"]["resourceVersion"]
    assert f.fleet.stats.lease_failures == 0


async def test_a_deleted_lease_is_created_again(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    await kube.client.delete(LEASES, f.node_name(), namespace=LEASE_NAMESPACE)
    # This server, as Kubernetes', makes a Lease a PUT names: the 404 of another comes here.
    client.reply("PUT", f.lease_path(), api_error(404, "NotFound"))
    await f.fleet.beat(Beat.LEASE, 0, clock.now)
    assert [(c.method, c.path) for c in client.calls] == [
        ("PUT", f.lease_path()),
        ("POST", LEASES.path(namespace=LEASE_NAMESPACE)),
    ]
    created = client.calls[-1].body
    assert created["metadata"]["ownerReferences"][0]["uid"] == f.fleet.nodes[0].uid
    assert created["spec"]["leaseDurationSeconds"] == 40
    assert f.fleet.nodes[0].lease_version == (await f.lease())["metadata"]["resourceVersion"]


async def test_a_failed_renewal_is_counted_and_the_next_one_still_scheduled(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    client.reply("PUT", f.lease_path(), api_error(500, "InternalError"))
    await f.fleet.beat(Beat.LEASE, 0, clock.now)
    assert f.fleet.stats.lease_failures == 1
    assert f.fleet.timers.due_at(Beat.LEASE, 0) is not None


async def test_lateness_is_measured_against_the_due_time(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    await f.fleet.beat(Beat.LEASE, 0, clock.now - 2.5)
    assert f.fleet.stats.max_lateness == pytest.approx(2.5)
    assert f.fleet.stats.late == 1


async def test_a_status_report_patches_heartbeat_times_and_comes_back_in_five_minutes(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    await f.fleet.beat(Beat.STATUS, 0, clock.now)
    (call,) = client.calls
    assert (call.method, call.path) == ("PATCH", f.status_path())
    assert call.content_type == str(PatchType.STRATEGIC)
    conditions = orjson.loads(call.body)["status"]["conditions"]
    assert {c["lastHeartbeatTime"] for c in conditions} == {nodes.rfc3339(clock.time())}
    assert {c["lastTransitionTime"] for c in conditions} == {"2026-01-01T00:00:00Z"}
    stored = await kube.client.get(NODES, f.node_name())
    beats = {c["type"]: c["lastHeartbeatTime"] for c in stored["status"]["conditions"]}
    assert set(beats.values()) == {nodes.rfc3339(clock.time())}
    assert f.fleet.timers.due_at(Beat.STATUS, 0) == clock.now + 300.0
    assert f.fleet.stats.status_reports == 1


def _watched(f: Fleet, conditions: list[dict]) -> dict:
    node = f.fleet.nodes[0]
    return {
        "metadata": {"name": node.name, "uid": node.uid, "labels": {}},
        "status": {"conditions": conditions},
    }


async def test_no_status_write_while_the_watched_node_looks_healthy(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    f.fleet.timers.schedule(Beat.STATUS, 0, clock.now + 250.0)
    f.fleet._on_node_event("MODIFIED", _watched(f, nodes.node_conditions("t0", "t1")))
    assert f.fleet.timers.due_at(Beat.STATUS, 0) == clock.now + 250.0


async def test_a_node_marked_not_ready_by_someone_else_reports_ready_again_soon(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    f.fleet.timers.schedule(Beat.STATUS, 0, clock.now + 250.0)
    f.fleet.nodes[0].last_report = clock.now - 4.0
    unknown = nodes.node_conditions("t0", "t1")
    unknown[-1].update(status="Unknown", reason="NodeStatusUnknown")
    f.fleet._on_node_event("MODIFIED", _watched(f, unknown))
    # At the next 10 s status computation, not in five minutes and not in a loop.
    assert f.fleet.timers.due_at(Beat.STATUS, 0) == clock.now + 6.0
    # Ready again is a transition: its time is now.
    assert f.fleet.nodes[0].ready_since == nodes.rfc3339(clock.time())


async def test_a_deleted_node_stops_heartbeating(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube)
    f.fleet.timers.schedule(Beat.LEASE, 0, clock.now + 5.0)
    f.fleet.timers.schedule(Beat.STATUS, 0, clock.now + 50.0)
    f.fleet._on_node_event("DELETED", _watched(f, nodes.node_conditions("t0", "t1")))
    assert not f.fleet.nodes[0].active
    assert len(f.fleet.timers) == 0
    await f.fleet.beat(Beat.LEASE, 0, clock.now)
    assert client.calls == []


async def test_delete_on_exit_removes_leases_and_nodes(
    client: Calls, clock: FakeClock, kube: TestCluster
) -> None:
    f = await _fleet(client, clock, kube, count=2)
    # The first node's lease is gone already: a 404 to ignore.
    await kube.client.delete(LEASES, f.node_name(0), namespace=LEASE_NAMESPACE)
    await f.fleet.delete_all()
    deleted = sorted(c.path for c in client.calls)
    assert deleted == sorted(
        [
            NODES.path(name=f.node_name(0)),
            NODES.path(name=f.node_name(1)),
            f.lease_path(0),
            f.lease_path(1),
        ]
    )
    names = {n["metadata"]["name"] for n in (await kube.client.list(NODES))["items"]}
    assert not names & {f.node_name(0), f.node_name(1)}
    leases = await kube.client.list(LEASES, namespace=LEASE_NAMESPACE)
    assert not {x["metadata"]["name"] for x in leases["items"]} & {f.node_name(0), f.node_name(1)}
