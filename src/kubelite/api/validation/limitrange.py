"""ValidateLimitRange (`pkg/apis/core/validation/validation.go`) for core/v1 LimitRange.

Each item of `spec.limits` names a type (Pod, Container, PersistentVolumeClaim, or a fully
qualified one), at most once per LimitRange, and bounds resources whose names must suit that
type. For each resource the bounds must nest: min <= defaultRequest <= default <= max, a
`maxLimitRequestRatio` of at least 1 and no more than max/min, and a default equal to the default
request where overcommitting is not allowed (hugepages, extended resources). A Pod item may set
no defaults; a PersistentVolumeClaim item must bound storage.

Kubernetes passes the offending resource.Quantity itself as the bad value, which field.Error
prints with `%#v`; the messages here do the same (`Quantity.go_syntax`). Go walks maps in random
order; kubelite walks resource names sorted, so the order of several errors is stable.
"""

from __future__ import annotations

import math
from typing import Any

from kubelite.api import errors
from kubelite.api.defaulting.limitrange import (
    LIMIT_TYPE_CLAIM,
    LIMIT_TYPE_CONTAINER,
    LIMIT_TYPE_POD,
)
from kubelite.api.errors import FieldError, duplicate, forbidden_field, invalid, required
from kubelite.api.quantity import MILLI, Quantity, QuantityError
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import _key, _stringer
from kubelite.api.validation.pods.resources import (
    _STANDARD_RESOURCES,
    _is_hugepages,
    _overcommit_allowed,
    _validate_container_resource_name,
)

STANDARD_LIMIT_TYPES = (LIMIT_TYPE_POD, LIMIT_TYPE_CONTAINER, LIMIT_TYPE_CLAIM)

# resource.MaxMilliValue: the largest value whose milli-value still fits in an int64.
MAX_MILLI_VALUE = ((1 << 63) - 1) // 1000


class GoQuantity(errors.GoPrinted):
    """A resource.Quantity bad value, printed as `%#v` prints it."""

    def __init__(self, quantity: Quantity) -> None:
        self.quantity = quantity

    def __str__(self) -> str:
        return self.quantity.go_syntax()


def go_float(value: float) -> str:
    """Go's `%f`: six decimals, and `+Inf`, `-Inf`, `NaN` for the values that are not numbers."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6f}"


def _quantities(values: Any) -> dict[str, Quantity]:
    """A resource list as Go holds it once decoded and defaulted (SetDefaults_ResourceList
    rounds up to millis); values the decoder would have refused are left out."""
    result: dict[str, Quantity] = {}
    for name, raw in (values if isinstance(values, dict) else {}).items():
        try:
            result[name] = Quantity.from_json(raw).round_up(MILLI)
        except QuantityError:
            continue
    return result


def validate_resource_name(name: str, path: str) -> list[FieldError]:
    """validateResourceName: a qualified name, and a standard one unless it has a prefix."""
    problems = names.is_qualified_name(name)
    if problems:
        return [invalid(path, name, p) for p in problems]
    standard = name in _STANDARD_RESOURCES or _is_hugepages(name)
    if "/" not in name and not (standard or name.startswith("requests.hugepages-")):
        return [_stringer(path, name, "must be a standard resource type or fully qualified")]
    return []


def _validate_type_name(value: str, path: str) -> list[FieldError]:
    """validateLimitRangeTypeName: a qualified name, and a standard type unless prefixed."""
    problems = names.is_qualified_name(value)
    if problems:
        return [invalid(path, value, p) for p in problems]
    if "/" not in value and value not in STANDARD_LIMIT_TYPES:
        return [invalid(path, value, "must be a standard limit type or fully qualified")]
    return []


def _validate_resource_names(
    limit_type: str, resource_names: list[str], path: str
) -> list[FieldError]:
    """validateLimitRangeResourceName: container resources for Pod and Container items, any
    standard or qualified resource for the others (a claim's `storage`)."""
    errs: list[FieldError] = []
    for name in resource_names:
        name_path = _key(path, name)
        if limit_type in (LIMIT_TYPE_POD, LIMIT_TYPE_CONTAINER):
            errs.extend(_validate_container_resource_name(name, name_path))
        else:
            errs.extend(validate_resource_name(name, name_path))
    return errs


def _max_over_min(ratio: Quantity, low: Quantity, high: Quantity) -> tuple[float, float]:
    """The ratio and max/min as Go compares them: in millis when all three fit."""
    ratio_value = float(ratio.value())
    low_value, high_value = low.value(), high.value()
    if (
        ratio.value() < MAX_MILLI_VALUE
        and low_value < MAX_MILLI_VALUE
        and high_value < MAX_MILLI_VALUE
    ):
        ratio_value = float(ratio.milli_value()) / 1000
        low_value, high_value = low.milli_value(), high.milli_value()
    if low_value == 0:
        # Go's float division by zero.
        limit = math.nan if high_value == 0 else math.copysign(math.inf, high_value)
    else:
        limit = float(high_value) / float(low_value)
    return ratio_value, limit


def _validate_bounds(
    name: str,
    path: str,
    bounds: dict[str, dict[str, Quantity]],
) -> list[FieldError]:
    """The checks of one resource across the item's lists, in Kubernetes' order."""
    low = bounds["min"].get(name)
    high = bounds["max"].get(name)
    default = bounds["default"].get(name)
    request = bounds["defaultRequest"].get(name)
    ratio = bounds["maxLimitRequestRatio"].get(name)
    at = {field: _key(f"{path}.{field}", name) for field in bounds}
    errs: list[FieldError] = []

    def bad(field: str, value: Quantity, detail: str) -> None:
        errs.append(invalid(at[field], GoQuantity(value), detail))

    if low is not None and high is not None and low > high:
        bad("min", low, f"min value {low} is greater than max value {high}")
    if request is not None and low is not None and low > request:
        bad(
            "defaultRequest",
            request,
            f"min value {low} is greater than default request value {request}",
        )
    if request is not None and high is not None and request > high:
        bad(
            "defaultRequest",
            request,
            f"default request value {request} is greater than max value {high}",
        )
    if request is not None and default is not None and request > default:
        bad(
            "defaultRequest",
            request,
            f"default request value {request} is greater than default limit value {default}",
        )
    if default is not None and low is not None and low > default:
        bad("default", low, f"min value {low} is greater than default value {default}")
    if default is not None and high is not None and default > high:
        bad("default", high, f"default value {default} is greater than max value {high}")
    if ratio is not None and ratio < Quantity(1):
        bad("maxLimitRequestRatio", ratio, f"ratio {ratio} is less than 1")
    if ratio is not None and low is not None and high is not None:
        ratio_value, limit = _max_over_min(ratio, low, high)
        if ratio_value > limit:
            bad(
                "maxLimitRequestRatio",
                ratio,
                f"ratio {ratio} is greater than max/min = {go_float(limit)}",
            )
    if (
        not _overcommit_allowed(name)
        and default is not None
        and request is not None
        and default != request
    ):
        bad(
            "defaultRequest",
            request,
            f"default value {default} must equal to defaultRequest value {request} in {name}",
        )
    return errs


def _validate_item(item: Obj, path: str, seen: set[str]) -> list[FieldError]:
    limit_type = item.get("type") or ""
    errs = _validate_type_name(limit_type, f"{path}.type")
    if limit_type in seen:
        errs.append(duplicate(f"{path}.type", limit_type))
    seen.add(limit_type)

    def names_in(field: str) -> list[str]:
        values = item.get(field)
        return sorted(values) if isinstance(values, dict) else []

    bounds = {field: _quantities(item.get(field)) for field in ("max", "min")}
    errs += _validate_resource_names(limit_type, names_in("max"), f"{path}.max")
    errs += _validate_resource_names(limit_type, names_in("min"), f"{path}.min")
    if limit_type == LIMIT_TYPE_POD:
        bounds["default"] = bounds["defaultRequest"] = {}
        detail = "may not be specified when `type` is 'Pod'"
        if item.get("default"):
            errs.append(forbidden_field(f"{path}.default", detail))
        if item.get("defaultRequest"):
            errs.append(forbidden_field(f"{path}.defaultRequest", detail))
    else:
        for field in ("default", "defaultRequest"):
            errs += _validate_resource_names(limit_type, names_in(field), f"{path}.{field}")
            bounds[field] = _quantities(item.get(field))
    if limit_type == LIMIT_TYPE_CLAIM and not (
        "storage" in bounds["min"] or "storage" in bounds["max"]
    ):
        errs.append(
            required(
                f"{path}.limits",
                "either minimum or maximum storage value is required, but neither was provided",
            )
        )
    errs += _validate_resource_names(
        limit_type, names_in("maxLimitRequestRatio"), f"{path}.maxLimitRequestRatio"
    )
    bounds["maxLimitRequestRatio"] = _quantities(item.get("maxLimitRequestRatio"))
    # Every resource named by a list the type may have, Pod defaults left out.
    resources = sorted(set().union(*(set(values) for values in bounds.values())))
    for name in resources:
        errs += _validate_bounds(name, path, bounds)
    return errs


def validate_limit_range(limit_range: Obj) -> list[FieldError]:
    """The spec's rules; ObjectMeta's come from the strategy's base class."""
    spec = limit_range.get("spec")
    limits = spec.get("limits") if isinstance(spec, dict) else None
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(limits or []):
        if isinstance(item, dict):
            errs += _validate_item(item, f"spec.limits[{i}]", seen)
    return errs
