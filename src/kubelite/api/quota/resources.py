"""ResourceList arithmetic of quota (`k8s.io/apiserver/pkg/quota/v1/resources.go`).

A quota's hard limits and its usage are maps from resource name to quantity; admission adds
an object's usage to what is used, masks it to what a quota limits, and compares it with the
limits, naming what would be exceeded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubelite.api.quantity import Quantity, QuantityError, parse_quantity

ResourceList = dict[str, Quantity]


def parse(values: Mapping[str, Any] | None) -> ResourceList:
    """A ResourceList of JSON quantities; an entry that is no quantity counts as zero (the API
    server never stores one)."""
    result: ResourceList = {}
    for name, raw in (values or {}).items():
        try:
            result[name] = Quantity.from_json(raw)
        except QuantityError:
            result[name] = Quantity()
    return result


def to_json(values: Mapping[str, Quantity]) -> dict[str, str]:
    """The list as it is served: each quantity's String()."""
    return {name: str(quantity) for name, quantity in values.items()}


def add(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    """quota.Add: the sum of every name in either list."""
    result = dict(a)
    for name, quantity in b.items():
        result[name] = result[name] + quantity if name in result else quantity
    return result


def negate(quantity: Quantity) -> Quantity:
    """-q, in q's format (Quantity.Neg)."""
    if quantity.is_zero():
        return quantity
    text = quantity.canonical()
    negated = parse_quantity(text[1:] if text.startswith("-") else "-" + text)
    negated.format = quantity.format
    return negated


def subtract_with_non_negative_result(
    a: Mapping[str, Quantity], b: Mapping[str, Quantity]
) -> ResourceList:
    """quota.SubtractWithNonNegativeResult: a - b per name, never below zero; names only in b
    are zero."""
    result: ResourceList = {}
    for name, quantity in a.items():
        difference = quantity + negate(b[name]) if name in b else quantity
        result[name] = difference if difference.sign() > 0 else Quantity()
    for name in b:
        result.setdefault(name, Quantity())
    return result


def mask(values: Mapping[str, Quantity], names: Iterable[str]) -> ResourceList:
    """quota.Mask: only the entries named."""
    wanted = set(names)
    return {name: q for name, q in values.items() if name in wanted}


def remove_zeros(values: Mapping[str, Quantity]) -> ResourceList:
    """quota.RemoveZeros."""
    return {name: q for name, q in values.items() if not q.is_zero()}


def negative_names(values: Mapping[str, Quantity]) -> list[str]:
    """quota.IsNegative: the names whose amount is below zero."""
    return [name for name, q in values.items() if q.sign() < 0]


def equals(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> bool:
    """quota.Equals: the same names with the same amounts (formats aside)."""
    return a.keys() == b.keys() and all(a[name] == b[name] for name in a)


def less_than_or_equal(
    a: Mapping[str, Quantity], b: Mapping[str, Quantity]
) -> tuple[bool, list[str]]:
    """quota.LessThanOrEqual: whether every amount of `a` that `b` limits is within it, and
    the names that are not."""
    exceeded = [name for name, limit in b.items() if name in a and limit < a[name]]
    return not exceeded, exceeded


def pretty_print(values: Mapping[str, Quantity]) -> str:
    """prettyPrint of the admission plugin: `name=quantity` sorted by name, comma-joined."""
    return ",".join(f"{name}={values[name]}" for name in sorted(values))


def pretty_print_names(names: Iterable[str]) -> str:
    """prettyPrintResourceNames: the names sorted, comma-joined."""
    return ",".join(sorted(names))
