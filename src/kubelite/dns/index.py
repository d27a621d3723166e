"""The cluster's DNS data: Services, EndpointSlices and Namespaces, reduced and indexed.

Informer handlers call `on_service`, `on_endpoint_slice` and `on_namespace` with each event;
the index keeps only what answers need (a Service's kind, addresses and ports; the ready
endpoints of each slice with their hostnames) under the keys queries look them up by, so that
answering is a few dict lookups and a new Service resolves as soon as its event arrives.

Endpoints come from EndpointSlices (`kubernetes.io/service-name` label), as CoreDNS reads them:
an endpoint is published while its `ready` condition is true or unset (the EndpointSlice
controller marks every endpoint ready for a Service with `publishNotReadyAddresses`), and a slice
without ports still publishes its addresses (for A records; it has no SRV records).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubelite.api.types import Obj

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
CLUSTER_IP_NONE = "None"
# A port of a slice that lists none: addresses are published, no SRV record is (CoreDNS' -1).
NO_PORT = -1


@dataclass(frozen=True)
class Port:
    """A Service or EndpointSlice port: `name` may be empty (unnamed ports have no SRV)."""

    name: str
    port: int
    protocol: str


@dataclass(frozen=True)
class Service:
    """A Service reduced to what DNS answers need: its kind, cluster IPs, external name and
    ports."""

    namespace: str
    name: str
    # "ClusterIP" (any Service with cluster IPs), "Headless" or "ExternalName".
    kind: str
    cluster_ips: tuple[str, ...]
    external_name: str
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class Endpoint:
    """One ready endpoint of a Service as DNS names it: its address and the hostname its records
    use."""

    ip: str
    # The endpoint's `hostname`, or its address with dashes (CoreDNS' endpointHostname).
    hostname: str


@dataclass(frozen=True)
class Slice:
    """The ready endpoints of one EndpointSlice and its ports."""

    service: str
    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


def endpoint_hostname(ip: str, hostname: str | None) -> str:
    """The name an endpoint has under its Service: its hostname, else its dashed address."""
    if hostname:
        return hostname
    return ip.replace(".", "-") if "." in ip else ip.replace(":", "-")


def service_from(obj: Obj) -> Service:
    md = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    ports = tuple(
        Port(p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP")
        for p in spec.get("ports") or ()
    )
    if spec.get("type") == "ExternalName":
        kind, ips = "ExternalName", ()
    else:
        single = [spec["clusterIP"]] if spec.get("clusterIP") else []
        ips = tuple(spec.get("clusterIPs") or single)
        kind = "Headless" if ips == (CLUSTER_IP_NONE,) else "ClusterIP"
        if kind == "Headless":
            ips = ()
    return Service(
        namespace=md.get("namespace", ""),
        name=md.get("name", ""),
        kind=kind,
        cluster_ips=ips,
        external_name=spec.get("externalName") or "",
        ports=ports,
    )


def _ready(endpoint: Obj) -> bool:
    # A nil `ready` is "unknown", which consumers are told to take as ready.
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or bool(ready)


def slice_from(obj: Obj) -> Slice | None:
    """The slice's ready endpoints, or None for a slice of no Service or of FQDN addresses."""
    service = ((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or obj.get("addressType") == "FQDN":
        return None
    endpoints = tuple(
        Endpoint(address, endpoint_hostname(address, endpoint.get("hostname")))
        for endpoint in obj.get("endpoints") or ()
        if _ready(endpoint)
        for address in endpoint.get("addresses") or ()
    )
    ports = tuple(
        Port(
            p.get("name") or "",
            NO_PORT if p.get("port") is None else int(p["port"]),
            p.get("protocol") or "",
        )
        for p in obj.get("ports") or ()
    ) or (Port("", NO_PORT, ""),)
    return Slice(service, endpoints, ports)


class ClusterIndex:
    """What the cluster's objects say about names, kept current by informer events.

    `on_change` callbacks run after every change (the server drops its cache of packed
    answers). `modified` is the time of the last change, the SOA serial CoreDNS reports.
    """

    def __init__(self) -> None:
        self.namespaces: set[str] = set()
        self.services: dict[tuple[str, str], Service] = {}
        # (namespace, service) -> slice name -> slice.
        self.slices: dict[tuple[str, str], dict[str, Slice]] = {}
        # Reverse lookups: cluster IP -> Services; endpoint address -> (namespace, service).
        self.by_cluster_ip: dict[str, list[tuple[str, str]]] = {}
        self.by_endpoint_ip: dict[str, set[tuple[str, str]]] = {}
        self._slice_owner: dict[tuple[str, str], tuple[str, str]] = {}
        self.modified = int(time.time())
        self.on_change: list[Callable[[], None]] = []
        # Set by whoever feeds the index once the informers have listed (NXDOMAIN before
        # that would be a lie: CoreDNS answers SERVFAIL until then).
        self.synced: Callable[[], bool] = lambda: True

    def _changed(self) -> None:
        self.modified = int(time.time())
        for callback in self.on_change:
            callback()

    def on_namespace(self, event_type: str, obj: Obj) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        if event_type == "DELETED":
            self.namespaces.discard(name)
        else:
            self.namespaces.add(name)
        self._changed()

    def on_service(self, event_type: str, obj: Obj) -> None:
        md = obj.get("metadata") or {}
        key = (md.get("namespace", ""), md.get("name", ""))
        old = self.services.pop(key, None)
        if old is not None:
            for ip in old.cluster_ips:
                owners = self.by_cluster_ip.get(ip, [])
                if key in owners:
                    owners.remove(key)
                if not owners:
                    self.by_cluster_ip.pop(ip, None)
        if event_type != "DELETED":
            service = service_from(obj)
            self.services[key] = service
            for ip in service.cluster_ips:
                self.by_cluster_ip.setdefault(ip, []).append(key)
        self._changed()

    def on_endpoint_slice(self, event_type: str, obj: Obj) -> None:
        md = obj.get("metadata") or {}
        namespace, name = md.get("namespace", ""), md.get("name", "")
        owner = self._slice_owner.pop((namespace, name), None)
        if owner is not None:
            slices = self.slices.get(owner, {})
            old = slices.pop(name, None)
            if not slices:
                self.slices.pop(owner, None)
            if old is not None:
                self._unindex_endpoints(owner, old)
        piece = slice_from(obj) if event_type != "DELETED" else None
        if piece is not None:
            owner = (namespace, piece.service)
            self._slice_owner[(namespace, name)] = owner
            self.slices.setdefault(owner, {})[name] = piece
            for endpoint in piece.endpoints:
                self.by_endpoint_ip.setdefault(endpoint.ip, set()).add(owner)
        self._changed()

    def _unindex_endpoints(self, owner: tuple[str, str], old: Slice) -> None:
        remaining = {e.ip for s in self.slices.get(owner, {}).values() for e in s.endpoints}
        for endpoint in old.endpoints:
            if endpoint.ip in remaining:
                continue
            owners = self.by_endpoint_ip.get(endpoint.ip)
            if owners is not None:
                owners.discard(owner)
                if not owners:
                    del self.by_endpoint_ip[endpoint.ip]

    def service_slices(self, namespace: str, service: str) -> list[Slice]:
        return list(self.slices.get((namespace, service), {}).values())

    def service_ips(self, namespace: str, name: str, version: int) -> list[str]:
        """The cluster IPs of one Service of IP version 4 or 6."""
        service = self.services.get((namespace, name))
        if service is None:
            return []
        return [ip for ip in service.cluster_ips if ipaddress.ip_address(ip).version == version]
