"""The `kubernetes` Service's endpoints: every live API server, as kube-apiserver's lease
endpoint reconciler keeps them (pkg/controlplane/reconcilers/lease.go).

Each API server holds a lease on `/registry/masterleases/<its advertise address>` and renews
it every `interval`; a server that stops renewing drops out after `ttl`. Every server then
writes the `kubernetes` Endpoints in `default` (and its EndpointSlice, as kube-apiserver's
EndpointsAdapter does) with the addresses of all unexpired leases, so clients in pods and
agents that fail over between servers find all of them. A server that shuts down cleanly
gives its lease up and takes itself out of the endpoints at once.

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


def interval_for(ttl: float) -> float:
    """The renewal interval for a lease time: two thirds of it, as kube-apiserver's defaults
    (15 s, 10 s) and OpenShift's lease reconciler have it."""
    return ttl * 2 / 3


def _sort_key(ip: str) -> bytes:
    # Kubernetes' RepackSubsets orders addresses by the bytes of their text.
    return ip.encode()


class MasterLeases:
    """The leases of the live API servers (kube-apiserver's `Leases`), each under its own key
    with its expiry inside."""

    def __init__(
        self, store: Store, *, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock

    async def update(self, ip: str) -> None:
        """Take or renew the lease of `ip` for another `ttl`."""
        key = PREFIX + ip
        value = orjson.dumps({"ip": ip, "expiresAt": self.clock() + self.ttl})
        try:
            await self.store.create(key, value)
        except KeyExistsError:
            await self.store.update(key, value, 0)

    async def list(self) -> list[str]:
        """The addresses of the unexpired leases, in the order kube-apiserver writes them;
        expired (or unreadable) leases are deleted on the way, as etcd would have."""
        now = self.clock()
        live = []
        for kv in (await self.store.list(PREFIX)).items:
            ip = _live_ip(kv.value, now)
            if ip is not None:
                live.append(ip)
                continue
            # Only the expired value: a renewal that got in since stays.
            with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                await self.store.delete(kv.key, kv.mod_revision)
        return sorted(set(live), key=_sort_key)

    async def remove(self, ip: str) -> None:
        """Give the lease of `ip` up (gone already is fine)."""
        with contextlib.suppress(KeyNotFoundError):
            await self.store.delete(PREFIX + ip)


def _live_ip(value: bytes, now: float) -> str | None:
    try:
        lease = orjson.loads(value)
        ip, expires = str(lease["ip"]), float(lease["expiresAt"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return ip if expires > now else None


def desired_endpoints(current: Obj | None, ips: list[str], ports: list[Obj]) -> Obj:
    """The `kubernetes` Endpoints listing `ips`: one subset, the ports of the API server, and
    the skip-mirror label; other fields of `current` stay."""
    wanted: Obj = (
        {"metadata": {"name": SERVICE_NAME}}
        if current is None
        else {**current, "metadata": dict(current["metadata"])}
    )
    wanted["metadata"].pop("resourceVersion", None)
    wanted["metadata"]["labels"] = {**(wanted["metadata"].get("labels") or {}), SKIP_MIRROR: "true"}
    wanted["subsets"] = [{"addresses": [{"ip": ip} for ip in ips], "ports": ports}]
    return wanted


def desired_slice(current: Obj | None, ips: list[str], ports: list[Obj]) -> Obj:
    """The EndpointSlice kube-apiserver's EndpointsAdapter derives from that Endpoints: every
    address ready, IPv6 only when all of them are."""
    six = bool(ips) and all(ipaddress.ip_address(ip).version == 6 for ip in ips)
    family = "IPv6" if six else "IPv4"
    wanted: Obj = (
        {"metadata": {"name": SERVICE_NAME}}
        if current is None
        else {**current, "metadata": dict(current["metadata"])}
    )
    wanted["metadata"].pop("resourceVersion", None)
    wanted["metadata"]["labels"] = {SERVICE_NAME_LABEL: SERVICE_NAME}
    wanted["addressType"] = family
    wanted["endpoints"] = [
        {"addresses": [ip], "conditions": {"ready": True}}
        for ip in ips
        if ipaddress.ip_address(ip).version == (6 if six else 4)
    ]
    wanted["ports"] = ports
    return wanted


class EndpointReconciler:
    """kube-apiserver's lease endpoint reconciler for one API server: renews its lease and
    rewrites the `kubernetes` Endpoints and EndpointSlice from the live leases."""

    def __init__(
        self,
        leases: MasterLeases,
        endpoints: ResourceStore,
        slices: ResourceStore,
        *,
        ip: str,
        port: int,
    ) -> None:
        self.leases = leases
        self.endpoints = endpoints
        self.slices = slices
        self.ip = ip
        self.ports: list[Obj] = [{"name": "https", "port": port, "protocol": "TCP"}]
        self._lock = asyncio.Lock()
        self._stopped = False

    async def reconcile(self) -> None:
        """Renew this server's lease, then bring the endpoints to the live leases."""
        async with self._lock:
            if self._stopped:
                return
            # Renewed first, whatever happens below: then at least the others list this server.
            await self.leases.update(self.ip)
            await self._write(await self.leases.list())

    async def remove(self) -> None:
        """Give this server's lease up and take it out of the endpoints; no more reconciling
        after (a clean shutdown)."""
        async with self._lock:
            self._stopped = True
            await self.leases.remove(self.ip)
            await self._write(await self.leases.list())

    async def run(self, interval: float) -> None:
        """Reconcile every `interval` until cancelled; a failed round is logged and retried
        at the next."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling the endpoints of the kubernetes Service failed")

    async def _write(self, ips: list[str]) -> None:
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
