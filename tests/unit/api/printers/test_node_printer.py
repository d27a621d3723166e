"""The Node row of `kubectl get nodes`: STATUS from the Ready condition, ROLES from labels."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.core import node_cells, node_roles, node_status

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def make_node(
    *,
    ready: str | None = "True",
    unschedulable: bool = False,
    labels: dict[str, str] | None = None,
) -> Obj:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    node: Obj = {
        "metadata": {
            "name": "node-1",
            "labels": labels or {},
            "creationTimestamp": meta.format_time(NOW - dt.timedelta(days=3, hours=5)),
        },
        "spec": {},
        "status": {"conditions": conditions},
    }
    if unschedulable:
        node["spec"]["unschedulable"] = True
    return node


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        pytest.param(make_node(), "Ready", id="ready"),
        pytest.param(make_node(ready="False"), "NotReady", id="not-ready"),
        pytest.param(make_node(ready="Unknown"), "NotReady", id="ready-unknown"),
        pytest.param(make_node(ready=None), "Unknown", id="never-reported"),
        pytest.param(make_node(unschedulable=True), "Ready,SchedulingDisabled", id="cordoned"),
        pytest.param(
            make_node(ready="False", unschedulable=True),
            "NotReady,SchedulingDisabled",
            id="cordoned-not-ready",
        ),
        pytest.param(
            make_node(ready=None, unschedulable=True),
            "Unknown,SchedulingDisabled",
            id="cordoned-never-reported",
        ),
    ],
)
def test_status_column(node: Obj, expected: str) -> None:
    assert node_status(node) == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param({}, "<none>", id="none"),
        pytest.param({"node-role.kubernetes.io/control-plane": ""}, "control-plane", id="prefix"),
        pytest.param(
            {
                "node-role.kubernetes.io/worker": "true",
                "node-role.kubernetes.io/control-plane": "",
                "kubernetes.io/role": "master",
            },
            "control-plane,master,worker",
            id="several-sorted",
        ),
        pytest.param(
            {"kubernetes.io/role": "worker", "node-role.kubernetes.io/worker": ""},
            "worker",
            id="same-role-twice",
        ),
        pytest.param({"kubernetes.io/role": ""}, "<none>", id="empty-legacy-role"),
        pytest.param({"node-role.kubernetes.io/": "x"}, "<none>", id="empty-prefix-role"),
        pytest.param({"kubernetes.io/hostname": "node-1"}, "<none>", id="other-labels"),
    ],
)
def test_roles_column(labels: dict[str, str], expected: str) -> None:
    assert node_roles(make_node(labels=labels)) == expected


def test_all_cells() -> None:
    node = make_node(labels={"node-role.kubernetes.io/control-plane": ""})
    node["status"].update(
        addresses=[
            {"type": "Hostname", "address": "node-1"},
            {"type": "InternalIP", "address": "192.168.1.10"},
            {"type": "InternalIP", "address": "fd00::10"},
        ],
        nodeInfo={
            "kubeletVersion": "v1.33.0",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "kernelVersion": "6.1.0-18-amd64",
            "containerRuntimeVersion": "runc://1.1.5",
        },
    )
    assert node_cells(node, NOW) == [
        "node-1",
        "Ready",
        "control-plane",
        "3d5h",
        "v1.33.0",
        "192.168.1.10",
        "<none>",
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0-18-amd64",
        "runc://1.1.5",
    ]


def test_kernel_version_carries_the_architecture() -> None:
    """#132402 (1.36): `-o wide` shows the architecture after the kernel version."""
    node = make_node()
    node["status"]["nodeInfo"] = {"kernelVersion": "6.12.76-linuxkit", "architecture": "arm64"}
    assert node_cells(node, NOW)[8] == "6.12.76-linuxkit (arm64)"


def test_node_without_info() -> None:
    cells = node_cells(make_node(), NOW)
    assert cells[4:] == ["", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_columns() -> None:
    assert [(c.name, c.priority) for c in printer_for("", "Node").columns] == [
        ("Name", 0),
        ("Status", 0),
        ("Roles", 0),
        ("Age", 0),
        ("Version", 0),
        ("Internal-IP", 1),
        ("External-IP", 1),
        ("OS-Image", 1),
        ("Kernel-Version", 1),
        ("Container-Runtime", 1),
    ]
