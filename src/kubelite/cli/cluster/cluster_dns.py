"""`kubelite cluster-dns`: the cluster's DNS server, in a process of its own.

`kubelite server` binds the DNS port itself (UDP and TCP, on the node's address; `0` lets the
kernel choose), writes the `kube-dns` Service and its Endpoints with that port, and hands the
two sockets to this command as a supervised child. The server keeps the sockets open across
restarts of the child, so the port never changes while it runs and queries arriving meanwhile
wait in the socket buffer.

Why a process of its own rather than the API server's or the control plane's: the answers
must come in well under 2 ms at the 99th percentile, and both of those event loops do work that
holds them for longer (encoding large lists, a controller's sync of a thousand pods). CoreDNS
runs apart from kube-apiserver and kube-controller-manager for the same reason. Like them it is
a client of the API over HTTPS and nothing else (its informers list and watch Services,
EndpointSlices and Namespaces).

It also runs by hand against any kubeconfig, binding its own sockets:

    kubelite cluster-dns --kubeconfig /var/lib/kubelite/kubeconfig.yaml --port 5353
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kubelite.api.servicenetwork import CLUSTER_DOMAIN
from kubelite.cli.cluster.control_plane import die_with_parent
from kubelite.cli.cluster.service import flag_error, run_component, stop_on_signals
from kubelite.cli.flags import CLUSTER_DNS_ENV, add_kubeconfig_flags
from kubelite.client.kubeconfig import load_config

log = logging.getLogger("kubelite.cluster-dns")

DEFAULT_PORT = 53
RESOLV_CONF = Path("/etc/resolv.conf")
# Attempts at finding one free port for both UDP and TCP when the kernel picks.
_PICK_ATTEMPTS = 20


@dataclass
class ClusterDNSFlags:
    """What `kubelite cluster-dns` was asked for: where to listen (or the sockets it inherits), the
    cluster domain and the upstream resolvers."""

    kubeconfig: str | None
    context: str | None
    bind_address: str
    port: int
    resolv_conf: Path
    cluster_domain: str
    # Upstream resolvers given by hand (HOST or HOST:PORT), instead of resolv.conf's.
    upstreams: list[str] = field(default_factory=list)
    udp_fd: int | None = None
    tcp_fd: int | None = None


_env = CLUSTER_DNS_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_flags(parser, _env)
    parser.add_argument(
        "--bind-address",
        default=_env("BIND_ADDRESS", "0.0.0.0"),
        help="address to answer on (default %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(_env("PORT", str(DEFAULT_PORT))),
        help="UDP and TCP port to answer on; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument(
        "--resolv-conf",
        default=_env("RESOLV_CONF", str(RESOLV_CONF)),
        help="where the upstream resolvers for names outside the cluster are listed "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="forward names outside the cluster here instead of to --resolv-conf's "
        "nameservers (repeatable; CoreDNS' `forward . HOST:PORT`)",
    )
    parser.add_argument(
        "--cluster-domain",
        default=_env("DOMAIN", CLUSTER_DOMAIN),
        help="the cluster's DNS domain (default %(default)s)",
    )
    # Sockets bound by `kubelite server` and inherited.
    parser.add_argument("--udp-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tcp-fd", type=int, default=None, help=argparse.SUPPRESS)


def flags_from(args: argparse.Namespace) -> ClusterDNSFlags:
    return ClusterDNSFlags(
        kubeconfig=args.kubeconfig,
        context=args.context,
        bind_address=args.bind_address,
        port=args.port,
        resolv_conf=Path(args.resolv_conf),
        cluster_domain=args.cluster_domain,
        upstreams=list(args.upstream),
        udp_fd=args.udp_fd,
        tcp_fd=args.tcp_fd,
    )


def parse_upstream(text: str) -> tuple[str, int]:
    """`10.0.0.2`, `10.0.0.2:5353`, `[fd00::2]:5353` or `fd00::2` -> (address, port)."""
    from kubelite.dns.forwarder import DNS_PORT

    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        return address, int(rest[1:]) if rest.startswith(":") else DNS_PORT
    if text.count(":") == 1:
        address, port = text.split(":")
        return address, int(port)
    return text, DNS_PORT


def bind(address: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on the same `port` of `address` (0: one the kernel
    finds free for both)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(_PICK_ATTEMPTS if port == 0 else 1):
        tcp = socket.socket(family, socket.SOCK_STREAM)
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, port))
            udp.bind((address, tcp.getsockname()[1]))
            tcp.listen(1024)
        except OSError:
            tcp.close()
            udp.close()
            if port != 0:
                raise
            continue
        return udp, tcp
    raise OSError(f"no port free for both UDP and TCP on {address}")


async def serve(flags: ClusterDNSFlags) -> None:
    # Imported here: the other commands need none of this.
    from kubelite.client.api import APIClient
    from kubelite.client.informers import SharedInformerFactory
    from kubelite.dns.forwarder import Forwarder, upstreams_from
    from kubelite.dns.index import ClusterIndex
    from kubelite.dns.server import DNSServer
    from kubelite.dns.watch import watch
    from kubelite.dns.zone import Zone

    config = load_config(kubeconfig=flags.kubeconfig, context=flags.context)
    if flags.udp_fd is not None and flags.tcp_fd is not None:
        udp = socket.socket(fileno=flags.udp_fd)
        tcp = socket.socket(fileno=flags.tcp_fd)
    else:
        udp, tcp = bind(flags.bind_address, flags.port)
    host, port = udp.getsockname()[:2]
    index = ClusterIndex()
    if flags.upstreams:
        upstreams = [parse_upstream(u) for u in flags.upstreams]
    else:
        upstreams = upstreams_from(flags.resolv_conf, own=(host, port))
    forwarder = Forwarder(upstreams)
    server = DNSServer(Zone(index, flags.cluster_domain), forwarder)
    client = APIClient(config, user_agent="kubelite-cluster-dns")
    factory = SharedInformerFactory(client)
    watch(index, factory)
    factory.start()
    transport = await server.serve_udp(udp)
    tcp_server = await server.serve_tcp(tcp)
    listed = ", ".join(f"{a}:{p}" for a, p in forwarder.upstreams) or "none"
    log.info("answering on %s:%d (UDP and TCP); upstream resolvers: %s", host, port, listed)
    stop = stop_on_signals()
    try:
        await stop.wait()
    finally:
        transport.close()
        tcp_server.close()
        await server.close()
        await factory.stop()
        await client.close()
        with contextlib.suppress(OSError):
            udp.close()
            tcp.close()


def run(args: argparse.Namespace) -> int:
    die_with_parent()
    flags = flags_from(args)
    if not 0 <= flags.port <= 65535:
        return flag_error(f"--port {flags.port} is not a port")
    problem = _check_upstreams(flags)
    if problem:
        return flag_error(problem)
    try:
        return run_component(serve(flags))
    except OSError as e:
        print(f"error: cannot answer on {flags.bind_address}:{flags.port}: {e}", file=sys.stderr)
        return 1
    return 0


def _check_upstreams(flags: ClusterDNSFlags) -> str:
    """The problem with an --upstream value, or ""."""
    import ipaddress

    for text in flags.upstreams:
        try:
            address, port = parse_upstream(text)
            ipaddress.ip_address(address)
        except ValueError:
            return f"--upstream {text!r} is not an address or address:port"
        if not 0 < port <= 65535:
            return f"--upstream {text!r}: {port} is not a port"
    return ""


def main(argv: list[str] | None = None) -> int:
    """`python -m kubelite.cli.cluster.cluster_dns ...`: how `kubelite server` starts it. The
    `kubelite` entry point imports every command (about 30 MB more in memory); this process
    runs for as long as the server does and needs none of them."""
    parser = argparse.ArgumentParser(prog="kubelite cluster-dns")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
