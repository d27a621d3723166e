"""Service and Endpoints rows: EXTERNAL-IP, PORT(S) and the ENDPOINTS list as Kubernetes prints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.printers.core import (
    endpoints_cells,
    format_endpoints,
    service_cells,
    service_cluster_ip,
    service_external_ip,
    service_ports,
)

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def make_service(type_: str = "ClusterIP", **spec: Any) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "creationTimestamp": meta.format_time(NOW - dt.timedelta(hours=2, minutes=5)),
        },
        "spec": {"type": type_, **spec},
        "status": {},
    }


def with_ingress(service: Obj, *ingress: Obj) -> Obj:
    service["status"] = {"loadBalancer": {"ingress": list(ingress)}}
    return service


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        pytest.param(make_service(), "<none>", id="cluster-ip"),
        pytest.param(
            make_service(externalIPs=["1.2.3.4", "1.2.3.5"]), "1.2.3.4,1.2.3.5", id="external-ips"
        ),
        pytest.param(make_service("NodePort"), "<none>", id="node-port"),
        pytest.param(make_service("LoadBalancer"), "<pending>", id="load-balancer-pending"),
        pytest.param(
            with_ingress(
                make_service("LoadBalancer"), {"ip": "203.0.113.9"}, {"ip": "203.0.113.2"}
            ),
            "203.0.113.2,203.0.113.9",
            id="load-balancer-ips-sorted",
        ),
        pytest.param(
            with_ingress(
                make_service("LoadBalancer"),
                {"hostname": "lb.example.com"},
                {"ip": "203.0.113.9", "hostname": "ignored.example.com"},
                {"ip": "203.0.113.9"},
            ),
            "203.0.113.9,lb.example.com",
            id="load-balancer-hostname-when-no-ip-deduplicated",
        ),
        pytest.param(
            with_ingress(make_service("LoadBalancer", externalIPs=["1.2.3.4"]), {"ip": "5.6.7.8"}),
            "5.6.7.8,1.2.3.4",
            id="load-balancer-then-external-ips",
        ),
        pytest.param(
            make_service("LoadBalancer", externalIPs=["1.2.3.4"]),
            "1.2.3.4",
            id="load-balancer-pending-with-external-ips",
        ),
        pytest.param(
            with_ingress(
                make_service("LoadBalancer"), {"hostname": "a-very-long-name.elb.example"}
            ),
            "a-very-long-name.elb.example",
            id="load-balancer-not-cut-in-wide-server-tables",
        ),
        pytest.param(
            make_service("ExternalName", externalName="db.example.com"),
            "db.example.com",
            id="external-name",
        ),
        pytest.param(make_service(""), "<unknown>", id="no-type"),
    ],
)
def test_external_ip(service: Obj, expected: str) -> None:
    assert service_external_ip(service) == expected


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        pytest.param([], "<none>", id="none"),
        pytest.param([{"port": 80, "protocol": "TCP"}], "80/TCP", id="one"),
        pytest.param(
            [{"port": 80, "protocol": "TCP", "nodePort": 30080}], "80:30080/TCP", id="node-port"
        ),
        pytest.param(
            [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "nodePort": 0},
            ],
            "53/UDP,53/TCP,9153/TCP",
            id="several",
        ),
    ],
)
def test_ports(ports: list[Obj], expected: str) -> None:
    assert service_ports(make_service(ports=ports)) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"]}, "10.43.0.10", id="set"
        ),
        pytest.param({"clusterIP": "None", "clusterIPs": ["None"]}, "None", id="headless"),
        pytest.param({"clusterIPs": ["10.43.0.11", "fd00::11"]}, "10.43.0.11", id="ips-only"),
        pytest.param({}, "<none>", id="unset"),
    ],
)
def test_cluster_ip(spec: Obj, expected: str) -> None:
    assert service_cluster_ip(make_service(**spec)) == expected


def test_service_row() -> None:
    service = make_service(
        "NodePort",
        clusterIP="10.43.0.20",
        clusterIPs=["10.43.0.20"],
        ports=[{"port": 80, "protocol": "TCP", "nodePort": 30080}],
        selector={"tier": "front", "app": "web"},
    )
    assert service_cells(service, NOW) == [
        "web",
        "NodePort",
        "10.43.0.20",
        "<none>",
        "80:30080/TCP",
        "125m",
        "app=web,tier=front",
    ]


def test_service_without_selector() -> None:
    assert service_cells(make_service(), NOW)[-1] == "<none>"


def subset(ips: list[str], ports: list[int], not_ready: list[str] | None = None) -> Obj:
    result: Obj = {"addresses": [{"ip": ip} for ip in ips]}
    if ports:
        result["ports"] = [{"port": port, "protocol": "TCP"} for port in ports]
    if not_ready:
        result["notReadyAddresses"] = [{"ip": ip} for ip in not_ready]
    return result


@pytest.mark.parametrize(
    ("subsets", "expected"),
    [
        pytest.param([], "<none>", id="no-subsets"),
        pytest.param([subset(["10.0.0.1"], [80])], "10.0.0.1:80", id="one"),
        pytest.param([subset(["10.0.0.1", "10.0.0.2"], [80])], "10.0.0.1:80,10.0.0.2:80", id="two"),
        pytest.param(
            [subset(["10.0.0.1", "10.0.0.2", "10.0.0.3"], [80])],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80",
            id="exactly-three",
        ),
        pytest.param(
            [subset(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"], [80])],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...",
            id="four",
        ),
        pytest.param(
            [subset(["10.0.0.1", "10.0.0.2"], [80, 443])],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
            id="each-port-of-each-address",
        ),
        pytest.param(
            [subset(["10.0.0.1"], [80]), subset(["10.0.0.2", "10.0.0.3"], [8080])],
            "10.0.0.1:80,10.0.0.2:8080,10.0.0.3:8080",
            id="several-subsets",
        ),
        pytest.param([subset(["10.0.0.1", "10.0.0.2"], [])], "10.0.0.1,10.0.0.2", id="headless"),
        pytest.param([subset(["fd00::1"], [80])], "[fd00::1]:80", id="ipv6"),
        pytest.param([subset([], [80], not_ready=["10.0.0.9"])], "", id="only-not-ready"),
    ],
)
def test_endpoints_column(subsets: list[Obj], expected: str) -> None:
    assert format_endpoints({"subsets": subsets}) == expected


def test_endpoints_row() -> None:
    endpoints = {
        "metadata": {"name": "web", "creationTimestamp": meta.format_time(NOW)},
        "subsets": [subset(["10.0.0.1"], [80])],
    }
    assert endpoints_cells(endpoints, NOW) == ["web", "10.0.0.1:80", "0s"]
