"""Defaults of discovery.k8s.io/v1 EndpointSlices (`pkg/apis/discovery/v1/defaults.go`)."""

from __future__ import annotations

from kubelite.api.defaulting.fields import set_if_none
from kubelite.api.types import Obj

PROTOCOL_TCP = "TCP"


def default_endpoint_slice(eps: Obj) -> None:
    """SetDefaults_EndpointPort: every port has a name ("" if none) and a protocol (TCP)."""
    for port in eps.get("ports") or []:
        if isinstance(port, dict):
            set_if_none(port, "name", "")
            set_if_none(port, "protocol", PROTOCOL_TCP)
