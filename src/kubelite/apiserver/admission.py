"""Admission: the checks between a valid object and the store that need other objects.

- NamespaceLifecycle (Kubernetes' admission plugin of that name): nothing is created in a
  namespace that does not exist or is being terminated, and the system namespaces cannot be
  deleted.
- Service IP and node-port allocation (done by the service REST storage in Kubernetes): a
  ClusterIP service gets a free address from the service range, a NodePort service free ports,
  and an update that leaves them out keeps the allocated ones.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable
from typing import Any

import orjson

from kubelite.api import errors, meta, servicenetwork
from kubelite.api.kinds import ResourceType
from kubelite.api.strategies import core as services
from kubelite.api.types import Obj
from kubelite.api.validation import core as validation
from kubelite.apiserver import live_lookup
from kubelite.storage.interface import Store

# Namespaces that always exist and may not be deleted (NamespaceLifecycle's immortal ones).
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NamespaceLifecycle:
    """Admission that refuses new objects in a namespace that is missing or being deleted,
    and the deletion of the system namespaces (Kubernetes' NamespaceLifecycle plugin)."""

    def __init__(self, store: Store, namespaces: ResourceType) -> None:
        self.store = store
        self.namespaces = namespaces

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if operation == "DELETE":
            if resource is self.namespaces:
                refuse_immortal_namespace_delete(meta.name_of(obj))
            return
        if operation != "CREATE" or not resource.namespaced:
            return
        namespace = meta.namespace_of(obj)
        kv = await live_lookup.get(self.store, self.namespaces.key("", namespace))
        if kv is None:
            raise errors.not_found("namespaces", namespace)
        ns = orjson.loads(kv.value)
        terminating = meta.get_path(ns, "metadata", "deletionTimestamp") or (
            meta.get_path(ns, "status", "phase") == "Terminating"
        )
        if terminating:
            exc = errors.forbidden(
                resource.plural,
                meta.name_of(obj),
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                resource.group,
            )
            assert exc.details is not None
            exc.details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise exc


def refuse_immortal_namespace_delete(name: str) -> None:
    if name in IMMORTAL_NAMESPACES:
        raise errors.forbidden("namespaces", name, "this namespace may not be deleted")


# How long an allocation made for a write in flight is held for it: the write lands (and the
# address is then taken in the store) well within this, or failed and the address is free again.
RESERVATION_SECONDS = 30.0


# The bottom of each range is kept for addresses and ports asked for by name (KEP-3070 for
# cluster IPs, KEP-3668 for node ports): dynamic allocation takes it only once the rest is full.
# Its size is min(max(MIN, size / STEP), MAX) (calculateRangeOffset).
IP_BAND_MIN, IP_BAND_MAX, IP_BAND_STEP = 16, 256, 16
PORT_BAND_MIN, PORT_BAND_MAX, PORT_BAND_STEP = 16, 128, 32


def range_offset(size: int, low: int, high: int, step: int) -> int:
    """calculateRangeOffset: how many values at the bottom of a range are its static band."""
    if size <= low:
        return 0
    return min(max(low, size // step), high)


def _free_in_bands(count: int, offset: int, free: Callable[[int], bool]) -> int | None:
    """The index of a free value: first above `offset`, then below, each searched from a
    random place (the allocators' AllocateNext)."""
    for lo, hi in ((offset, count), (0, offset)):
        span = hi - lo
        if span <= 0:
            continue
        start = random.randrange(span)
        for step in range(span):
            index = lo + (start + step) % span
            if free(index):
                return index
    return None


class ServiceAllocator:
    """Cluster IPs and node ports for Services, chosen among those no service holds.

    What services hold is read from the store; what concurrent writes have just been given is
    held here until they land, so two requests at once never get the same address (Kubernetes
    reserves in its allocator before storing the service).
    """

    def __init__(
        self,
        store: Store,
        services: ResourceType,
        *,
        cidr: servicenetwork.ServiceNetwork = servicenetwork.SERVICE_CIDR,
        node_ports: tuple[int, int] = servicenetwork.NODE_PORT_RANGE,
    ) -> None:
        self.store = store
        self.services = services
        self.cidr = cidr
        self.node_ports = node_ports
        self._reserved: dict[str | int, tuple[str, float]] = {}

    def _reserve(self, value: str | int, uid: str) -> None:
        self._reserved[value] = (uid, time.monotonic() + RESERVATION_SECONDS)

    async def _in_use(self, skip_uid: str) -> tuple[set[str], set[int]]:
        listing = await self.store.list(self.services.key_prefix())
        ips: set[str] = set()
        ports: set[int] = set()
        stored: set[str] = set()
        for kv in listing.items:
            svc = orjson.loads(kv.value)
            uid = meta.get_path(svc, "metadata", "uid", default="")
            stored.add(uid)
            if uid == skip_uid:
                continue
            ips.update(meta.get_path(svc, "spec", "clusterIPs", default=[]))
            for port in meta.get_path(svc, "spec", "ports", default=[]):
                if port.get("nodePort"):
                    ports.add(port["nodePort"])
            if meta.get_path(svc, "spec", "healthCheckNodePort"):
                ports.add(svc["spec"]["healthCheckNodePort"])
        now = time.monotonic()
        for value, (uid, expires) in list(self._reserved.items()):
            # Once the write landed the store speaks for it (and frees it on delete).
            if expires < now or uid in stored:
                del self._reserved[value]
            elif uid != skip_uid:
                if isinstance(value, str):
                    ips.add(value)
                else:
                    ports.add(value)
        return ips, ports

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if resource is not self.services or operation not in ("CREATE", "UPDATE"):
            return
        wanted = services.cluster_ip_request(obj)
        node_ports = services.needs_node_ports(obj)
        spec_ports = obj["spec"].get("ports") or []
        requested_ports = any(p.get("nodePort") for p in spec_ports)
        health_check = validation.needs_health_check(obj)
        if wanted is None and not node_ports and not requested_ports and not health_check:
            return
        uid = meta.get_path(obj, "metadata", "uid", default="")
        ips, ports = await self._in_use(uid)
        if wanted is not None:
            if wanted:
                self._check_ip(obj, wanted, ips)
            ip = wanted or self._free_ip(ips)
            services.assign_cluster_ip(obj, ip)
            self._reserve(ip, uid)
        self._node_ports(obj, spec_ports, node_ports, ports, uid)
        if health_check:
            self._health_check_node_port(obj, ports, uid)

    def _node_ports(
        self, obj: Obj, spec_ports: list[Obj], allocate: bool, ports: set[int], uid: str
    ) -> None:
        """initNodePorts: ports of one number (TCP and UDP 53) share one node port; a port
        without one gets the one asked for on another port of its number, or a free one.
        A port that asks for one is checked even where none would be allocated."""

        def take(index: int, number: int) -> None:
            self._check_node_port(obj, index, number, ports)
            ports.add(number)
            self._reserve(number, uid)

        by_number: dict[Any, int] = {}
        for i, port in enumerate(spec_ports):
            if not port.get("nodePort") and not allocate:
                continue
            shared = by_number.get(port.get("port"))
            if shared is None:
                requested = next(
                    (
                        p["nodePort"]
                        for p in spec_ports[i:]
                        if p.get("port") == port.get("port") and p.get("nodePort")
                    ),
                    0,
                )
                if requested:
                    take(i, requested)
                    port["nodePort"] = requested
                else:
                    port["nodePort"] = self._free_port(ports)
                    ports.add(port["nodePort"])
                    self._reserve(port["nodePort"], uid)
                by_number[port.get("port")] = port["nodePort"]
            elif port.get("nodePort", 0) != shared:
                if port.get("nodePort"):
                    take(i, port["nodePort"])
                else:
                    port["nodePort"] = shared

    def _health_check_node_port(self, obj: Obj, ports: set[int], uid: str) -> None:
        """allocHealthCheckNodePort: a LoadBalancer with externalTrafficPolicy Local gets a
        node port for its health checks; one asked for that cannot be had is a 500, as in
        Kubernetes (it is no field's fault)."""
        spec = obj["spec"]
        requested = spec.get("healthCheckNodePort")
        if requested:
            low, high = self.node_ports
            problem = ""
            if not low <= requested <= high:
                problem = (
                    "provided port is not in the valid range. The range of valid ports is "
                    f"{low}-{high}"
                )
            elif requested in ports:
                problem = "provided port is already allocated"
            if problem:
                raise errors.internal_error(
                    f"failed to allocate requested HealthCheck NodePort {requested}: {problem}"
                )
        else:
            spec["healthCheckNodePort"] = self._free_port(ports)
        ports.add(spec["healthCheckNodePort"])
        self._reserve(spec["healthCheckNodePort"], uid)

    @staticmethod
    def _invalid(obj: Obj, field: str, value: Any, detail: str) -> errors.StatusError:
        return errors.invalid_object(
            "Service", meta.name_of(obj), [errors.invalid(field, value, detail)]
        )

    def _check_ip(self, obj: Obj, wanted: str, in_use: set[str]) -> None:
        try:
            address = ipaddress.ip_address(wanted)
        except ValueError:
            raise self._invalid(
                obj, "spec.clusterIPs[0]", wanted, "must be a valid IP address"
            ) from None
        # Kubernetes' allocator reports the whole spec.clusterIPs, a []string (alloc.go).
        cluster_ips = errors.GoStrings(tuple(meta.get_path(obj, "spec", "clusterIPs") or [wanted]))
        if address not in self.cidr or address in (
            self.cidr.network_address,
            self.cidr.broadcast_address,
        ):
            raise self._invalid(
                obj,
                "spec.clusterIPs",
                cluster_ips,
                f"failed to allocate IP {wanted}: the provided IP ({wanted}) is not in the valid "
                f"range. The range of valid IPs is {self.cidr}",
            )
        if wanted in in_use:
            raise self._invalid(
                obj,
                "spec.clusterIPs",
                cluster_ips,
                f"failed to allocate IP {wanted}: provided IP is already allocated",
            )

    def _free_ip(self, in_use: set[str]) -> str:
        """A free address, from above the static band first (KEP-3070), at a random place so
        that a released address is not handed out again at once."""
        first = int(self.cidr.network_address) + 1
        # Neither the network nor (IPv4) the broadcast address is handed out.
        count = self.cidr.num_addresses - (2 if self.cidr.version == 4 else 1)
        found = _free_in_bands(
            count,
            # Sized on the whole CIDR, network and broadcast included, as Kubernetes does.
            range_offset(self.cidr.num_addresses, IP_BAND_MIN, IP_BAND_MAX, IP_BAND_STEP),
            lambda i: str(ipaddress.ip_address(first + i)) not in in_use,
        )
        if found is None:
            raise errors.internal_error("failed to allocate a serviceIP: range is full")
        return str(ipaddress.ip_address(first + found))

    def _check_node_port(self, obj: Obj, index: int, port: int, in_use: set[int]) -> None:
        low, high = self.node_ports
        field = f"spec.ports[{index}].nodePort"
        if not low <= port <= high:
            raise self._invalid(
                obj,
                field,
                port,
                f"provided port is not in the valid range. The range of valid ports is "
                f"{low}-{high}",
            )
        if port in in_use:
            raise self._invalid(obj, field, port, "provided port is already allocated")

    def _free_port(self, in_use: set[int]) -> int:
        """A free node port, from above the static band first (KEP-3668)."""
        low, high = self.node_ports
        count = high - low + 1
        found = _free_in_bands(
            count,
            range_offset(count, PORT_BAND_MIN, PORT_BAND_MAX, PORT_BAND_STEP),
            lambda i: low + i not in in_use,
        )
        if found is None:
            raise errors.internal_error("failed to allocate a nodePort: range is full")
        return low + found
