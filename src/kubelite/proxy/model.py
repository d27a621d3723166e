"""Service ports and their endpoints, read from Kubernetes-shaped dicts.

kube-proxy does not work on Services but on *service ports*: one per entry of `spec.ports`,
each with its own chains. Endpoints come from the Service's EndpointSlices (label
`kubernetes.io/service-name`), matched to a service port by port name and protocol, as
kube-proxy's EndpointSliceCache does. `categorize_endpoints` is kube-proxy's
CategorizeEndpoints (pkg/proxy/topology.go): which endpoints "Cluster" and "Local" traffic
policies use, with the fall-back to serving-terminating endpoints when none is ready.

Only IPv4 is handled: a Service's IPv6 addresses and IPv6 slices are left out.
"""

from __future__ import annotations

import base64
import hashlib
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubelite.api.types import Obj

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Kubernetes' default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
DEFAULT_AFFINITY_TIMEOUT = 10800
# Longest nftables object name (NFT_NAME_MAXLEN - 1), less room for the longest prefix.
_NAME_MAX = 256 - 1 - 16


def _is_ipv4(value: str) -> bool:
    """A dotted-quad IPv4 address (inet_pton: strict, and much faster than ipaddress)."""
    try:
        socket.inet_pton(socket.AF_INET, value)
    except (OSError, TypeError):
        return False
    return True


def hash_and_truncate(name: str) -> str:
    """`<8 base32 chars of sha256>-<name>`, cut to fit an nftables name.

    The hash keeps names unique when cut, and makes chains that differ in one digit easy to
    tell apart (kube-proxy's hashAndTruncate)."""
    # Five bytes are the first eight base32 characters of the whole digest.
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()[:5]).decode()
    full = f"{digest}-{name}"
    return full if len(full) <= _NAME_MAX else full[: _NAME_MAX - 3] + "..."


@dataclass(frozen=True)
class Endpoint:
    """One address:port behind a service port, with its EndpointSlice conditions."""

    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    node_name: str = ""
    is_local: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with what the proxy needs to program it."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # tcp, udp or sctp
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    affinity_timeout: int = 0  # seconds of ClientIP affinity; 0: none
    internal_policy_local: bool = False
    external_policy_local: bool = False
    chain_base: str = field(default="", compare=False)

    @property
    def name_string(self) -> str:
        """`ns/name:port` as kube-proxy logs a ServicePortName."""
        return f"{self.namespace}/{self.name}:{self.port_name}"

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        # Even with externalTrafficPolicy Local, external traffic from pods and from the node
        # itself short-circuits to the Cluster endpoints.
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (
            self.external_policy_local and self.externally_accessible
        )

    def endpoint_chain_base(self, endpoint: Endpoint) -> str:
        return hash_and_truncate(
            f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name}"
            f"__{endpoint.ip}/{endpoint.port}"
        )


def should_skip(service: Obj) -> bool:
    """Services the proxy has nothing to do for: headless, ExternalName, no IPv4 ClusterIP."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return True
    cluster_ip = spec.get("clusterIP") or ""
    return cluster_ip in ("", "None") or _cluster_ip(spec) == ""


def _cluster_ip(spec: Obj) -> str:
    for ip in spec.get("clusterIPs") or [spec.get("clusterIP") or ""]:
        if _is_ipv4(ip):
            return ip
    return ""


def service_ports(service: Obj) -> list[ServicePort]:
    """The service ports of a Service (none for one the proxy skips)."""
    if should_skip(service):
        return []
    md = service.get("metadata") or {}
    spec = service.get("spec") or {}
    namespace, name = md.get("namespace", ""), md.get("name", "")
    svc_type = spec.get("type") or "ClusterIP"
    external_ips = tuple(ip for ip in spec.get("externalIPs") or () if _is_ipv4(ip))
    lb_ips: tuple[str, ...] = ()
    if svc_type == "LoadBalancer":
        # ipMode Proxy: the load balancer delivers to the node with its own address as the
        # destination, so the node must not capture the VIP (KEP-1860).
        lb_ips = tuple(
            ingress["ip"]
            for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
            or ()
            if ingress.get("ip") and _is_ipv4(ingress["ip"]) and ingress.get("ipMode") != "Proxy"
        )
    externally_accessible_type = svc_type in ("NodePort", "LoadBalancer") or bool(external_ips)
    external_local = externally_accessible_type and spec.get("externalTrafficPolicy") in (
        "Local",
        "OnlyLocal",
    )
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    timeout = 0
    if spec.get("sessionAffinity") == "ClientIP":
        timeout = int(
            ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
            or DEFAULT_AFFINITY_TIMEOUT
        )
    cluster_ip = _cluster_ip(spec)
    ports = []
    for p in spec.get("ports") or ():
        protocol = (p.get("protocol") or "TCP").lower()
        port_name = p.get("name") or ""
        node_port = int(p.get("nodePort") or 0) if svc_type in ("NodePort", "LoadBalancer") else 0
        ports.append(
            ServicePort(
                namespace=namespace,
                name=name,
                port_name=port_name,
                protocol=protocol,
                cluster_ip=cluster_ip,
                port=int(p["port"]),
                node_port=node_port,
                external_ips=external_ips,
                load_balancer_ips=lb_ips,
                affinity_timeout=timeout,
                internal_policy_local=internal_local,
                external_policy_local=external_local,
                chain_base=hash_and_truncate(f"{namespace}/{name}/{protocol}/{port_name}"),
            )
        )
    return ports


def _condition(conditions: Obj, name: str, default: bool) -> bool:
    value = conditions.get(name)
    return default if value is None else bool(value)


def slice_endpoints(slices: Iterable[Obj], port: ServicePort, node_name: str) -> list[Endpoint]:
    """The endpoints of `port` in a Service's EndpointSlices, one per address:port.

    An unknown `ready` or `serving` counts as true and an unknown `terminating` as false, as
    kube-proxy reads them; an address found in two slices is kept once, ready first."""
    found: dict[str, Endpoint] = {}
    for endpoint_slice in slices:
        if endpoint_slice.get("addressType", "IPv4") != "IPv4":
            continue
        target = None
        for slice_port in endpoint_slice.get("ports") or ():
            if (slice_port.get("name") or "") == port.port_name and (
                slice_port.get("protocol") or "TCP"
            ).lower() == port.protocol:
                target = slice_port.get("port")
                break
        if not target:
            continue
        for ep in endpoint_slice.get("endpoints") or ():
            addresses = ep.get("addresses") or ()
            if not addresses:
                continue
            conditions = ep.get("conditions") or {}
            ep_node = ep.get("nodeName") or ""
            endpoint = Endpoint(
                ip=addresses[0],
                port=int(target),
                ready=_condition(conditions, "ready", True),
                serving=_condition(conditions, "serving", True),
                terminating=_condition(conditions, "terminating", False),
                node_name=ep_node,
                is_local=bool(node_name) and ep_node == node_name,
            )
            known = found.get(endpoint.address)
            if known is None or (endpoint.ready and not known.ready):
                found[endpoint.address] = endpoint
    return sorted(found.values(), key=_address_order)


def _address_order(endpoint: Endpoint) -> tuple[bytes, int]:
    try:
        return socket.inet_pton(socket.AF_INET, endpoint.ip), endpoint.port
    except OSError:
        return endpoint.ip.encode(), endpoint.port


@dataclass
class Categorized:
    """What CategorizeEndpoints answers for one service port."""

    cluster: list[Endpoint]
    local: list[Endpoint]
    all_reachable: list[Endpoint]
    has_any: bool


def categorize_endpoints(endpoints: list[Endpoint], port: ServicePort) -> Categorized:
    """Split endpoints for the Cluster and Local traffic policies (kube-proxy's
    CategorizeEndpoints, without topology hints).

    Ready endpoints are used; only when there is none does a policy fall back to endpoints that
    are serving and terminating, so that a rolling update's last old pods keep answering until
    new ones are ready."""
    cluster: list[Endpoint] = []
    has_any = False
    if port.uses_cluster_endpoints:
        cluster = [ep for ep in endpoints if ep.ready]
        if not cluster:
            cluster = [ep for ep in endpoints if ep.serving and ep.terminating]
        has_any = bool(cluster)
    if not port.uses_local_endpoints:
        return Categorized(cluster, [], cluster, has_any)
    local_ready = local_terminating = False
    for ep in endpoints:
        if ep.ready:
            has_any = True
            local_ready = local_ready or ep.is_local
        elif ep.serving and ep.terminating:
            has_any = True
            local_terminating = local_terminating or ep.is_local
    local: list[Endpoint] = []
    if local_ready:
        local = [ep for ep in endpoints if ep.is_local and ep.ready]
    elif local_terminating:
        local = [ep for ep in endpoints if ep.is_local and ep.serving and ep.terminating]
    if not port.uses_cluster_endpoints:
        return Categorized([], local, local, has_any)
    if not local:
        return Categorized(cluster, local, cluster, has_any)
    union = {ep.address: ep for ep in cluster}
    for ep in local:
        union.setdefault(ep.address, ep)
    return Categorized(cluster, local, list(union.values()), has_any)
