"""`kubelite describe quota`: a ResourceQuota as kubectl's ResourceQuotaDescriber prints it.

Its scopes, sorted, each with kubectl's sentence on what it matches, then one row per limit in
force (the status's, sorted by name) with what is used of it. A used amount in another format
than its limit is printed in the limit's (`0` of `1Gi` stays `0`, not a decimal `0`). kubectl
shows no events for a quota.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import meta
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj
from kubelite.cli.kubectl.describe.printing import PrefixWriter

# helpTextForResourceQuotaScope: the scopes kubectl explains (others are listed bare).
SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited "
    "lifespan on a node before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually "
    "include long running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have "
    "a best effort quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These "
    "pods have a burstable or guaranteed quality of service.",
}


def _quantity(value: Any) -> Quantity:
    """A served quantity; Go's zero Quantity for a missing or unreadable one."""
    try:
        return Quantity.from_json(value)
    except QuantityError:
        return Quantity()


def describe_quota(quota: Obj) -> str:
    """describeQuota: name, namespace, scopes and the `Resource  Used  Hard` table."""
    w = PrefixWriter()
    w.write(0, f"Name:\t{meta.name_of(quota)}\n")
    w.write(0, f"Namespace:\t{meta.namespace_of(quota)}\n")
    scopes = sorted(str(s) for s in meta.get_path(quota, "spec", "scopes") or ())
    if scopes:
        w.write(0, f"Scopes:\t{', '.join(scopes)}\n")
        for scope in scopes:
            if scope in SCOPE_HELP:
                w.write(0, f" * {SCOPE_HELP[scope]}\n")
    w.write(0, "Resource\tUsed\tHard\n")
    w.write(0, "--------\t----\t----\n")
    hard = meta.get_path(quota, "status", "hard") or {}
    used = meta.get_path(quota, "status", "used") or {}
    for name in sorted(hard):
        limit = _quantity(hard[name])
        amount = _quantity(used.get(name))
        if amount.format != limit.format:
            amount = Quantity(amount.value(), 0, limit.format)
        w.write(0, f"{name}\t{amount}\t{limit}\n")
    return w.text()
