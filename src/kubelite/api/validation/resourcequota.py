"""Validation of core/v1 ResourceQuota (`ValidateResourceQuota` and its update forms in
`pkg/apis/core/validation/validation.go`).

A quota names what it limits (`pods`, `requests.cpu`, `count/deployments.apps`, ...) with a
non-negative amount of each, and optionally which objects it covers: `scopes` (each an
`Exists` requirement) and a `scopeSelector`. Only pod-related resources may be scoped, some
scope pairs contradict each other, and the scopes of a quota are fixed once it exists.

Go iterates the hard map in random order; the errors here follow the sorted resource names.
The bad values Kubernetes prints with `%#v` (the scope slices, the scope selector struct) are
printed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelite.api.errors import FieldError, GoPrinted, child, invalid, required
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import _key, _stringer
from kubelite.api.validation.pods.resources import _validate_quantity_value

FIELD_IMMUTABLE_ERROR_MSG = "field is immutable"
IS_INVALID_QUOTA_RESOURCE = "must be a standard resource for quota"

# The scopes (core.ResourceQuotaScope).
TERMINATING = "Terminating"
NOT_TERMINATING = "NotTerminating"
BEST_EFFORT = "BestEffort"
NOT_BEST_EFFORT = "NotBestEffort"
PRIORITY_CLASS = "PriorityClass"
CROSS_NAMESPACE_POD_AFFINITY = "CrossNamespacePodAffinity"
# helper.IsStandardResourceQuotaScope (VolumeAttributesClass is behind a gate that is off in
# 1.33).
STANDARD_SCOPES = (
    TERMINATING,
    NOT_TERMINATING,
    BEST_EFFORT,
    NOT_BEST_EFFORT,
    PRIORITY_CLASS,
    CROSS_NAMESPACE_POD_AFFINITY,
)
# Scopes that select by a property the pod has or has not: only `Exists` makes sense.
_EXISTS_ONLY_SCOPES = frozenset(
    (TERMINATING, NOT_TERMINATING, BEST_EFFORT, NOT_BEST_EFFORT, CROSS_NAMESPACE_POD_AFFINITY)
)
_CONFLICTING_SCOPES = ((BEST_EFFORT, NOT_BEST_EFFORT), (TERMINATING, NOT_TERMINATING))

# Scope selector operators (core.ScopeSelectorOperator).
OP_IN = "In"
OP_NOT_IN = "NotIn"
OP_EXISTS = "Exists"
OP_DOES_NOT_EXIST = "DoesNotExist"

# helper.standardQuotaResources: what the quota system knows by a bare name.
STANDARD_QUOTA_RESOURCES = frozenset(
    {
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "persistentvolumeclaims",
        "configmaps",
        "services.nodeports",
        "services.loadbalancers",
    }
)
# helper.standardResources: the same plus `storage`, which a quota cannot name.
_STANDARD_RESOURCES = STANDARD_QUOTA_RESOURCES | {"storage"}
# What the scoped quotas may limit (podObjectCountQuotaResources, podComputeQuotaResources).
_POD_COUNT_RESOURCES = frozenset({"pods"})
_POD_COMPUTE_RESOURCES = frozenset(
    {"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
)


def is_quota_hugepages(name: str) -> bool:
    """helper.IsQuotaHugePageResourceName."""
    return name.startswith(("hugepages-", "requests.hugepages-"))


def is_standard_quota_resource(name: str) -> bool:
    """helper.IsStandardQuotaResourceName."""
    return name in STANDARD_QUOTA_RESOURCES or is_quota_hugepages(name)


def scope_valid_for_resource(scope: str, resource: str) -> bool:
    """helper.IsResourceQuotaScopeValidForResource."""
    if scope in (
        TERMINATING,
        NOT_TERMINATING,
        NOT_BEST_EFFORT,
        PRIORITY_CLASS,
        CROSS_NAMESPACE_POD_AFFINITY,
    ):
        return resource in _POD_COUNT_RESOURCES or resource in _POD_COMPUTE_RESOURCES
    if scope == BEST_EFFORT:
        return resource in _POD_COUNT_RESOURCES
    return True


@dataclass(frozen=True)
class _Scopes(GoPrinted):
    """spec.scopes as field.Error prints it: `[]core.ResourceQuotaScope{"BestEffort"}`."""

    values: tuple[str, ...] | None

    def __str__(self) -> str:
        if self.values is None:
            return "[]core.ResourceQuotaScope(nil)"
        return "[]core.ResourceQuotaScope{" + ", ".join(go_quote(v) for v in self.values) + "}"


def _go_strings(values: Any) -> str:
    if not isinstance(values, list):
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(str(v)) for v in values) + "}"


@dataclass(frozen=True)
class _ScopeSelector(GoPrinted):
    """spec.scopeSelector as %#v prints the internal core.ScopeSelector."""

    expressions: tuple[Obj, ...] | None

    def __str__(self) -> str:
        if self.expressions is None:
            inner = "[]core.ScopedResourceSelectorRequirement(nil)"
        else:
            items = ", ".join(
                "core.ScopedResourceSelectorRequirement{"
                f"ScopeName:{go_quote(str(e.get('scopeName') or ''))}, "
                f"Operator:{go_quote(str(e.get('operator') or ''))}, "
                f"Values:{_go_strings(e.get('values'))}}}"
                for e in self.expressions
            )
            inner = "[]core.ScopedResourceSelectorRequirement{" + items + "}"
        return "core.ScopeSelector{MatchExpressions:" + inner + "}"


def _scopes_value(spec: Obj) -> _Scopes:
    scopes = spec.get("scopes")
    return _Scopes(tuple(str(s) for s in scopes) if isinstance(scopes, list) else None)


def validate_quota_resource_name(name: str, path: str) -> list[FieldError]:
    """ValidateResourceQuotaResourceName: a qualified name, known by the system if bare, and
    known to quota if bare. The name is printed bare (core.ResourceName is a Stringer)."""
    problems = names.is_qualified_name(name)
    if problems:
        errs = [_stringer(path, name, p) for p in problems]
    elif "/" not in name and name not in _STANDARD_RESOURCES and not is_quota_hugepages(name):
        errs = [_stringer(path, name, "must be a standard resource type or fully qualified")]
    else:
        errs = []
    if "/" not in name and not is_standard_quota_resource(name):
        errs.append(_stringer(path, name, IS_INVALID_QUOTA_RESOURCE))
    return errs


def _validate_resource_list(values: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(values, dict):
        return errs
    for name in sorted(values):
        at = _key(path, name)
        errs += validate_quota_resource_name(name, at)
        errs += _validate_quantity_value(name, values[name], at)
    return errs


def _validate_scopes(spec: Obj, path: str) -> list[FieldError]:
    """validateResourceQuotaScopes."""
    scopes = spec.get("scopes")
    if not isinstance(scopes, list) or not scopes:
        return []
    shown = _scopes_value(spec)
    hard = sorted(spec.get("hard") or {})
    at = child(path, "scopes")
    errs: list[FieldError] = []
    for scope in scopes:
        if scope not in STANDARD_SCOPES:
            errs.append(invalid(at, shown, "unsupported scope"))
        for resource in hard:
            if is_standard_quota_resource(resource) and not scope_valid_for_resource(
                scope, resource
            ):
                errs.append(invalid(at, shown, "unsupported scope applied to resource"))
    errs += _conflicts(set(scopes), at, shown)
    return errs


def _conflicts(scopes: set[Any], at: str, shown: _Scopes) -> list[FieldError]:
    return [
        invalid(at, shown, "conflicting scopes")
        for pair in _CONFLICTING_SCOPES
        if scopes.issuperset(pair)
    ]


def _validate_scope_selector(spec: Obj, path: str) -> list[FieldError]:
    """validateScopeSelector and validateScopedResourceSelectorRequirement. Kubernetes'
    paths name `matchExpressions` without an index."""
    selector = spec.get("scopeSelector")
    if not isinstance(selector, dict):
        return []
    expressions = selector.get("matchExpressions")
    listed = (
        [e for e in expressions if isinstance(e, dict)] if isinstance(expressions, list) else []
    )
    at = child(child(path, "scopeSelector"), "matchExpressions")
    shown = _ScopeSelector(tuple(listed) if isinstance(expressions, list) else None)
    hard = sorted(spec.get("hard") or {})
    errs: list[FieldError] = []
    seen: set[Any] = set()
    for req in listed:
        scope = req.get("scopeName") or ""
        operator = req.get("operator") or ""
        values = req.get("values")
        if scope not in STANDARD_SCOPES:
            errs.append(invalid(child(at, "scopeName"), scope, "unsupported scope"))
        for resource in hard:
            if is_standard_quota_resource(resource) and not scope_valid_for_resource(
                scope, resource
            ):
                errs.append(invalid(at, shown, "unsupported scope applied to resource"))
        if scope in _EXISTS_ONLY_SCOPES and operator != OP_EXISTS:
            errs.append(
                invalid(
                    child(at, "operator"),
                    operator,
                    "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, "
                    "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                    "ResourceQuotaScopeNotBestEffort or "
                    "ResourceQuotaScopeCrossNamespacePodAffinity",
                )
            )
        if operator in (OP_IN, OP_NOT_IN):
            if not values:
                errs.append(
                    required(
                        child(at, "values"),
                        "must be at least one value when `operator` is 'In' or 'NotIn' for "
                        "scope selector",
                    )
                )
        elif operator in (OP_EXISTS, OP_DOES_NOT_EXIST):
            if values:
                errs.append(
                    _stringer(
                        child(at, "values"),
                        _go_strings(values),
                        "must be no value when `operator` is 'Exist' or 'DoesNotExist' for "
                        "scope selector",
                    )
                )
        else:
            errs.append(invalid(child(at, "operator"), operator, "not a valid selector operator"))
        seen.add(scope)
    # Kubernetes reports the spec's scopes here, not the selector's.
    errs += _conflicts(seen, at, _scopes_value(spec))
    return errs


def validate_resource_quota_spec(spec: Obj, path: str = "spec") -> list[FieldError]:
    """ValidateResourceQuotaSpec."""
    return (
        _validate_resource_list(spec.get("hard"), child(path, "hard"))
        + _validate_scopes(spec, path)
        + _validate_scope_selector(spec, path)
    )


def validate_resource_quota_status(status: Obj, path: str = "status") -> list[FieldError]:
    """ValidateResourceQuotaStatus: the same rules for what is tracked and what is used."""
    return _validate_resource_list(
        status.get("hard"), child(path, "hard")
    ) + _validate_resource_list(status.get("used"), child(path, "used"))


def _part(obj: Obj, name: str) -> Obj:
    value = obj.get(name)
    return value if isinstance(value, dict) else {}


def validate_resource_quota(quota: Obj) -> list[FieldError]:
    """ValidateResourceQuota without its ObjectMeta part (the strategy's base adds that)."""
    return validate_resource_quota_spec(_part(quota, "spec")) + validate_resource_quota_status(
        _part(quota, "status")
    )


def validate_resource_quota_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateResourceQuotaUpdate without ObjectMeta: the spec's rules, and scopes that
    stay the set they were."""
    spec = _part(new, "spec")
    errs = validate_resource_quota_spec(spec)
    new_scopes = set(spec.get("scopes") or ())
    old_scopes = set(_part(old, "spec").get("scopes") or ())
    if new_scopes != old_scopes:
        errs.append(invalid("spec.scopes", _scopes_value(spec), FIELD_IMMUTABLE_ERROR_MSG))
    return errs


def validate_resource_quota_status_update(new: Obj) -> list[FieldError]:
    """ValidateResourceQuotaStatusUpdate without ObjectMeta (the resourceVersion it requires is
    always the stored one here)."""
    return validate_resource_quota_status(_part(new, "status"))
