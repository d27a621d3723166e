"""`kubectl get poddisruptionbudgets`: each budget's numbers and what it allows right now.

A budget sets one of minAvailable and maxUnavailable; the other prints as `N/A`, and both keep
the form they were given in (`2`, `50%`), as intstr's String() writes them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.types import Obj

NOT_SET = "N/A"

POD_DISRUPTION_BUDGET_COLUMNS = (
    NAME_COLUMN,
    Column("Min Available", description="The minimum number of pods that must be available."),
    Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
    Column(
        "Allowed Disruptions",
        type="integer",
        description="Calculated number of pods that may be disrupted at this time.",
    ),
    AGE_COLUMN,
)


def _int_or_percent(value: Any) -> str:
    return NOT_SET if value is None else str(value)


def pod_disruption_budget_cells(pdb: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(pdb),
        _int_or_percent(meta.get_path(pdb, "spec", "minAvailable")),
        _int_or_percent(meta.get_path(pdb, "spec", "maxUnavailable")),
        int(meta.get_path(pdb, "status", "disruptionsAllowed", default=0) or 0),
        age_of(pdb, now),
    ]


PRINTERS[("policy", "PodDisruptionBudget")] = Printer(
    POD_DISRUPTION_BUDGET_COLUMNS, pod_disruption_budget_cells
)
