"""The Lease strategy (coordination.k8s.io/v1, `pkg/registry/coordination/lease/strategy.go`).

Leases are how components elect leaders and how kubelets heartbeat; clients PUT them whether
or not they exist yet. Their spec is only checked for durations that make sense. The
`strategy` and `preferredHolder` fields belong to the CoordinatedLeaderElection feature, off
in Kubernetes 1.33, so they are dropped unless a stored lease already has them.
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.errors import FieldError, invalid
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj

_GATED_FIELDS = ("strategy", "preferredHolder")


class LeaseStrategy(Strategy):
    """How the registry treats a Lease: created on update (as leader election expects), with
    feature-gated fields dropped as Kubernetes drops them."""

    allow_create_on_update = True

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _drop_gated_fields(obj, None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _drop_gated_fields(new, old)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validate_lease_spec(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validate_lease_spec(new)


def _drop_gated_fields(obj: Obj, old: Obj | None) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for field in _GATED_FIELDS:
        if old is None or meta.get_path(old, "spec", field) is None:
            spec.pop(field, None)


def validate_lease_spec(lease: Obj) -> list[FieldError]:
    """ValidateLeaseSpec: a positive duration and a non-negative number of transitions."""
    spec = meta.dict_field(lease, "spec")
    errs: list[FieldError] = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        errs.append(
            invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
        )
    return errs
