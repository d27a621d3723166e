"""The strategies of rbac.authorization.k8s.io/v1 (`pkg/registry/rbac/*/strategy.go`).

Roles and bindings are plain objects to the registry: names that fit in a URL, rules and
subjects checked for their shape (`kubelite.api.validation.rbac`), and a binding's roleRef
fixed once made. The v1 defaults fill the API group of a roleRef and of User and Group
subjects, so that a manifest may leave it out, as most do.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import rbac as validation
from kubelite.api.validation.objectmeta import name_is_path_segment


class RoleStrategy(Strategy):
    """A namespaced Role: rules without non-resource URLs."""

    name_rule = staticmethod(name_is_path_segment)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_rules(obj, self.namespaced)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_rules(new, self.namespaced)


class ClusterRoleStrategy(RoleStrategy):
    """A ClusterRole: rules that may name non-resource URLs, or an aggregation rule."""

    namespaced = False

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_aggregation_rule(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_aggregation_rule(new)


def default_binding(binding: Obj) -> None:
    """SetDefaults_RoleBinding and SetDefaults_Subject: the RBAC group where it goes unsaid."""
    ref = binding.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = validation.GROUP
    for subject in binding.get("subjects") or ():
        if (
            isinstance(subject, dict)
            and not subject.get("apiGroup")
            and subject.get("kind") in ("User", "Group")
        ):
            subject["apiGroup"] = validation.GROUP


class RoleBindingStrategy(Strategy):
    """A RoleBinding: a Role of its namespace or a ClusterRole, granted to its subjects."""

    name_rule = staticmethod(name_is_path_segment)

    def default(self, obj: Obj) -> None:
        default_binding(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_binding(obj, self.namespaced)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return (
            super().validate_update(new, old)
            + validation.validate_binding(new, self.namespaced)
            + validation.validate_role_ref_unchanged(new, old)
        )


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    """A ClusterRoleBinding: a ClusterRole granted everywhere."""

    namespaced = False
