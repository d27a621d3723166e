"""The route agent: keeps this host's routes to every other node's pods, and says so on the
Node.

Level-triggered, as every kubelite controller: any change to any Node (and a resync every
`RESYNC_PERIOD`, for a route someone deleted by hand) runs one `reconcile` of the whole
desired state against the kernel's tables. A change arriving during a reconcile runs another
after it; bursts collapse into one.

The node's NetworkUnavailable condition is the contract with the rest of the cluster: the
node lifecycle controller taints a node `node.kubernetes.io/network-unavailable` (NoSchedule)
while it is True. The agent writes True while it cannot set the routes up (the node has no
podCIDR yet, or the kernel refused), and False once its routes are in place, with flannel's
reason and message (pkg/subnet/kube/kube.go, patchNodeNetworkUnavailable: "FlannelIsUp",
"Flannel is running on this node"), since this component stands in for flannel, as in k3s.

Routes stay when the agent stops (flannel's do too): pods outlive `kubelite agent`, and
their traffic to other nodes should survive its restart. `kubelite reset` removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from kubelite.api.resources import NODES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIConnectionError, APIError
from kubelite.client.informer import Informer
from kubelite.client.informers import strip_managed_fields
from kubelite.podnet import iproute, masquerade, plan
from kubelite.podnet.plan import Backend, Reach
from kubelite.podnet.state import Made

log = logging.getLogger(__name__)

# How often the whole state is reconciled without any Node changing.
RESYNC_PERIOD = 30.0
# The wait before retrying a reconcile that failed, doubling to the maximum.
RETRY_INITIAL, RETRY_MAX = 1.0, 30.0

CONDITION = "NetworkUnavailable"
# flannel's reason and message for False (see the module docstring).
UP_REASON, UP_MESSAGE = "FlannelIsUp", "Flannel is running on this node"
# Kubernetes' route controller's reason for True (pkg/controller/route: "NoRouteCreated").
DOWN_REASON = "NoRouteCreated"
DOWN_MESSAGE = "kubelite's route agent has not set up this node's pod network yet"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def network_condition(node: Obj) -> Obj | None:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == CONDITION:
            return condition
    return None


class RouteAgent:
    """One host's pod network routes, for the node `node_name`."""

    def __init__(
        self,
        client: APIClient,
        *,
        watcher: APIClient | None = None,
        node_name: str,
        public_ip: str,
        backend: Backend,
        state_file: Path,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.public_ip = public_ip
        self.backend = backend
        self.state_file = state_file
        # Who lists and watches all Nodes (`client` when None).
        self.nodes = Informer(watcher or client, NODES, transform=strip_managed_fields)
        self._dirty = asyncio.Event()
        self._made = Made.load(state_file)
        self._masquerade: tuple[str, list[str]] | None = None

    async def run(self) -> None:
        self.nodes.add_handler(lambda _type, _obj: self._dirty.set())
        self.nodes.start()
        try:
            await self.nodes.wait_synced()
            retry = RETRY_INITIAL
            self._dirty.set()
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), RESYNC_PERIOD)
                self._dirty.clear()
                try:
                    await self.reconcile()
                    retry = RETRY_INITIAL
                except (APIError, APIConnectionError, iproute.IpError, RuntimeError) as e:
                    log.warning(
                        "pod network of %s: %s; retrying in %.0fs", self.node_name, e, retry
                    )
                    await self._report_failure()
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, RETRY_MAX)
                    self._dirty.set()
        finally:
            await self.nodes.stop()

    async def reconcile(self) -> None:
        """One pass: VTEP if needed, annotations, routes, masquerade exemptions, condition."""
        me = self.nodes.get(self.node_name)
        if me is None:
            return  # not registered yet: its ADDED event brings us back
        own_cidr = (me.get("spec") or {}).get("podCIDR") or ""
        if not own_cidr:
            # Waiting for the node IPAM controller: no pod of this node can have an address.
            await self._set_condition(False)
        others = plan.peers(self.nodes.list(), self.node_name)
        reach = await iproute.reach(sorted({p.public_ip for p in others}))
        needs_vtep = own_cidr and any(
            plan.uses_vxlan(self.backend, reach.get(p.public_ip, Reach.ROUTED)) for p in others
        )
        mac = ""
        if needs_vtep:
            mac = await iproute.ensure_vtep(self.public_ip, own_cidr)
            self._remember(vtep=True)
        await self._publish(me, mac or await iproute.vtep_mac())
        want = plan.plan(self.backend, reach, others)
        self._remember(routes=sorted({*self._made.routes, *(r.dst for r in want.routes)}))
        errors = await iproute.apply(want, await iproute.current())
        self._remember(routes=sorted(r.dst for r in want.routes))
        if own_cidr:
            remote = sorted(p.pod_cidr for p in others if reach.get(p.public_ip) is not Reach.LOCAL)
            await self._exempt_from_masquerade(own_cidr, remote)
        if errors:
            raise iproute.IpError("; ".join(errors))
        if own_cidr:
            await self._set_condition(True)

    def _remember(
        self, *, routes: list[str] | None = None, vtep: bool | None = None, masq: bool | None = None
    ) -> None:
        """Record what exists before (routes: also after) changing it, so that a crash in
        between never leaves something `kubelite reset` does not know of."""
        before = (list(self._made.routes), self._made.vtep, self._made.masquerade)
        if routes is not None:
            self._made.routes = routes
        if vtep is not None:
            self._made.vtep = self._made.vtep or vtep
        if masq is not None:
            self._made.masquerade = self._made.masquerade or masq
        if (self._made.routes, self._made.vtep, self._made.masquerade) != before:
            self._made.save(self.state_file)

    async def _exempt_from_masquerade(self, own_cidr: str, remote: list[str]) -> None:
        if self._masquerade == (own_cidr, remote) or (not remote and not self._made.masquerade):
            return
        self._remember(masq=True)
        await masquerade.ensure(own_cidr, remote)
        self._masquerade = (own_cidr, remote)

    async def _publish(self, me: Obj, mac: str) -> None:
        """The backend annotations on this node, patched only when they differ."""
        wanted = plan.backend_annotations(self.backend, self.public_ip, mac)
        have = (me.get("metadata") or {}).get("annotations") or {}
        if all(have.get(k) == v for k, v in wanted.items()):
            return
        await self.client.patch(
            NODES, self.node_name, {"metadata": {"annotations": wanted}}, patch_type=PatchType.MERGE
        )

    async def _report_failure(self) -> None:
        """NetworkUnavailable=True on a node that never had its network up (one that had keeps
        False, as flannel's does: its routes of before are still there)."""
        me = self.nodes.get(self.node_name)
        if me is not None and network_condition(me) is None:
            with contextlib.suppress(APIError, APIConnectionError):
                await self._set_condition(False)

    async def _set_condition(self, up: bool) -> None:
        """NetworkUnavailable=False when `up`, else True."""
        me = self.nodes.get(self.node_name) or {}
        current = network_condition(me)
        status = "False" if up else "True"
        if current is not None and current.get("status") == status:
            return
        now = _now()
        condition = {
            "type": CONDITION,
            "status": status,
            "reason": UP_REASON if up else DOWN_REASON,
            "message": UP_MESSAGE if up else DOWN_MESSAGE,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        await self.client.patch(
            NODES,
            self.node_name,
            {"status": {"conditions": [condition]}},
            patch_type=PatchType.STRATEGIC,
            subresource="status",
        )
        log.info("node %s: %s=%s (%s)", self.node_name, CONDITION, status, condition["reason"])
