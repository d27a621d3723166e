"""`kubectl get resourcequotas` (`printResourceQuota`): each limit as `used/hard`.

The limits in force are the status's (what the quota controller copied from the spec), sorted
by name; those named `limits.*` go in the LIMIT column and every other one in REQUEST, so a
compute quota reads `requests.cpu: 500m/1, pods: 1/10` beside `limits.cpu: 1/2`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj

RESOURCE_QUOTA_COLUMNS = (
    NAME_COLUMN,
    AGE_COLUMN,
    Column(
        "Request",
        description="Request represents a minimum amount of cpu/memory that a container may "
        "consume.",
    ),
    Column(
        "Limit",
        description="Limits control the maximum amount of cpu/memory that a container may use "
        "independent of contention on the node.",
    ),
)


def _quantity_text(value: Any) -> str:
    """Quantity.String() of a status entry; a missing one is Go's zero Quantity, `0`."""
    try:
        return str(Quantity.from_json(value))
    except QuantityError:
        return str(value)


def quota_columns(quota: Obj) -> tuple[str, str]:
    """The REQUEST and LIMIT cells: `name: used/hard` pairs joined by `, `."""
    hard = meta.get_path(quota, "status", "hard") or {}
    used = meta.get_path(quota, "status", "used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for name in sorted(hard):
        pieces = name.split(".")
        column = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        column.append(f"{name}: {_quantity_text(used.get(name))}/{_quantity_text(hard[name])}")
    return ", ".join(requests), ", ".join(limits)


def resource_quota_cells(quota: Obj, now: dt.datetime) -> list[Any]:
    request, limit = quota_columns(quota)
    return [meta.name_of(quota), age_of(quota, now), request, limit]


PRINTERS[("", "ResourceQuota")] = Printer(RESOURCE_QUOTA_COLUMNS, resource_quota_cells)
