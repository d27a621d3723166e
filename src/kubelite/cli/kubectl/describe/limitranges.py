"""`kubelite describe limits`: a LimitRange as kubectl's LimitRangeDescriber prints it.

One table row per item and resource: its type, the resource, and each bound (`-` where the
item sets none). kubectl shows no events for a LimitRange. It walks each item's resources in
Go's random map order; kubelite prints them sorted by name.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import meta
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj
from kubelite.cli.kubectl.describe.printing import PrefixWriter

# The item's lists in the order of the table's columns.
_COLUMNS = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")
HEADER = "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n"
RULE = "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n"


def _quantity_text(value: Any) -> str:
    """Quantity.String of a served value (already canonical; printed as it parses)."""
    try:
        return str(Quantity.from_json(value))
    except QuantityError:
        return str(value)


def limit_range_rows(w: PrefixWriter, limit_range: Obj, prefix: str = "") -> None:
    """describeLimitRangeSpec: the rows of every item, each line starting with `prefix`."""
    for item in meta.get_path(limit_range, "spec", "limits") or []:
        lists = {field: item.get(field) or {} for field in _COLUMNS}
        names = sorted(set().union(*(set(values) for values in lists.values())))
        for name in names:
            cells = [
                _quantity_text(lists[field][name]) if name in lists[field] else "-"
                for field in _COLUMNS
            ]
            w.write(0, f"{prefix}{item.get('type', '')}\t{name}\t" + "\t".join(cells) + "\n")


def describe_limit_range(limit_range: Obj) -> str:
    """describeLimitRange: name, namespace and the table (kubectl fetches no events)."""
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.name_of(limit_range)}\n")
    w.write(0, f"Namespace:\t{meta.namespace_of(limit_range)}\n")
    w.write(0, HEADER)
    w.write(0, RULE)
    limit_range_rows(w, limit_range)
    return w.text()
