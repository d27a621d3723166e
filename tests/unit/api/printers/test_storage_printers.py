"""PersistentVolumeClaim and ControllerRevision rows of `kubectl get`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.apps import controller_revision_cells
from kubelite.api.printers.storage import access_modes_string, claim_cells

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def made(minutes: int) -> str:
    return meta.format_time(NOW - dt.timedelta(minutes=minutes))


def test_claim_columns_are_kubernetes_ones() -> None:
    printer = printer_for("", "PersistentVolumeClaim")
    assert [(c.name, c.priority) for c in printer.columns] == [
        ("Name", 0),
        ("Status", 0),
        ("Volume", 0),
        ("Capacity", 0),
        ("Access Modes", 0),
        ("StorageClass", 0),
        ("VolumeAttributesClass", 0),
        ("Age", 0),
        ("VolumeMode", 1),
    ]


def test_an_unbound_claim_shows_no_capacity_or_modes() -> None:
    claim: Obj = {
        "metadata": {"name": "data-web-0", "creationTimestamp": made(3)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Pending"},
    }
    assert claim_cells(claim, NOW) == [
        "data-web-0",
        "Pending",
        "",
        "",
        "",
        "",
        "<unset>",
        "3m",
        "Filesystem",
    ]


def test_a_bound_claim_shows_what_its_volume_gives() -> None:
    claim: Obj = {
        "metadata": {
            "name": "data",
            "creationTimestamp": made(90),
            "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"},
            "deletionTimestamp": meta.format_time(NOW),
        },
        "spec": {"volumeName": "pv-7", "storageClassName": "fast"},
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "2048Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
        },
    }
    cells = claim_cells(claim, NOW)
    assert cells[:7] == ["data", "Terminating", "pv-7", "2Gi", "RWO,RWX", "legacy", "<unset>"]
    assert cells[8] == "<unset>"


def test_access_modes_are_written_in_a_fixed_order() -> None:
    assert access_modes_string(["ReadWriteOncePod", "ReadOnlyMany"]) == "ROX,RWOP"
    assert access_modes_string(None) == ""


def test_controller_revision_row_names_its_controller_by_kind_and_group() -> None:
    owned: Obj = {
        "metadata": {
            "name": "web-6c9f8d7b5",
            "creationTimestamp": made(5),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}
            ],
        },
        "revision": 3,
    }
    assert controller_revision_cells(owned, NOW) == [
        "web-6c9f8d7b5",
        "statefulset.apps/web",
        3,
        "5m",
    ]
    orphan: Obj = {"metadata": {"name": "x", "creationTimestamp": made(1)}, "revision": 1}
    assert controller_revision_cells(orphan, NOW)[1] == "<none>"
    columns = printer_for("apps", "ControllerRevision").columns
    assert [c.name for c in columns] == ["Name", "Controller", "Revision", "Age"]
