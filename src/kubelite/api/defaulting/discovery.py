"""Defaults of discovery.k8s.io/v1 EndpointSlices (`pkg/apis/discovery/v1/defaults.go`)."""

from __future__ import annotations

from kubelite.api.types import Obj

PROTOCOL_TCP = "TCP"


def default_endpoint_slice(eps: Obj) -> None:
    """SetDefaults_EndpointPort: every port has a name ("" if none) and a protocol (TCP)."""
    for port in eps.get("ports") or []:
        if isinstance(port, dict):
            if port.get("name") is None:
                port["name"] = ""
            if port.get("protocol") is None:
                port["protocol"] = PROTOCOL_TCP
