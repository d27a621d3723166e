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
from typing import Any

import orjson

from kubelite.api import errors, meta
from kubelite.api.kinds import ResourceType
from kubelite.api.strategies import core as services
from kubelite.storage.interface import Store

Obj = dict[str, Any]

# Namespaces that always exist and may not be deleted (NamespaceLifecycle's immortal ones).
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# The service range and node-port range (kube-apiserver's --service-cluster-ip-range, as k3s
# sets it, and --service-node-port-range).
SERVICE_CIDR = ipaddress.ip_network("10.43.0.0/16")
NODE_PORT_RANGE = (30000, 32767)
KUBERNETES_SERVICE_IP = str(SERVICE_CIDR.network_address + 1)
# The kube-dns Service's address: the tenth of the range, as k3s and kubeadm choose it.
CLUSTER_DNS_SERVICE_IP = str(SERVICE_CIDR.network_address + 10)


class NamespaceLifecycle:
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
        kv = await self.store.get(self.namespaces.key("", namespace))
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


class ServiceAllocator:
    """Cluster IPs and node ports for Services, chosen among those no service holds.

    What services hold is read from the store; what concurrent writes have just been given is
    held here until they land, so two requests at once never get the same address (Kubernetes
    reserves in its allocator before storing the service).
    """

    def __init__(self, store: Store, services: ResourceType) -> None:
        self.store = store
        self.services = services
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
        if wanted is None and not node_ports:
            return
        uid = meta.get_path(obj, "metadata", "uid", default="")
        ips, ports = await self._in_use(uid)
        if wanted is not None:
            if wanted:
                self._check_ip(obj, wanted, ips)
            ip = wanted or self._free_ip(ips)
            services.assign_cluster_ip(obj, ip)
            self._reserve(ip, uid)
        if node_ports:
            for i, port in enumerate(obj["spec"].get("ports") or []):
                if port.get("nodePort"):
                    self._check_node_port(obj, i, port["nodePort"], ports)
                else:
                    port["nodePort"] = self._free_port(ports)
                ports.add(port["nodePort"])
                self._reserve(port["nodePort"], uid)

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
        if address not in SERVICE_CIDR or address in (
            SERVICE_CIDR.network_address,
            SERVICE_CIDR.broadcast_address,
        ):
            raise self._invalid(
                obj,
                "spec.clusterIPs",
                cluster_ips,
                f"failed to allocate IP {wanted}: the provided IP ({wanted}) is not in the valid "
                f"range. The range of valid IPs is {SERVICE_CIDR}",
            )
        if wanted in in_use:
            raise self._invalid(
                obj,
                "spec.clusterIPs",
                cluster_ips,
                f"failed to allocate IP {wanted}: provided IP is already allocated",
            )

    @staticmethod
    def _free_ip(in_use: set[str]) -> str:
        size = SERVICE_CIDR.num_addresses
        base = int(SERVICE_CIDR.network_address)
        # Like Kubernetes, start at a random offset so that addresses are not reused at once;
        # .0 is the network and .1 belongs to the `kubernetes` service.
        start = random.randrange(2, size - 1)
        for step in range(size - 3):
            candidate = str(ipaddress.ip_address(base + 2 + (start - 2 + step) % (size - 3)))
            if candidate not in in_use:
                return candidate
        raise errors.internal_error("failed to allocate a serviceIP: range is full")

    def _check_node_port(self, obj: Obj, index: int, port: int, in_use: set[int]) -> None:
        low, high = NODE_PORT_RANGE
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

    @staticmethod
    def _free_port(in_use: set[int]) -> int:
        low, high = NODE_PORT_RANGE
        start = random.randrange(low, high + 1)
        for step in range(high - low + 1):
            candidate = low + (start - low + step) % (high - low + 1)
            if candidate not in in_use:
                return candidate
        raise errors.internal_error("failed to allocate a nodePort: range is full")
