"""`kubectl get roles,rolebindings,clusterroles,clusterrolebindings` (`printRole`, ...).

Roles show when they were made as a timestamp rather than an age (Kubernetes' own choice, kept
so the columns read the same); bindings show `Kind/name` of the role they grant and, with
`-o wide`, who they grant it to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.types import Obj

ROLE_COLUMNS = (
    NAME_COLUMN,
    Column("Created At", type="date", description=AGE_COLUMN.description),
)


def _role_ref_doc(namespaced: bool) -> str:
    scope = (
        "can reference a Role in the current namespace or a ClusterRole in the global namespace"
        if namespaced
        else "can only reference a ClusterRole in the global namespace"
    )
    return (
        f"RoleRef {scope}. If the RoleRef cannot be resolved, the Authorizer must return an "
        "error. This field is immutable."
    )


def _binding_columns(namespaced: bool) -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Role", description=_role_ref_doc(namespaced)),
        AGE_COLUMN,
        Column("Users", priority=1, description="Users in the roleBinding"),
        Column("Groups", priority=1, description="Groups in the roleBinding"),
        Column("ServiceAccounts", priority=1, description="ServiceAccounts in the roleBinding"),
    )


def role_cells(role: Obj, now: dt.datetime) -> list[Any]:
    return [meta.name_of(role), meta.get_path(role, "metadata", "creationTimestamp") or ""]


def subject_strings(subjects: list[Obj]) -> tuple[list[str], list[str], list[str]]:
    """rbac.SubjectsStrings: users, groups and `namespace/name` service accounts."""
    users: list[str] = []
    groups: list[str] = []
    accounts: list[str] = []
    for subject in subjects:
        name = subject.get("name") or ""
        kind = subject.get("kind")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            namespace = subject.get("namespace") or ""
            accounts.append(f"{namespace}/{name}" if namespace else name)
    return users, groups, accounts


def binding_cells(binding: Obj, now: dt.datetime) -> list[Any]:
    ref = binding.get("roleRef") or {}
    users, groups, accounts = subject_strings(binding.get("subjects") or [])
    return [
        meta.name_of(binding),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age_of(binding, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


_GROUP = "rbac.authorization.k8s.io"
PRINTERS[(_GROUP, "Role")] = Printer(ROLE_COLUMNS, role_cells)
PRINTERS[(_GROUP, "ClusterRole")] = Printer(ROLE_COLUMNS, role_cells)
PRINTERS[(_GROUP, "RoleBinding")] = Printer(_binding_columns(True), binding_cells)
PRINTERS[(_GROUP, "ClusterRoleBinding")] = Printer(_binding_columns(False), binding_cells)
