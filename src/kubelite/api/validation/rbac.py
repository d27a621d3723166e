"""Validation of rbac.authorization.k8s.io/v1 objects (`pkg/apis/rbac/validation`).

The API checks only the shape of a rule or a binding: every rule names verbs, and either
resources (with their API groups) or non-resource URLs, never both; bindings point at a Role or
ClusterRole of the RBAC group and name each subject's kind. Whether the writer may grant what
it writes is the escalation check's business (`kubelite.apiserver.rbac.escalation`), and
whether the referenced role exists is not checked at all: a binding may come before its role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import FieldError, GoPrinted, GoStrings, invalid, not_supported, required
from kubelite.api.goformat import go_quote
from kubelite.api.labels import SelectorError, from_label_selector, validate_label_selector
from kubelite.api.types import Obj
from kubelite.api.validation.names import name_is_dns_subdomain
from kubelite.api.validation.objectmeta import name_is_path_segment

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def validate_policy_rule(rule: Obj, namespaced: bool, path: str) -> list[FieldError]:
    """ValidatePolicyRule: verbs always; non-resource URLs alone and only cluster-wide;
    otherwise at least one API group and one resource."""
    errs: list[FieldError] = []
    if not _list(rule.get("verbs")):
        errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
    urls = _list(rule.get("nonResourceURLs"))
    if urls:
        # The bad value is the []string, as field.Error prints it (%#v).
        shown = GoStrings(tuple(str(u) for u in urls))
        if namespaced:
            errs.append(
                invalid(
                    f"{path}.nonResourceURLs",
                    shown,
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if any(_list(rule.get(k)) for k in ("apiGroups", "resources", "resourceNames")):
            errs.append(
                invalid(
                    f"{path}.nonResourceURLs",
                    shown,
                    "rules cannot apply to both regular resources and non-resource URLs",
                )
            )
        return errs
    if not _list(rule.get("apiGroups")):
        errs.append(
            required(f"{path}.apiGroups", "resource rules must supply at least one api group")
        )
    if not _list(rule.get("resources")):
        errs.append(
            required(f"{path}.resources", "resource rules must supply at least one resource")
        )
    return errs


def validate_rules(obj: Obj, namespaced: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(_list(obj.get("rules"))):
        errs += validate_policy_rule(
            rule if isinstance(rule, dict) else {}, namespaced, f"rules[{i}]"
        )
    return errs


def validate_aggregation_rule(role: Obj) -> list[FieldError]:
    """A ClusterRole's aggregationRule: at least one valid label selector."""
    rule = role.get("aggregationRule")
    if rule is None:
        return []
    path = "aggregationRule.clusterRoleSelectors"
    selectors = _list(rule.get("clusterRoleSelectors") if isinstance(rule, dict) else None)
    if not selectors:
        return [
            required(
                path, "at least one clusterRoleSelector required if aggregationRule is non-nil"
            )
        ]
    errs: list[FieldError] = []
    for i, selector in enumerate(selectors):
        fields = selector if isinstance(selector, dict) else {}
        errs += validate_label_selector(fields, f"{path}[{i}]")
        # ValidateClusterRole converts the selector too; when that fails it reports the nil
        # selector it got back, which field.Error prints as "null".
        try:
            from_label_selector(fields)
        except SelectorError:
            errs.append(invalid(f"{path}[{i}]", None, "invalid label selector."))
    return errs


def validate_subject(subject: Obj, namespaced: bool, path: str) -> list[FieldError]:
    """ValidateRoleBindingSubject: a name, a known kind, and the API group that kind takes; a
    ServiceAccount of a ClusterRoleBinding names its namespace."""
    errs: list[FieldError] = []
    name = subject.get("name") or ""
    if not name:
        errs.append(required(f"{path}.name"))
    kind = subject.get("kind") or ""
    group = subject.get("apiGroup") or ""
    if kind == "ServiceAccount":
        if name:
            errs += [invalid(f"{path}.name", name, m) for m in name_is_dns_subdomain(name, False)]
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind, list(SUBJECT_KINDS)))
    return errs


def validate_binding(binding: Obj, namespaced: bool) -> list[FieldError]:
    """ValidateRoleBinding / ValidateClusterRoleBinding: the roleRef and every subject."""
    errs: list[FieldError] = []
    ref = binding.get("roleRef")
    ref = ref if isinstance(ref, dict) else {}
    group = ref.get("apiGroup") or ""
    if group != GROUP:
        errs.append(not_supported("roleRef.apiGroup", group, [GROUP]))
    kind = ref.get("kind") or ""
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in kinds:
        errs.append(not_supported("roleRef.kind", kind, kinds))
    name = ref.get("name") or ""
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid("roleRef.name", name, m) for m in name_is_path_segment(name, False)]
    for i, subject in enumerate(_list(binding.get("subjects"))):
        errs += validate_subject(
            subject if isinstance(subject, dict) else {}, namespaced, f"subjects[{i}]"
        )
    return errs


@dataclass(frozen=True)
class GoRoleRef(GoPrinted):
    """A roleRef as field.Error prints the internal rbac.RoleRef (%#v)."""

    ref: Obj

    def __str__(self) -> str:
        fields = ", ".join(
            f"{name}:{go_quote(str(self.ref.get(key) or ''))}"
            for name, key in (("APIGroup", "apiGroup"), ("Kind", "kind"), ("Name", "name"))
        )
        return f"rbac.RoleRef{{{fields}}}"


def validate_role_ref_unchanged(new: Obj, old: Obj) -> list[FieldError]:
    """A binding's roleRef is fixed at creation: granting other rights is a new binding."""
    if new.get("roleRef") != old.get("roleRef"):
        ref = new.get("roleRef")
        return [
            invalid(
                "roleRef", GoRoleRef(ref if isinstance(ref, dict) else {}), "cannot change roleRef"
            )
        ]
    return []
