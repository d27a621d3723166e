"""Namespaces: the name label, the kubernetes finalizer, Active then Terminating."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.strategies.core import NamespaceStrategy

Obj = dict[str, Any]
STRATEGY = NamespaceStrategy()


def created(name: str = "team-a", **extra: Any) -> Obj:
    ns: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, **extra}
    STRATEGY.default(ns)
    STRATEGY.prepare_for_create(ns)
    return ns


def test_defaults_label_the_namespace_with_its_name() -> None:
    ns = created()
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}


def test_the_name_label_cannot_be_set_to_something_else() -> None:
    ns = created(metadata={"name": "team-a", "labels": {"kubernetes.io/metadata.name": "x"}})
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team-a"


def test_generated_name_gets_its_label_when_canonicalized() -> None:
    ns: Obj = {"metadata": {"generateName": "team-"}}
    STRATEGY.default(ns)
    STRATEGY.prepare_for_create(ns)
    assert "labels" not in ns["metadata"]
    ns["metadata"]["name"] = "team-x7k2p"
    STRATEGY.canonicalize(ns)
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-x7k2p"}


def test_create_adds_the_kubernetes_finalizer_and_active_phase() -> None:
    ns = created(spec={"finalizers": ["example.com/x"]}, status={"phase": "Terminating"})
    assert ns["spec"]["finalizers"] == ["example.com/x", "kubernetes"]
    assert ns["status"] == {"phase": "Active"}


def test_valid_namespace_passes() -> None:
    assert STRATEGY.validate(created()) == []


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("Team", {"metadata.name"}),
        ("a.b", {"metadata.name"}),
        # The name label carries the too-long name too, as it does in Kubernetes.
        ("x" * 64, {"metadata.name", "metadata.labels"}),
    ],
)
def test_namespace_names_are_dns_labels(name: str, fields: set[str]) -> None:
    assert {e.field for e in STRATEGY.validate(created(name))} == fields


def test_namespace_may_not_itself_have_a_namespace() -> None:
    ns = created()
    ns["metadata"]["namespace"] = "default"
    assert [str(e) for e in STRATEGY.validate(ns)] == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]


def test_spec_finalizers_must_be_standard_or_qualified() -> None:
    ns = created(spec={"finalizers": ["cleanup"]})
    assert [str(e) for e in STRATEGY.validate(ns)] == [
        'spec.finalizers: Invalid value: "cleanup": name is neither a standard finalizer name nor '
        "is it fully qualified"
    ]


def test_update_keeps_finalizers_and_status() -> None:
    old = created()
    new: Obj = {"metadata": dict(old["metadata"]), "spec": {"finalizers": []}, "status": {}}
    STRATEGY.prepare_for_update(new, old)
    assert new["spec"]["finalizers"] == ["kubernetes"]
    assert new["status"] == {"phase": "Active"}


def test_delete_marks_the_namespace_terminating() -> None:
    ns = created()
    STRATEGY.begin_termination(ns, "2025-06-01T12:00:00Z")
    assert ns["metadata"]["deletionTimestamp"] == "2025-06-01T12:00:00Z"
    assert ns["status"]["phase"] == "Terminating"
    assert not STRATEGY.finalized(ns)
    STRATEGY.begin_termination(ns, "2025-06-01T13:00:00Z")
    assert ns["metadata"]["deletionTimestamp"] == "2025-06-01T12:00:00Z"


def test_finalize_removes_the_last_finalizer() -> None:
    old = created()
    old["metadata"].update(uid="u", resourceVersion="3")
    STRATEGY.begin_termination(old, "2025-06-01T12:00:00Z")
    new: Obj = {**old, "spec": {"finalizers": []}, "status": {"phase": "Active"}}
    STRATEGY.prepare_for_finalize(new, old)
    assert new["status"] == {"phase": "Terminating"}
    assert STRATEGY.validate_finalize(new, old) == []
    assert STRATEGY.finalized(new)


@pytest.mark.parametrize(
    ("deleting", "phase", "expected"),
    [
        (False, "Active", []),
        (True, "Terminating", []),
        (
            False,
            "Terminating",
            [
                "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if "
                "`deletionTimestamp` is empty"
            ],
        ),
        (
            True,
            "Active",
            [
                "status.Phase: Invalid value: \"Active\": may only be 'Terminating' if "
                "`deletionTimestamp` is not empty"
            ],
        ),
    ],
)
def test_status_phase_follows_deletion(deleting: bool, phase: str, expected: list[str]) -> None:
    old = created()
    old["metadata"].update(uid="u", resourceVersion="3")
    if deleting:
        old["metadata"]["deletionTimestamp"] = "2025-06-01T12:00:00Z"
    new = {**old, "status": {"phase": phase}}
    STRATEGY.prepare_for_status_update(new, old)
    assert [str(e) for e in STRATEGY.validate_status_update(new, old)] == expected


def test_namespace_selects_by_phase() -> None:
    assert STRATEGY.selectable_fields(created()) == {"status.phase": "Active"}
