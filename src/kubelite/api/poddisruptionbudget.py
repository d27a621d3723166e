"""What both the eviction subresource and the disruption controller know of a PodDisruptionBudget.

Kubernetes keeps these in `k8s.io/component-helpers/apps/poddisruptionbudget` and the PDB
lister's `GetPodPodDisruptionBudgets`, so that the API server (which decrements a budget on
every eviction it allows) and the controller (which recomputes the budget from the pods) agree
on which budgets cover a pod, on how a percentage becomes a number of pods, and on the
`DisruptionAllowed` condition either of them may write.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.conditions import set_status_condition
from kubelite.api.types import Obj

# k8s.io/api/policy/v1 types.go.
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
# The StatusCause type of an eviction refused for a budget (policyv1.DisruptionBudgetCause).
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
IF_HEALTHY_BUDGET = "IfHealthyBudget"
ALWAYS_ALLOW = "AlwaysAllow"

_PERCENT = re.compile(r"^(-?[0-9]+)%$")


class IntOrPercentError(ValueError):
    """An int-or-string that is neither an integer nor a percentage (GetScaledValue's error)."""


def selects(pdb: Obj, pod: Obj) -> bool:
    """Whether the budget covers the pod: same namespace, and its selector matches the pod's
    labels. In policy/v1 an empty selector covers every pod of the namespace, a missing one
    none, and one that cannot be parsed none either."""
    if meta.namespace_of(pdb) != meta.namespace_of(pod):
        return False
    try:
        selector = labels.from_label_selector(meta.get_path(pdb, "spec", "selector"))
    except labels.SelectorError:
        return False
    return selector.matches(meta.labels_of(pod))


def budgets_for(pdbs: Iterable[Obj], pod: Obj) -> list[Obj]:
    """The budgets among `pdbs` that cover `pod`."""
    return [pdb for pdb in pdbs if selects(pdb, pod)]


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as it is, `N%` as N percent of `total`.

    >>> scaled_value("50%", 3, round_up=True), scaled_value("50%", 3, round_up=False)
    (2, 1)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not value.endswith("%"):
            raise IntOrPercentError(
                "invalid value for IntOrString: invalid type: string is not a percentage"
            )
        found = _PERCENT.match(value)
        if found is None:
            raise IntOrPercentError(
                f'invalid value for IntOrString: invalid value "{value}": strconv.Atoi: '
                f'parsing "{value[:-1]}": invalid syntax'
            )
        part = int(found.group(1)) * total
        return -(-part // 100) if round_up else part // 100
    raise IntOrPercentError(
        "invalid value for IntOrString: invalid type: neither int nor percentage"
    )


def update_disruption_allowed_condition(status: Obj, now: dt.datetime) -> None:
    """Set DisruptionAllowed from status.disruptionsAllowed (UpdateDisruptionAllowedCondition)."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    conditions = status.setdefault("conditions", [])
    set_status_condition(
        conditions,
        {
            "type": DISRUPTION_ALLOWED,
            "status": "True" if allowed else "False",
            "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS,
            "message": "",
            "observedGeneration": int(status.get("observedGeneration") or 0),
        },
        now,
    )


def conditions_up_to_date(pdb: Obj) -> bool:
    """Whether DisruptionAllowed already says what status.disruptionsAllowed says, for the
    current generation (ConditionsAreUpToDate)."""
    status = pdb.get("status") or {}
    found = meta.find_condition(status.get("conditions"), DISRUPTION_ALLOWED)
    if found is None:
        return False
    if int(status.get("observedGeneration") or 0) != int(pdb["metadata"].get("generation") or 0):
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return found.get("status") == "True" and found.get("reason") == SUFFICIENT_PODS
    return found.get("status") == "False" and found.get("reason") == INSUFFICIENT_PODS
