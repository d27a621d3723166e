"""The proxier: Services and EndpointSlices in, one nftables transaction per sync out.

kube-proxy's Proxier in its nftables mode, in the shape of the repo's controllers: informer
handlers only record what changed (the Service's key goes into `dirty`) and wake the sync loop;
a sync builds the rules of the dirty Services alone and applies the difference in one `nft -f`
file. The first sync, and any after a failure, is a full one that rebuilds the table.

Syncs are rate-limited as kube-proxy's BoundedFrequencyRunner does with --min-sync-period 1 s
and a burst of 2: a change after a quiet moment is applied at once (a new Service answers in
milliseconds), while a storm of changes is collapsed into at most one sync per second. A sync
the kernel refuses is logged with the refused rules and retried with a doubling back-off; as nft
applies a file atomically, the node keeps its previous ruleset meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from kubelite.api.types import Obj
from kubelite.proxy.claims import Claimant, ClaimChange, ElementClaims
from kubelite.proxy.conntrack import Conntrack, Flow
from kubelite.proxy.model import (
    SERVICE_NAME_LABEL,
    Categorized,
    ServicePort,
    categorize_endpoints,
    service_ports,
    slice_endpoints,
)
from kubelite.proxy.nft import Nft, NftError
from kubelite.proxy.rules import ProxyConfig, ServiceRules, add_service_port
from kubelite.proxy.transaction import EMPTY, full_sync, incremental_sync

log = logging.getLogger(__name__)

PortState = list[tuple[ServicePort, Categorized]]

# kube-proxy's --min-sync-period default for the nftables mode, and its burst of syncs.
MIN_SYNC_PERIOD = 1.0
SYNC_BURST = 2
# Retries of a refused sync: doubling from the first to the last.
RETRY_INITIAL = 1.0
RETRY_MAX = 30.0
# A full sync at least this often, even with nothing changed (kube-proxy's FullSyncPeriod).
FULL_SYNC_PERIOD = 3600.0
# How long a chain stays flushed before it is deleted (kube-proxy waits one second: older
# kernels notice late that a map element no longer refers to it).
STALE_CHAIN_DELAY = 1.0


def build_service(
    service: Obj | None, slices: list[Obj], config: ProxyConfig
) -> tuple[ServiceRules, PortState]:
    """The rules of one Service (none for a deleted one), with its ports' endpoints."""
    rules = ServiceRules()
    ports: PortState = []
    if service is None:
        return rules, ports
    for port in service_ports(service):
        if port.protocol not in config.protocols:
            continue
        endpoints = slice_endpoints(slices, port, config.node_name)
        categorized = categorize_endpoints(endpoints, port)
        add_service_port(rules, port, categorized, config)
        ports.append((port, categorized))
    return rules, ports


def _key(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


class Proxier:
    """Keeps the node's nftables table equal to what the Services and EndpointSlices say."""

    def __init__(
        self,
        config: ProxyConfig,
        *,
        nft: Nft | None = None,
        conntrack: Conntrack | None = None,
        min_sync_period: float = MIN_SYNC_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.nft = nft or Nft()
        self.conntrack = conntrack or Conntrack()
        self.min_sync_period = min_sync_period
        self.clock = clock
        self.services: dict[str, Obj] = {}
        # Service key -> slice key -> slice; and which Service each slice was filed under.
        self.slices: dict[str, dict[str, Obj]] = {}
        self._slice_owner: dict[str, str] = {}
        self.applied: dict[str, ServiceRules] = {}
        self._applied_ports: dict[str, PortState] = {}
        self.dirty: set[str] = set()
        self.full_needed = True
        self.initialized = False
        self._stale_chains: dict[str, float] = {}
        self._last_full_sync = clock()
        # The map and set elements each applied Service wants, and who has each.
        self._claims = ElementClaims()
        self._claimants: dict[str, Claimant] = {}
        self._wake = asyncio.Event()
        self._tokens = float(SYNC_BURST)
        self._refilled = clock()
        # Node addresses come from the Node object when none were configured.
        self.nodeport_ips_from_node = config.nodeport_ips == ()
        self.syncs = 0
        self.last_sync_seconds = 0.0
        self.last_sync_at = 0.0
        self.synced = asyncio.Event()

    # --- inputs: informer handlers (they only record and wake) ---

    def _changed(self, key: str) -> None:
        self.dirty.add(key)
        self._wake.set()

    def on_service(self, event_type: str, service: Obj) -> None:
        key = _key(service)
        if event_type == "DELETED":
            self.services.pop(key, None)
        else:
            self.services[key] = service
        self._changed(key)

    def on_endpoint_slice(self, event_type: str, endpoint_slice: Obj) -> None:
        md = endpoint_slice.get("metadata") or {}
        slice_key = _key(endpoint_slice)
        owner = (md.get("labels") or {}).get(SERVICE_NAME_LABEL)
        previous = self._slice_owner.pop(slice_key, None)
        if previous is not None:
            self.slices.get(previous, {}).pop(slice_key, None)
            self._changed(previous)
        if event_type != "DELETED" and owner:
            svc_key = f"{md.get('namespace', '')}/{owner}"
            self.slices.setdefault(svc_key, {})[slice_key] = endpoint_slice
            self._slice_owner[slice_key] = svc_key
            self._changed(svc_key)

    def on_node(self, event_type: str, node: Obj) -> None:
        """The node's own addresses take NodePorts when none were configured (kube-proxy's
        nftables mode answers NodePorts on the node's primary IPs by default)."""
        if not self.nodeport_ips_from_node or event_type == "DELETED":
            return
        ips = tuple(
            a["address"]
            for a in (node.get("status") or {}).get("addresses") or ()
            if a.get("type") in ("InternalIP", "ExternalIP")
            and isinstance(ipaddress.ip_address(a.get("address", "0.0.0.0")), ipaddress.IPv4Address)
        )
        if ips and ips != self.config.nodeport_ips:
            self.config = replace(self.config, nodeport_ips=ips)
            self.full_needed = True
            self._wake.set()

    def set_initialized(self) -> None:
        """Services and slices are listed: the first (full) sync may run."""
        self.initialized = True
        self._wake.set()

    # --- building ---

    def build(self, key: str) -> tuple[ServiceRules, PortState]:
        """The rules of one Service, from its object and its slices."""
        return build_service(
            self.services.get(key), list(self.slices.get(key, {}).values()), self.config
        )

    # --- syncing ---

    async def sync(self) -> None:
        """Apply every recorded change now (a full sync if one is due). Raises NftError, with
        the state left to retry."""
        if not self.initialized:
            return
        start = self.clock()
        if self.full_needed:
            await self._full_sync()
        else:
            await self._incremental_sync()
        self.syncs += 1
        self.last_sync_at = self.clock()
        self.last_sync_seconds = self.last_sync_at - start
        self.synced.set()

    def _claimant(self, key: str) -> Claimant:
        """Who wins an element two Services want: the older one (then the first by name)."""
        md = (self.services.get(key) or {}).get("metadata") or {}
        return (md.get("creationTimestamp") or "", key)

    async def _full_sync(self) -> None:
        keys = set(self.services) | set(self.applied) | self.dirty
        self.dirty = set()
        claimants = {key: self._claimant(key) for key in keys}
        # The objects as they are now; the rules are written from them in a thread, so that
        # the event loop (the kubelet's too, in `kubelite agent`) keeps running through the
        # seconds 10,000 Services take. Informers replace objects, never change them.
        snapshot = [
            (key, self.services.get(key), list(self.slices.get(key, {}).values())) for key in keys
        ]
        config = self.config

        def generate() -> tuple[dict[str, tuple[ServiceRules, PortState]], ElementClaims, str]:
            built = {key: build_service(svc, slices, config) for key, svc, slices in snapshot}
            claims, _, _ = ElementClaims().update(
                ClaimChange(None, {}, claimants[key], rules.elements)
                for key, (rules, _) in built.items()
            )
            text = full_sync(config, (rules for rules, _ in built.values()), claims.effective())
            return built, claims, text

        built, claims, text = await asyncio.to_thread(generate)
        try:
            await self.nft.apply(text)
        except NftError:
            self.dirty |= keys
            raise
        old_ports = self._applied_ports
        self.applied = {k: rules for k, (rules, _) in built.items() if not rules.is_empty()}
        self._applied_ports = {k: ports for k, (_, ports) in built.items() if ports}
        self._claims = claims
        self._claimants = {k: claimants[k] for k in self.applied}
        self._stale_chains.clear()
        self._last_full_sync = self.clock()
        self.full_needed = False
        log.info("full sync: %d services in table inet %s", len(self.applied), self.config.table)
        await self._clear_conntrack(old_ports, self._applied_ports, keys)

    async def _incremental_sync(self) -> None:
        keys, self.dirty = self.dirty, set()
        now = self.clock()
        built = {key: self.build(key) for key in keys}
        changes = [(self.applied.get(key, EMPTY), rules) for key, (rules, _) in built.items()]
        active = {name for _, rules in changes for name in rules.chains}
        for name in active & self._stale_chains.keys():
            del self._stale_chains[name]
        due = [n for n, t in self._stale_chains.items() if now - t >= STALE_CHAIN_DELAY]
        claimants = {key: self._claimant(key) for key in keys}
        claims, deletes, adds = self._claims.update(
            ClaimChange(
                self._claimants.get(key),
                self.applied.get(key, EMPTY).elements,
                claimants[key],
                rules.elements,
            )
            for key, (rules, _) in built.items()
        )
        text, stale = incremental_sync(
            self.config, changes, due, add_elements=adds, delete_elements=deletes
        )
        if text:
            try:
                await self.nft.apply(text)
            except NftError:
                self.dirty |= keys
                raise
        self._claims = claims
        for name in due:
            del self._stale_chains[name]
        for name in stale:
            self._stale_chains[name] = now
        if self._stale_chains:
            # Come back to delete them once they have been unused long enough.
            asyncio.get_running_loop().call_later(STALE_CHAIN_DELAY, self._wake.set)
        old_ports = {key: self._applied_ports.get(key, []) for key in keys}
        for key, (rules, ports) in built.items():
            if rules.is_empty():
                self.applied.pop(key, None)
                self._claimants.pop(key, None)
            else:
                self.applied[key] = rules
                self._claimants[key] = claimants[key]
            if ports:
                self._applied_ports[key] = ports
            else:
                self._applied_ports.pop(key, None)
        await self._clear_conntrack(old_ports, self._applied_ports, keys)

    async def _clear_conntrack(
        self, old: dict[str, PortState], new: dict[str, PortState], keys: set[str]
    ) -> None:
        flows: list[Flow] = []
        for key in keys:
            before = {(p.port_name, p.protocol): (p, c) for p, c in old.get(key, ())}
            for port, cat in new.get(key, ()):
                if port.protocol != "udp":
                    continue
                prev = before.get((port.port_name, port.protocol))
                ips = (port.cluster_ip, *port.external_ips, *port.load_balancer_ips)
                if prev is not None:
                    gone = {e.ip for e in prev[1].all_reachable} - {e.ip for e in cat.all_reachable}
                    for ep_ip in sorted(gone):
                        flows += [Flow(ip, port.port, ep_ip) for ip in ips]
                        if port.node_port:
                            flows.append(Flow("", port.node_port, ep_ip, node_port=True))
                if cat.has_any and (prev is None or not prev[1].has_any):
                    # Entries made while the port rejected would keep rejecting.
                    flows += [Flow(ip, port.port) for ip in ips]
                    if port.node_port:
                        flows.append(Flow("", port.node_port, node_port=True))
            after = {(p.port_name, p.protocol) for p, _ in new.get(key, ())}
            for (name, protocol), (port, cat) in before.items():
                if protocol == "udp" and (name, protocol) not in after:
                    ips = (port.cluster_ip, *port.external_ips, *port.load_balancer_ips)
                    flows += [Flow(ip, port.port, e.ip) for ip in ips for e in cat.all_reachable]
        await self.conntrack.clear(flows)

    def available_syncs(self) -> float:
        """How many syncs may run back to back now (up to the burst of 2)."""
        now = self.clock()
        if self.min_sync_period <= 0:
            self._tokens = float(SYNC_BURST)
        else:
            refill = (now - self._refilled) / self.min_sync_period
            self._tokens = min(float(SYNC_BURST), self._tokens + refill)
        self._refilled = now
        return self._tokens

    def _take_token(self) -> float:
        """Seconds to wait before the next sync may run (0: now, a token is taken)."""
        if self.available_syncs() >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) * self.min_sync_period

    async def run(self) -> None:
        """Sync whenever something changed, rate-limited, retrying refused syncs."""
        retry = RETRY_INITIAL
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FULL_SYNC_PERIOD)
            if self.initialized and self.clock() - self._last_full_sync >= FULL_SYNC_PERIOD:
                # Repair whatever changed the table behind our back (kube-proxy's
                # FullSyncPeriod).
                self.full_needed = True
            if not self.initialized:
                self._wake.clear()
                continue
            if not self.dirty and not self.full_needed and not self._stale_due():
                self._wake.clear()
                continue
            delay = self._take_token()
            if delay:
                await asyncio.sleep(delay)
                continue
            self._wake.clear()
            try:
                await self.sync()
                retry = RETRY_INITIAL
            except NftError as e:
                log.error("nftables sync refused, retrying in %.0f s: %s", retry, e)
                self.full_needed = True
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX)
                self._wake.set()

    def _stale_due(self) -> bool:
        now = self.clock()
        return any(now - t >= STALE_CHAIN_DELAY for t in self._stale_chains.values())

    async def wait_for_sync(self, timeout: float) -> None:
        """Wait until a sync after this call has completed (tests, benchmarks)."""
        self.synced.clear()
        await asyncio.wait_for(self.synced.wait(), timeout)
