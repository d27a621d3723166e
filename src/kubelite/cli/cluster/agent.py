"""`kubelite agent`: run a node (the kubelet and its container runtime) against an API server.

`kubelite server` starts one for its own machine (unless `--disable-agent`), with the admin
kubeconfig; other machines run it with a kubeconfig of their own. Flags fill an `AgentFlags`
(each also read from a `KUBELITE_AGENT_*` environment variable); the action checks them and
hands over to `kubelite.kubelet.kubelet.Kubelet`.

Where things live, under `--data-dir` (default /var/lib/kubelite):
`images/` the image store, `runtime/` containers' writable layers, `run/runtime/` the
runtime's records and pinned namespaces, `kubelet/pods/<uid>/` volumes, `logs/pods/` container
logs (/var/log/pods for the default data directory, where Kubernetes keeps them).

    kubelite agent --kubeconfig /var/lib/kubelite/kubeconfig.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import logging
import os
import shutil
import socket
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.api.wellknown import DEFAULT_DATA_DIR, KUBELET_PORT, REGISTRIES_CONFIG
from kubelite.cli.cluster import loadbalancer
from kubelite.cli.cluster.service import run_component, run_until_signalled
from kubelite.cli.flags import (
    AGENT_ENV,
    DEFAULT_CLUSTER_CIDR,
    DEFAULT_CLUSTER_DNS,
    DEFAULT_CLUSTER_DOMAIN,
    DEFAULT_OCI_RUNTIME,
    DEFAULT_PROXY_TABLE,
    NodeLayout,
    add_kubeconfig_flags,
    add_node_flags,
    default_proxy_table,
)
from kubelite.client.kubeconfig import load_config

_env = AGENT_ENV


@dataclass
class AgentFlags:
    """What `kubelite agent` was asked for, from its flags and environment: the node's identity,
    network and data directory."""

    kubeconfig: str | None
    data_dir: Path
    node_name: str
    node_ip: str
    pod_cidr: str
    bridge: str
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    # The node's resolver file for pods' DNS; "" to choose one as k3s does (dns.choose_resolv_conf).
    resolv_conf: str = ""
    registries_config: Path | None = None
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    client_ca_file: Path | None = None
    kubelet_port: int = KUBELET_PORT
    # runc (the default), or crun where it runs (RUNTIME_NOTES.md): about 3x faster to create.
    oci_runtime: str = DEFAULT_OCI_RUNTIME
    # Joining a cluster: its API server's URL and the node token `kubelite server` wrote.
    server: str = ""
    token: str = ""
    # The service proxy beside the kubelet (k3s' --disable-kube-proxy turns it off).
    disable_kube_proxy: bool = False
    cluster_cidr: str = DEFAULT_CLUSTER_CIDR
    proxy_table: str = DEFAULT_PROXY_TABLE
    # The service proxy's own credentials (kube-proxy's --kubeconfig); "": the kubelet's.
    proxy_kubeconfig: str = ""
    # The kubelet's --allowed-unsafe-sysctls (names or `prefix.*`) and --seccomp-default.
    allowed_unsafe_sysctls: list[str] = field(default_factory=list)
    seccomp_default: bool = False
    # The pod network to other nodes (kubelite.podnet): host-gw, vxlan or none.
    flannel_backend: str = "host-gw"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_flags(parser, _env, context=False)
    parser.add_argument(
        "--server", default=_env("SERVER", ""), help="join the cluster of this API server (URL)"
    )
    parser.add_argument(
        "--token",
        default=_env("TOKEN", ""),
        help="the node token of that server (its <data-dir>/node-token)",
    )
    parser.add_argument(
        "--data-dir",
        default=_env("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="where images, containers, volumes and logs live (default %(default)s)",
    )
    add_node_flags(parser, _env, ["--node-name"])
    parser.add_argument(
        "--node-ip",
        default=_env("NODE_IP", ""),
        help="the node's InternalIP (default: the address of the default route's interface)",
    )
    add_node_flags(
        parser,
        _env,
        [
            "--pod-cidr",
            "--bridge",
            "--cluster-dns",
            "--cluster-domain",
            "--resolv-conf",
            "--registries-config",
        ],
    )

    # The kubelet's own flag names for its serving certificate and its clients' CA.
    parser.add_argument("--tls-cert-file", default=_env("TLS_CERT_FILE", ""))
    parser.add_argument("--tls-private-key-file", default=_env("TLS_PRIVATE_KEY_FILE", ""))
    parser.add_argument(
        "--client-ca-file",
        default=_env("CLIENT_CA_FILE", ""),
        help="the CA of the API server's client certificate, for logs and exec",
    )
    add_node_flags(
        parser, _env, ["--oci-runtime", "--kubelet-port", "--disable-kube-proxy", "--cluster-cidr"]
    )
    add_node_flags(parser, _env, ["--allowed-unsafe-sysctls", "--seccomp-default"])
    add_node_flags(parser, _env, ["--flannel-backend"])
    parser.add_argument(
        "--proxy-kubeconfig",
        default=_env("PROXY_KUBECONFIG", ""),
        help="the service proxy's own kubeconfig (default: the kubelet's --kubeconfig)",
    )
    parser.add_argument(
        "--proxy-nftables-table",
        default=_env("PROXY_NFTABLES_TABLE", ""),
        help="the name of the service proxy's inet table (default kubelite, or "
        "kubelite-<bridge> for a node with a --bridge of its own)",
    )


def flags_from(args: argparse.Namespace) -> AgentFlags:
    from kubelite.kubelet.node.machine import internal_ip

    registries = args.registries_config or str(REGISTRIES_CONFIG)
    return AgentFlags(
        kubeconfig=args.kubeconfig,
        data_dir=Path(args.data_dir),
        node_name=(args.node_name or socket.gethostname()).lower(),
        node_ip=args.node_ip or internal_ip(),
        pod_cidr=args.pod_cidr,
        bridge=args.bridge,
        cluster_dns=cluster_dns_from(args.cluster_dns),
        cluster_domain=args.cluster_domain,
        resolv_conf=args.resolv_conf,
        registries_config=Path(registries),
        tls_cert_file=Path(args.tls_cert_file) if args.tls_cert_file else None,
        tls_private_key_file=Path(args.tls_private_key_file) if args.tls_private_key_file else None,
        client_ca_file=Path(args.client_ca_file) if args.client_ca_file else None,
        kubelet_port=args.kubelet_port,
        server=args.server,
        token=args.token,
        oci_runtime=args.oci_runtime,
        disable_kube_proxy=args.disable_kube_proxy,
        cluster_cidr=args.cluster_cidr,
        proxy_table=args.proxy_nftables_table or default_proxy_table(args.bridge),
        proxy_kubeconfig=args.proxy_kubeconfig,
        allowed_unsafe_sysctls=[
            n.strip() for n in args.allowed_unsafe_sysctls.split(",") if n.strip()
        ],
        seccomp_default=args.seccomp_default,
        flannel_backend=args.flannel_backend,
    )


def cluster_dns_from(values: list[str] | None) -> list[str]:
    """--cluster-dns as given (repeated, comma-separated), else KUBELITE_AGENT_CLUSTER_DNS,
    else the default. An entry that is not an IP address is left out with a warning, as
    NewMainKubelet does ("Invalid clusterDNS IP")."""
    given = values if values is not None else [_env("CLUSTER_DNS", DEFAULT_CLUSTER_DNS)]
    addresses = []
    for value in given:
        for address in filter(None, (a.strip() for a in value.split(","))):
            try:
                addresses.append(str(ipaddress.ip_address(address)))
            except ValueError:
                print(f"warning: invalid clusterDNS IP {address!r}: ignored", file=sys.stderr)
    return addresses


async def serve(flags: AgentFlags) -> None:
    # Imported here: the other commands need none of the runtime.
    from kubelite.apiserver.version import version_info
    from kubelite.client.api import APIClient
    from kubelite.kubelet.dns import choose_resolv_conf
    from kubelite.kubelet.kubelet import Kubelet, KubeletConfig
    from kubelite.runtime.images import LocalImageService
    from kubelite.runtime.sandbox.cni import NetworkOptions
    from kubelite.runtime.service import OciRuntimeService

    layout = NodeLayout(flags.data_dir)
    balancer: loadbalancer.LoadBalancer | None = None
    if flags.server:
        from kubelite.cli.cluster.join import join

        config, proxy_config, tls = await join(flags.server, flags.token, layout.agent, flags)
        flags.tls_cert_file, flags.tls_private_key_file, flags.client_ca_file = tls
        # From here through a local balancer that fails over between the API servers.
        balancer = await loadbalancer.start_for_agent(flags.server, layout.agent)
        config = dataclasses.replace(config, server=balancer.url)
        proxy_config = dataclasses.replace(proxy_config, server=balancer.url)
    else:
        config = load_config(kubeconfig=flags.kubeconfig)
        proxy_config = (
            load_config(kubeconfig=flags.proxy_kubeconfig) if flags.proxy_kubeconfig else config
        )
    registries = flags.registries_config
    images = LocalImageService(
        layout.images,
        registries_config=registries if registries and registries.exists() else None,
        docker_config=Path.home() / ".docker" / "config.json",
    )
    # Known before the kubelet runs any pod: an MTU is fixed when a pod's network is made.
    mtu = await _pod_mtu(flags)
    runtime = OciRuntimeService(
        image_service=images,
        state_dir=layout.runtime_state,
        root_dir=layout.runtime_root,
        # Without --pod-cidr the kubelet hands the runtime the Node's, once node IPAM set it.
        network=(
            NetworkOptions(bridge=flags.bridge, subnet=flags.pod_cidr, mtu=mtu)
            if flags.pod_cidr
            else NetworkOptions(bridge=flags.bridge, mtu=mtu)
        ),
        oci_runtime=flags.oci_runtime,
    )
    kubelet_config = KubeletConfig(
        node_name=flags.node_name,
        root_dir=layout.kubelet_root,
        node_ip=flags.node_ip,
        kubelet_version=version_info()["gitVersion"],
        pod_cidr=flags.pod_cidr,
        cluster_dns=flags.cluster_dns,
        cluster_domain=flags.cluster_domain,
        resolv_conf=flags.resolv_conf
        or str(choose_resolv_conf(layout.agent / "etc" / "resolv.conf")),
        logs_root=str(layout.logs),
        tls_cert=flags.tls_cert_file,
        tls_key=flags.tls_private_key_file,
        client_ca=flags.client_ca_file,
        port=flags.kubelet_port,
        allowed_unsafe_sysctls=flags.allowed_unsafe_sysctls,
        seccomp_default=flags.seccomp_default,
    )
    kubelet_config.root_dir.mkdir(parents=True, exist_ok=True)
    async with (
        APIClient(config, user_agent=f"kubelet/{flags.node_name}") as client,
        APIClient(proxy_config, user_agent=f"kube-proxy/{flags.node_name}") as proxy_client,
    ):
        kubelet = Kubelet(client, kubelet_config, runtime, images)
        node = _run_node(proxy_client, kubelet, flags)
        if balancer is not None:
            node = loadbalancer.run_beside(node, balancer, proxy_client)
        await run_until_signalled(_with_pod_network(node, client, proxy_client, flags), "kubelet")
    await images.close()


async def _pod_mtu(flags: AgentFlags) -> int | None:
    """The pods' MTU for --flannel-backend on the --node-ip's interface (kubelite.podnet.mtu:
    flannel's FLANNEL_MTU). Read once at start, not when the kubelet gets its pod CIDR: a node
    with --pod-cidr never waits for one, and the MTU depends on the backend and the interface
    only."""
    from kubelite.podnet.mtu import for_node
    from kubelite.podnet.plan import Backend

    return await for_node(Backend(flags.flannel_backend), flags.node_ip)


async def _with_pod_network(
    node: Coroutine[Any, Any, None], client: Any, proxy_client: Any, flags: AgentFlags
) -> None:
    """Run `node` and, unless --flannel-backend none, the route agent to other nodes' pods
    (kubelite.podnet) beside it, until `node` ends. The route agent retries its own failures;
    should it end anyway, the node keeps running without it.

    It writes its own Node as the kubelet (the node authorizer lets a node patch only itself),
    and watches all Nodes as the service proxy, which may (system:node-proxier), as a node may
    read only its own Node object."""
    if flags.flannel_backend == "none":
        await node
        return
    from kubelite.podnet.agent import RouteAgent
    from kubelite.podnet.plan import Backend
    from kubelite.podnet.state import FILE_NAME

    agent = RouteAgent(
        client,
        watcher=proxy_client,
        node_name=flags.node_name,
        public_ip=flags.node_ip,
        backend=Backend(flags.flannel_backend),
        state_file=NodeLayout(flags.data_dir).agent / FILE_NAME,
    )
    routes = asyncio.create_task(agent.run(), name="pod-network")
    routes.add_done_callback(_log_end_of_pod_network)
    try:
        await node
    finally:
        routes.cancel()
        await asyncio.gather(routes, return_exceptions=True)


def _log_end_of_pod_network(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger(__name__).error(
            "the pod network's route agent stopped", exc_info=task.exception()
        )


def _within(inner: str, outer: str) -> bool:
    a, b = ipaddress.ip_network(inner, strict=False), ipaddress.ip_network(outer, strict=False)
    # subnet_of is typed per version; the check before it makes the two of one version.
    return a.version == b.version and a.subnet_of(b)  # type: ignore[arg-type]


async def _run_node(proxy_client: Any, kubelet: Any, flags: AgentFlags) -> None:
    """The kubelet and, unless disabled, the service proxy (as its own client), until either
    ends."""
    if flags.disable_kube_proxy or shutil.which("nft") is None:
        if not flags.disable_kube_proxy:
            logging.getLogger(__name__).error(
                "nft is not installed (Debian nftables): this node runs no service proxy"
            )
        await kubelet.run()
        return
    from kubelite.cli.cluster.proxy import ProxyFlags, build_proxier
    from kubelite.proxy.runner import run_proxy

    cidrs = [flags.cluster_cidr]
    # A CIDR from node IPAM is inside the cluster CIDR by construction.
    if flags.pod_cidr and not _within(flags.pod_cidr, flags.cluster_cidr):
        # A node whose pods are outside the cluster CIDR (test nodes beside the machine's
        # own): its pods are still the cluster's, not clients to masquerade.
        cidrs.append(flags.pod_cidr)
    proxier = build_proxier(
        ProxyFlags(
            kubeconfig=None,
            node_name=flags.node_name,
            node_ips=[flags.node_ip],
            cluster_cidrs=cidrs,
            table=flags.proxy_table,
        )
    )
    tasks = [
        asyncio.create_task(kubelet.run(), name="kubelet-main"),
        asyncio.create_task(run_proxy(proxy_client, proxier), name="proxy"),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            # The kubelet giving up (no pod CIDR came) ends the agent with its reason.
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run(args: argparse.Namespace) -> int:
    from kubelite.cli.cluster.control_plane import die_with_parent

    if os.geteuid() != 0:
        print("error: kubelite agent runs containers and must run as root", file=sys.stderr)
        return 1
    die_with_parent()
    flags = flags_from(args)
    # asyncio's own loop: under uvloop, waiting for conmon (which forks its monitor and exits)
    # never returns, and the kubelet's work is in its containers, not its loop.
    from kubelite.client.kubeconfig import ConfigError
    from kubelite.kubelet.node.pod_cidr import PodCIDRTimeoutError

    return run_component(serve(flags), fast_loop=False, fails_on=(ConfigError, PodCIDRTimeoutError))
