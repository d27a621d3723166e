"""One audit event's JSON: the Go struct's field order and omitted empties, MicroTime, source IPs
and user agents as kube-apiserver records them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import orjson

from kubelite.apiserver.audit.event import (
    AuditEvent,
    micro_time,
    new_audit_id,
    source_ips,
    truncate_user_agent,
)
from kubelite.apiserver.auth import User, user_info

STAMP = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC).timestamp()


def event(**overrides: object) -> AuditEvent:
    fields: dict[str, object] = {
        "level": "Metadata",
        "audit_id": "6b8b4567-327b-4c66-8a1e-2c9f2bd5e2b1",
        "request_uri": "/api/v1/namespaces/default/pods?limit=500",
        "verb": "list",
        "user": user_info(User("alice", ("dev", "system:authenticated"))),
        "source_ips": ["127.0.0.1"],
        "user_agent": "kubectl/v1.33.0",
        "object_ref": {"resource": "pods", "namespace": "default", "apiVersion": "v1"},
        "received": STAMP,
    }
    fields.update(overrides)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def test_micro_time_is_utc_with_microseconds() -> None:
    assert micro_time(STAMP) == "2026-01-02T03:04:05.678901Z"
    assert micro_time(0.0) == "1970-01-01T00:00:00.000000Z"


def test_audit_ids_are_version_4_uuids() -> None:
    ids = {new_audit_id() for _ in range(600)}
    assert len(ids) == 600
    for found in ids:
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", found
        )


def test_the_event_has_the_structs_field_order_and_leaves_out_empties() -> None:
    ev = event()
    ev.set_code(200)
    line = ev.line("ResponseComplete", STAMP + 0.5)
    assert line is not None and line.endswith(b"\n") and line.count(b"\n") == 1
    written = orjson.loads(line)
    assert list(written) == [
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestReceivedTimestamp",
        "stageTimestamp",
    ]
    assert written["kind"] == "Event" and written["apiVersion"] == "audit.k8s.io/v1"
    assert written["user"] == {"username": "alice", "groups": ["dev", "system:authenticated"]}
    assert written["responseStatus"] == {"metadata": {}, "code": 200}
    assert written["stageTimestamp"] == "2026-01-02T03:04:06.178901Z"


def test_a_user_without_name_is_an_empty_object_and_extras_are_lists() -> None:
    assert user_info(User("")) == {}
    sa = User("system:serviceaccount:d:s", ("g",), uid="u1", extra=(("k", ("a", "b")),))
    assert user_info(sa) == {
        "username": "system:serviceaccount:d:s",
        "uid": "u1",
        "groups": ["g"],
        "extra": {"k": ["a", "b"]},
    }


def test_annotations_are_sorted_and_a_key_keeps_its_first_value() -> None:
    ev = event()
    ev.authorized(False, "")
    ev.annotate("a.example/first", "1")
    ev.annotate("a.example/first", "2")
    written = orjson.loads(ev.line("ResponseComplete", STAMP) or b"")
    assert list(written["annotations"].items()) == [
        ("a.example/first", "1"),
        ("authorization.k8s.io/decision", "forbid"),
        ("authorization.k8s.io/reason", ""),
    ]


def test_omitted_stages_are_not_written_but_response_started_still_counts() -> None:
    ev = event(omit_stages=frozenset({"RequestReceived", "ResponseStarted"}))
    assert ev.line("RequestReceived", STAMP) is None
    assert ev.line("ResponseStarted", STAMP) is None
    assert ev.started
    assert ev.line("ResponseComplete", STAMP) is not None


def test_source_ips_are_forwarded_for_then_real_ip_then_the_peer() -> None:
    assert source_ips("", "", "127.0.0.1") == ["127.0.0.1"]
    assert source_ips("10.0.0.1, bogus, 10.0.0.2", "10.0.0.2", "127.0.0.1") == [
        "10.0.0.1",
        "10.0.0.2",
        "127.0.0.1",
    ]
    # The peer is not repeated when it is the last hop already; IPv4 in IPv6 reads as IPv4.
    assert source_ips("10.0.0.1", "", "10.0.0.1") == ["10.0.0.1"]
    assert source_ips("", "", "::ffff:10.1.2.3") == ["10.1.2.3"]


def test_long_user_agents_are_cut_and_say_so() -> None:
    assert truncate_user_agent("kubectl") == "kubectl"
    cut = truncate_user_agent("x" * 2000)
    assert cut == "x" * 1024 + "...TRUNCATED"
