"""`kubelite proxy`: the node's service proxy on its own, against any API server.

`kubelite agent` runs the same proxy beside the kubelet (unless `--disable-kube-proxy`, k3s'
flag); this command is kube-proxy's place for running it apart. Flags keep kube-proxy's names
(`--hostname-override`, `--cluster-cidr`, `--nodeport-addresses`, `--min-sync-period`), each also
read from a `KUBELITE_PROXY_*` environment variable; `--nftables-table` names the table, so
that several proxies (tests, nodes) share a machine without touching each other's rules.

    kubelite proxy --kubeconfig /etc/kubelite/kubelite.yaml
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubelite.cli.cluster.service import flag_error, run_component, run_until_signalled
from kubelite.cli.flags import (
    DEFAULT_CLUSTER_CIDR,
    DEFAULT_PROXY_TABLE,
    PROXY_ENV,
    add_kubeconfig_flags,
)
from kubelite.client.kubeconfig import load_config

if TYPE_CHECKING:
    from kubelite.proxy.proxier import Proxier

# k3s' default cluster (pod) CIDR.
DEFAULT_TABLE = DEFAULT_PROXY_TABLE


@dataclass
class ProxyFlags:
    """What `kubelite proxy` was asked for: the node it serves, the addresses node ports answer on,
    and its nftables table."""

    kubeconfig: str | None
    node_name: str
    node_ips: list[str]
    cluster_cidrs: list[str]
    nodeport_addresses: list[str] = field(default_factory=lambda: ["primary"])
    table: str = DEFAULT_TABLE
    min_sync_period: float = 1.0


_env = PROXY_ENV


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_flags(parser, _env, context=False)
    parser.add_argument(
        "--hostname-override",
        default=_env("HOSTNAME_OVERRIDE", ""),
        help="this node's name (default: the machine's host name)",
    )
    parser.add_argument(
        "--node-ip",
        default=_env("NODE_IP", ""),
        help="the node's IPs, comma-separated (default: the Node's addresses)",
    )
    parser.add_argument(
        "--cluster-cidr",
        default=_env("CLUSTER_CIDR", DEFAULT_CLUSTER_CIDR),
        help="the pods' addresses, comma-separated: traffic from elsewhere to a ClusterIP is "
        "masqueraded (default %(default)s)",
    )
    parser.add_argument(
        "--nodeport-addresses",
        default=_env("NODEPORT_ADDRESSES", "primary"),
        help='where NodePorts answer: "primary" (the node\'s IPs) or CIDRs (default %(default)s)',
    )
    parser.add_argument(
        "--nftables-table",
        default=_env("NFTABLES_TABLE", DEFAULT_TABLE),
        help="the name of the proxy's inet table (default %(default)s)",
    )
    parser.add_argument(
        "--min-sync-period",
        type=float,
        default=float(_env("MIN_SYNC_PERIOD", "1")),
        help="seconds between syncs under a burst of changes (default %(default)s)",
    )


def flags_from(args: argparse.Namespace) -> ProxyFlags:
    return ProxyFlags(
        kubeconfig=args.kubeconfig,
        node_name=(args.hostname_override or socket.gethostname()).lower(),
        node_ips=_split(args.node_ip),
        cluster_cidrs=_split(args.cluster_cidr),
        nodeport_addresses=_split(args.nodeport_addresses) or ["primary"],
        table=args.nftables_table,
        min_sync_period=args.min_sync_period,
    )


def build_proxier(flags: ProxyFlags) -> Proxier:
    """The Proxier these flags describe (also what `kubelite agent` runs)."""
    from kubelite.proxy.nft import Nft
    from kubelite.proxy.proxier import Proxier
    from kubelite.proxy.rules import ProxyConfig
    from kubelite.proxy.runner import check_bridge_netfilter, nodeport_ips, supported_protocols

    check_bridge_netfilter()
    nft = Nft()
    config = ProxyConfig(
        table=flags.table,
        node_name=flags.node_name,
        cluster_cidrs=tuple(flags.cluster_cidrs),
        nodeport_ips=nodeport_ips(flags.nodeport_addresses, flags.node_ips),
        protocols=supported_protocols(nft, flags.table),
    )
    return Proxier(config, nft=nft, min_sync_period=flags.min_sync_period)


async def serve(flags: ProxyFlags) -> None:
    from kubelite.client.api import APIClient
    from kubelite.proxy.runner import run_proxy

    config = load_config(kubeconfig=flags.kubeconfig)
    proxier = build_proxier(flags)
    async with APIClient(config, user_agent=f"kube-proxy/{flags.node_name}") as client:
        await run_until_signalled(run_proxy(client, proxier), "proxy")


def validate(flags: ProxyFlags) -> str | None:
    """What is wrong with the flags, if anything."""
    import ipaddress

    for cidr in flags.cluster_cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return f"--cluster-cidr: {cidr!r} is not a CIDR"
    for address in flags.nodeport_addresses:
        if address == "primary":
            continue
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            return f'--nodeport-addresses: {address!r} is neither a CIDR nor "primary"'
    if flags.min_sync_period < 0:
        return "--min-sync-period must not be negative"
    return None


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("error: kubelite proxy programs nftables and must run as root", file=sys.stderr)
        return 1
    if shutil.which("nft") is None:
        print("error: kubelite proxy needs nft (Debian nftables)", file=sys.stderr)
        return 1
    flags = flags_from(args)
    problem = validate(flags)
    if problem:
        return flag_error(problem)
    return run_component(serve(flags))
