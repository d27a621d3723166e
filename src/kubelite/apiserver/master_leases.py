"""The `kubernetes` Service's endpoints: every live API server, as kube-apiserver's lease
endpoint reconciler keeps them (pkg/controlplane/reconcilers/lease.go).

Each API server holds a lease on `/registry/masterleases/<its advertise address>` and renews
it every `interval`; a server that stops renewing drops out after `ttl`. Every server then
writes the `kubernetes` Endpoints in `default` (and its EndpointSlice, as kube-apiserver's
EndpointsAdapter does) with the addresses of all unexpired leases, so clients in pods and
agents that fail over between servers find all of them. A server that shuts down cleanly
gives its lease up and takes itself out of the endpoints at once.

The cluster DNS rides on the same leases. Each server runs a DNS server of its own on its node
address (`kubelite server --cluster-dns-port`), and the `kube-dns` Service in kube-system has no
selector, so nothing in Kubernetes would list them all: a server's lease also carries where its
DNS answers, and the reconciler writes the `kube-dns` Endpoints from the live leases that carry
one, as it writes the `kubernetes` ones. Pods then keep resolving names as long as any server
is alive, not only while the one that started last is.

kube-apiserver puts the lease under an etcd lease of `ttl` seconds, and etcd deletes it. The
store here has no TTL (SQLite has none, and the etcd backend is driven through the same
`Store` interface), so the lease's expiry is written inside its value, and whoever lists the
leases treats an expired one as absent and deletes it. The expiry is wall-clock time, read by
other servers: their clocks must agree to well within `ttl - interval`, as an etcd lease's
holder and etcd must.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from kubelite.api import errors
from kubelite.api.types import Obj
from kubelite.apiserver.registry.generic import DeleteOptions, ResourceStore
from kubelite.storage.interface import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    Store,
)

log = logging.getLogger(__name__)

# kube-apiserver's DefaultEndpointReconcilerTTL and DefaultEndpointReconcilerInterval
# (pkg/controlplane/instance.go): a lease lives 15 s and is renewed every 10 s, two thirds of
# its life, leaving a margin of one slow renewal.
DEFAULT_TTL = 15.0
DEFAULT_INTERVAL = 10.0
# kube-apiserver's base key "/masterleases/" under the storage prefix "/registry".
PREFIX = "/registry/masterleases/"
SERVICE_NAME = "kubernetes"
NAMESPACE = "default"
# Labels kube-apiserver puts on the two objects: mirroring would make a second EndpointSlice.
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# The cluster DNS Service, as kubeadm and k3s name CoreDNS's, and its ports' names.
DNS_NAMESPACE = "kube-system"
DNS_SERVICE_NAME = "kube-dns"
DNS_LABELS = {"k8s-app": "kube-dns"}
DNS_PORTS = (("dns", "UDP"), ("dns-tcp", "TCP"))


def interval_for(ttl: float) -> float:
    """The renewal interval for a lease time: two thirds of it, as kube-apiserver's defaults
    (15 s, 10 s) and OpenShift's lease reconciler have it."""
    return ttl * 2 / 3


def _sort_key(ip: str) -> bytes:
    # Kubernetes' RepackSubsets orders addresses by the bytes of their text.
    return ip.encode()


@dataclass(frozen=True)
class Lease:
    """One live server's lease: its advertise address and, when it runs the cluster DNS on a
    routable address, that address and port."""

    ip: str
    dns: tuple[str, int] | None = None


class MasterLeases:
    """The leases of the live API servers (kube-apiserver's `Leases`), each under its own key
    with its expiry inside."""

    def __init__(
        self, store: Store, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock

    async def update(self, ip: str, dns: tuple[str, int] | None = None) -> None:
        """Take or renew the lease of `ip` for another `ttl`, naming where its cluster DNS
        answers, if it runs one others can reach."""
        key = PREFIX + ip
        lease: dict[str, object] = {"ip": ip, "expiresAt": self.clock() + self.ttl}
        if dns is not None:
            lease["dns"] = {"ip": dns[0], "port": dns[1]}
        value = orjson.dumps(lease)
        try:
            await self.store.create(key, value)
        except KeyExistsError:
            await self.store.update(key, value, 0)

    async def live(self) -> list[Lease]:
        """The unexpired leases, ordered by address as kube-apiserver writes them; expired (or
        unreadable) leases are deleted on the way, as etcd would have."""
        now = self.clock()
        live: dict[str, Lease] = {}
        for kv in (await self.store.list(PREFIX)).items:
            lease = _live_lease(kv.value, now)
            if lease is not None:
                live[lease.ip] = lease
                continue
            # Only the expired value: a renewal that got in since stays.
            with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                await self.store.delete(kv.key, kv.mod_revision)
        return [live[ip] for ip in sorted(live, key=_sort_key)]

    async def list(self) -> list[str]:
        """The addresses of the unexpired leases, in the order kube-apiserver writes them."""
        return [lease.ip for lease in await self.live()]

    async def remove(self, ip: str) -> None:
        """Give the lease of `ip` up (gone already is fine)."""
        with contextlib.suppress(KeyNotFoundError):
            await self.store.delete(PREFIX + ip)


def _live_lease(value: bytes, now: float) -> Lease | None:
    try:
        lease = orjson.loads(value)
        ip, expires = str(lease["ip"]), float(lease["expiresAt"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if expires <= now:
        return None
    return Lease(ip, _dns_of(lease.get("dns")))


def _dns_of(value: object) -> tuple[str, int] | None:
    """The DNS address of a lease; none in a lease written before leases carried it, or in
    one this version cannot read (the server stays listed, its DNS does not)."""
    if not isinstance(value, dict):
        return None
    ip, port = value.get("ip"), value.get("port")
    if not isinstance(ip, str) or type(port) is not int or not 0 < port < 65536:
        return None
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return ip, port


def _starting_from(current: Obj | None, name: str) -> Obj:
    """What to write: `current` (a shallow copy, its metadata copied too) or a new object
    named `name`; without resourceVersion, so the write applies to whatever is stored."""
    if current is None:
        return {"metadata": {"name": name}}
    wanted = {**current, "metadata": dict(current["metadata"])}
    wanted["metadata"].pop("resourceVersion", None)
    return wanted


def desired_endpoints(current: Obj | None, ips: list[str], ports: list[Obj]) -> Obj:
    """The `kubernetes` Endpoints listing `ips`: one subset, the ports of the API server, and
    the skip-mirror label; other fields of `current` stay."""
    wanted = _starting_from(current, SERVICE_NAME)
    wanted["metadata"]["labels"] = {**(wanted["metadata"].get("labels") or {}), SKIP_MIRROR: "true"}
    wanted["subsets"] = [{"addresses": [{"ip": ip} for ip in ips], "ports": ports}]
    return wanted


def desired_slice(current: Obj | None, ips: list[str], ports: list[Obj]) -> Obj:
    """The EndpointSlice kube-apiserver's EndpointsAdapter derives from that Endpoints: every
    address ready, IPv6 only when all of them are."""
    six = bool(ips) and all(ipaddress.ip_address(ip).version == 6 for ip in ips)
    family = "IPv6" if six else "IPv4"
    wanted = _starting_from(current, SERVICE_NAME)
    wanted["metadata"]["labels"] = {SERVICE_NAME_LABEL: SERVICE_NAME}
    wanted["addressType"] = family
    wanted["endpoints"] = [
        {"addresses": [ip], "conditions": {"ready": True}}
        for ip in ips
        if ipaddress.ip_address(ip).version == (6 if six else 4)
    ]
    wanted["ports"] = ports
    return wanted


def desired_dns_endpoints(current: Obj | None, leases: list[Lease]) -> Obj | None:
    """The `kube-dns` Endpoints leading to the cluster DNS of every lease that carries one, or
    None when none does. An Endpoints subset holds addresses that share their ports, so the
    servers are grouped by DNS port: one subset per port, in the order of the ports, addresses
    ordered by their text as in the `kubernetes` Endpoints. (Kubernetes' SortSubsets orders
    subsets by a hash of each; any fixed order serves, and a fixed one leaves an unchanged list
    unwritten.) Other fields and labels of `current` stay."""
    by_port: dict[int, set[str]] = {}
    for lease in leases:
        if lease.dns is not None:
            by_port.setdefault(lease.dns[1], set()).add(lease.dns[0])
    if not by_port:
        return None
    wanted = _starting_from(current, DNS_SERVICE_NAME)
    wanted["metadata"]["labels"] = {**(wanted["metadata"].get("labels") or {}), **DNS_LABELS}
    wanted["subsets"] = [
        {
            "addresses": [{"ip": ip} for ip in sorted(by_port[port], key=_sort_key)],
            "ports": [{"name": name, "port": port, "protocol": proto} for name, proto in DNS_PORTS],
        }
        for port in sorted(by_port)
    ]
    return wanted


class EndpointReconciler:
    """kube-apiserver's lease endpoint reconciler for one API server: renews its lease and
    rewrites the `kubernetes` Endpoints and EndpointSlice, and the `kube-dns` Endpoints, from
    the live leases. `dns` is where this server's cluster DNS answers, if it runs one on a
    routable address (Kubernetes refuses loopback endpoint addresses)."""

    def __init__(
        self,
        leases: MasterLeases,
        endpoints: ResourceStore,
        slices: ResourceStore,
        *,
        ip: str,
        port: int,
        dns: tuple[str, int] | None = None,
    ) -> None:
        self.leases = leases
        self.endpoints = endpoints
        self.slices = slices
        self.ip = ip
        self.dns = dns
        self.ports: list[Obj] = [{"name": "https", "port": port, "protocol": "TCP"}]
        self._lock = asyncio.Lock()
        self._stopped = False

    async def reconcile(self) -> None:
        """Renew this server's lease, then bring the endpoints to the live leases."""
        async with self._lock:
            if self._stopped:
                return
            # Renewed first, whatever happens below: then at least the others list this server.
            await self.leases.update(self.ip, self.dns)
            await self._write(await self.leases.live())

    async def remove(self) -> None:
        """Give this server's lease up and take it out of the endpoints; no more reconciling
        after (a clean shutdown)."""
        async with self._lock:
            self._stopped = True
            await self.leases.remove(self.ip)
            await self._write(await self.leases.live())

    async def run(self, interval: float) -> None:
        """Reconcile every `interval` until cancelled; a failed round is logged and retried
        at the next."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling the kubernetes and kube-dns endpoints failed")

    async def _write(self, leases: list[Lease]) -> None:
        ips = [lease.ip for lease in leases]
        if not ips:
            # As kube-apiserver: this server just renewed its own lease (or is the last one
            # leaving), so an empty list is a fault or the end; the endpoints stay as they are.
            log.warning(
                "no API server leases are listed in storage: "
                "not erasing the endpoints of the kubernetes Service"
            )
            return

        async def endpoints(current: Obj | None) -> Obj:
            return desired_endpoints(current, ips, self.ports)

        await self.endpoints.update(NAMESPACE, SERVICE_NAME, endpoints, create_missing=True)
        await self._write_slice(ips)
        await self._write_dns(leases)

    async def _write_dns(self, leases: list[Lease]) -> None:
        if not any(lease.dns is not None for lease in leases):
            # As above: a cluster with no DNS server listed is a fault or the end (or DNS runs
            # on no routable address anywhere); the last endpoints stay.
            return

        async def converge(current: Obj | None) -> Obj:
            wanted = desired_dns_endpoints(current, leases)
            assert wanted is not None
            return wanted

        # Its EndpointSlice is the mirroring controller's (the Service has no selector).
        await self.endpoints.update(DNS_NAMESPACE, DNS_SERVICE_NAME, converge, create_missing=True)

    async def _write_slice(self, ips: list[str]) -> None:
        family = desired_slice(None, ips, self.ports)["addressType"]
        try:
            current = await self.slices.get(NAMESPACE, SERVICE_NAME)
        except errors.StatusError as exc:
            if exc.reason != errors.REASON_NOT_FOUND:
                raise
            current = None
        if current is not None and current.get("addressType") != family:
            # addressType is immutable: kube-apiserver deletes the slice and makes it anew.
            with contextlib.suppress(errors.StatusError):
                await self.slices.delete(NAMESPACE, SERVICE_NAME, DeleteOptions())

        async def converge(current: Obj | None) -> Obj:
            return desired_slice(current, ips, self.ports)

        await self.slices.update(NAMESPACE, SERVICE_NAME, converge, create_missing=True)
