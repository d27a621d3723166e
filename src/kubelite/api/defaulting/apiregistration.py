"""Defaults of apiregistration.k8s.io/v1 APIServices
(`kube-aggregator/pkg/apis/apiregistration/v1/defaults.go`)."""

from __future__ import annotations

from kubelite.api.defaulting.fields import set_if_none
from kubelite.api.types import Obj

# SetDefaults_ServiceReference: an aggregated API server is reached on 443 unless told otherwise.
DEFAULT_SERVICE_PORT = 443


def default_api_service(obj: Obj) -> None:
    spec = obj.get("spec")
    service = spec.get("service") if isinstance(spec, dict) else None
    if isinstance(service, dict):
        set_if_none(service, "port", DEFAULT_SERVICE_PORT)
