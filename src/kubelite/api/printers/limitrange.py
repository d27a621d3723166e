"""`kubectl get limits` (`printLimitRange`): a LimitRange's name and when it was made.

Like roles, limit ranges show a CREATED AT timestamp where most kinds show an age; the limits
themselves are for `kubectl describe`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer
from kubelite.api.types import Obj

LIMIT_RANGE_COLUMNS = (
    NAME_COLUMN,
    Column("Created At", type="date", description=AGE_COLUMN.description),
)


def limit_range_cells(limit_range: Obj, now: dt.datetime) -> list[Any]:
    created = meta.get_path(limit_range, "metadata", "creationTimestamp") or ""
    return [meta.name_of(limit_range), created]


PRINTERS[("", "LimitRange")] = Printer(LIMIT_RANGE_COLUMNS, limit_range_cells)
