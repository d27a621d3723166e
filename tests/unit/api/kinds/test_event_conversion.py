"""events.k8s.io/v1 <-> core/v1 Event conversion, field by field and both ways."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.conversion.events import from_core, to_core

Obj = dict[str, Any]

METADATA = {"name": "web.17c8", "namespace": "default", "uid": "e-1", "resourceVersion": "42"}
REFERENCE = {"kind": "Pod", "namespace": "default", "name": "web", "uid": "p-1", "apiVersion": "v1"}


def events_v1() -> Obj:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": dict(METADATA),
        "eventTime": "2025-06-01T12:00:00.123456Z",
        "series": {"count": 3, "lastObservedTime": "2025-06-01T12:05:00.000001Z"},
        "reportingController": "kubelet",
        "reportingInstance": "kubelet-node-1",
        "action": "Pulling",
        "reason": "Pulling",
        "regarding": dict(REFERENCE),
        "related": {"kind": "Node", "name": "node-1"},
        "note": "Pulling image nginx",
        "type": "Normal",
        "deprecatedSource": {"component": "kubelet", "host": "node-1"},
        "deprecatedFirstTimestamp": "2025-06-01T12:00:00Z",
        "deprecatedLastTimestamp": "2025-06-01T12:05:00Z",
        "deprecatedCount": 3,
    }


def core_v1() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": dict(METADATA),
        "eventTime": "2025-06-01T12:00:00.123456Z",
        "series": {"count": 3, "lastObservedTime": "2025-06-01T12:05:00.000001Z"},
        "reportingComponent": "kubelet",
        "reportingInstance": "kubelet-node-1",
        "action": "Pulling",
        "reason": "Pulling",
        "involvedObject": dict(REFERENCE),
        "related": {"kind": "Node", "name": "node-1"},
        "message": "Pulling image nginx",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2025-06-01T12:00:00Z",
        "lastTimestamp": "2025-06-01T12:05:00Z",
        "count": 3,
    }


def test_events_v1_becomes_the_core_event_kubernetes_stores() -> None:
    assert to_core(events_v1()) == core_v1()


def test_core_event_is_served_as_events_v1() -> None:
    assert from_core(core_v1()) == events_v1()


@pytest.mark.parametrize(
    ("v1_field", "core_field"),
    [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ],
)
def test_each_renamed_field_maps_to_its_core_name(v1_field: str, core_field: str) -> None:
    event = events_v1()
    assert to_core(event)[core_field] == event[v1_field]
    assert v1_field not in to_core(event)
    assert from_core(to_core(event))[v1_field] == event[v1_field]


def test_round_trip_keeps_everything() -> None:
    assert from_core(to_core(events_v1())) == events_v1()
    assert to_core(from_core(core_v1())) == core_v1()


def test_conversion_does_not_share_nested_objects() -> None:
    original = events_v1()
    converted = to_core(original)
    converted["involvedObject"]["name"] = "changed"
    converted["metadata"]["name"] = "changed"
    assert original == events_v1()


def test_unset_fields_appear_as_kubernetes_serializes_them() -> None:
    minimal = {"metadata": {"name": "e", "namespace": "default"}, "reason": "Started"}
    assert from_core(minimal) == {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "reason": "Started",
        "eventTime": None,
        "regarding": {},
        "deprecatedSource": {},
        "deprecatedFirstTimestamp": None,
        "deprecatedLastTimestamp": None,
    }
    core = to_core(copy.deepcopy(from_core(minimal)))
    assert core["involvedObject"] == {} and core["source"] == {}
    assert core["firstTimestamp"] is None and "count" not in core
