"""ServiceLB: load balancers for Services of type LoadBalancer on machines without a cloud.

k3s' ServiceLB (klipper-lb) answers a LoadBalancer Service with the addresses of the nodes
themselves: the Service's `status.loadBalancer.ingress` lists every Ready node's ExternalIP,
or its InternalIP where it has none, and the node's service proxy takes traffic to those
addresses on the Service's ports to its endpoints. k3s does this with a DaemonSet of hostPort
pods; kubelite's proxy already programs the node addresses, so the controller only writes the
status. A Service asking for another implementation (`spec.loadBalancerClass`) is left to it.

Switched off with `kubelite server --disable servicelb` (k3s' spelling), which passes
`--disable-servicelb` to the control plane.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging

from kubelite.api import meta
from kubelite.api.nodes import is_node_ready
from kubelite.api.resources import NODES, SERVICES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import Informer, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.owners import typed
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


LOAD_BALANCER = "LoadBalancer"
WORKERS = 1
# The service account it runs as, bound to kubelite's `system:kubelite:servicelb` ClusterRole
# (apiserver/rbac/bootstrap_policy.py names it too).
SERVICELB_ACCOUNT = "servicelb-controller"


def node_address(node: Obj) -> str:
    """The node's ExternalIP if it has one, else its InternalIP ("" for neither)."""
    addresses = (node.get("status") or {}).get("addresses") or []
    for kind in ("ExternalIP", "InternalIP"):
        for address in addresses:
            if address.get("type") == kind and address.get("address"):
                return str(address["address"])
    return ""


def wants_service_lb(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == LOAD_BALANCER and not spec.get("loadBalancerClass")


def ingress_for(nodes: list[Obj]) -> list[Obj]:
    """One ingress entry per Ready node address, in address order (k3s sorts them)."""
    ips = {node_address(n) for n in nodes if is_node_ready(n)} - {""}
    ordered = sorted(
        ips, key=lambda ip: (ipaddress.ip_address(ip).version, ipaddress.ip_address(ip))
    )
    return [{"ip": ip, "ipMode": "VIP"} for ip in ordered]


class ServiceLBController(QueueController):
    """Gives LoadBalancer Services an ingress address from the nodes themselves, as k3s' ServiceLB
    does where no cloud provides one."""

    component = "service-lb-controller"
    queue_name = "servicelb"

    def __init__(self, client: APIClient, informers: SharedInformerFactory | None = None) -> None:
        super().__init__(client, informers, queue=self.queue_name, workers=WORKERS)
        self.services = self.informers.informer(SERVICES)
        self.nodes = self.informers.informer(NODES)
        self.services.add_handler(self._on_service, with_old=True)
        self.nodes.add_handler(self._on_node, with_old=True)

    def _on_service(self, event_type: str, service: Obj, old: Obj | None) -> None:
        if event_type != "DELETED" and wants_service_lb(service):
            self.queue.add(key_of(service))

    def _on_node(self, event_type: str, node: Obj, old: Obj | None) -> None:
        if (
            old is not None
            and event_type == "MODIFIED"
            and is_node_ready(old) == is_node_ready(node)
            and node_address(old) == node_address(node)
        ):
            return
        for service in self.services.list():
            if wants_service_lb(service):
                self.queue.add(key_of(service))

    def caches(self) -> tuple[Informer, ...]:
        return (self.services, self.nodes)

    async def sync(self, key: str) -> None:
        service = self.services.get(key)
        if service is None or not wants_service_lb(service):
            return
        ingress = ingress_for(self.nodes.list())
        status = service.get("status") or {}
        current = (status.get("loadBalancer") or {}).get("ingress") or []
        if current == ingress:
            return
        load_balancer: Obj = {"ingress": ingress} if ingress else {}
        body = {**typed(service, SERVICES), "status": {**status, "loadBalancer": load_balancer}}
        with contextlib.suppress(APINotFoundError):
            await self.client.update(
                SERVICES, body, namespace=meta.namespace_of(service), subresource="status"
            )
