"""Registering hollow nodes and keeping them alive, at the cost a real kubelet pays.

`NodeFleet` does for N nodes what N kubelets do for one each:

- **Registration** (kubelet `registerWithAPIServer`): POST the Node with its status; if it
  exists already (the process restarted), keep it, put back the labels a kubelet owns, and
  write its status at once, as a restarted kubelet does. A node of that name that is not hollow
  is never taken over: registration stops with an error. Then the Lease: a PUT of the one found
  in kube-node-lease, or a POST of a new one.
- **Lease renewals** every 10 s (with the lease controller's 4 % jitter), by an optimistic PUT
  against the resourceVersion of the last renewal, so a renewal is one request; on a conflict
  the lease is read again, on a 404 it is created again (lease controller `sync`).
- **Status reports** only when the status differs from what a healthy kubelet reports (someone
  marked the node NotReady) or every 5 minutes, as a strategic merge patch of the conditions'
  heartbeat times (nodeStatusReportFrequency).

The nodes share one timer heap (`timing.TimerHeap`), one loop that hands due work to a few
workers, and the client's connection pool; with 5,000 nodes that is 500 small PUTs a second
over a handful of connections. A watch on the hollow nodes (one, by label) notices when someone
else changes a node's conditions, and when a node is deleted: a kubelet whose Node is deleted
stops being able to report, so that node's heartbeats stop (restart the command to register it
again, as a kubelet would need a restart).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from kubelite.api.resources import LEASES, NODES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import (
    APIAlreadyExistsError,
    APIConflictError,
    APIConnectionError,
    APIError,
    APINotFoundError,
)
from kubelite.client.informer import Informer
from kubelite.hollow import nodes as shapes
from kubelite.hollow.nodes import NODE_LEASE_NAMESPACE, HollowNode, NodeShape
from kubelite.hollow.timing import Beat, Clock, HeartbeatPolicy, SystemClock, TimerHeap

log = logging.getLogger(__name__)

T = TypeVar("T")

# The loop wakes at most every MIN_TICK and hands out together whatever fell due meanwhile: a
# renewal up to a quarter second late is nothing to a 40 s lease, and batches cost both this
# process and the API server less than a request every few milliseconds (measured at 1,000
# nodes: 5.1 CPU s a minute here with 20 ms ticks, 1.9 with 250 ms; 10.6 and 4.9 in the
# server). It wakes at least every MAX_TICK to see work scheduled while it slept.
MIN_TICK = 0.25
MAX_TICK = 0.5
# A heartbeat this late means the process does not keep up; it is counted and logged.
LATE_AFTER = 1.0
# How often a summary of the heartbeats is logged.
SUMMARY_INTERVAL = 60.0
# Concurrent requests while registering: a one-off burst, bounded by the API server.
REGISTRATION_CONCURRENCY = 16


async def for_each(
    items: Iterable[T], action: Callable[[T], Awaitable[None]], concurrency: int
) -> None:
    """Run `action` on every item with at most `concurrency` at a time, without a task per item."""
    iterator = iter(items)

    async def worker() -> None:
        for item in iterator:
            await action(item)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


class NodeNameTaken(Exception):
    """A node of that name exists and is not hollow: a real node is never taken over."""


@dataclass
class HeartbeatStats:
    """What the heartbeats did: the figures that show whether one process keeps up."""

    lease_renewals: int = 0
    lease_failures: int = 0
    status_reports: int = 0
    status_failures: int = 0
    late: int = 0
    max_lateness: float = 0.0

    def lateness(self, seconds: float) -> None:
        if seconds > self.max_lateness:
            self.max_lateness = seconds
        if seconds > LATE_AFTER:
            self.late += 1


def _trim_node(node: Obj) -> Obj:
    """Keep of each watched Node only what the fleet compares, not its whole status."""
    md = node.get("metadata") or {}
    return {
        "metadata": {
            "name": md.get("name"),
            "uid": md.get("uid"),
            "resourceVersion": md.get("resourceVersion"),
            "labels": md.get("labels") or {},
        },
        "status": {"conditions": (node.get("status") or {}).get("conditions") or []},
    }


class NodeFleet:
    """The hollow nodes of one process: registration, leases and status reports."""

    def __init__(
        self,
        client: APIClient,
        nodes: list[HollowNode],
        shape: NodeShape,
        *,
        policy: HeartbeatPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        concurrency: int = 8,
    ) -> None:
        self.client = client
        self.nodes = nodes
        self.by_name = {node.name: node for node in nodes}
        self.shape = shape
        self.policy = policy or HeartbeatPolicy()
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.concurrency = concurrency
        self.timers = TimerHeap()
        self.stats = HeartbeatStats()
        self.informer = Informer(
            client, NODES, label_selector=f"{shapes.HOLLOW_LABEL}=true", transform=_trim_node
        )
        self.informer.add_handler(self._on_node_event)
        self._registered = False
        self._stopping = False
        self._summarized_failures = 0
        self._summarized_late = 0
        self._work: asyncio.Queue[tuple[Beat, int, float]] = asyncio.Queue()

    # --- registration ---------------------------------------------------------------------

    async def register(self) -> None:
        """Register every node and its lease, then schedule their heartbeats."""
        self.informer.start()
        await self.informer.wait_synced()
        await for_each(self.nodes, self._register_node, REGISTRATION_CONCURRENCY)
        listing = await self.client.list(LEASES, namespace=NODE_LEASE_NAMESPACE)
        leases = {lease["metadata"]["name"]: lease for lease in listing["items"]}
        await for_each(
            self.nodes,
            lambda node: self._ensure_lease(node, leases.get(node.name)),
            REGISTRATION_CONCURRENCY,
        )
        start = self.clock.monotonic()
        count = len(self.nodes)
        for slot, node in enumerate(self.nodes):
            node.last_report = start
            self.timers.schedule(
                Beat.LEASE, node.index, self.policy.first_renewal(start, slot, count, self.rng)
            )
            self.timers.schedule(
                Beat.STATUS, node.index, self.policy.first_report(start, slot, count, self.rng)
            )
        self._registered = True

    async def _register_node(self, node: HollowNode) -> None:
        now = shapes.rfc3339(self.clock.time())
        existing = self.informer.get(node.name)
        if existing is None:
            node.ready_since = now
            try:
                created = await self.client.create(NODES, shapes.node_object(node, self.shape, now))
                node.uid = created["metadata"]["uid"]
                return
            except APIAlreadyExistsError:
                existing = _trim_node(await self.client.get(NODES, node.name))
                if existing["metadata"]["labels"].get(shapes.HOLLOW_LABEL) != "true":
                    raise NodeNameTaken(
                        f'node "{node.name}" exists and is not a hollow node; choose another '
                        "--name-prefix"
                    ) from None
        await self._reconcile_existing(node, existing, now)

    async def _reconcile_existing(self, node: HollowNode, existing: Obj, now: str) -> None:
        """A node left by an earlier run: the kubelet's labels back, and a full status now."""
        node.uid = existing["metadata"]["uid"]
        conditions = existing["status"]["conditions"]
        node.ready_since = shapes.ready_since(conditions, now)
        wanted = shapes.node_labels(node, self.shape)
        labels = existing["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in wanted.items()):
            await self.client.patch(
                NODES,
                node.name,
                {"metadata": {"labels": wanted, "annotations": shapes.node_annotations()}},
                patch_type=PatchType.STRATEGIC,
            )
        await self.client.patch(
            NODES,
            node.name,
            {"status": shapes.node_status(node, self.shape, now)},
            patch_type=PatchType.STRATEGIC,
            subresource="status",
        )

    async def _ensure_lease(self, node: HollowNode, found: Obj | None) -> None:
        node.lease = shapes.LeaseBody(node, self.policy.lease_duration_seconds)
        if found is not None:
            node.lease_version = found["metadata"]["resourceVersion"]
            await self._renew(node)
        else:
            await self._create_lease(node)

    async def _create_lease(self, node: HollowNode) -> None:
        renew = shapes.rfc3339_micro(self.clock.time())
        lease = shapes.lease_object(node, self.policy.lease_duration_seconds, renew)
        try:
            created = await self.client.create(LEASES, lease)
        except APIAlreadyExistsError:
            created = await self.client.get(LEASES, node.name, namespace=NODE_LEASE_NAMESPACE)
        node.lease_version = created["metadata"]["resourceVersion"]

    # --- heartbeats -----------------------------------------------------------------------

    async def run(self) -> None:
        """Hand out due heartbeats until cancelled."""
        workers = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]
        summary_due = self.clock.monotonic() + SUMMARY_INTERVAL
        try:
            while True:
                now = self.clock.monotonic()
                for item in self.timers.pop_due(now):
                    self._work.put_nowait(item)
                if now >= summary_due:
                    self._log_summary()
                    summary_due = now + SUMMARY_INTERVAL
                following = self.timers.next_due()
                delay = MAX_TICK if following is None else following - now
                await asyncio.sleep(min(max(delay, MIN_TICK), MAX_TICK))
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _log_summary(self) -> None:
        """One line a minute instead of one per heartbeat: a warning if any failed or was late
        since the last one (their details are logged at debug level)."""
        s = self.stats
        failures = s.lease_failures + s.status_failures
        troubled = failures > self._summarized_failures or s.late > self._summarized_late
        self._summarized_failures, self._summarized_late = failures, s.late
        log.log(
            logging.WARNING if troubled else logging.INFO,
            "%d hollow nodes: %d lease renewals (%d failed), %d status reports (%d failed), "
            "%d heartbeats late by over %.0f s, the latest %.3f s late",
            sum(1 for n in self.nodes if n.active),
            s.lease_renewals,
            s.lease_failures,
            s.status_reports,
            s.status_failures,
            s.late,
            LATE_AFTER,
            s.max_lateness,
        )

    async def _worker(self) -> None:
        while True:
            await self.beat(*await self._work.get())

    async def beat(self, beat: Beat, index: int, due: float) -> None:
        """Do one due heartbeat of node `index`, and schedule its next one."""
        node = self.nodes[index]
        if not node.active:
            return
        self.stats.lateness(self.clock.monotonic() - due)
        if beat is Beat.LEASE:
            await self._renew(node)
            finished = self.clock.monotonic()
            self.timers.schedule(Beat.LEASE, index, self.policy.next_renewal(finished, self.rng))
        else:
            await self._report(node)

    async def _renew(self, node: HollowNode) -> None:
        """One renewal: an optimistic PUT; on a conflict read the lease and try once more."""
        assert node.lease is not None
        for _ in range(2):
            body = node.lease.encode(node.lease_version, shapes.rfc3339_micro(self.clock.time()))
            try:
                renewed = await self.client.request(
                    "PUT", LEASES.path(namespace=NODE_LEASE_NAMESPACE, name=node.name), body=body
                )
                node.lease_version = renewed["metadata"]["resourceVersion"]
                self.stats.lease_renewals += 1
                return
            except APIConflictError:
                try:
                    current = await self.client.get(
                        LEASES, node.name, namespace=NODE_LEASE_NAMESPACE
                    )
                    node.lease_version = current["metadata"]["resourceVersion"]
                except APINotFoundError:
                    await self._recreate_lease(node)
                    return
                except (APIError, APIConnectionError) as e:
                    self._renewal_failed(node, e)
                    return
            except APINotFoundError:
                await self._recreate_lease(node)
                return
            except (APIError, APIConnectionError) as e:
                self._renewal_failed(node, e)
                return
        self._renewal_failed(node, "the lease kept changing")

    async def _recreate_lease(self, node: HollowNode) -> None:
        try:
            await self._create_lease(node)
            self.stats.lease_renewals += 1
        except (APIError, APIConnectionError) as e:
            self._renewal_failed(node, e)

    def _renewal_failed(self, node: HollowNode, error: object) -> None:
        self.stats.lease_failures += 1
        log.debug("node %s: failed to renew its lease: %s", node.name, error)

    async def _report(self, node: HollowNode) -> None:
        """A status write: heartbeat times, and Ready again if someone said otherwise."""
        now = self.clock.time()
        try:
            await self.client.request(
                "PATCH",
                NODES.path(name=node.name, subresource="status"),
                body=shapes.heartbeat_patch(node, shapes.rfc3339(now)),
                content_type=str(PatchType.STRATEGIC),
            )
            self.stats.status_reports += 1
        except APINotFoundError:
            self._forget(node)
            return
        except (APIError, APIConnectionError) as e:
            self.stats.status_failures += 1
            log.debug("node %s: failed to report its status: %s", node.name, e)
        node.last_report = self.clock.monotonic()
        self.timers.schedule(Beat.STATUS, node.index, self.policy.next_report(node.last_report))

    def _on_node_event(self, event_type: str, obj: Obj) -> None:
        node = self.by_name.get(obj["metadata"].get("name") or "")
        if node is None or not self._registered or not node.active:
            return
        if event_type == "DELETED":
            if not self._stopping:
                log.warning(
                    "node %s was deleted: it stops heartbeating (restart to register it again)",
                    node.name,
                )
            self._forget(node)
            return
        if obj["metadata"].get("uid") != node.uid:
            return
        conditions = obj["status"]["conditions"]
        if shapes.conditions_differ(conditions):
            # A node lifecycle controller (or a person) changed what the kubelet owns:
            # the next status computation puts it right, as a kubelet's would.
            node.ready_since = shapes.ready_since(conditions, shapes.rfc3339(self.clock.time()))
            due = self.policy.changed_report(self.clock.monotonic(), node.last_report)
            scheduled = self.timers.due_at(Beat.STATUS, node.index)
            if scheduled is None or due < scheduled:
                self.timers.schedule(Beat.STATUS, node.index, due)

    def _forget(self, node: HollowNode) -> None:
        node.active = False
        self.timers.cancel(Beat.LEASE, node.index)
        self.timers.cancel(Beat.STATUS, node.index)

    # --- shutdown -------------------------------------------------------------------------

    async def stop(self) -> None:
        self._stopping = True
        await self.informer.stop()

    async def delete_all(self) -> None:
        """Delete the nodes and their leases (`--delete-on-exit`)."""
        self._stopping = True

        async def delete(node: HollowNode) -> None:
            for resource, namespace in ((LEASES, NODE_LEASE_NAMESPACE), (NODES, None)):
                try:
                    await self.client.delete(resource, node.name, namespace=namespace)
                except APINotFoundError:
                    pass
                except (APIError, APIConnectionError) as e:
                    log.warning("could not delete %s %s: %s", resource.kind, node.name, e)

        await for_each(self.nodes, delete, self.concurrency)
