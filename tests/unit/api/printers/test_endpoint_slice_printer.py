"""`kubectl get endpointslices`: ADDRESSTYPE, PORTS and ENDPOINTS as Kubernetes prints them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.discovery import format_endpoints, format_ports

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def test_columns_are_kubectls() -> None:
    printer = printer_for("discovery.k8s.io", "EndpointSlice")
    assert [c.name for c in printer.columns] == [
        "Name",
        "AddressType",
        "Ports",
        "Endpoints",
        "Age",
    ]


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ([], "<unset>"),
        ([{"name": "http", "port": 80}], "80"),
        ([{"name": "http"}], "http"),
        ([{}], "*"),
        ([{"port": p} for p in (80, 443, 8080)], "80,443,8080"),
        ([{"port": p} for p in (80, 443, 8080, 9090, 9091)], "80,443,8080 + 2 more..."),
    ],
)
def test_ports(ports: list[Obj], expected: str) -> None:
    assert format_ports(ports) == expected


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ([], "<unset>"),
        ([{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}], "10.0.0.1,10.0.0.2"),
        (
            [{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)],
            "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...",
        ),
    ],
)
def test_endpoints(endpoints: list[Obj], expected: str) -> None:
    assert format_endpoints(endpoints) == expected


def test_a_row() -> None:
    eps = {
        "metadata": {
            "name": "web-x1",
            "creationTimestamp": meta.format_time(NOW - dt.timedelta(minutes=3)),
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080}],
        "endpoints": [{"addresses": ["10.42.0.5"]}],
    }
    cells = printer_for("discovery.k8s.io", "EndpointSlice").cells(eps, NOW)
    assert cells == ["web-x1", "IPv4", "8080", "10.42.0.5", "3m"]
