"""The PodDisruptionBudget strategy (policy/v1, `pkg/registry/policy/poddisruptionbudget`).

A budget's spec may change (since Kubernetes 1.15), bumping its generation, so that the
eviction subresource can tell a budget the disruption controller has not looked at since
(observedGeneration behind). Its status belongs to the controller and to the eviction
subresource, through the status subresource. Names need only fit in a URL: the policy group
validates the spec alone and leaves names to the generic path-segment rule.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import policy as validation
from kubelite.api.validation.objectmeta import name_is_path_segment

# PodDisruptionBudgetStatus' counters carry no omitempty: Kubernetes always writes them.
_COUNTERS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


class PodDisruptionBudgetStrategy(Strategy):
    """How the registry treats a PodDisruptionBudget: its status counters defaulted to zero, and
    validation of the budget."""

    tracks_generation = True
    has_status_subresource = True
    name_rule = staticmethod(name_is_path_segment)

    def default(self, obj: Obj) -> None:
        status = obj.get("status")
        if isinstance(status, dict):
            for name in _COUNTERS:
                status.setdefault(name, 0)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        obj["status"] = dict.fromkeys(_COUNTERS, 0)

    def validate(self, obj: Obj) -> list[FieldError]:
        # rest.BeforeCreate checks metadata only once the kind's own rules pass.
        return validation.validate_pod_disruption_budget(obj) or super().validate(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validation.validate_pod_disruption_budget(new)

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(
            new, old
        ) + validation.validate_pod_disruption_budget_status(new)
