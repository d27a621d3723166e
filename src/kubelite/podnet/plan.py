"""What the kernel's tables should hold for the other nodes: a pure function of the Nodes.

Kept apart from the agent so that the decisions (which node by which backend, what flannel's
vxlan backend writes for one) read as a table and are tested without a kernel.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from enum import StrEnum

from kubelite.api.types import Obj

# flannel's Node annotations (pkg/subnet/kube/annotations.go with the default prefix
# "flannel.alpha.coreos.com"): kubelite writes the same ones, as it speaks flannel's formats.
ANNOTATION_PREFIX = "flannel.alpha.coreos.com/"
BACKEND_DATA = ANNOTATION_PREFIX + "backend-data"
BACKEND_TYPE = ANNOTATION_PREFIX + "backend-type"
PUBLIC_IP = ANNOTATION_PREFIX + "public-ip"
KUBE_SUBNET_MANAGER = ANNOTATION_PREFIX + "kube-subnet-manager"

# flannel's vxlan backend: VNI 1 (defaultVNI), device flannel.<VNI>; 8472 is the Linux
# kernel's own default VXLAN port, which flannel gets by leaving Port at 0.
VNI = 1
VXLAN_PORT = 8472
VTEP_DEVICE = f"kubelite.{VNI}"
# An outer IPv4, UDP and VXLAN header and the inner Ethernet header (flannel's encapOverhead).
VXLAN_OVERHEAD = 50


class Backend(StrEnum):
    """--flannel-backend: k3s' flag and flannel's backend names."""

    HOST_GW = "host-gw"
    VXLAN = "vxlan"
    NONE = "none"


class Reach(StrEnum):
    """Where a node's public IP is, seen from this host (`ip route get`)."""

    LOCAL = "local"  # one of this host's own addresses: a node beside this one, no route
    CONNECTED = "connected"  # on a directly connected subnet: host-gw can route to it
    ROUTED = "routed"  # behind a gateway: only an overlay gets there


@dataclass(frozen=True, order=True)
class Route:
    """`<dst> via <via>`, through the VTEP (onlink) when `vxlan`."""

    dst: str
    via: str
    vxlan: bool = False


@dataclass(frozen=True, order=True)
class Neighbour:
    """A permanent ARP entry on the VTEP: the other VTEP's address and MAC."""

    ip: str
    mac: str


@dataclass(frozen=True, order=True)
class Fdb:
    """A permanent forwarding entry on the VTEP: frames for `mac` go to the host `dst`."""

    mac: str
    dst: str


@dataclass(frozen=True)
class Peer:
    """Another node, as far as its pod network goes."""

    name: str
    pod_cidr: str
    public_ip: str
    vtep_mac: str = ""


@dataclass
class Tables:
    """Everything the agent keeps for the other nodes."""

    routes: set[Route] = field(default_factory=set)
    neighbours: set[Neighbour] = field(default_factory=set)
    fdb: set[Fdb] = field(default_factory=set)


def internal_ip(node: Obj) -> str:
    """The node's InternalIP from its status (the first IPv4 one)."""
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP" and _is_ipv4(address.get("address", "")):
            return str(address["address"])
    return ""


def vtep_mac(node: Obj) -> str:
    """The VtepMAC of the node's backend-data annotation (flannel's vxlanLeaseAttrs)."""
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(BACKEND_DATA, "")
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return ""
    mac = data.get("VtepMAC") if isinstance(data, dict) else None
    return mac.lower() if isinstance(mac, str) else ""


def peer_of(node: Obj) -> Peer | None:
    """The node as a peer, or None while it has no IPv4 podCIDR or no address to reach."""
    pod_cidr = (node.get("spec") or {}).get("podCIDR") or ""
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    public_ip = annotations.get(PUBLIC_IP) or internal_ip(node)
    if not pod_cidr or not public_ip or not _is_ipv4(public_ip):
        return None
    try:
        network = ipaddress.IPv4Network(pod_cidr, strict=False)
    except ValueError:
        return None
    return Peer(node["metadata"]["name"], str(network), public_ip, vtep_mac(node))


def peers(nodes: list[Obj], me: str) -> list[Peer]:
    """The other nodes that have a pod network to reach, by name."""
    found = (peer_of(n) for n in nodes if (n.get("metadata") or {}).get("name") != me)
    return sorted((p for p in found if p is not None), key=lambda p: p.name)


def uses_vxlan(backend: Backend, reach: Reach) -> bool:
    """Whether a peer is reached through the VTEP: always with vxlan; with host-gw only when
    it is not on a connected subnet (flannel's vxlan backend with DirectRouting does the
    same; flannel's pure host-gw would leave such a node unreachable)."""
    return reach is not Reach.LOCAL and (backend is Backend.VXLAN or reach is Reach.ROUTED)


def plan(backend: Backend, reach: dict[str, Reach], others: list[Peer]) -> Tables:
    """What to keep for `others`, given how each one's public IP is reached.

    host-gw: one route via the node's IP. vxlan (flannel's handleSubnetEvents): the peer's
    VTEP address is its podCIDR's network address; a permanent neighbour entry maps it to
    the peer's VTEP MAC, an FDB entry sends that MAC to the peer's public IP, and the route
    to the podCIDR goes via that address on the VTEP, onlink. A vxlan peer that has not
    published its VTEP MAC yet gets nothing until it does."""
    tables = Tables()
    for peer in others:
        how = reach.get(peer.public_ip, Reach.ROUTED)
        if how is Reach.LOCAL or backend is Backend.NONE:
            continue
        if not uses_vxlan(backend, how):
            tables.routes.add(Route(peer.pod_cidr, peer.public_ip))
            continue
        if not peer.vtep_mac:
            continue
        gateway = str(ipaddress.IPv4Network(peer.pod_cidr).network_address)
        tables.neighbours.add(Neighbour(gateway, peer.vtep_mac))
        tables.fdb.add(Fdb(peer.vtep_mac, peer.public_ip))
        tables.routes.add(Route(peer.pod_cidr, gateway, vxlan=True))
    return tables


def backend_annotations(backend: Backend, public_ip: str, mac: str) -> dict[str, str]:
    """The annotations this node publishes (flannel's kube subnet manager writes the same four;
    backend-data only once there is a VTEP whose MAC others need)."""
    annotations = {
        BACKEND_TYPE: str(backend),
        PUBLIC_IP: public_ip,
        KUBE_SUBNET_MANAGER: "true",
    }
    if mac:
        annotations[BACKEND_DATA] = json.dumps({"VNI": VNI, "VtepMAC": mac}, separators=(",", ":"))
    return annotations


def _is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False
