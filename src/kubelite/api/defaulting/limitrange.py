"""Defaults of core/v1 LimitRange (`pkg/apis/core/v1/defaults.go`: SetDefaults_LimitRangeItem).

A Container limit fills its own blanks from its neighbours, so that an administrator who writes
only `max` gets pods whose containers are given that limit and request: `default` comes from
`max`, then `defaultRequest` from `default`, then from `min`. The values are copied as written;
every list is rounded up to millis and written canonically only after validation
(`canonicalize_limit_range`), because Kubernetes validates the quantities as they were parsed and
its error messages show their internal form.
"""

from __future__ import annotations

from kubelite.api.quantity import canonical_resource_list
from kubelite.api.types import Obj

LIMIT_TYPE_POD = "Pod"
LIMIT_TYPE_CONTAINER = "Container"
LIMIT_TYPE_CLAIM = "PersistentVolumeClaim"

# The resource lists of a LimitRangeItem, in the order Go declares them.
RESOURCE_LISTS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def _items(limit_range: Obj) -> list[Obj]:
    spec = limit_range.get("spec")
    limits = spec.get("limits") if isinstance(spec, dict) else None
    return [item for item in limits or [] if isinstance(item, dict)]


def default_limit_range(limit_range: Obj) -> None:
    """SetDefaults_LimitRangeItem for every item, in place."""
    for item in _items(limit_range):
        if item.get("type") != LIMIT_TYPE_CONTAINER:
            continue
        default = dict(item.get("default") or {})
        request = dict(item.get("defaultRequest") or {})
        for name, value in (item.get("max") or {}).items():
            default.setdefault(name, value)
        for name, value in default.items():
            request.setdefault(name, value)
        for name, value in (item.get("min") or {}).items():
            request.setdefault(name, value)
        # Go makes empty maps here, which its JSON encoder leaves out (omitempty).
        for field, values in (("default", default), ("defaultRequest", request)):
            if values:
                item[field] = values


def canonicalize_limit_range(limit_range: Obj) -> None:
    """SetDefaults_ResourceList on each of the item's lists: rounded up to millis, canonical."""
    for item in _items(limit_range):
        for field in RESOURCE_LISTS:
            values = item.get(field)
            if isinstance(values, dict):
                canonical_resource_list(values)
