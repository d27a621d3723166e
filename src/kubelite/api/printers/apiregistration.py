"""`kubectl get apiservices`: who serves each group version, and whether it is available.

The columns of the aggregator's own table convertor
(`kube-aggregator/pkg/registry/apiservice/etcd/etcd.go`): a local APIService's service is
`Local`; availability is the Available condition's status, with its reason when not True.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import AGE_COLUMN, NAME_COLUMN, PRINTERS, Column, Printer, age_of
from kubelite.api.types import Obj

API_SERVICE_COLUMNS = (
    NAME_COLUMN,
    Column("Service", description="The reference to the service that hosts this API endpoint."),
    Column("Available", description="Whether this service is available."),
    AGE_COLUMN,
)


def _available(api_service: Obj) -> str:
    for condition in meta.get_path(api_service, "status", "conditions", default=None) or []:
        if condition.get("type") != "Available":
            continue
        status = condition.get("status") or ""
        reason = condition.get("reason") or ""
        if status != "True" and reason:
            return f"{status} ({reason})"
        return status
    return "Unknown"


def api_service_cells(api_service: Obj, now: dt.datetime) -> list[Any]:
    service = meta.get_path(api_service, "spec", "service", default=None)
    where = "Local"
    if isinstance(service, dict):
        where = f"{service.get('namespace') or ''}/{service.get('name') or ''}"
    return [meta.name_of(api_service), where, _available(api_service), age_of(api_service, now)]


PRINTERS[("apiregistration.k8s.io", "APIService")] = Printer(API_SERVICE_COLUMNS, api_service_cells)
