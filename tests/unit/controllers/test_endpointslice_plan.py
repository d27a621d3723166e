"""The EndpointSlice controller's reconciliation, table-driven: a Service, its pods, the nodes
and the existing slices in; the slices to create, update and delete out."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from endpoints_fixtures import node, pod, service

from kubelite.api import meta
from kubelite.controllers import endpointslice_reconciler as reconciler
from kubelite.controllers.endpointslice import plan_for_service, pod_endpoint

Obj = dict[str, Any]
_NODES = {"node-a": node("node-a", zone="zone-1"), "node-b": node("node-b")}
NODES = _NODES.get
PORT = {"name": "web", "protocol": "TCP", "port": 8080}
_names = itertools.count()


def conditions(endpoint: Obj) -> tuple[bool, bool, bool]:
    c = endpoint["conditions"]
    return c["ready"], c["serving"], c["terminating"]


@pytest.mark.parametrize(
    ("pod_args", "svc_args", "expected"),
    [
        ({}, {}, (True, True, False)),
        ({"ready": False}, {}, (False, False, False)),
        ({"deleting": True}, {}, (False, True, True)),
        ({"deleting": True, "ready": False}, {}, (False, False, True)),
        ({"ready": False}, {"publish_not_ready": True}, (True, False, False)),
        ({"deleting": True}, {"publish_not_ready": True}, (True, True, True)),
    ],
)
def test_conditions(pod_args: Obj, svc_args: Obj, expected: tuple[bool, bool, bool]) -> None:
    endpoint = pod_endpoint(pod("a", **pod_args), _NODES["node-a"], service(**svc_args), "IPv4")
    assert conditions(endpoint) == expected


def test_an_endpoint_names_its_pod_node_zone_and_hostname() -> None:
    svc = service("redis", cluster_ip="None")
    p = pod("redis-0", "10.42.0.9", hostname="redis-0", subdomain="redis")
    assert pod_endpoint(p, _NODES["node-a"], svc, "IPv4") == {
        "addresses": ["10.42.0.9"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "hostname": "redis-0",
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "redis-0", "uid": "uid-redis-0"},
        "nodeName": "node-a",
        "zone": "zone-1",
    }
    assert "zone" not in pod_endpoint(pod("b", node="node-b"), _NODES["node-b"], svc, "IPv4")


def created(plan: reconciler.Plan) -> list[Obj]:
    """The plan's creates as the API server would store them: named, with a uid."""
    result = []
    for body in plan.create:
        body = meta.clone(body)
        n = next(_names)
        body["metadata"]["name"] = body["metadata"]["generateName"] + f"{n:05d}"
        body["metadata"]["uid"] = f"eps-{n}"
        body["metadata"]["resourceVersion"] = "1"
        result.append(body)
    return result


def addresses(slices: list[Obj]) -> list[str]:
    return sorted(a for s in slices for e in s.get("endpoints") or () for a in e["addresses"])


def pods_n(count: int, **kwargs: Any) -> list[Obj]:
    return [pod(f"p{i:03d}", f"10.42.{i // 250}.{i % 250 + 1}", **kwargs) for i in range(count)]


def test_a_new_service_gets_one_slice_labelled_and_owned() -> None:
    plan, missing = plan_for_service(service(labels={"tier": "web"}), pods_n(3), [], NODES)
    assert not missing and not plan.update and not plan.delete
    (eps,) = plan.create
    assert eps["metadata"]["generateName"] == "web-"
    assert eps["metadata"]["labels"] == {
        "tier": "web",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert eps["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": "svc-web",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert eps["addressType"] == "IPv4"
    assert eps["ports"] == [PORT]
    assert len(eps["endpoints"]) == 3


def test_no_pods_gives_one_placeholder_slice_kept_across_syncs() -> None:
    plan, _ = plan_for_service(service(), [], [], NODES)
    (placeholder,) = plan.create
    assert placeholder["endpoints"] is None and placeholder["ports"] is None
    again, _ = plan_for_service(service(), [], created(plan), NODES)
    assert again.empty()


def test_headless_service_slices_carry_the_headless_label() -> None:
    plan, _ = plan_for_service(service(cluster_ip="None"), pods_n(1), [], NODES)
    assert plan.create[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


def test_at_most_100_endpoints_per_slice() -> None:
    plan, _ = plan_for_service(service(), pods_n(250), [], NODES)
    assert sorted(len(s["endpoints"]) for s in plan.create) == [50, 100, 100]
    assert len(addresses(plan.create)) == 250


def test_an_unchanged_service_writes_nothing() -> None:
    pods = pods_n(120)
    first, _ = plan_for_service(service(), pods, [], NODES)
    assert plan_for_service(service(), pods, created(first), NODES)[0].empty()


def test_a_readiness_change_updates_the_slice_in_place() -> None:
    pods = pods_n(3)
    existing = created(plan_for_service(service(), pods, [], NODES)[0])
    pods[1] = pod("p001", "10.42.0.2", ready=False)
    plan, _ = plan_for_service(service(), pods, existing, NODES)
    assert not plan.create and not plan.delete
    (updated,) = plan.update
    assert meta.name_of(updated) == meta.name_of(existing[0])
    states = {e["targetRef"]["name"]: conditions(e) for e in updated["endpoints"]}
    assert states["p001"] == (False, False, False)
    assert states["p000"] == (True, True, False)


def test_a_new_pod_fills_the_existing_slice_rather_than_making_one() -> None:
    existing = created(plan_for_service(service(), pods_n(3), [], NODES)[0])
    plan, _ = plan_for_service(service(), pods_n(4), existing, NODES)
    assert not plan.create and not plan.delete
    assert len(plan.update[0]["endpoints"]) == 4


def test_a_removed_pod_is_removed_and_an_emptied_slice_deleted() -> None:
    existing = created(plan_for_service(service(), pods_n(150), [], NODES)[0])
    full = next(s for s in existing if len(s["endpoints"]) == 100)
    survivors = {e["targetRef"]["name"] for e in full["endpoints"]}
    plan, _ = plan_for_service(
        service(), [p for p in pods_n(150) if meta.name_of(p) in survivors], existing, NODES
    )
    assert [meta.name_of(s) for s in plan.delete] == [
        meta.name_of(s) for s in existing if s is not full
    ]
    assert not plan.create and not plan.update


def test_pods_whose_named_port_differs_get_a_slice_each() -> None:
    pods = [
        pod("a", "10.42.0.1"),
        pod("b", "10.42.0.2", ports=[{"name": "http", "containerPort": 9000}]),
    ]
    plan, _ = plan_for_service(service(), pods, [], NODES)
    by_port = {s["ports"][0]["port"]: addresses([s]) for s in plan.create}
    assert by_port == {8080: ["10.42.0.1"], 9000: ["10.42.0.2"]}


def test_a_pod_lacking_the_named_port_gets_a_slice_without_ports() -> None:
    pods = [pod("a", "10.42.0.1"), pod("b", "10.42.0.2", ports=[])]
    plan, _ = plan_for_service(service(), pods, [], NODES)
    by_ports = {str(s["ports"]): addresses([s]) for s in plan.create}
    assert by_ports == {str([PORT]): ["10.42.0.1"], "None": ["10.42.0.2"]}


def test_a_changed_port_mapping_reuses_the_old_slice_by_name() -> None:
    existing = created(plan_for_service(service(), pods_n(2), [], NODES)[0])
    moved = [
        pod(f"p{i:03d}", f"10.42.0.{i + 1}", ports=[{"name": "http", "containerPort": 9000}])
        for i in range(2)
    ]
    plan, _ = plan_for_service(service(), moved, existing, NODES)
    assert not plan.create and not plan.delete
    (updated,) = plan.update
    assert meta.name_of(updated) == meta.name_of(existing[0])
    assert updated["ports"] == [{**PORT, "port": 9000}]


def test_a_pod_on_an_unknown_node_is_skipped_and_retried() -> None:
    plan, missing = plan_for_service(service(), [pod("a", node="gone")], [], NODES)
    assert missing == ["a"]
    assert plan.create[0]["endpoints"] is None
    published, missing = plan_for_service(
        service(publish_not_ready=True), [pod("a", node="gone")], [], NODES
    )
    assert missing == [] and len(published.create[0]["endpoints"]) == 1


def test_slices_of_another_owner_are_deleted() -> None:
    stranger = created(plan_for_service(service(), pods_n(1), [], NODES)[0])
    stranger[0]["metadata"]["ownerReferences"][0]["uid"] = "an-older-service"
    plan, _ = plan_for_service(service(), pods_n(1), stranger, NODES)
    assert plan.delete == stranger
    assert len(plan.create) == 1


def test_a_relabelled_service_relabels_its_slices() -> None:
    existing = created(plan_for_service(service(), pods_n(1), [], NODES)[0])
    plan, _ = plan_for_service(service(labels={"v": "2"}), pods_n(1), existing, NODES)
    (updated,) = plan.update
    assert updated["metadata"]["labels"]["v"] == "2"


def test_prefer_close_hints_each_endpoint_at_its_zone_and_hints_go_with_it() -> None:
    svc = service(trafficDistribution="PreferClose")
    zoned = pod_endpoint(pod("a"), _NODES["node-a"], svc, "IPv4")
    assert zoned["hints"] == {"forZones": [{"name": "zone-1"}]}
    assert "hints" not in pod_endpoint(pod("b", node="node-b"), _NODES["node-b"], svc, "IPv4")
    existing = created(plan_for_service(svc, pods_n(2), [], NODES)[0])
    (updated,) = plan_for_service(service(), pods_n(2), existing, NODES)[0].update
    assert not any("hints" in e for e in updated["endpoints"])


@pytest.mark.parametrize("distribution", ["PreferClose", "PreferSameZone"])
def test_same_zone_distributions_hint_only_the_zone(distribution: str) -> None:
    svc = service(trafficDistribution=distribution)
    endpoint = pod_endpoint(pod("a"), _NODES["node-a"], svc, "IPv4")
    assert endpoint["hints"] == {"forZones": [{"name": "zone-1"}]}


def test_prefer_same_node_hints_the_zone_and_the_node() -> None:
    """KEP-3015: forNodes for the endpoint's node, and forZones too, so that a proxy that
    knows no node hints still keeps the traffic in the zone."""
    svc = service(trafficDistribution="PreferSameNode")
    zoned = pod_endpoint(pod("a"), _NODES["node-a"], svc, "IPv4")
    assert zoned["hints"] == {"forZones": [{"name": "zone-1"}], "forNodes": [{"name": "node-a"}]}
    # A node without a zone label: only the node hint.
    unzoned = pod_endpoint(pod("b", node="node-b"), _NODES["node-b"], svc, "IPv4")
    assert unzoned["hints"] == {"forNodes": [{"name": "node-b"}]}


@pytest.mark.parametrize("pod_args", [{"ready": False}, {"deleting": True}])
def test_endpoints_that_are_not_ready_get_no_hints(pod_args: Obj) -> None:
    """preferCloseHeuristic hints ready endpoints only."""
    svc = service(trafficDistribution="PreferSameNode")
    assert "hints" not in pod_endpoint(pod("a", **pod_args), _NODES["node-a"], svc, "IPv4")


def test_switching_to_prefer_same_node_updates_the_slice_with_node_hints() -> None:
    existing = created(
        plan_for_service(service(trafficDistribution="PreferClose"), pods_n(2), [], NODES)[0]
    )
    assert all("forNodes" not in e["hints"] for e in existing[0]["endpoints"])
    plan, _ = plan_for_service(
        service(trafficDistribution="PreferSameNode"), pods_n(2), existing, NODES
    )
    (updated,) = plan.update
    assert [e["hints"]["forNodes"] for e in updated["endpoints"]] == [[{"name": "node-a"}]] * 2
