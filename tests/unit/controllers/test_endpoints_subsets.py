"""The Endpoints controller's subsets, table-driven: a Service and its pods in, subsets out
(ready and not-ready addresses, publishNotReadyAddresses, named ports per pod, hostnames,
terminating and finished pods, repacking and the 1000-address cut)."""

from __future__ import annotations

from typing import Any

import pytest
from endpoints_fixtures import pod, service

from kubelite.controllers import endpoints_subsets
from kubelite.controllers.endpoints import desired_endpoints

Obj = dict[str, Any]
PORT = {"name": "web", "port": 8080, "protocol": "TCP"}


def addr(name: str, ip: str, **extra: Any) -> Obj:
    return {
        "ip": ip,
        **extra,
        "nodeName": "node-a",
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": name, "uid": f"uid-{name}"},
    }


@pytest.mark.parametrize(
    ("svc", "pods", "expected"),
    [
        pytest.param(service(), [], [], id="no pods"),
        pytest.param(
            service(),
            [pod("b", "10.42.0.2"), pod("a", "10.42.0.1")],
            [{"addresses": [addr("a", "10.42.0.1"), addr("b", "10.42.0.2")], "ports": [PORT]}],
            id="ready pods share a subset, sorted by IP",
        ),
        pytest.param(
            service(),
            [pod("a", "10.42.0.1"), pod("b", "10.42.0.2", ready=False)],
            [
                {
                    "addresses": [addr("a", "10.42.0.1")],
                    "notReadyAddresses": [addr("b", "10.42.0.2")],
                    "ports": [PORT],
                }
            ],
            id="a not-ready pod is a notReadyAddress",
        ),
        pytest.param(
            service(publish_not_ready=True),
            [pod("b", "10.42.0.2", ready=False, deleting=True)],
            [{"addresses": [addr("b", "10.42.0.2")], "ports": [PORT]}],
            id="publishNotReadyAddresses publishes not-ready and terminating pods as ready",
        ),
        pytest.param(
            service(),
            [
                pod("a", "10.42.0.1", deleting=True),
                pod("b", "10.42.0.2", phase="Succeeded"),
                pod("c", None),
            ],
            [],
            id="terminating, finished and address-less pods are left out",
        ),
        pytest.param(
            service(),
            [pod("a", "10.42.0.1"), pod("b", "10.42.0.2", ports=[])],
            [{"addresses": [addr("a", "10.42.0.1")], "ports": [PORT]}],
            id="a pod without the named port is left out of that port",
        ),
        pytest.param(
            service(
                ports=[
                    {"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"},
                    {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"},
                ]
            ),
            [pod("a", "10.42.0.1"), pod("b", "10.42.0.2", ports=[])],
            [
                {
                    "addresses": [addr("a", "10.42.0.1"), addr("b", "10.42.0.2")],
                    "ports": [{"name": "metrics", "port": 9090, "protocol": "TCP"}],
                },
                {"addresses": [addr("a", "10.42.0.1")], "ports": [PORT]},
            ],
            id="repacked: addresses grouped by the set of ports they serve",
        ),
        pytest.param(
            service(
                ports=[
                    {"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"},
                ]
            ),
            [
                pod("a", "10.42.0.1", ports=[{"name": "http", "containerPort": 80}]),
                pod("b", "10.42.0.2"),
            ],
            [
                {
                    "addresses": [addr("a", "10.42.0.1")],
                    "ports": [{"name": "web", "port": 80, "protocol": "TCP"}],
                },
                {"addresses": [addr("b", "10.42.0.2")], "ports": [PORT]},
            ],
            id="a named port resolves per pod",
        ),
        pytest.param(
            service("redis", cluster_ip="None", ports=[]),
            [pod("redis-0", "10.42.0.7", hostname="redis-0", subdomain="redis")],
            [{"addresses": [addr("redis-0", "10.42.0.7", hostname="redis-0")]}],
            id="headless without ports, hostname for a pod of its subdomain",
        ),
        pytest.param(
            service("redis", cluster_ip="None", ports=[]),
            [pod("x-0", "10.42.0.7", hostname="x-0", subdomain="other")],
            [{"addresses": [addr("x-0", "10.42.0.7")]}],
            id="no hostname when the subdomain is another Service",
        ),
        pytest.param(
            service(ports=[]),
            [pod("a", "10.42.0.1")],
            [],
            id="a Service with a cluster IP and no ports gets no addresses",
        ),
    ],
)
def test_subsets(svc: Obj, pods: list[Obj], expected: list[Obj]) -> None:
    subsets, truncated = endpoints_subsets.desired_subsets(svc, pods)
    assert subsets == expected
    assert not truncated


def test_an_address_not_ready_for_one_port_is_not_ready_for_all() -> None:
    a = addr("a", "10.42.0.1")
    p1 = {"name": "x", "port": 1, "protocol": "TCP"}
    p2 = {"name": "y", "port": 2, "protocol": "TCP"}
    repacked = endpoints_subsets.repack_subsets(
        [{"addresses": [a], "ports": [p1]}, {"notReadyAddresses": [a], "ports": [p2]}]
    )
    assert repacked == [
        {"addresses": [a], "ports": [p1]},
        {"notReadyAddresses": [a], "ports": [p2]},
    ]


def many(count: int, *, ready: bool, start: int = 0) -> list[Obj]:
    return [
        pod(f"p{i}", f"10.42.{i // 250}.{i % 250 + 1}", ready=ready)
        for i in range(start, start + count)
    ]


def test_over_capacity_keeps_ready_addresses_first_and_marks_the_endpoints() -> None:
    pods = many(900, ready=True) + many(300, ready=False, start=900)
    subsets, truncated = endpoints_subsets.desired_subsets(service(), pods)
    assert truncated
    assert len(subsets[0]["addresses"]) == 900
    assert len(subsets[0]["notReadyAddresses"]) == 100
    body = desired_endpoints(service(), pods, None)
    assert body is not None
    assert body["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}


def test_more_than_capacity_ready_drops_every_not_ready_address() -> None:
    pods = many(1100, ready=True) + many(5, ready=False, start=1100)
    subsets, truncated = endpoints_subsets.desired_subsets(service(), pods)
    assert truncated
    assert len(subsets[0]["addresses"]) == 1000
    assert "notReadyAddresses" not in subsets[0]


def test_endpoints_carry_the_services_labels_and_the_headless_label() -> None:
    svc = service("db", cluster_ip="None", labels={"tier": "db"})
    body = desired_endpoints(svc, [pod("a", "10.42.0.1")], None)
    assert body is not None
    assert body["metadata"]["labels"] == {"tier": "db", "service.kubernetes.io/headless": ""}
    assert body["metadata"]["name"] == "db"


def test_nothing_is_written_when_the_endpoints_are_already_right() -> None:
    svc = service()
    pods = [pod("a", "10.42.0.1")]
    first = desired_endpoints(svc, pods, None)
    assert first is not None
    first["metadata"]["annotations"] = {
        "endpoints.kubernetes.io/last-change-trigger-time": "2025-01-01T00:00:10Z"
    }
    # A targetRef's resourceVersion alone is no change (endpointSubsetsEqualIgnoreResourceVersion).
    first["subsets"][0]["addresses"][0]["targetRef"]["resourceVersion"] = "5"
    assert desired_endpoints(svc, pods, first) is None
    assert desired_endpoints(svc, [*pods, pod("b", "10.42.0.2")], first) is not None
    relabelled = service(labels={"new": "label"})
    assert desired_endpoints(relabelled, pods, first) is not None


def test_an_endpoints_without_addresses_or_labels_writes_neither() -> None:
    body = desired_endpoints(service(), [], None)
    assert body is not None
    assert "subsets" not in body and "labels" not in body["metadata"]
