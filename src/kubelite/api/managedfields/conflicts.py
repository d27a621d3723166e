"""Apply conflicts: the error apply raises, and the 409 Status Kubernetes answers with.

A conflict is a field the applied configuration sets to a value other than the live one while
another manager owns it. Kubernetes (apimachinery's `managedfields/internal/conflict.go`) reports
them as one `Conflict` Status:

    Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .spec.replicas

and, for several, grouped by manager (sorted by manager identifier), one path per line:

    Apply failed with 2 conflicts: conflicts with "kube-controller-manager" using apps/v1:
    - .spec.replicas
    - .spec.template.spec.containers[name="nginx"].image

with one `FieldManagerConflict` cause per field. Its details name no object (NewApplyConflict
leaves them empty), which kubectl relies on to print the message as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.api.errors import REASON_CONFLICT, StatusError
from kubelite.api.managedfields import fieldpath
from kubelite.api.managedfields.fieldpath import FieldSet, Path
from kubelite.api.managedfields.managers import Managed

# metav1.CauseTypeFieldManagerConflict
CAUSE_FIELD_MANAGER_CONFLICT = "FieldManagerConflict"


@dataclass(frozen=True)
class Conflict:
    """One field another manager owns, and how Kubernetes names that manager."""

    manager: str
    identifier: str
    description: str
    path: Path

    @property
    def field(self) -> str:
        return fieldpath.path_string(self.path)


class ApplyConflictError(Exception):
    """An apply would change fields that other managers own; `.conflicts` lists them."""

    def __init__(self, found: list[Conflict]) -> None:
        self.found = found
        self.conflicts: list[tuple[str, str]] = [(c.manager, c.field) for c in found]
        super().__init__(conflict_message(found))


def find(managed: Managed, owned: dict[str, FieldSet]) -> list[Conflict]:
    """The conflicts of `owned` (paths by manager identifier), in the order Kubernetes lists."""
    return [
        Conflict(managed[ident].manager, ident, managed[ident].describe(), path)
        for ident in sorted(owned)
        for path in fieldpath.iter_paths(owned[ident])
    ]


def conflict_message(found: list[Conflict]) -> str:
    if len(found) == 1:
        only = found[0]
        return f"Apply failed with 1 conflict: conflict with {only.description}: {only.field}"
    lines: list[str] = []
    last = None
    for conflict in sorted(found, key=lambda c: c.identifier):
        if conflict.identifier != last:
            lines.append(f"conflicts with {conflict.description}:")
            last = conflict.identifier
        lines.append(f"- {conflict.field}")
    return f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)


def conflict_status(
    error: ApplyConflictError, kind: str = "", name: str = "", group: str = ""
) -> StatusError:
    """The 409 Conflict Status Kubernetes answers an apply conflict with.

    `kind`, `name` and `group` are accepted for symmetry with the other Status builders but not
    echoed: Kubernetes' apply conflicts carry only causes in their details.
    """
    causes = [
        {
            "reason": CAUSE_FIELD_MANAGER_CONFLICT,
            "message": f"conflict with {c.description}",
            "field": c.field,
        }
        for c in error.found
    ]
    return StatusError(409, REASON_CONFLICT, str(error), {"causes": causes})
