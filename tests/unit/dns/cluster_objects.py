"""Kubernetes objects shaped as the API serves them, for the DNS tests: the specification's
examples (a `kubernetes` Service, a headless Service with pets, an ExternalName) and a
StatefulSet's pods behind a headless Service, as the seed's ambassador example has."""

from __future__ import annotations

from typing import Any

from kubelite.dns.index import ClusterIndex

Obj = dict[str, Any]


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(name: str, ns: str = "default", **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "ClusterIP", **spec},
    }


def endpoint(ip: str, *, hostname: str | None = None, ready: bool | None = True) -> Obj:
    conditions = {} if ready is None else {"ready": ready, "serving": ready, "terminating": False}
    found: Obj = {"addresses": [ip], "conditions": conditions}
    if hostname:
        found["hostname"] = hostname
    return found


def endpoint_slice(
    name: str,
    service_name: str,
    endpoints: list[Obj],
    ports: list[Obj] | None,
    ns: str = "default",
    address_type: str = "IPv4",
) -> Obj:
    obj: Obj = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {
                "kubernetes.io/service-name": service_name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": address_type,
        "endpoints": endpoints,
    }
    if ports is not None:
        obj["ports"] = ports
    return obj


def cluster_index() -> ClusterIndex:
    index = ClusterIndex()
    for name in ("default", "kube-system", "other"):
        index.on_namespace("ADDED", namespace(name))
    objects = [
        service(
            "kubernetes",
            clusterIP="10.43.0.1",
            clusterIPs=["10.43.0.1"],
            ports=[{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        ),
        service(
            "kube-dns",
            "kube-system",
            clusterIP="10.43.0.10",
            clusterIPs=["10.43.0.10"],
            ports=[
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            ],
        ),
        service(
            "web",
            clusterIP="10.43.7.7",
            clusterIPs=["10.43.7.7"],
            ports=[
                {"name": "http", "port": 80, "protocol": "TCP"},
                {"port": 8080, "protocol": "TCP"},
            ],
        ),
        service(
            "web6",
            clusterIP="fd00:43::7",
            clusterIPs=["fd00:43::7"],
            ports=[{"name": "http", "port": 80, "protocol": "TCP"}],
        ),
        service(
            "headless",
            clusterIP="None",
            clusterIPs=["None"],
            ports=[{"name": "https", "port": 443, "protocol": "TCP"}],
        ),
        endpoint_slice(
            "headless-abcde",
            "headless",
            [
                endpoint("10.42.0.100", hostname="my-pet"),
                endpoint("10.42.0.101", hostname="my-pet-2"),
                endpoint("10.42.0.102"),
                endpoint("10.42.0.103", hostname="not-ready", ready=False),
            ],
            [{"name": "https", "port": 443, "protocol": "TCP"}],
        ),
        service(
            "redis-svc",
            clusterIP="None",
            clusterIPs=["None"],
            ports=[{"name": "redis", "port": 6379, "protocol": "TCP"}],
        ),
        endpoint_slice(
            "redis-svc-x1",
            "redis-svc",
            [
                endpoint("10.42.0.20", hostname="redis-st-0"),
                endpoint("10.42.0.21", hostname="redis-st-1", ready=None),
            ],
            [{"name": "redis", "port": 6379, "protocol": "TCP"}],
        ),
        service("empty-headless", clusterIP="None", clusterIPs=["None"]),
        service("portless", clusterIP="None", clusterIPs=["None"]),
        endpoint_slice("portless-1", "portless", [endpoint("10.42.0.30")], None),
        service("foo", type="ExternalName", externalName="www.example.com"),
        service("alias", type="ExternalName", externalName="web.default.svc.cluster.local"),
        service("ip-alias", type="ExternalName", externalName="192.0.2.1"),
        endpoint_slice(
            "web-1",
            "web",
            [endpoint("10.42.0.7")],
            [{"name": "http", "port": 8000, "protocol": "TCP"}],
        ),
    ]
    for obj in objects:
        if obj["kind"] == "Service":
            index.on_service("ADDED", obj)
        else:
            index.on_endpoint_slice("ADDED", obj)
    return index
