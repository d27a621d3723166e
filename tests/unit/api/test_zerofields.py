"""The zeros Go writes for a status's required fields, read from the OpenAPI definitions."""

from __future__ import annotations

from kubelite.api import schema, zerofields
from kubelite.api.kinds import RESOURCES


def test_a_replicaset_status_gets_replicas_zero() -> None:
    obj: dict = {"status": {}}
    zerofields.fill_status("apps", "v1", "ReplicaSet", obj)
    assert obj["status"] == {"replicas": 0}


def test_a_daemonset_gets_its_four_counters_and_a_missing_status_is_made() -> None:
    obj: dict = {"spec": {}}
    zerofields.fill_status("apps", "v1", "DaemonSet", obj)
    assert obj["status"] == {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    }


def test_values_given_are_kept_and_null_reads_as_zero() -> None:
    obj: dict = {"status": {"replicas": 3, "readyReplicas": None}}
    zerofields.fill_status("apps", "v1", "StatefulSet", obj)
    assert obj["status"] == {"replicas": 3, "readyReplicas": None}
    obj = {"status": {"replicas": None}}
    zerofields.fill_status("apps", "v1", "StatefulSet", obj)
    assert obj["status"] == {"replicas": 0}


def test_list_items_and_nested_objects_are_filled_where_present() -> None:
    obj: dict = {
        "status": {
            "containerStatuses": [{"name": "c", "state": {"terminated": {"reason": "x"}}}],
        }
    }
    zerofields.fill_status("", "v1", "Pod", obj)
    (status,) = obj["status"]["containerStatuses"]
    assert status["ready"] is False
    assert status["restartCount"] == 0
    assert status["image"] == "" and status["imageID"] == ""
    assert status["state"]["terminated"] == {"reason": "x", "exitCode": 0}
    # Absent optional structs stay absent: Go's pointers are nil.
    assert "lastState" not in status


def test_required_times_are_not_made_up() -> None:
    """Go writes a zero metav1.Time as null; a missing field reads no worse."""
    obj: dict = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    zerofields.fill_status("policy", "v1", "PodDisruptionBudget", obj)
    (condition,) = obj["status"]["conditions"]
    assert condition == {"type": "Ready", "status": "True", "reason": "", "message": ""}


def test_kinds_without_a_status_are_left_alone() -> None:
    obj: dict = {"data": {}}
    zerofields.fill_status("", "v1", "ConfigMap", obj)
    assert obj == {"data": {}}


def test_every_served_kind_gets_the_required_scalars_of_its_status() -> None:
    """Derived from the schema: a kind added to the table is covered without a list here."""
    definitions = schema.load()
    # The reviews are never stored: their status is written whole by the server.
    for resource in [r for r in RESOURCES if "get" in r.verbs]:
        root = definitions.for_kind(resource.group, resource.version, resource.kind)
        assert root is not None
        status = root.field("status")
        obj: dict = {}
        zerofields.fill_status(resource.group, resource.version, resource.kind, obj)
        if status is None:
            assert obj == {}, resource.kind
            continue
        for name in status.required:
            assert name in obj["status"], (resource.kind, name)
