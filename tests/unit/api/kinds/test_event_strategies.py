"""Event strategies: legacy checks for core/v1, strict ones for events.k8s.io/v1, selection."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.events import CoreEventStrategy, EventsV1Strategy

Obj = dict[str, Any]
CORE = CoreEventStrategy()
V1 = EventsV1Strategy()


def core_event(**body: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17c8", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "p-1"},
        "reason": "Started",
        "message": "Started container web",
        "source": {"component": "kubelet", "host": "node-1"},
        "type": "Normal",
        "count": 1,
        **body,
    }


def v1_event(**body: Any) -> Obj:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.17c8", "namespace": "default"},
        "eventTime": "2025-06-01T12:00:00.000000Z",
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "action": "Started",
        "reason": "Started",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web", "uid": "p-1"},
        "note": "Started container web",
        "type": "Normal",
        **body,
    }


def messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_core_event_from_an_old_client_is_valid() -> None:
    assert CORE.validate(core_event()) == []


def test_core_event_must_live_in_its_objects_namespace() -> None:
    event = core_event()
    event["involvedObject"]["namespace"] = "other"
    assert messages(CORE.validate(event)) == [
        'involvedObject.namespace: Invalid value: "other": does not match event.namespace'
    ]


def test_core_event_about_a_cluster_object_may_live_in_default() -> None:
    event = core_event(involvedObject={"kind": "Node", "name": "node-1"})
    assert CORE.validate(event) == []


def test_core_event_names_only_need_to_fit_in_a_url() -> None:
    event = core_event()
    event["metadata"]["name"] = "Web_Pod.17C8"
    assert CORE.validate(event) == []
    event["metadata"]["name"] = "a/b"
    assert messages(CORE.validate(event)) == [
        "metadata.name: Invalid value: \"a/b\": may not contain '/'"
    ]


def test_core_event_with_an_event_time_needs_the_new_fields() -> None:
    event = core_event(eventTime="2025-06-01T12:00:00.000000Z")
    assert messages(CORE.validate(event)) == [
        "reportingController: Required value",
        # Kubernetes also checks the empty controller as a qualified name.
        'reportingController: Invalid value: "": name part must be non-empty',
        # IsQualifiedName checks the pattern even for an empty name part.
        'reportingController: Invalid value: "": name part must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "reportingInstance: Required value",
        "action: Required value",
    ]


def test_events_v1_event_is_valid() -> None:
    assert V1.validate(v1_event()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"eventTime": None}, ["eventTime: Required value"]),
        ({"type": "Bad"}, ['type: Invalid value: "": has invalid value: Bad']),
        ({"deprecatedCount": 2}, ['count: Invalid value: "": needs to be unset']),
        (
            {"deprecatedSource": {"component": "x"}},
            ['source: Invalid value: "": needs to be unset'],
        ),
        (
            {"series": {"count": 1}},
            [
                'series.count: Invalid value: "": should be at least 2',
                "series.lastObservedTime: Required value",
            ],
        ),
    ],
)
def test_events_v1_strict_rules(change: dict[str, Any], expected: list[str]) -> None:
    assert messages(V1.validate(v1_event(**change))) == expected


def test_events_v1_names_are_dns_subdomains() -> None:
    event = v1_event()
    event["metadata"]["name"] = "Web"
    assert [e.field for e in V1.validate(event)] == ["metadata.name"]


def test_lengths_are_counted_in_bytes_as_go_counts_them() -> None:
    # 32 four-byte emoji are 128 bytes (allowed); 33 are 132 (too many), though 33 characters.
    assert V1.validate(v1_event(action="\U0001f600" * 32)) == []
    assert messages(V1.validate(v1_event(action="\U0001f600" * 33))) == [
        'action: Invalid value: "": can have at most 128 characters'
    ]
    assert messages(V1.validate(v1_event(note="\u00fc" * 513))) == [
        'message: Invalid value: "": can have at most 1024 characters'
    ]
    # A name of 64 emoji is 256 bytes: past a DNS subdomain's 253 as well as outside its rule.
    event = v1_event()
    event["metadata"]["name"] = "\U0001f600" * 64
    length, rule = messages(V1.validate(event))
    assert length.endswith('": must be no more than 253 characters')
    assert rule.endswith(
        '": a lowercase RFC 1123 subdomain must consist of lower case '
        + (
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )
    )


def test_events_v1_update_may_not_change_the_note() -> None:
    old = v1_event()
    old["metadata"].update(uid="e-1", resourceVersion="3", creationTimestamp="2025-06-01T12:00:00Z")
    new = copy.deepcopy(old)
    new["note"] = "changed"
    assert messages(V1.validate_update(new, old)) == [
        'message: Invalid value: "changed": field is immutable'
    ]
    new = copy.deepcopy(old)
    new["series"] = {"count": 2, "lastObservedTime": "2025-06-01T12:01:00.000000Z"}
    assert V1.validate_update(new, old) == []


def test_core_event_selectable_fields() -> None:
    fields = CORE.selectable_fields(core_event())
    assert fields["involvedObject.name"] == "web"
    assert fields["involvedObject.uid"] == "p-1"
    assert fields["involvedObject.fieldPath"] == ""
    assert fields["reason"] == "Started"
    assert fields["source"] == "kubelet"
    assert fields["type"] == "Normal"
    assert set(CORE.selectable_fields({})) | {"metadata.name", "metadata.namespace"} == set(
        CORE.field_labels or ()
    )


def test_source_falls_back_to_the_reporting_controller() -> None:
    event = core_event(source={}, reportingComponent="kubelet")
    assert CORE.selectable_fields(event)["source"] == "kubelet"
    assert V1.selectable_fields(v1_event())["source"] == "kubelet"


def test_events_v1_selects_by_regarding() -> None:
    fields = V1.selectable_fields(v1_event())
    assert fields["regarding.name"] == "web"
    assert fields["reportingController"] == "kubelet"
    assert "involvedObject.name" not in fields
