"""The 409 Conflict Status of an apply conflict, as kubectl receives it from Kubernetes."""

from __future__ import annotations

import pytest

from kubelite.api.managedfields import ApplyConflictError, conflict_status
from kubelite.api.managedfields.conflicts import Conflict, conflict_message
from kubelite.api.managedfields.managers import APPLY, UPDATE, Entry, identifier

IMAGE = ("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")
REPLICAS = ("f:spec", "f:replicas")


def conflict(
    manager: str,
    path: tuple[str, ...],
    operation: str = UPDATE,
    subresource: str = "",
    api_version: str = "v1",
) -> Conflict:
    entry = Entry(manager, operation, api_version, frozenset(), subresource=subresource)
    return Conflict(manager, entry.identifier, entry.describe(), path)


def test_one_conflict_is_one_line() -> None:
    error = ApplyConflictError([conflict("kubectl-client-side-apply", IMAGE)])
    status = conflict_status(error, "Pod", "nginx", "")
    assert status.to_status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
        'using v1: .spec.containers[name="nginx"].image',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-client-side-apply" using v1',
                    "field": '.spec.containers[name="nginx"].image',
                }
            ]
        },
        "code": 409,
    }


@pytest.mark.parametrize(
    ("found", "message"),
    [
        pytest.param(
            [conflict("helm", REPLICAS, APPLY)],
            'Apply failed with 1 conflict: conflict with "helm": .spec.replicas',
            id="an applier is named without a version",
        ),
        pytest.param(
            [conflict("kubelet", ("f:status", "f:phase"), subresource="status")],
            'Apply failed with 1 conflict: conflict with "kubelet" with subresource "status" '
            "using v1: .status.phase",
            id="an updater of a subresource",
        ),
        pytest.param(
            [
                conflict("kube-controller-manager", REPLICAS, api_version="apps/v1"),
                conflict("kube-controller-manager", IMAGE, api_version="apps/v1"),
                conflict("argocd", ("f:metadata", "f:labels", "f:app"), APPLY),
            ],
            "Apply failed with 3 conflicts: "
            'conflicts with "argocd":\n'
            "- .metadata.labels.app\n"
            'conflicts with "kube-controller-manager" using apps/v1:\n'
            "- .spec.replicas\n"
            '- .spec.containers[name="nginx"].image',
            id="several are grouped by manager, sorted by manager identifier",
        ),
    ],
)
def test_messages(found: list[Conflict], message: str) -> None:
    assert conflict_message(found) == message


def test_the_error_lists_managers_and_paths() -> None:
    error = ApplyConflictError([conflict("a", REPLICAS), conflict("b", IMAGE)])
    assert error.conflicts == [
        ("a", ".spec.replicas"),
        ("b", '.spec.containers[name="nginx"].image'),
    ]
    details = conflict_status(error).details or {}
    assert [c["field"] for c in details["causes"]] == [
        ".spec.replicas",
        '.spec.containers[name="nginx"].image',
    ]


def test_manager_identifiers_are_the_json_kubernetes_keys_entries_by() -> None:
    assert identifier("kubectl", APPLY, "v1", "") == '{"manager":"kubectl","operation":"Apply"}'
    assert identifier("kubelet", UPDATE, "v1", "status") == (
        '{"manager":"kubelet","operation":"Update","apiVersion":"v1","subresource":"status"}'
    )
