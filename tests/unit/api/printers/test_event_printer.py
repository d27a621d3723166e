"""Event rows: core/v1 and events.k8s.io/v1 Events in the columns of `kubectl get events`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.api.printers import printer_for
from kubelite.api.printers.core import EVENT_COLUMNS, event_cells
from kubelite.api.printers.events import as_core_event

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def ago(seconds: int) -> str:
    return meta.format_time(NOW - dt.timedelta(seconds=seconds))


def micro_ago(seconds: int) -> str:
    return meta.format_micro_time(NOW - dt.timedelta(seconds=seconds))


def core_event(**fields: Any) -> Obj:
    event: Obj = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17f0a1b2c3d4e5f6", "namespace": "default"},
        "involvedObject": {
            "kind": "Pod",
            "name": "web",
            "namespace": "default",
            "fieldPath": "spec.containers{app}",
        },
        "type": "Normal",
        "reason": "Pulled",
        "message": 'Successfully pulled image "nginx"\n',
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(600),
        "lastTimestamp": ago(120),
        "count": 4,
    }
    event.update(fields)
    return event


def test_core_event_row() -> None:
    assert event_cells(core_event(), NOW) == [
        "2m",
        "Normal",
        "Pulled",
        "pod/web",
        "spec.containers{app}",
        "kubelet, node-1",
        'Successfully pulled image "nginx"',
        "10m",
        4,
        "web.17f0a1b2c3d4e5f6",
    ]


@pytest.mark.parametrize(
    ("fields", "last_seen", "first_seen", "count"),
    [
        pytest.param({}, "2m", "10m", 4, id="old-api-timestamps"),
        pytest.param({"lastTimestamp": None}, "10m", "10m", 4, id="no-last-uses-first"),
        pytest.param(
            {
                "firstTimestamp": None,
                "lastTimestamp": None,
                "count": None,
                "eventTime": micro_ago(45),
            },
            "45s",
            "45s",
            1,
            id="new-api-singleton",
        ),
        pytest.param(
            {
                "firstTimestamp": None,
                "lastTimestamp": None,
                "count": None,
                "eventTime": micro_ago(3600),
                "series": {"count": 7, "lastObservedTime": micro_ago(30)},
            },
            "30s",
            "60m",
            7,
            id="series-wins",
        ),
        pytest.param(
            {"firstTimestamp": None, "lastTimestamp": None, "eventTime": None},
            "<unknown>",
            "<unknown>",
            4,
            id="no-time-at-all",
        ),
    ],
)
def test_seen_and_count(fields: Obj, last_seen: str, first_seen: str, count: int) -> None:
    cells = event_cells(core_event(**fields), NOW)
    assert (cells[0], cells[7], cells[8]) == (last_seen, first_seen, count)


@pytest.mark.parametrize(
    ("involved", "expected"),
    [
        pytest.param({"kind": "Pod", "name": "web"}, "pod/web", id="kind-and-name"),
        pytest.param({"kind": "ReplicaSet", "name": "web-7d"}, "replicaset/web-7d", id="lowered"),
        pytest.param({"kind": "Node"}, "node", id="kind-only"),
        pytest.param({}, "", id="nothing"),
    ],
)
def test_object_column(involved: Obj, expected: str) -> None:
    assert event_cells(core_event(involvedObject=involved), NOW)[3] == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, "kubelet, node-1", id="component-and-host"),
        pytest.param({"source": {"component": "kubelet"}}, "kubelet", id="component-only"),
        pytest.param(
            {"source": {}, "reportingComponent": "kubelet", "reportingInstance": "node-2"},
            "kubelet, node-2",
            id="reporting-fields",
        ),
        pytest.param({"source": None}, "", id="none"),
    ],
)
def test_source_column(fields: Obj, expected: str) -> None:
    assert event_cells(core_event(**fields), NOW)[5] == expected


def test_events_v1_event_prints_like_core() -> None:
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "default"},
        "eventTime": micro_ago(3600),
        "series": {"count": 3, "lastObservedTime": micro_ago(20)},
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "action": "Pulling",
        "reason": "BackOff",
        "regarding": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "note": "Back-off pulling image",
        "type": "Warning",
    }
    assert as_core_event(event)["involvedObject"]["name"] == "web"
    assert printer_for("events.k8s.io", "Event").cells(event, NOW) == [
        "20s",
        "Warning",
        "BackOff",
        "pod/web",
        "spec.containers{app}",
        "kubelet, node-1",
        "Back-off pulling image",
        "60m",
        3,
        "web.1",
    ]


def test_events_v1_deprecated_fields() -> None:
    event = {
        "metadata": {"name": "old"},
        "regarding": {"kind": "Node", "name": "node-1"},
        "deprecatedSource": {"component": "node-controller"},
        "deprecatedFirstTimestamp": ago(300),
        "deprecatedLastTimestamp": ago(60),
        "deprecatedCount": 2,
        "note": "Node node-1 status is now: NodeReady",
        "reason": "NodeReady",
        "type": "Normal",
    }
    cells = printer_for("events.k8s.io", "Event").cells(event, NOW)
    assert cells == [
        "60s",
        "Normal",
        "NodeReady",
        "node/node-1",
        "",
        "node-controller",
        "Node node-1 status is now: NodeReady",
        "5m",
        2,
        "old",
    ]


def test_columns() -> None:
    assert [(c.name, c.priority) for c in EVENT_COLUMNS] == [
        ("Last Seen", 0),
        ("Type", 0),
        ("Reason", 0),
        ("Object", 0),
        ("Subobject", 1),
        ("Source", 1),
        ("Message", 0),
        ("First Seen", 1),
        ("Count", 1),
        ("Name", 1),
    ]
    assert EVENT_COLUMNS[-1].format == "name"
    assert printer_for("events.k8s.io", "Event").columns == EVENT_COLUMNS
