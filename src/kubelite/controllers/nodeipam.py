"""Node IPAM: gives every Node without a pod CIDR the next free block of the cluster CIDR.

kube-controller-manager's node-ipam-controller with the RangeAllocator
(`pkg/controller/nodeipam/ipam/range_allocator.go`), which k3s runs with `--allocate-node-cidrs`
and `--cluster-cidr` (10.42.0.0/16 by default; nodes get /24s). IPv4 or IPv6, one cluster CIDR:
a dual-stack cluster (one CIDR of each family, a node getting one block of each) is not done.

- At start, once the Node informer has listed, the CIDRs the Nodes already have are marked
  used, whoever set them (this controller earlier, or a kubelet's own `--pod-cidr`): a restarted
  controller hands out nothing twice, and a restarted node keeps its block, which lives in its
  Node object.
- A Node without `spec.podCIDRs` gets the next free block, written as both `spec.podCIDR` and
  `spec.podCIDRs` by a strategic merge patch, as `PatchNodeCIDRs` writes them (tried 3 times,
  `cidrUpdateRetries`). The API server lets them be set once and never changed.
- When the range is full the Node gets a Warning event `CIDRNotAvailable` ("Node <name> status
  is now: CIDRNotAvailable", from the component `cidrAllocator`) and the key is retried with the
  queue's back-off, so a block freed later is given out. The range allocator sets no
  NetworkUnavailable condition (the cloud allocator and the route controller do); the node
  simply has no pod network until it gets a block.
- A patch that keeps failing gets the Warning event `CIDRAssignmentFailed`; the block goes back
  to the free ones unless the server timed out (the write may have been made).
- A Node whose CIDR lies outside the cluster CIDR cannot be marked; Kubernetes stops the
  controller manager at start for it and logs "failed to mark cidr ... as occupied" later.
  kubelite logs that error once per node and goes on: nodes beside the machine's own may
  well use pod addresses of their own outside the cluster's.
- A deleted Node's blocks are free again (the informer's DELETED carries its last spec), and
  the nodes still waiting for one are looked at again at once.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from kubelite.api import meta
from kubelite.api.resources import NODES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIConnectionError, APIError
from kubelite.client.events import WARNING, EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import RetryLater
from kubelite.controllers.cidrset import CIDRSet, CIDRSetError, Network
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)

# The event source of the range allocator's events (NewCIDRRangeAllocator's recorder).
COMPONENT = "cidrAllocator"
CIDR_NOT_AVAILABLE = "CIDRNotAvailable"
CIDR_ASSIGNMENT_FAILED = "CIDRAssignmentFailed"
# cidr_allocator.go: cidrUpdateRetries.
CIDR_UPDATE_RETRIES = 3
# metav1.StatusReasonServerTimeout: the reason apierrors.IsServerTimeout looks for.
SERVER_TIMEOUT = "ServerTimeout"
# kube-controller-manager's defaults: --node-cidr-mask-size-ipv4 24, --node-cidr-mask-size-ipv6 64.
DEFAULT_NODE_CIDR_MASK_SIZE_IPV4 = 24
DEFAULT_NODE_CIDR_MASK_SIZE_IPV6 = 64
# k3s' --cluster-cidr default.
DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
_WORKERS = 4
# How many nodes with a CIDR outside the range are logged one by one.
_UNMARKABLE_LOGGED = 5


@dataclass(frozen=True)
class NodeIpamConfig:
    """kube-controller-manager's --cluster-cidr and --node-cidr-mask-size."""

    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    # 0: the default of the cluster CIDR's family.
    node_cidr_mask_size: int = 0

    def cidr_set(self) -> CIDRSet:
        """The set to allocate from; CIDRSetError (a ValueError) names what is wrong."""
        try:
            cluster = ipaddress.ip_network(self.cluster_cidr)
        except ValueError as e:
            raise CIDRSetError(f"invalid --cluster-cidr {self.cluster_cidr!r}: {e}") from None
        mask = self.node_cidr_mask_size or (
            DEFAULT_NODE_CIDR_MASK_SIZE_IPV4
            if cluster.version == 4
            else DEFAULT_NODE_CIDR_MASK_SIZE_IPV6
        )
        return CIDRSet(cluster, mask)


def pod_cidrs(node: Obj) -> list[str]:
    """The Node's spec.podCIDRs (spec.podCIDR when a client set only that)."""
    cidrs = meta.get_path(node, "spec", "podCIDRs") or []
    if not cidrs and (single := meta.get_path(node, "spec", "podCIDR")):
        cidrs = [single]
    return [c for c in cidrs if isinstance(c, str) and c]


def node_cidr_patch(cidrs: Sequence[str]) -> Obj:
    """The strategic merge patch PatchNodeCIDRs sends: podCIDRs, and podCIDR as its first."""
    return {"spec": {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)}}


class NodeIpamController(QueueController):
    """kube-controller-manager's node-ipam-controller, RangeAllocator type."""

    component = "node-ipam-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        config: NodeIpamConfig | None = None,
    ) -> None:
        super().__init__(client, informers, queue="cidrallocator_node", workers=_WORKERS)
        self.config = config or NodeIpamConfig()
        self.cidrs = self.config.cidr_set()
        self.recorder = EventRecorder(client, COMPONENT)
        self.nodes: Informer = self.informers.informer(NODES)
        self.nodes.add_handler(self._on_node)
        # Nodes whose CIDR could not be marked, with that CIDR: reported once, not on every
        # status update.
        self._unmarkable: dict[str, tuple[str, ...]] = {}

    def caches(self) -> Sequence[Informer]:
        return [self.nodes]

    def on_synced(self) -> None:
        """Mark what the Nodes already have, before any worker gives anything out."""
        for node in self.nodes.list():
            self._occupy(node)
        log.info(
            "node IPAM: allocating /%d blocks of %s; %d in use",
            self.cidrs.node_mask_size,
            self.cidrs.cluster_cidr,
            self.cidrs.used_count,
        )

    # --- events -----------------------------------------------------------------------------------

    def _on_node(self, event_type: str, node: Obj) -> None:
        name = meta.name_of(node)
        if event_type == "DELETED":
            self._release(node)
            self._unmarkable.pop(name, None)
            return
        self.queue.add(name)

    # --- the CIDR set -----------------------------------------------------------------------------

    def _networks(self, node: Obj) -> list[Network]:
        networks = []
        for cidr in pod_cidrs(node)[:1]:
            try:
                networks.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                name = meta.name_of(node)
                self._report_unmarkable(node, f"failed to parse node {name}, CIDR {cidr}")
        return networks

    def _occupy(self, node: Obj) -> None:
        """Mark the node's CIDR used (occupyCIDRs); an unmarkable one is logged once."""
        for network in self._networks(node):
            try:
                self.cidrs.occupy(network)
            except CIDRSetError as e:
                self._report_unmarkable(
                    node,
                    f"failed to mark cidr[{network}] at idx [0] as occupied for node: "
                    f"{meta.name_of(node)}: {e}",
                )

    def _report_unmarkable(self, node: Obj, message: str) -> None:
        """Log a CIDR that cannot be marked, once per node, and only for the first few nodes:
        a fleet of hollow nodes (pod CIDRs from 100.64.0.0/10) would otherwise fill the log."""
        name = meta.name_of(node)
        cidrs = tuple(pod_cidrs(node))
        if self._unmarkable.get(name) == cidrs:
            return
        self._unmarkable[name] = cidrs
        if len(self._unmarkable) <= _UNMARKABLE_LOGGED:
            log.error("node IPAM: %s", message)
        elif len(self._unmarkable) == _UNMARKABLE_LOGGED + 1:
            log.error(
                "node IPAM: more nodes have pod CIDRs outside %s; they are not logged",
                self.cidrs.cluster_cidr,
            )

    def _release(self, node: Obj) -> None:
        """Free a deleted node's CIDR (ReleaseCIDR), then mark again what other nodes still
        hold of it: two nodes given the same --pod-cidr must not free it for a third."""
        released = False
        for network in self._networks(node):
            try:
                self.cidrs.release(network)
                released = True
                log.info("node IPAM: released %s of deleted node %s", network, meta.name_of(node))
            except CIDRSetError:
                pass  # never marked: outside the cluster CIDR
        if released:
            name = meta.name_of(node)
            for other in self.nodes.list():
                if meta.name_of(other) == name:
                    continue
                self._occupy(other)
                # A node waiting for a block (the range was full) need not wait out its
                # back-off: Kubernetes retries it only then; here it is looked at now.
                if not pod_cidrs(other):
                    self.queue.add(meta.name_of(other))

    # --- sync -------------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        """syncNode: mark a node's CIDR, or give it one."""
        node = self.nodes.get(key)
        if node is None:
            return None  # deleted: released by the handler
        if meta.get_path(node, "metadata", "deletionTimestamp"):
            self._release(node)
            return None
        if pod_cidrs(node):
            self._occupy(node)
            return None
        try:
            allocated = self.cidrs.allocate_next()
        except CIDRSetError as e:
            self._status_change(node, CIDR_NOT_AVAILABLE)
            raise RetryLater(f"failed to allocate cidr from cluster cidr at idx:0: {e}") from e
        await self._update_allocation(node, [allocated])
        return None

    async def _update_allocation(self, node: Obj, allocated: list[Network]) -> None:
        """updateCIDRsAllocation: patch the node, or give the blocks back."""
        name = meta.name_of(node)
        cidrs = [str(n) for n in allocated]
        error: APIError | APIConnectionError | None = None
        for _ in range(CIDR_UPDATE_RETRIES):
            try:
                await self.client.patch(
                    NODES, name, node_cidr_patch(cidrs), patch_type=PatchType.STRATEGIC
                )
            except (APIError, APIConnectionError) as e:
                error = e
                continue
            log.info("node IPAM: set node %s podCIDRs %s", name, ",".join(cidrs))
            return
        assert error is not None
        log.error(
            "node IPAM: failed to update node %s PodCIDR to %s after %d attempts: %s",
            name,
            ",".join(cidrs),
            CIDR_UPDATE_RETRIES,
            error,
        )
        self._status_change(node, CIDR_ASSIGNMENT_FAILED)
        # A write that timed out (or whose answer was lost) may have been made: better to leak
        # the block until a restart than to give it to a second node.
        if isinstance(error, APIError) and error.reason != SERVER_TIMEOUT:
            for network in allocated:
                self.cidrs.release(network)
        raise error

    def _status_change(self, node: Obj, status: str) -> None:
        """RecordNodeStatusChange, as the range allocator calls it: a Warning event."""
        name = meta.name_of(node)
        self.recorder.post(
            {**node, "apiVersion": "v1", "kind": "Node"},
            WARNING,
            status,
            f"Node {name} status is now: {status}",
        )
