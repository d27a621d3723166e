"""Registering the kubelet's Node and keeping it alive: the node lease and the status reports.

As Kubernetes' kubelet does (`kubelet_node_status.go`, `pkg/kubelet/nodelease`):

- **Registration**: POST the Node with its status. If it exists (the kubelet restarted), keep
  it: put back the labels the kubelet owns and write the whole status at once.
- **The Lease** `kube-node-lease/<node>`, owned by the Node so that deleting the node takes it
  along, renewed every 10 s (a quarter of its 40 s duration) with up to 4 % jitter, by a PUT
  conditional on the last renewal's resourceVersion; a conflict reads it again, a 404 makes it
  again. The lease is the heartbeat the node lifecycle controller watches.
- **Status**: looked at every 10 s (nodeStatusUpdateFrequency) and written, as a strategic
  merge patch of nodes/status, only when something but the heartbeat time differs from the
  Node's status as read then, or at least every 5 minutes (nodeStatusReportFrequency): a quiet
  node costs a lease renewal and a read every 10 s and little else.

A failure to reach the API server is logged and retried at the next tick; it never stops the
kubelet.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from kubelite.api.resources import LEASES, NODES
from kubelite.api.types import Obj
from kubelite.api.wellknown import NODE_LEASE_NAMESPACE
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import (
    APIAlreadyExistsError,
    APIConflictError,
    APIConnectionError,
    APIError,
    APINotFoundError,
)
from kubelite.kubelet.node import machine as machines
from kubelite.kubelet.node import status as shapes

log = logging.getLogger(__name__)


# The kubelet's lease settings: --node-lease-duration 40 s, renewed at a quarter of it
# (nodelease.NewController's renewInterval) with the lease controller's jitter factor.
LEASE_DURATION_SECONDS = 40
LEASE_RENEW_INTERVAL = LEASE_DURATION_SECONDS / 4
LEASE_JITTER = 0.04
# nodeStatusUpdateFrequency and nodeStatusReportFrequency (KubeletConfiguration defaults).
STATUS_UPDATE_INTERVAL = 10.0
STATUS_REPORT_INTERVAL = 300.0
# How long to wait before trying registration again after a failure.
REGISTER_RETRY = 2.0


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def rfc3339_micro(epoch: float) -> str:
    seconds = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (
        f".{int((epoch - seconds) * 1_000_000):06d}Z"
    )


class NodeHeartbeat:
    """One kubelet's Node: registration, lease renewals and status reports."""

    def __init__(
        self,
        client: APIClient,
        config: shapes.NodeConfig,
        root_dir: Path,
        *,
        runtime_problem: Callable[[], str] = lambda: "",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.config = config
        self.root_dir = root_dir
        self.runtime_problem = runtime_problem
        self.clock = clock
        self.rng = rng or random.Random()
        self.machine = machines.read_machine(root_dir)
        self.uid = ""
        self.conditions: list[Obj] = []
        self.lease_version = ""
        self.last_report = 0.0
        self.registered = asyncio.Event()

    # --- registration -------------------------------------------------------------------------

    def _conditions_now(self) -> list[Obj]:
        return shapes.conditions(
            self.conditions,
            pressure=shapes.pressures(machines.read_usage(self.root_dir)),
            runtime_problem=self.runtime_problem(),
            now=rfc3339(self.clock()),
        )

    async def register(self) -> None:
        """Register the Node (or take up the one an earlier run left), until it works."""
        while True:
            try:
                await self._register_once()
                self.registered.set()
                return
            except (APIError, APIConnectionError) as e:
                log.warning("registering node %s failed: %s", self.config.name, e)
                await asyncio.sleep(REGISTER_RETRY)

    async def _register_once(self) -> None:
        conditions = self._conditions_now()
        node = shapes.node_object(self.config, self.machine, conditions)
        try:
            created = await self.client.create(NODES, node)
            self.uid = created["metadata"]["uid"]
            log.info("registered node %s", self.config.name)
        except APIAlreadyExistsError:
            existing = await self.client.get(NODES, self.config.name)
            self.uid = existing["metadata"]["uid"]
            conditions = shapes.conditions(
                (existing.get("status") or {}).get("conditions"),
                pressure=shapes.pressures(machines.read_usage(self.root_dir)),
                runtime_problem=self.runtime_problem(),
                now=rfc3339(self.clock()),
            )
            await self.client.patch(
                NODES,
                self.config.name,
                {"metadata": {"labels": node["metadata"]["labels"]}},
                patch_type=PatchType.STRATEGIC,
            )
            await self._write_status(conditions)
            log.info("node %s was registered before; status brought up to date", self.uid)
        self.conditions = conditions
        self.last_report = time.monotonic()

    async def _write_status(self, conditions: list[Obj]) -> None:
        status = shapes.node_status(self.config, self.machine, conditions)
        await self.client.patch(
            NODES,
            self.config.name,
            {"status": status},
            patch_type=PatchType.STRATEGIC,
            subresource="status",
        )

    # --- the lease ------------------------------------------------------------------------------

    def _lease_object(self) -> Obj:
        metadata: Obj = {"name": self.config.name, "namespace": NODE_LEASE_NAMESPACE}
        if self.lease_version:
            metadata["resourceVersion"] = self.lease_version
        if self.uid:
            metadata["ownerReferences"] = [
                {"apiVersion": "v1", "kind": "Node", "name": self.config.name, "uid": self.uid}
            ]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.config.name,
                "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                "renewTime": rfc3339_micro(self.clock()),
            },
        }

    async def renew_lease(self) -> None:
        """One renewal (lease controller `sync`): PUT, or read and retry, or create."""
        for _ in range(2):
            try:
                if not self.lease_version:
                    try:
                        made = await self.client.create(LEASES, self._lease_object())
                    except APIAlreadyExistsError:
                        found = await self.client.get(
                            LEASES, self.config.name, namespace=NODE_LEASE_NAMESPACE
                        )
                        self.lease_version = found["metadata"]["resourceVersion"]
                        continue
                else:
                    made = await self.client.update(LEASES, self._lease_object())
                self.lease_version = made["metadata"]["resourceVersion"]
                return
            except APIConflictError:
                found = await self.client.get(
                    LEASES, self.config.name, namespace=NODE_LEASE_NAMESPACE
                )
                self.lease_version = found["metadata"]["resourceVersion"]
            except APINotFoundError:
                self.lease_version = ""
        log.warning("renewing the lease of node %s: it kept changing", self.config.name)

    # --- status ---------------------------------------------------------------------------------

    async def sync_status(self) -> bool:
        """Report the node's status if it differs from the Node's or is due; True when it was
        written.

        Compared with the Node as the API has it now, not with this kubelet's last report (as
        the kubelet's tryUpdateNodeStatus does): the node lifecycle controller sets Ready to
        Unknown when it stops hearing from the node (a partition), and the kubelet must set it
        back at its next look once it is heard again, not at the next 5-minute report.
        """
        node = await self.client.get(NODES, self.config.name)
        self.conditions = (node.get("status") or {}).get("conditions") or self.conditions
        conditions = self._conditions_now()
        due = time.monotonic() - self.last_report >= STATUS_REPORT_INTERVAL
        if not due and not shapes.conditions_changed(self.conditions, conditions):
            return False
        await self._write_status(conditions)
        self.conditions = conditions
        self.last_report = time.monotonic()
        return True

    # --- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, then renew the lease and look at the status until cancelled."""
        await self.register()
        next_lease = next_status = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_lease:
                jitter = self.rng.uniform(0, LEASE_JITTER * LEASE_RENEW_INTERVAL)
                next_lease = now + LEASE_RENEW_INTERVAL + jitter
                try:
                    await self.renew_lease()
                except (APIError, APIConnectionError) as e:
                    log.warning("renewing the lease of node %s failed: %s", self.config.name, e)
                    next_lease = now + REGISTER_RETRY
            if now >= next_status:
                next_status = now + STATUS_UPDATE_INTERVAL
                try:
                    await self.sync_status()
                except (APIError, APIConnectionError) as e:
                    log.warning("reporting the status of node %s failed: %s", self.config.name, e)
            await asyncio.sleep(max(min(next_lease, next_status) - time.monotonic(), 0.0))
