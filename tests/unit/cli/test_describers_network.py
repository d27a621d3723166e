"""`kubelite describe` of Services, Endpoints and EndpointSlices: the pieces kubectl 1.33
computes (the Service's endpoints from its slices, ingress, unset fields). The whole text is
compared with kubectl's live in tests/integration/test_service_endpoints.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.cli.kubectl.describe.network import (
    describe_endpoint_slice,
    describe_endpoints,
    describe_service,
    format_endpoint_slices,
)

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
Obj = dict[str, Any]


def eps(*endpoints: tuple[str, bool | None], ports: list[Obj] | None = None) -> Obj:
    items = []
    for address, ready in endpoints:
        conditions = {} if ready is None else {"ready": ready}
        items.append({"addresses": [address], "conditions": conditions})
    return {"endpoints": items, "ports": ports}


WEB = [{"name": "web", "port": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("slices", "port", "expected"),
    [
        ([], "web", "<none>"),
        ([eps(ports=WEB)], "web", ""),
        ([eps(("10.0.0.1", True), ("10.0.0.2", False), ports=WEB)], "web", "10.0.0.1:8080"),
        ([eps(("10.0.0.1", None), ports=WEB)], "web", "10.0.0.1:8080"),
        ([eps(("10.0.0.1", True), ports=WEB)], "other", ""),
        ([eps(("10.0.0.1", True))], None, "10.0.0.1"),
        ([eps(("fd00::1", True), ports=WEB)], "web", "[fd00::1]:8080"),
        (
            [eps(*((f"10.0.0.{i}", True) for i in range(1, 6)), ports=WEB)],
            "web",
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 2 more...",
        ),
    ],
)
def test_service_endpoints_from_slices(slices: list[Obj], port: str | None, expected: str) -> None:
    assert format_endpoint_slices(slices, port) == expected


def lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def test_a_service_with_a_node_port_and_an_ingress() -> None:
    service = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "clusterIP": "10.43.0.20",
            "clusterIPs": ["10.43.0.20"],
            "ipFamilies": ["IPv4"],
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}],
            "sessionAffinity": "None",
            "externalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}]}},
    }
    text = lines(
        describe_service(
            service, [eps(("10.42.0.5", True), ports=[{"name": "", "port": 8080}])], [], NOW
        )
    )
    assert ["LoadBalancer", "Ingress:", "192.0.2.1", "(VIP)"] in text
    assert ["Port:", "<unset>", "80/TCP"] in text
    assert ["TargetPort:", "8080/TCP"] in text
    assert ["NodePort:", "<unset>", "30080/TCP"] in text
    assert ["Endpoints:", "10.42.0.5:8080"] in text


def test_endpoints_subsets_and_slice_endpoints() -> None:
    endpoints = {
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.5"}],
                "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    text = lines(describe_endpoints(endpoints, None, NOW))
    assert ["Addresses:", "10.42.0.5"] in text
    assert ["NotReadyAddresses:", "<none>"] in text
    assert ["web", "8080", "TCP"] in text
    slice_text = lines(
        describe_endpoint_slice(
            {
                "metadata": {"name": "web-x", "namespace": "default"},
                "addressType": "IPv4",
                "ports": None,
                "endpoints": None,
            },
            None,
            NOW,
        )
    )
    assert ["Ports:", "<unset>"] in slice_text
    assert ["Endpoints:", "<none>"] in slice_text
