"""Validation of policy/v1 PodDisruptionBudgets (Kubernetes' `pkg/apis/policy/validation`).

A budget names at most one of minAvailable and maxUnavailable, each a non-negative integer or
a percentage of at most 100%; its selector must be a valid label selector; and its
unhealthyPodEvictionPolicy, when set, one of the two Kubernetes knows. A budget with neither
number is valid, as in Kubernetes: the disruption controller then allows no disruption.

Status writes (the disruption controller's and the eviction subresource's) are held to
non-negative counters and well-formed `metav1.Condition`s.
"""

from __future__ import annotations

import re
from typing import Any

from kubelite.api import labels, poddisruptionbudget
from kubelite.api.errors import (
    FieldError,
    child,
    duplicate,
    invalid,
    not_supported,
    required,
    too_long,
)
from kubelite.api.types import Obj
from kubelite.api.validation.apps import not_more_than_100_percent, validate_int_or_percent
from kubelite.api.validation.names import regex_error
from kubelite.api.validation.objectmeta import (
    go_struct,
    invalid_rendered,
    validate_label_name,
    validate_nonnegative,
)

_EVICTION_POLICIES = (poddisruptionbudget.ALWAYS_ALLOW, poddisruptionbudget.IF_HEALTHY_BUDGET)
_BOTH_SET = "minAvailable and maxUnavailable cannot be both set"

# apimachinery's metav1 validation of Conditions.
_CONDITION_STATUSES = ("False", "True", "Unknown")
_REASON_FMT = "[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?"
_REASON = re.compile(f"^{_REASON_FMT}$")
_REASON_ERROR = (
    "a condition reason must start with alphabetic character, optionally followed by a string "
    "of alphanumeric characters or '_,:', and must end with an alphanumeric character or '_'"
)
_MAX_REASON_LENGTH = 1024
_MAX_MESSAGE_LENGTH = 32 * 1024


def validate_pod_disruption_budget(obj: Obj) -> list[FieldError]:
    """ValidatePodDisruptionBudgetSpec, for creates and updates alike (the spec may change)."""
    spec = _mapping(obj.get("spec"))
    path = "spec"
    errs: list[FieldError] = []
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(invalid_rendered(path, _go_spec(spec), _BOTH_SET))
    for name, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            errs += validate_int_or_percent(value, child(path, name))
            errs += not_more_than_100_percent(value, child(path, name))
    selector = spec.get("selector")
    if isinstance(selector, dict):
        errs += labels.validate_label_selector(selector, child(path, "selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in _EVICTION_POLICIES:
        errs.append(
            not_supported(child(path, "unhealthyPodEvictionPolicy"), policy, _EVICTION_POLICIES)
        )
    return errs


def validate_pod_disruption_budget_status(obj: Obj) -> list[FieldError]:
    """ValidatePodDisruptionBudgetStatusUpdate: conditions, then the counters (policy/v1)."""
    status = _mapping(obj.get("status"))
    errs = validate_conditions(status.get("conditions"), "status.conditions")
    for name in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        errs += validate_nonnegative(_int(status.get(name)), f"status.{name}")
    return errs


def validate_conditions(conditions: Any, path: str) -> list[FieldError]:
    """metav1validation.ValidateConditions: each condition well-formed, no type twice."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, condition in enumerate(conditions if isinstance(conditions, list) else []):
        condition = _mapping(condition)
        at = f"{path}[{i}]"
        kind = str(condition.get("type") or "")
        if kind in seen:
            errs.append(duplicate(child(at, "type"), kind))
        seen.add(kind)
        errs += _validate_condition(condition, kind, at)
    return errs


def _validate_condition(condition: Obj, kind: str, at: str) -> list[FieldError]:
    errs = validate_label_name(kind, child(at, "type"))
    status = condition.get("status") or ""
    if status not in _CONDITION_STATUSES:
        errs.append(not_supported(child(at, "status"), status, _CONDITION_STATUSES))
    generation = _int(condition.get("observedGeneration"))
    if generation < 0:
        errs.append(
            invalid(
                child(at, "observedGeneration"),
                generation,
                "must be greater than or equal to zero",
            )
        )
    if not condition.get("lastTransitionTime"):
        errs.append(required(child(at, "lastTransitionTime"), "must be set"))
    reason = str(condition.get("reason") or "")
    if not reason:
        errs.append(required(child(at, "reason"), "must be set"))
    else:
        if not _REASON.match(reason):
            message = regex_error(
                _REASON_ERROR,
                _REASON_FMT,
                "my_name",
                "MY_NAME",
                "MyName",
                "ReasonA,ReasonB",
                "ReasonA:ReasonB",
            )
            errs.append(invalid(child(at, "reason"), reason, message))
        if len(reason) > _MAX_REASON_LENGTH:
            errs.append(too_long(child(at, "reason"), _MAX_REASON_LENGTH))
    if len(str(condition.get("message") or "")) > _MAX_MESSAGE_LENGTH:
        errs.append(too_long(child(at, "message"), _MAX_MESSAGE_LENGTH))
    return errs


def _go_spec(spec: Obj) -> str:
    """The internal PodDisruptionBudgetSpec as %#v prints it (pointers as placeholders)."""

    def pointer(type_name: str, value: Any) -> str:
        return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000000000)"

    return go_struct(
        "policy.PodDisruptionBudgetSpec",
        [
            ("MinAvailable", pointer("intstr.IntOrString", spec.get("minAvailable"))),
            ("Selector", pointer("v1.LabelSelector", spec.get("selector"))),
            ("MaxUnavailable", pointer("intstr.IntOrString", spec.get("maxUnavailable"))),
            (
                "UnhealthyPodEvictionPolicy",
                pointer(
                    "policy.UnhealthyPodEvictionPolicyType", spec.get("unhealthyPodEvictionPolicy")
                ),
            ),
        ],
    )


def _mapping(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
