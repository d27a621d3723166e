"""Every kind kubelite serves has its Kubernetes columns, and each row fills all of them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.kinds import RESOURCES
from kubelite.api.printers import DEFAULT_PRINTER, PRINTERS, printer_for

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def named(**fields: Any) -> Obj:
    created = meta.format_time(NOW - dt.timedelta(days=2))
    return {"metadata": {"name": "x", "creationTimestamp": created}, **fields}


# The reviews are answered, never listed or read: kubectl prints no table of them.
@pytest.mark.parametrize(
    "resource", [r for r in RESOURCES if "get" in r.verbs], ids=lambda r: r.group_resource
)
def test_every_served_kind_has_its_printer(resource: Any) -> None:
    assert printer_for(resource.group, resource.kind) is not DEFAULT_PRINTER


@pytest.mark.parametrize("key", sorted(PRINTERS), ids=lambda k: "/".join(k))
def test_rows_fill_every_column_even_for_bare_objects(key: tuple[str, str]) -> None:
    printer = PRINTERS[key]
    assert len(printer.cells({}, NOW)) == len(printer.columns)
    assert len(printer.cells(named(), NOW)) == len(printer.columns)


def test_unknown_kind_gets_name_and_age() -> None:
    printer = printer_for("example.com", "Widget")
    assert [c.name for c in printer.columns] == ["Name", "Age"]
    assert printer.cells(named(), NOW) == ["x", "2d"]
    assert printer.conditions(named()) == []


@pytest.mark.parametrize(
    ("key", "obj", "cells"),
    [
        pytest.param(
            ("", "Namespace"), named(status={"phase": "Active"}), ["x", "Active", "2d"], id="ns"
        ),
        pytest.param(
            ("", "Namespace"),
            named(status={"phase": "Terminating"}),
            ["x", "Terminating", "2d"],
            id="ns-terminating",
        ),
        pytest.param(
            ("", "ConfigMap"),
            named(data={"a": "1", "b": "2"}, binaryData={"c": "AA=="}),
            ["x", 3, "2d"],
            id="configmap-counts-binary-data",
        ),
        pytest.param(("", "ConfigMap"), named(), ["x", 0, "2d"], id="configmap-empty"),
        pytest.param(
            ("", "Secret"),
            named(type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""}),
            ["x", "kubernetes.io/tls", 2, "2d"],
            id="secret",
        ),
        # No SECRETS count since 1.35 (#117160), whatever `secrets` holds.
        pytest.param(
            ("", "ServiceAccount"),
            named(secrets=[{"name": "x-token"}]),
            ["x", "2d"],
            id="serviceaccount",
        ),
        pytest.param(("", "ServiceAccount"), named(), ["x", "2d"], id="serviceaccount-none"),
        pytest.param(
            ("coordination.k8s.io", "Lease"),
            named(spec={"holderIdentity": "node-1", "leaseDurationSeconds": 40}),
            ["x", "node-1", "2d"],
            id="lease",
        ),
        pytest.param(
            ("coordination.k8s.io", "Lease"), named(spec={}), ["x", "", "2d"], id="lease-free"
        ),
    ],
)
def test_simple_kinds(key: tuple[str, str], obj: Obj, cells: list[Any]) -> None:
    assert PRINTERS[key].cells(obj, NOW) == cells


@pytest.mark.parametrize(
    ("key", "columns"),
    [
        (("", "Namespace"), ["Name", "Status", "Age"]),
        (("", "ConfigMap"), ["Name", "Data", "Age"]),
        (("", "Secret"), ["Name", "Type", "Data", "Age"]),
        (("", "ServiceAccount"), ["Name", "Age"]),
        (("", "Endpoints"), ["Name", "Endpoints", "Age"]),
        (
            ("", "Service"),
            ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"],
        ),
        (("coordination.k8s.io", "Lease"), ["Name", "Holder", "Age"]),
    ],
)
def test_column_names(key: tuple[str, str], columns: list[str]) -> None:
    assert [c.name for c in PRINTERS[key].columns] == columns


def test_column_definitions_are_table_json() -> None:
    definition = printer_for("", "Service").columns[-1].definition()
    assert definition["name"] == "Selector"
    assert definition["priority"] == 1
    assert set(definition) == {"name", "type", "format", "description", "priority"}
