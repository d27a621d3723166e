"""Deployment, ReplicaSet, StatefulSet and DaemonSet rows of `kubectl get`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.apps import (
    daemon_set_cells,
    deployment_cells,
    format_label_selector,
    replica_set_cells,
    stateful_set_cells,
)

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def make_workload(status: Obj, **spec: Any) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "creationTimestamp": meta.format_time(NOW - dt.timedelta(minutes=7, seconds=3)),
        },
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1.27"},
                        {"name": "log", "image": "busybox"},
                    ]
                },
            },
            **spec,
        },
        "status": status,
    }


def test_deployment_row() -> None:
    deployment = make_workload(
        {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        replicas=3,
    )
    assert deployment_cells(deployment, NOW) == [
        "web",
        "2/3",
        3,
        2,
        "7m3s",
        "app,log",
        "nginx:1.27,busybox",
        "app=web",
    ]


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param({}, {}, "0/1", id="replicas-default-to-one"),
        pytest.param({"replicas": 0}, {}, "0/0", id="scaled-to-zero"),
        pytest.param({"replicas": 5}, {"readyReplicas": 5}, "5/5", id="all-ready"),
    ],
)
def test_deployment_ready(spec: Obj, status: Obj, expected: str) -> None:
    assert deployment_cells(make_workload(status, **spec), NOW)[1] == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param(None, "", id="none"),
        pytest.param({}, "", id="empty-selects-all"),
        pytest.param(
            {"matchLabels": {"tier": "front", "app": "web"}}, "app=web,tier=front", id="sorted"
        ),
        pytest.param(
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", "back"]},
                    {"key": "env", "operator": "NotIn", "values": ["dev"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "zone", "operator": "Exists"},
                ],
            },
            "app=web,!canary,env notin (dev),tier in (back,front),zone",
            id="expressions",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "Near", "values": ["x"]}]},
            "<invalid>",
            id="invalid",
        ),
    ],
)
def test_deployment_selector(selector: Obj | None, expected: str) -> None:
    deployment = make_workload({}, selector=selector)
    assert deployment_cells(deployment, NOW)[-1] == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param(None, "<none>", id="none"),
        pytest.param({}, "<none>", id="empty"),
        pytest.param({"matchLabels": {"app": "web"}}, "app=web", id="labels"),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "In", "values": []}]},
            "<error>",
            id="invalid",
        ),
    ],
)
def test_label_selector_cell(selector: Obj | None, expected: str) -> None:
    assert format_label_selector(selector) == expected


def test_replica_set_row() -> None:
    replica_set = make_workload({"replicas": 2, "readyReplicas": 1}, replicas=3)
    assert replica_set_cells(replica_set, NOW) == [
        "web",
        3,
        2,
        1,
        "7m3s",
        "app,log",
        "nginx:1.27,busybox",
        "app=web",
    ]


def test_stateful_set_row() -> None:
    stateful_set = make_workload({"replicas": 2, "readyReplicas": 2}, replicas=2)
    assert stateful_set_cells(stateful_set, NOW) == [
        "web",
        "2/2",
        "7m3s",
        "app,log",
        "nginx:1.27,busybox",
    ]


def test_daemon_set_row() -> None:
    daemon_set = make_workload(
        {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        }
    )
    daemon_set["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    assert daemon_set_cells(daemon_set, NOW) == [
        "web",
        3,
        3,
        2,
        3,
        2,
        "kubernetes.io/os=linux",
        "7m3s",
        "app,log",
        "nginx:1.27,busybox",
        "app=web",
    ]


def test_daemon_set_without_node_selector_or_status() -> None:
    cells = daemon_set_cells(make_workload({}), NOW)
    assert cells[1:7] == [0, 0, 0, 0, 0, "<none>"]


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        (
            "Deployment",
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
        ),
        (
            "ReplicaSet",
            [
                ("Name", "string", 0),
                ("Desired", "integer", 0),
                ("Current", "integer", 0),
                ("Ready", "integer", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
        ),
        (
            "StatefulSet",
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
            ],
        ),
        (
            "DaemonSet",
            [
                ("Name", "string", 0),
                ("Desired", "integer", 0),
                ("Current", "integer", 0),
                ("Ready", "integer", 0),
                ("Up-to-date", "integer", 0),
                ("Available", "integer", 0),
                ("Node Selector", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
        ),
    ],
)
def test_columns(kind: str, columns: list[tuple[str, str, int]]) -> None:
    printer = printer_for("apps", kind)
    assert [(c.name, c.type, c.priority) for c in printer.columns] == columns
