"""Pods, Services and nodes for the unit tests of the Endpoints, EndpointSlice and mirroring
controllers: small builders, so that each table row says only what differs."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

T_READY = "2025-01-01T00:00:10Z"


def pod(
    name: str,
    ip: str | None = "10.42.0.1",
    *,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    node: str = "node-a",
    ports: list[Obj] | None = None,
    hostname: str = "",
    subdomain: str = "",
    deleting: bool = False,
    phase: str = "Running",
    namespace: str = "ns",
) -> Obj:
    spec: Obj = {
        "nodeName": node,
        "containers": [
            {
                "name": "c",
                "image": "x",
                "ports": ports if ports is not None else [{"name": "http", "containerPort": 8080}],
            }
        ],
    }
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    status: Obj = {
        "phase": phase,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": T_READY,
            }
        ],
    }
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    md: Obj = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "labels": labels if labels is not None else {"app": "web"},
        "creationTimestamp": "2025-01-01T00:00:00Z",
    }
    if deleting:
        md["deletionTimestamp"] = "2025-01-01T00:01:00Z"
    return {"metadata": md, "spec": spec, "status": status}


def service(
    name: str = "web",
    *,
    selector: dict[str, str] | None = None,
    ports: list[Obj] | None = None,
    cluster_ip: str = "10.43.0.20",
    publish_not_ready: bool = False,
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    body: Obj = {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"svc-{name}",
            "creationTimestamp": "2025-01-01T00:00:00Z",
        },
        "spec": {
            "selector": selector if selector is not None else {"app": "web"},
            "ports": ports
            if ports is not None
            else [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "clusterIP": cluster_ip,
            "ipFamilies": ["IPv4"],
            **spec,
        },
    }
    if labels:
        body["metadata"]["labels"] = labels
    if publish_not_ready:
        body["spec"]["publishNotReadyAddresses"] = True
    return body


def node(name: str = "node-a", zone: str | None = None) -> Obj:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {"metadata": {"name": name, "labels": labels}}
