"""The kernel's routes, neighbours, FDB and the VTEP, read and written with iproute2.

`ip -json` reads a table in one process and `ip -batch -` / `bridge -batch -` write every
change of a reconcile in one process each, so that a cluster of many nodes costs a handful of
processes per change, not a few per node. The routes the agent makes carry a protocol number
of their own (`proto 152`), so that they are told apart from everyone else's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

from kubelite.podnet.plan import (
    VNI,
    VTEP_DEVICE,
    VXLAN_OVERHEAD,
    VXLAN_PORT,
    Fdb,
    Neighbour,
    Reach,
    Route,
    Tables,
)

# The routing protocol number on the agent's routes (rtnetlink's RTPROT_*: 0-4 are the
# kernel's, 11-18, 42, 99 and 186-192 are daemons'; 152 is none of them).
ROUTE_PROTOCOL = 152


class IpError(RuntimeError):
    """An iproute2 command failed; the message is its stderr."""


async def _run(argv: list[str], stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if proc.returncode != 0:
        raise IpError(f"{' '.join(argv)}: {err.decode().strip() or out.decode().strip()}")
    return out.decode()


async def _json(*argv: str) -> list[dict[str, Any]]:
    out = await _run(list(argv))
    return json.loads(out) if out.strip() else []


async def reach(addresses: list[str]) -> dict[str, Reach]:
    """How each address is reached from here, by `ip route get` (flannel's ip.DirectRouting
    asks the same question: a route without a gateway means a connected subnet)."""
    if not addresses:
        return {}
    out = await _run(["ip", "-json", "-batch", "-"], "".join(f"route get {a}\n" for a in addresses))
    found: dict[str, Reach] = {}
    for address, line in zip(
        addresses, (ln for ln in out.splitlines() if ln.strip()), strict=False
    ):
        route = (json.loads(line) or [{}])[0]
        if route.get("type") == "local":
            found[address] = Reach.LOCAL
        elif route.get("gateway"):
            found[address] = Reach.ROUTED
        else:
            found[address] = Reach.CONNECTED
    return found


async def vtep_mac() -> str:
    """The VTEP's MAC, or "" when there is no VTEP."""
    try:
        links = await _json("ip", "-json", "link", "show", "dev", VTEP_DEVICE)
    except IpError:
        return ""
    return str(links[0].get("address", "")) if links else ""


async def ensure_vtep(public_ip: str, pod_cidr: str) -> str:
    """Create the VTEP if missing (as flannel's newVXLANDevice: learning off, the public IP's
    interface as its lower device, MTU 50 below it), give it the podCIDR's network address as
    a /32 (flannel: no broadcast routes; the source of host-to-pod traffic), bring it up, and
    return its MAC."""
    mac = await vtep_mac()
    if not mac:
        lower = await device_of(public_ip)
        mtu = int(lower.get("mtu", 1500)) - VXLAN_OVERHEAD
        await _run(
            [
                "ip", "link", "add", VTEP_DEVICE, "mtu", str(mtu), "type", "vxlan",
                "id", str(VNI), "local", public_ip, "dev", str(lower["ifname"]),
                "dstport", str(VXLAN_PORT), "nolearning",
            ]
        )  # fmt: skip
        mac = await vtep_mac()
    address = ipaddress.IPv4Network(pod_cidr, strict=False).network_address
    await _run(["ip", "addr", "replace", f"{address}/32", "dev", VTEP_DEVICE])
    await _run(["ip", "link", "set", VTEP_DEVICE, "up"])
    return mac


async def device_of(address: str) -> dict[str, Any]:
    """The link (`ip -json addr show`) that holds `address`: the VTEP's lower device."""
    for link in await _json("ip", "-json", "addr", "show"):
        if any(a.get("local") == address for a in link.get("addr_info", [])):
            return link
    raise IpError(f"no interface has the address {address} (the node's public IP)")


async def delete_vtep() -> None:
    """Remove the VTEP; its routes, neighbours and FDB entries go with it."""
    if await vtep_mac():
        await _run(["ip", "link", "del", VTEP_DEVICE])


async def current() -> Tables:
    """What the agent's tables hold now: its routes (by protocol), and the VTEP's permanent
    neighbours and FDB entries that name a remote host."""
    tables = Tables()
    for r in await _json("ip", "-json", "route", "show", "proto", str(ROUTE_PROTOCOL)):
        if r.get("gateway"):
            tables.routes.add(Route(r["dst"], r["gateway"], vxlan=r.get("dev") == VTEP_DEVICE))
    if not await vtep_mac():
        return tables
    for n in await _json("ip", "-json", "neigh", "show", "dev", VTEP_DEVICE, "nud", "permanent"):
        if n.get("lladdr"):
            tables.neighbours.add(Neighbour(n["dst"], n["lladdr"].lower()))
    for f in await _json("bridge", "-json", "fdb", "show", "dev", VTEP_DEVICE):
        if f.get("dst") and f.get("mac"):
            tables.fdb.add(Fdb(f["mac"].lower(), f["dst"]))
    return tables


def _route_line(verb: str, route: Route) -> str:
    proto = f"proto {ROUTE_PROTOCOL}"
    if verb == "del":
        return f"route del {route.dst} {proto}\n"
    if route.vxlan:
        return f"route replace {route.dst} via {route.via} dev {VTEP_DEVICE} onlink {proto}\n"
    return f"route replace {route.dst} via {route.via} {proto}\n"


async def apply(want: Tables, have: Tables) -> list[str]:
    """Bring the tables from `have` to `want`: FDB and neighbour entries before the routes
    that need them (flannel: else the kernel would ARP for the gateway). A route or neighbour
    that only changes is replaced in place rather than deleted. Every line is tried (`-force`);
    the errors come back, one per failed command."""
    wanted_dsts = {r.dst for r in want.routes}
    wanted_ips = {n.ip for n in want.neighbours}
    wanted_macs = {f.mac for f in want.fdb}
    fdb = [
        f"fdb replace {f.mac} dev {VTEP_DEVICE} dst {f.dst} self permanent\n"
        for f in sorted(want.fdb - have.fdb)
    ]
    fdb += [
        f"fdb del {f.mac} dev {VTEP_DEVICE} dst {f.dst} self\n"
        for f in sorted(have.fdb - want.fdb)
        if f.mac not in wanted_macs
    ]
    ip = [
        f"neigh replace {n.ip} lladdr {n.mac} dev {VTEP_DEVICE} nud permanent\n"
        for n in sorted(want.neighbours - have.neighbours)
    ]
    ip += [_route_line("replace", r) for r in sorted(want.routes - have.routes)]
    ip += [
        _route_line("del", r) for r in sorted(have.routes - want.routes) if r.dst not in wanted_dsts
    ]
    ip += [
        f"neigh del {n.ip} dev {VTEP_DEVICE}\n"
        for n in sorted(have.neighbours - want.neighbours)
        if n.ip not in wanted_ips
    ]
    errors: list[str] = []
    for argv, lines in (
        (["bridge", "-force", "-batch", "-"], fdb),
        (["ip", "-force", "-batch", "-"], ip),
    ):
        if lines:
            try:
                await _run(argv, "".join(lines))
            except IpError as e:
                errors.append(str(e))
    return errors


async def delete_routes(destinations: list[str]) -> list[str]:
    """Delete the agent's routes to these destinations (gone already is fine)."""
    errors = []
    for dst in destinations:
        try:
            await _run(["ip", "route", "del", dst, "proto", str(ROUTE_PROTOCOL)])
        except IpError as e:
            if "No such process" not in str(e):
                errors.append(str(e))
    return errors
