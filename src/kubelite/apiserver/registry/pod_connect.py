"""Where pods/log, exec, attach and portforward lead: the pod, its node, the node's kubelet.

Kubernetes' pod `LogLocation` and `ExecLocation` (`pkg/registry/core/pod/strategy.go`): read
the pod, and find its node's kubelet from the Node's `status.addresses` (preferring InternalIP)
and `status.daemonEndpoints.kubeletEndpoint.Port`. Connecting is the handlers' business
(`kubelite.apiserver.handlers.connect`, through `pod_proxy`).
"""

from __future__ import annotations

from kubelite.api import errors, meta
from kubelite.api.types import Obj
from kubelite.api.wellknown import KUBELET_PORT
from kubelite.apiserver.registry.generic import ResourceStore

# Node address types tried in order: the API server's --kubelet-preferred-address-types, with
# the IPs first since kubelite's node names need not resolve.
ADDRESS_TYPES = ("InternalIP", "ExternalIP", "InternalDNS", "Hostname", "ExternalDNS")


class PodConnectStore:
    """The pods' and nodes' storage as the connect subresources need them."""

    def __init__(self, pods: ResourceStore, nodes: ResourceStore) -> None:
        self.pods = pods
        self.nodes = nodes

    async def bound_pod(self, namespace: str, name: str) -> tuple[Obj, str]:
        """The pod and the name of its node ("" while it has none)."""
        pod = await self.pods.get(namespace, name)
        return pod, (pod.get("spec") or {}).get("nodeName", "")

    async def kubelet_base_url(self, node_name: str) -> str:
        """`https://<address>:<port>` of the node's kubelet; a 500 if it publishes no address."""
        node = await self.nodes.get("", node_name)
        status = node.get("status") or {}
        addresses = status.get("addresses") or []
        host = ""
        for kind in ADDRESS_TYPES:
            host = next((a.get("address", "") for a in addresses if a.get("type") == kind), "")
            if host:
                break
        if not host:
            known = [f"{a.get('type')}={a.get('address')}" for a in addresses]
            raise errors.internal_error(
                f"no preferred addresses found; known addresses: [{' '.join(known)}]"
            )
        port = meta.get_path(status, "daemonEndpoints", "kubeletEndpoint", "Port", default=0)
        host = f"[{host}]" if ":" in host else host
        return f"https://{host}:{port or KUBELET_PORT}"
