"""`kubectl get leases`: who holds each coordination.k8s.io/v1 Lease.

Leases carry node heartbeats (`kube-node-lease`) and leader election; the HOLDER column is the
one thing people look them up for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.types import Obj

LEASE_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Holder",
        description="holderIdentity contains the identity of the holder of a current lease. If "
        "Coordinated Leader Election is used, the holder identity must be equal to the elected "
        "LeaseCandidate.metadata.name field.",
    ),
    AGE_COLUMN,
)


def lease_cells(lease: Obj, now: dt.datetime) -> list[Any]:
    holder = meta.get_path(lease, "spec", "holderIdentity", default="")
    return [meta.name_of(lease), holder, age_of(lease, now)]


PRINTERS[("coordination.k8s.io", "Lease")] = Printer(LEASE_COLUMNS, lease_cells)
