"""Feeding the proxier from the API server, and what it needs to know of the machine.

One SharedInformerFactory for Services and EndpointSlices, and an informer of this node's own
Node object (its addresses take NodePorts by default). The first sync waits until Services and
slices have been listed once, as kube-proxy waits for both before writing any rule: a sync on
half the Services would reject traffic to the other half.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import subprocess
from pathlib import Path

from kubelite.api.resources import ENDPOINT_SLICES, NODES, SERVICES
from kubelite.client.api import APIClient
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory, strip_managed_fields
from kubelite.proxy.nft import Nft, NftError
from kubelite.proxy.proxier import Proxier

log = logging.getLogger(__name__)


def supported_protocols(nft: Nft, table: str) -> tuple[str, ...]:
    """The protocols the kernel can DNAT, found by asking it to check (not apply) a rule for
    each: a kernel without SCTP NAT refuses the SCTP one."""
    found = []
    for proto in ("tcp", "udp", "sctp"):
        probe = (
            f"add table inet {table}-probe\n"
            f"add chain inet {table}-probe p {{ type nat hook prerouting priority -100; }}\n"
            f"add rule inet {table}-probe p meta l4proto {proto} dnat ip to 127.0.0.1:1\n"
        )
        try:
            nft.apply_sync(probe, check=True)
            found.append(proto)
        except NftError as e:
            log.warning("the kernel cannot NAT %s; its service ports are left out: %s", proto, e)
    return tuple(found)


BRIDGE_NF_CALL = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def check_bridge_netfilter(path: Path = BRIDGE_NF_CALL) -> bool:
    """Whether bridged IPv4 traffic passes the inet hooks (br_netfilter, its sysctl at 1).

    Without it, a pod's reply to another pod on the same bridge that reached it through a
    ClusterIP skips conntrack, is not un-DNATed, and the client drops it. kube-proxy warns the
    same way and goes on: nodes without pods on a bridge need none of it."""
    try:
        enabled = path.read_text().strip() == "1"
    except OSError:
        enabled = False
    if not enabled:
        log.warning(
            "missing br_netfilter or %s is not 1: pods reaching Services whose endpoints are "
            "on their own bridge will not get answers",
            path,
        )
    return enabled


def local_ipv4_addresses() -> list[str]:
    """Every IPv4 address of this machine's interfaces (`ip -j addr`)."""
    proc = subprocess.run(
        ["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return []
    return [
        info["local"]
        for link in json.loads(proc.stdout or "[]")
        for info in link.get("addr_info") or ()
        if info.get("family") == "inet"
    ]


def nodeport_ips(addresses: list[str], node_ips: list[str]) -> tuple[str, ...] | None:
    """kube-proxy's --nodeport-addresses: "primary" (the default) is the node's IPs; CIDRs
    select the local addresses inside them; a CIDR of everything means every local address
    (None)."""
    if not addresses or addresses == ["primary"]:
        return tuple(node_ips)
    networks = [ipaddress.ip_network(a, strict=False) for a in addresses if a != "primary"]
    if any(n.prefixlen == 0 for n in networks):
        return None
    chosen = [
        ip
        for ip in local_ipv4_addresses()
        if not ipaddress.ip_address(ip).is_loopback
        and any(ipaddress.ip_address(ip) in n for n in networks)
    ]
    if "primary" in addresses:
        chosen += [ip for ip in node_ips if ip not in chosen]
    return tuple(chosen)


async def run_proxy(client: APIClient, proxier: Proxier) -> None:
    """Run the proxier on informers of `client` until cancelled."""
    factory = SharedInformerFactory(client)
    services = factory.informer(SERVICES)
    slices = factory.informer(ENDPOINT_SLICES)
    services.add_handler(proxier.on_service)
    slices.add_handler(proxier.on_endpoint_slice)
    node = Informer(
        client,
        NODES,
        field_selector=f"metadata.name={proxier.config.node_name}",
        transform=strip_managed_fields,
    )
    node.add_handler(proxier.on_node)
    factory.start()
    node.start()
    task = asyncio.create_task(proxier.run(), name="proxier")
    try:
        await factory.wait_synced(services, slices)
        proxier.set_initialized()
        await task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await node.stop()
        await factory.stop()
