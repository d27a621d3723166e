"""The LimitRange strategy (core/v1, `pkg/registry/core/limitrange/strategy.go`).

A LimitRange is policy for one namespace: the LimitRanger admission plugin
(`kubelite.apiserver.limitranger`) reads it on every pod and claim created there. The registry
only defaults and validates it, on create and update alike; a PUT of a missing LimitRange creates
it, and one created without a name is named with a fresh UUID, as Kubernetes does.
"""

from __future__ import annotations

from kubelite.api import errors, meta
from kubelite.api.defaulting.limitrange import canonicalize_limit_range, default_limit_range
from kubelite.api.errors import FieldError
from kubelite.api.quantity import QuantityError
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation.limitrange import validate_limit_range


class LimitRangeStrategy(Strategy):
    """How the registry treats a LimitRange."""

    allow_create_on_update = True

    def default(self, obj: Obj) -> None:
        default_limit_range(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        md = meta.metadata(obj)
        if not md.get("name"):
            md["name"] = meta.new_uid()

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validate_limit_range(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_update(new, old) + validate_limit_range(new)

    def canonicalize(self, obj: Obj) -> None:
        try:
            canonicalize_limit_range(obj)
        except QuantityError as exc:
            # The decoder refuses bad quantities first; this is the same refusal.
            raise errors.bad_request(
                f'LimitRange in version "v1" cannot be handled as a LimitRange: {exc}'
            ) from exc
