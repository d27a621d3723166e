"""The node lifecycle controller: notices nodes that stopped reporting, and taints them.

Kubernetes' `pkg/controller/nodelifecycle`. Every `monitor_period` it looks at each node's
heartbeat: its Lease in kube-node-lease (renewed every 10 s) and its Ready condition. A node not
heard from for `grace_period` (--node-monitor-grace-period, 50 s) gets its Ready, MemoryPressure,
DiskPressure and PIDPressure conditions set to Unknown (`NodeStatusUnknown`, "Kubelet stopped
posting node status."), a `NodeNotReady` event, and its pods' Ready conditions set to False.

It keeps two kinds of taints current:

- NoSchedule taints from the conditions (TaintNodesByCondition): `not-ready` while Ready is
  False, `unreachable` while it is Unknown, `memory-pressure`, `disk-pressure`, `pid-pressure`,
  `network-unavailable`, and `unschedulable` for a cordoned node; the scheduler then keeps new
  pods away;
- NoExecute `not-ready`/`unreachable` taints (taint-based eviction), which the taint eviction
  controller acts on: pods that do not tolerate them are deleted, those that tolerate them for
  `tolerationSeconds` (300 s by default) after that. These taints are added at a limited rate
  per zone (--node-eviction-rate, 0.1 nodes/s), slower or not at all when much of a zone is down
  (--unhealthy-zone-threshold 55 %, --secondary-node-eviction-rate for zones larger than
  --large-cluster-size-threshold), and when every zone is down entirely none are added, and
  those present are removed: a cluster that lost all its nodes at once has more likely lost
  its network than its nodes, and evicting everything would only make it worse.

A node that reports again is marked Ready by its kubelet; the controller then removes the
NoExecute taints at once and the NoSchedule ones with the condition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from kubelite.api import meta
from kubelite.api.resources import LEASES, NODES, PODS
from kubelite.api.tolerations import (
    NO_EXECUTE,
    NO_SCHEDULE,
    TAINT_NODE_DISK_PRESSURE,
    TAINT_NODE_MEMORY_PRESSURE,
    TAINT_NODE_NETWORK_UNAVAILABLE,
    TAINT_NODE_NOT_READY,
    TAINT_NODE_PID_PRESSURE,
    TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE,
)
from kubelite.api.types import Obj
from kubelite.api.wellknown import NODE_LEASE_NAMESPACE
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIConflictError, APIError, APINotFoundError
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.client.informer import by_node_name
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process
from kubelite.controllers.nodelifecycle_config import NodeLifecycleConfig

log = logging.getLogger(__name__)


COMPONENT = "node-controller"

# How often queued nodes are tainted, as far as the rate allows (nodeEvictionPeriod).
TAINT_PERIOD = 0.1

TAINT_NOT_READY = TAINT_NODE_NOT_READY
TAINT_UNREACHABLE = TAINT_NODE_UNREACHABLE
# The conditions set to Unknown when the kubelet stops reporting.
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
# Condition (type, status) -> the NoSchedule taint key it puts on the node.
CONDITION_TAINTS = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): TAINT_NODE_MEMORY_PRESSURE,
    ("DiskPressure", "True"): TAINT_NODE_DISK_PRESSURE,
    ("NetworkUnavailable", "True"): TAINT_NODE_NETWORK_UNAVAILABLE,
    ("PIDPressure", "True"): TAINT_NODE_PID_PRESSURE,
}
TAINT_UNSCHEDULABLE = TAINT_NODE_UNSCHEDULABLE
_CONDITION_TAINT_KEYS = frozenset([*CONDITION_TAINTS.values(), TAINT_UNSCHEDULABLE])

NORMAL_ZONE = "Normal"
PARTIAL_DISRUPTION = "PartialDisruption"
FULL_DISRUPTION = "FullDisruption"


@dataclass
class _Health:
    """What the controller last saw of a node's heartbeat, and when (monotonic) it saw it."""

    probed: float
    heartbeat: str = ""
    lease_renewed: str = ""


@dataclass
class _TokenBucket:
    """A limiter of `rate` per second with a burst of one (flowcontrol's token bucket)."""

    rate: float
    tokens: float = 1.0
    at: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(1.0, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.rate > 0 and self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def zone_of(node: Obj) -> str:
    """The zone key of a node: region and zone labels (utilnode.GetZoneKey)."""
    node_labels = meta.labels_of(node)
    region = node_labels.get("topology.kubernetes.io/region", "")
    zone = node_labels.get("topology.kubernetes.io/zone", "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready: int, not_ready: int, threshold: float) -> str:
    """ComputeZoneState: all down is a full disruption, most (and more than 2) a partial one."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= threshold:
        return PARTIAL_DISRUPTION
    return NORMAL_ZONE


def condition_of(node: Obj, type_: str) -> Obj | None:
    return meta.find_condition((node.get("status") or {}).get("conditions"), type_)


def no_schedule_taints(node: Obj) -> list[Obj]:
    """The NoSchedule taints the node's conditions (and cordon) call for."""
    wanted = []
    for cond in (node.get("status") or {}).get("conditions") or ():
        key = CONDITION_TAINTS.get((cond.get("type", ""), cond.get("status", "")))
        if key is not None:
            wanted.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append({"key": TAINT_UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return wanted


class NodeLifecycleController:
    """Notices nodes that stopped reporting, marks their Ready condition Unknown and taints them, at
    a rate the health of their zone allows; the taint eviction controller then removes their
    pods."""

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        config: NodeLifecycleConfig | None = None,
    ) -> None:
        self.client = client
        self.config = config or NodeLifecycleConfig()
        self.informers = informers or SharedInformerFactory(client)
        self.recorder = EventRecorder(client, COMPONENT)
        self.nodes = self.informers.informer(NODES)
        self.leases = self.informers.informer(LEASES)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("node", by_node_name)
        # NoSchedule taints follow node changes through a queue of node names.
        self.queue = WorkQueue("node_lifecycle_controller")
        self.nodes.add_handler(self._on_node)
        self._health: dict[str, _Health] = {}
        # Zone -> its state, its limiter, and the nodes waiting for a NoExecute taint.
        self._zone_states: dict[str, str] = {}
        self._limiters: dict[str, _TokenBucket] = {}
        self._to_taint: dict[str, dict[str, None]] = {}
        self._all_disrupted = False

    def _on_node(self, event_type: str, node: Obj) -> None:
        name = meta.name_of(node)
        if event_type == "DELETED":
            self._health.pop(name, None)
            for waiting in self._to_taint.values():
                waiting.pop(name, None)
            return
        self.queue.add(name)

    # --- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        self.informers.start()
        try:
            await self.informers.wait_synced(self.nodes, self.leases, self.pods)
            await asyncio.gather(
                self._monitor_loop(),
                self._taint_loop(),
                *(process(self.queue, self._sync_no_schedule, what=COMPONENT) for _ in range(2)),
            )
        finally:
            self.queue.shut_down()

    async def _monitor_loop(self) -> None:
        while True:
            try:
                await self.monitor_node_health()
            except (APIError, OSError) as e:
                log.warning("node lifecycle: monitoring failed: %s", e)
            await asyncio.sleep(self.config.monitor_period)

    async def _taint_loop(self) -> None:
        while True:
            try:
                await self._taint_queued()
            except (APIError, OSError) as e:
                log.warning("node lifecycle: tainting failed: %s", e)
            await asyncio.sleep(TAINT_PERIOD)

    # --- health ---------------------------------------------------------------------------------

    async def monitor_node_health(self) -> None:
        """One pass over every node (monitorNodeHealth)."""
        zones: dict[str, list[Obj | None]] = {}
        for cached in self.nodes.list():
            node, observed, current = await self._update_health(cached)
            zones.setdefault(zone_of(node), []).append(current)
            if current is None:
                continue
            name = meta.name_of(node)
            if not self._all_disrupted:
                await self._process_taint_eviction(node, observed)
            if (observed or {}).get("status") == "True" and current.get("status") != "True":
                self._event(
                    node, "Node", NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady"
                )
                await self._mark_pods_not_ready(name)
        await self._handle_disruption(zones)

    async def _update_health(self, node: Obj) -> tuple[Obj, Obj | None, Obj | None]:
        """tryUpdateNodeHealth: the node as it now is, and its Ready condition as the node had
        it and as it is now. `node` is the cached object: it is copied only to be changed."""
        name = meta.name_of(node)
        ready = condition_of(node, "Ready")
        observed = dict(ready) if ready is not None else None
        now = time.monotonic()
        heartbeat = (ready or {}).get("lastHeartbeatTime", "")
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renewed = ((lease or {}).get("spec") or {}).get("renewTime", "")
        health = self._health.get(name)
        if health is None:
            health = self._health[name] = _Health(now, heartbeat, renewed)
        if heartbeat != health.heartbeat:
            health.heartbeat, health.probed = heartbeat, now
        if renewed and renewed != health.lease_renewed:
            health.lease_renewed, health.probed = renewed, now
        grace = self.config.grace_period if ready is not None else self.config.startup_grace_period
        if now - health.probed <= grace:
            return node, observed, ready
        node = meta.clone(node)
        stamp = meta.format_time(meta.now())
        conditions = node.setdefault("status", {}).setdefault("conditions", [])
        changed = False
        for type_ in MONITORED_CONDITIONS:
            cond = meta.find_condition(conditions, type_)
            if cond is None:
                conditions.append(
                    {
                        "type": type_,
                        "status": "Unknown",
                        "reason": "NodeStatusNeverUpdated",
                        "message": "Kubelet never posted node status.",
                        "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                        "lastTransitionTime": stamp,
                    }
                )
                changed = True
            elif cond.get("status") != "Unknown":
                cond.update(
                    status="Unknown",
                    reason="NodeStatusUnknown",
                    message="Kubelet stopped posting node status.",
                    lastTransitionTime=stamp,
                )
                changed = True
        if changed:
            try:
                await self.client.update(NODES, node, subresource="status")
            except (APIConflictError, APINotFoundError):
                # Changed or gone meanwhile: the next pass sees it.
                return node, observed, ready
            log.info(
                "node %s: no status for %.0f s; conditions now Unknown", name, now - health.probed
            )
        return node, observed, condition_of(node, "Ready")

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        """MarkPodsNotReady: the pods of a node that stopped reporting are not Ready."""
        for pod in self.pods.by_index("node", node_name):
            status = pod.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            conditions = [dict(c) for c in status.get("conditions") or ()]
            ready = meta.find_condition(conditions, "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            ready.update(status="False", lastTransitionTime=meta.format_time(meta.now()))
            ready.pop("reason", None)
            ready.pop("message", None)
            try:
                await self.client.patch(
                    PODS,
                    meta.name_of(pod),
                    {"status": {"conditions": conditions}},
                    patch_type=PatchType.STRATEGIC,
                    namespace=meta.namespace_of(pod),
                    subresource="status",
                )
            except APINotFoundError:
                continue
            self._event(pod, "Pod", WARNING, "NodeNotReady", "Node is not ready")

    # --- NoExecute taints -----------------------------------------------------------------------

    async def _process_taint_eviction(self, node: Obj, observed: Obj | None) -> None:
        """processTaintBaseEviction: queue a not-ready or unreachable node for its NoExecute
        taint (or swap the taint it has), and untaint a ready one."""
        name = meta.name_of(node)
        status = (observed or {}).get("status")
        taints = (node.get("spec") or {}).get("taints") or []
        keys = {t.get("key") for t in taints if t.get("effect") == NO_EXECUTE}
        if status == "False":
            if TAINT_UNREACHABLE in keys:
                await self._set_no_execute(name, TAINT_NOT_READY)
            elif TAINT_NOT_READY not in keys:
                self._to_taint.setdefault(zone_of(node), {})[name] = None
        elif status == "Unknown":
            if TAINT_NOT_READY in keys:
                await self._set_no_execute(name, TAINT_UNREACHABLE)
            elif TAINT_UNREACHABLE not in keys:
                self._to_taint.setdefault(zone_of(node), {})[name] = None
        elif status == "True":
            self._to_taint.get(zone_of(node), {}).pop(name, None)
            if keys & {TAINT_NOT_READY, TAINT_UNREACHABLE}:
                await self._set_no_execute(name, None)

    async def _taint_queued(self) -> None:
        """Taint queued nodes as fast as each zone's limiter allows."""
        for zone, waiting in self._to_taint.items():
            limiter = self._limiter(zone)
            while waiting:
                name = next(iter(waiting))
                node = self.nodes.get(name)
                ready = condition_of(node, "Ready") if node is not None else None
                status = (ready or {}).get("status")
                if node is None or status == "True" or status is None:
                    waiting.pop(name)
                    continue
                if not limiter.take():
                    break
                waiting.pop(name)
                key = TAINT_NOT_READY if status == "False" else TAINT_UNREACHABLE
                await self._set_no_execute(name, key)

    async def _set_no_execute(self, name: str, key: str | None) -> None:
        """Leave the node with exactly the NoExecute taint `key` of the two (None: neither)."""

        def change(taints: list[Obj]) -> list[Obj]:
            kept = [
                t
                for t in taints
                if not (
                    t.get("effect") == NO_EXECUTE
                    and t.get("key") in (TAINT_NOT_READY, TAINT_UNREACHABLE)
                )
            ]
            if key is not None:
                previous = next(
                    (t for t in taints if t.get("key") == key and t.get("effect") == NO_EXECUTE),
                    None,
                )
                kept.append(
                    previous
                    or {"key": key, "effect": NO_EXECUTE, "timeAdded": meta.format_time(meta.now())}
                )
            return kept

        await self._update_taints(name, change)

    async def _update_taints(self, name: str, change: Any) -> None:
        """Read-modify-write of a node's spec.taints, retried on conflicts."""
        for _ in range(5):
            try:
                node = await self.client.get(NODES, name)
            except APINotFoundError:
                return
            taints = list((node.get("spec") or {}).get("taints") or [])
            wanted = change(taints)
            if wanted == taints:
                return
            node.setdefault("spec", {})["taints"] = wanted
            if not wanted:
                node["spec"].pop("taints")
            try:
                await self.client.update(NODES, node)
                return
            except APIConflictError:
                continue
            except APINotFoundError:
                return

    # --- NoSchedule taints ----------------------------------------------------------------------

    async def _sync_no_schedule(self, name: str) -> None:
        """doNoScheduleTaintingPass: the condition taints the node's conditions call for."""
        node = self.nodes.get(name)
        if node is None:
            return
        wanted = no_schedule_taints(node)
        current = [
            t
            for t in (node.get("spec") or {}).get("taints") or ()
            if t.get("effect") == NO_SCHEDULE and t.get("key") in _CONDITION_TAINT_KEYS
        ]
        if {t["key"] for t in wanted} == {t.get("key") for t in current}:
            return
        wanted_keys = {t["key"] for t in wanted}

        def change(taints: list[Obj]) -> list[Obj]:
            kept = [
                t
                for t in taints
                if not (t.get("effect") == NO_SCHEDULE and t.get("key") in _CONDITION_TAINT_KEYS)
                or t.get("key") in wanted_keys
            ]
            present = {t.get("key") for t in kept if t.get("effect") == NO_SCHEDULE}
            stamp = meta.format_time(meta.now())
            kept += [{**t, "timeAdded": stamp} for t in wanted if t["key"] not in present]
            return kept

        await self._update_taints(name, change)

    # --- zones ----------------------------------------------------------------------------------

    def _limiter(self, zone: str) -> _TokenBucket:
        limiter = self._limiters.get(zone)
        if limiter is None:
            limiter = self._limiters[zone] = _TokenBucket(self.config.eviction_rate)
        return limiter

    async def _handle_disruption(self, zones: dict[str, list[Obj | None]]) -> None:
        """handleDisruption: each zone's state sets its tainting rate; all zones down stops it."""
        states = {}
        for zone, readiness in zones.items():
            ready = sum(1 for c in readiness if c is not None and c.get("status") == "True")
            states[zone] = zone_state(
                ready, len(readiness) - ready, self.config.unhealthy_zone_threshold
            )
        all_down = bool(states) and all(s == FULL_DISRUPTION for s in states.values())
        if all_down and not self._all_disrupted:
            log.warning("node lifecycle: every node is not ready; evictions stop")
            self._all_disrupted = True
            self._to_taint.clear()
            for node in self.nodes.list():
                await self._set_no_execute(meta.name_of(node), None)
        elif not all_down and self._all_disrupted:
            log.info("node lifecycle: some nodes are ready again; evictions resume")
            self._all_disrupted = False
        for zone, state in states.items():
            if state != self._zone_states.get(zone):
                log.info("node lifecycle: zone %r is %s", zone, state)
            self._zone_states[zone] = state
            limiter = self._limiter(zone)
            if self._all_disrupted:
                limiter.rate = 0.0
            elif state == PARTIAL_DISRUPTION:
                large = len(zones[zone]) > self.config.large_cluster_threshold
                limiter.rate = self.config.secondary_eviction_rate if large else 0.0
            else:
                limiter.rate = self.config.eviction_rate

    def _event(self, obj: Obj, kind: str, event_type: str, reason: str, message: str) -> None:
        """Record an Event without waiting for it."""
        self.recorder.post({**obj, "apiVersion": "v1", "kind": kind}, event_type, reason, message)
