"""Nodes, Leases, Endpoints and ServiceAccounts: the smaller kinds' defaults and rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.coordination import LeaseStrategy
from kubelite.api.strategies.core import EndpointsStrategy, NodeStrategy, ServiceAccountStrategy

Obj = dict[str, Any]


def messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def stamped(obj: Obj) -> Obj:
    obj["metadata"].update(uid="x-1", resourceVersion="2", creationTimestamp="2025-06-01T12:00:00Z")
    return obj


# --- Node ---------------------------------------------------------------------------------------


def node(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "node-1"},
        "spec": spec,
        "status": {"capacity": {"cpu": "4", "memory": "8Gi"}},
    }


def test_node_keeps_its_status_on_create_and_allocatable_defaults_to_capacity() -> None:
    strategy = NodeStrategy()
    n = node()
    strategy.default(n)
    strategy.prepare_for_create(n)
    assert n["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}
    assert strategy.validate(n) == []


def test_node_pod_cidr_and_pod_cidrs_stay_in_step() -> None:
    n = node(podCIDR="10.42.0.0/24")
    NodeStrategy().default(n)
    assert n["spec"]["podCIDRs"] == ["10.42.0.0/24"]
    n = node(podCIDRs=["10.42.1.0/24"])
    NodeStrategy().default(n)
    assert n["spec"]["podCIDR"] == "10.42.1.0/24"


def test_node_is_cluster_scoped() -> None:
    n = node()
    n["metadata"]["namespace"] = "default"
    assert messages(NodeStrategy().validate(n)) == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]


@pytest.mark.parametrize(
    ("taints", "expected"),
    [
        ([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], []),
        (
            [{"key": "dedicated", "effect": "Sometimes"}],
            [
                'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: '
                '"NoSchedule", "PreferNoSchedule", "NoExecute"'
            ],
        ),
        ([{"key": "dedicated"}], ["metadata.taints[0].effect: Required value"]),
        (
            [
                {"key": "a", "effect": "NoSchedule"},
                {"key": "a", "value": "x", "effect": "NoSchedule"},
            ],
            [
                'metadata.taints[1]: Duplicate value: core.Taint{Key:"a", Value:"x", '
                'Effect:"NoSchedule", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and '
                "effect pair"
            ],
        ),
    ],
)
def test_node_taints(taints: list[Obj], expected: list[str]) -> None:
    assert messages(NodeStrategy().validate(node(taints=taints))) == expected


def test_node_pod_cidr_is_set_once() -> None:
    strategy = NodeStrategy()
    old = stamped(node(podCIDRs=["10.42.0.0/24"]))
    new = copy.deepcopy(old)
    new["spec"]["podCIDRs"] = ["10.42.9.0/24"]
    assert messages(strategy.validate_update(new, old)) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


@pytest.mark.parametrize(("unschedulable", "value"), [(True, "true"), (None, "false")])
def test_node_selects_by_unschedulable(unschedulable: bool | None, value: str) -> None:
    spec = {} if unschedulable is None else {"unschedulable": unschedulable}
    assert NodeStrategy().selectable_fields(node(**spec)) == {"spec.unschedulable": value}


# --- Lease --------------------------------------------------------------------------------------


def lease(**spec: Any) -> Obj:
    return {"metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": spec}


def test_lease_is_created_on_update_and_validated() -> None:
    strategy = LeaseStrategy()
    assert strategy.allow_create_on_update
    assert strategy.validate(lease(holderIdentity="node-1", leaseDurationSeconds=40)) == []
    assert messages(strategy.validate(lease(leaseDurationSeconds=0, leaseTransitions=-1))) == [
        "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
    ]


def test_lease_drops_the_coordinated_election_fields() -> None:
    obj = lease(holderIdentity="a", strategy="OldestEmulationVersion", preferredHolder="b")
    LeaseStrategy().prepare_for_create(obj)
    assert obj["spec"] == {"holderIdentity": "a"}


# --- Endpoints ----------------------------------------------------------------------------------


def endpoints(*subsets: Obj) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default"}, "subsets": list(subsets)}


def test_endpoints_ports_default_to_tcp_and_validate() -> None:
    strategy = EndpointsStrategy()
    ep = endpoints({"addresses": [{"ip": "10.42.0.5"}], "ports": [{"port": 8080}]})
    strategy.default(ep)
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    assert strategy.validate(ep) == []


@pytest.mark.parametrize(
    ("subset", "expected"),
    [
        ({}, ["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"]),
        (
            {"addresses": [{"ip": "127.0.0.1"}]},
            [
                'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the '
                "loopback range (127.0.0.0/8, ::1/128)"
            ],
        ),
        (
            {
                "addresses": [{"ip": "10.0.0.1"}],
                "ports": [{"port": 1, "protocol": "TCP"}, {"port": 2, "protocol": "TCP"}],
            },
            [
                "subsets[0].ports[0].name: Required value",
                "subsets[0].ports[1].name: Required value",
            ],
        ),
    ],
)
def test_endpoints_rules(subset: Obj, expected: list[str]) -> None:
    assert messages(EndpointsStrategy().validate(endpoints(subset))) == expected


# --- ServiceAccount -----------------------------------------------------------------------------


def test_service_account_has_only_metadata_rules() -> None:
    strategy = ServiceAccountStrategy()
    assert strategy.validate({"metadata": {"name": "builder", "namespace": "default"}}) == []
    assert [
        e.field for e in strategy.validate({"metadata": {"name": "Builder", "namespace": "d"}})
    ] == ["metadata.name"]
