"""The MTU of the pods' network: what flannel writes as FLANNEL_MTU for the CNI plugin.

flannel's daemon writes its backend's MTU into /run/flannel/subnet.env (`FLANNEL_MTU`, the
backend network's `MTU()`), and the flannel CNI plugin hands it to the bridge plugin as `mtu`,
so that the bridge and every pod's veth get it. The vxlan backend's `MTU()` is the external
interface's MTU less `encapOverhead` (50); the host-gw backend's (`SimpleNetwork.MTU()`) is
the external interface's own. Without it a pod's full-size packet does not fit into the VTEP
once the outer headers are added.

kubelite's runtime writes the bridge plugin's conflist itself, so the route agent's backend
and the lower device decide the `mtu` it puts there (`NetworkOptions.mtu`). Nothing of it goes
into the Node annotations: flannel's carry no MTU (backend-data holds only VNI and VtepMAC).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kubelite.podnet import iproute
from kubelite.podnet.plan import VXLAN_OVERHEAD, Backend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LowerDevice:
    """The interface that holds the node's public IP: the VTEP's lower device (flannel's
    external interface)."""

    name: str
    mtu: int
    loopback: bool = False


def pod_mtu(backend: Backend, lower: LowerDevice | None) -> int | None:
    """The pods' MTU for this backend, or None to leave the bridge plugin's default.

    `host-gw`, kubelite's default, is not flannel's host-gw: a node on another subnet is
    reached over VXLAN (`plan.uses_vxlan`), which is flannel's vxlan backend with
    DirectRouting. flannel gives that backend the VXLAN MTU whether or not any route uses the
    VTEP (vxlan's `MTU()` does not look at DirectRouting), and so does kubelite: a pod's MTU is
    fixed when its network is set up, and a node on another subnet may join at any time after,
    so a node cannot know then that it will never encapsulate. Only a backend that never
    encapsulates (flannel's pure host-gw) would keep the lower device's MTU; kubelite has none.

    `none` leaves the pod network to the operator, and a public IP on the loopback device
    means a node with no peers to reach (its 65536 minus 50 would be nobody's MTU): both keep
    the plugin's default.
    """
    if backend is Backend.NONE or lower is None or lower.loopback:
        return None
    return lower.mtu - VXLAN_OVERHEAD


async def lower_device(public_ip: str) -> LowerDevice | None:
    """The interface holding `public_ip`, as the VTEP's lower device is chosen; None, with a
    warning, when no interface has it."""
    try:
        link = await iproute.device_of(public_ip)
    except iproute.IpError as e:
        log.warning("pod network MTU: %s; the pods keep the bridge plugin's default", e)
        return None
    return LowerDevice(
        name=str(link.get("ifname", "")),
        mtu=int(link.get("mtu", 1500)),
        loopback=link.get("link_type") == "loopback",
    )


async def for_node(backend: Backend, public_ip: str) -> int | None:
    """The MTU this node's pods get, read from the kernel (see `pod_mtu`)."""
    if backend is Backend.NONE:
        return None
    return pod_mtu(backend, await lower_device(public_ip))
