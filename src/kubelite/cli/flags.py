"""What the long-running commands share about their flags: environment variables, the node's
flags, and the node's data directory.

Every flag of a long-running command can also come from an environment variable, as k3s'
flags can (`K3S_<FLAG>`): `KUBELITE_<COMMAND>_<FLAG>` (`--pod-cidr` of `kubelite agent` is
`KUBELITE_AGENT_POD_CIDR`), except `kubelite server`'s and `kubelite image`'s, which have no
command part (`KUBELITE_DATA_DIR`). `kubelite reset` reads the agent's, since it tears down
what the agent made. `Env` reads them; the prefixes are listed here, once, so that two commands
cannot spell one differently.

`kubelite server` runs an agent for its own machine and takes the node's flags to pass them on
(`--pod-cidr`, `--bridge`, ...): `NODE_FLAGS` declares each of them once, with the agent's
default and help, and the server's help (the server's default is "unset": the agent decides).
`NodeLayout` is where the agent puts things under its `--data-dir`, which `kubelite reset`
finds again to remove them.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.api.servicenetwork import CLUSTER_DNS_SERVICE_IP, CLUSTER_DOMAIN
from kubelite.api.wellknown import DEFAULT_DATA_DIR, KUBELET_PORT, POD_LOGS_ROOT

# The spellings of true that strconv.ParseBool accepts (k3s reads its boolean environment
# variables with it), compared lower-cased, with yes, y and on besides.
_TRUE = frozenset(("1", "t", "true", "yes", "y", "on"))


@dataclass(frozen=True)
class Env:
    """The environment variables one command takes its flags' defaults from."""

    prefix: str

    def name(self, flag: str) -> str:
        """`KUBELITE_AGENT_POD_CIDR` for `POD_CIDR` (or `pod-cidr`)."""
        return self.prefix + flag.upper().replace("-", "_")

    def __call__(self, flag: str, default: str = "") -> str:
        """The variable's value, or `default` when it is unset."""
        return os.environ.get(self.name(flag), default)

    def flag(self, flag: str) -> bool:
        """A switch: on for 1, t, true, y, yes or on (any case); off when unset or anything
        else (strconv.ParseBool's spellings, and yes/on)."""
        return self(flag).strip().lower() in _TRUE


def add_kubeconfig_flags(
    parser: argparse.ArgumentParser, env: Env, *, context: bool = True
) -> None:
    """--kubeconfig (and --context): how a component that runs apart finds its API server,
    as every Kubernetes component is told (unset: the client's usual search)."""
    parser.add_argument("--kubeconfig", default=env("KUBECONFIG") or None)
    if context:
        parser.add_argument("--context", default=env("CONTEXT") or None)


SERVER_ENV = Env("KUBELITE_")
IMAGE_ENV = Env("KUBELITE_")
AGENT_ENV = Env("KUBELITE_AGENT_")
CONTROL_PLANE_ENV = Env("KUBELITE_CONTROL_PLANE_")
SCHEDULER_ENV = Env("KUBELITE_SCHEDULER_")
PROXY_ENV = Env("KUBELITE_PROXY_")
CLUSTER_DNS_ENV = Env("KUBELITE_CLUSTER_DNS_")
HOLLOW_ENV = Env("KUBELITE_HOLLOW_")


# The agent's defaults (k3s': its cluster CIDR, its bridge). A node's pod CIDR has no default:
# unless --pod-cidr names one, the control plane's node IPAM gives the Node a block of the
# cluster CIDR (the first node gets 10.42.0.0/24, as in k3s).
DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_BRIDGE = "kubelite0"
# The cluster DNS Service's address, where `kubelite server` puts the kube-dns Service, and the
# cluster's domain (k3s' defaults).
DEFAULT_CLUSTER_DNS = CLUSTER_DNS_SERVICE_IP
DEFAULT_CLUSTER_DOMAIN = CLUSTER_DOMAIN
DEFAULT_OCI_RUNTIME = "runc"
DEFAULT_PROXY_TABLE = "kubelite"


@dataclass(frozen=True)
class NodeFlag:
    """A flag of `kubelite agent` that `kubelite server` takes too, to pass on to its agent."""

    option: str
    help: str
    server_help: str
    default: str = ""
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    # store_true: the server passes the bare option on.
    switch: bool = False
    # Repeatable on the agent; its environment variable is read where the values are taken.
    repeated: bool = False

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


# In the order `kubelite server` passes them on.
NODE_FLAGS = {
    flag.option: flag
    for flag in (
        NodeFlag(
            "--node-name",
            help="the Node's name (default: this machine's host name)",
            server_help="this node's name",
        ),
        NodeFlag(
            "--pod-cidr",
            help="the addresses of this node's pods (default: the block of the cluster CIDR "
            "the control plane's node IPAM gives the Node)",
            server_help="this node's pod addresses",
        ),
        NodeFlag(
            "--bridge",
            default=DEFAULT_BRIDGE,
            help="the Linux bridge the pods are wired to (default %(default)s)",
            server_help="the bridge this node's pods are wired to",
        ),
        NodeFlag(
            "--registries-config",
            help="mirrors and credentials of registries (default /etc/kubelite/registries.yaml)",
            server_help="registry mirrors and credentials for this node's image pulls "
            "(default /etc/kubelite/registries.yaml)",
        ),
        NodeFlag(
            "--kubelet-port",
            default=str(KUBELET_PORT),
            type=int,
            help="the kubelet's HTTPS port for logs and exec; 0 picks a free one (default 10250)",
            server_help="this node's kubelet port for logs and exec (default 10250; 0: any free "
            "one)",
        ),
        NodeFlag(
            "--oci-runtime",
            default=DEFAULT_OCI_RUNTIME,
            choices=("runc", "crun"),
            help="the OCI runtime that runs containers (default %(default)s)",
            server_help="this node's OCI runtime: runc (default) or crun",
        ),
        NodeFlag(
            "--cluster-cidr",
            default=DEFAULT_CLUSTER_CIDR,
            help="the pods' addresses across the cluster, for the proxy's masquerade decisions "
            "(default %(default)s)",
            server_help="the pods' addresses across the cluster (default 10.42.0.0/16)",
        ),
        NodeFlag(
            "--cluster-dns",
            default=DEFAULT_CLUSTER_DNS,
            repeated=True,
            help="the cluster DNS server's address for pods with dnsPolicy ClusterFirst; repeat "
            f"it or separate addresses with commas (default {DEFAULT_CLUSTER_DNS})",
            server_help="this node's kubelet's cluster DNS address(es), comma-separated "
            "(default 10.43.0.10)",
        ),
        NodeFlag(
            "--cluster-domain",
            default=DEFAULT_CLUSTER_DOMAIN,
            help="the cluster's DNS domain, searched by pods (default %(default)s)",
            server_help="the cluster's DNS domain (default cluster.local)",
        ),
        NodeFlag(
            "--resolv-conf",
            help="the node's resolver file: pods with dnsPolicy Default get it, ClusterFirst "
            "pods its search domains (default: /etc/resolv.conf, else systemd-resolved's "
            "upstream file when the host's names a loopback server, else one naming 8.8.8.8)",
            server_help="the resolver file for this node's pods with dnsPolicy Default",
        ),
        NodeFlag(
            "--disable-kube-proxy",
            switch=True,
            help="run no service proxy on this node",
            server_help="run no service proxy on this node",
        ),
        NodeFlag(
            "--allowed-unsafe-sysctls",
            help="comma-separated sysctls (or `prefix.*`) pods may set beyond the safe set "
            "(the kubelet's flag)",
            server_help="this node's kubelet's --allowed-unsafe-sysctls",
        ),
        NodeFlag(
            "--seccomp-default",
            switch=True,
            help="run containers that name no seccomp profile under RuntimeDefault (the "
            "kubelet's flag; off as in Kubernetes 1.33)",
            server_help="this node's kubelet's --seccomp-default",
        ),
        NodeFlag(
            "--flannel-backend",
            default="host-gw",
            choices=("host-gw", "vxlan", "none"),
            help="how pods reach other nodes' pods: host-gw routes to nodes on a shared subnet "
            "and VXLAN to the others, vxlan always VXLAN, none leaves it to you (default "
            "%(default)s; k3s' flag)",
            server_help="this node's pod network backend: host-gw (default), vxlan or none",
        ),
    )
}


def add_node_flags(
    parser: argparse.ArgumentParser, env: Env, options: Sequence[str], *, server: bool = False
) -> None:
    """Declare these node flags, as the agent takes them or (`server`) as the server passes
    them on: there each defaults to unset, and only what is set reaches the agent."""
    for option in options:
        flag = NODE_FLAGS[option]
        name = flag.dest.upper()
        if flag.switch:
            parser.add_argument(
                option,
                action="store_true",
                default=env.flag(name),
                help=flag.server_help if server else flag.help,
            )
        elif server:
            parser.add_argument(option, default=env(name), help=flag.server_help)
        elif flag.repeated:
            parser.add_argument(option, action="append", default=None, help=flag.help)
        else:
            parser.add_argument(
                option,
                type=flag.type,
                choices=flag.choices,
                default=flag.type(env(name, flag.default)),
                help=flag.help,
            )


def node_args(args: argparse.Namespace, **values: str) -> list[str]:
    """The node flags set on the server's command line, as the agent's arguments; `values`
    stand in for what the server decided itself (`cluster_dns` from its service range)."""
    argv: list[str] = []
    switches: list[str] = []
    for flag in NODE_FLAGS.values():
        value = values.get(flag.dest, getattr(args, flag.dest))
        if flag.switch:
            switches += [flag.option] if value else []
        elif value:
            argv += [flag.option, value]
    return argv + switches


def default_proxy_table(bridge: str) -> str:
    """The service proxy's table: `kubelite` for the machine's node, and one named after the
    bridge for any other (test nodes beside it on one machine each have a bridge of their own,
    and `kubelite reset --bridge` finds the table the same way)."""
    return DEFAULT_PROXY_TABLE if bridge == DEFAULT_BRIDGE else f"{DEFAULT_PROXY_TABLE}-{bridge}"


@dataclass(frozen=True)
class NodeLayout:
    """Where a node's things live under its data directory: what the agent creates and
    `kubelite reset` removes (the store and certificates of a server live beside them)."""

    data_dir: Path = DEFAULT_DATA_DIR

    @property
    def images(self) -> Path:
        """The image store (blobs, manifests, unpacked layers)."""
        return self.data_dir / "images"

    @property
    def runtime_root(self) -> Path:
        """The containers' writable layers and the pods' files."""
        return self.data_dir / "runtime"

    @property
    def runtime_state(self) -> Path:
        """The runtime's records, bundles and pinned namespaces."""
        return self.data_dir / "run" / "runtime"

    @property
    def kubelet_root(self) -> Path:
        """The kubelet's --root-dir: `pods/<uid>/` holds each pod's volumes."""
        return self.data_dir / "kubelet"

    @property
    def pods(self) -> Path:
        return self.kubelet_root / "pods"

    @property
    def agent(self) -> Path:
        """The agent's own files: its credentials when it joined, its resolver file."""
        return self.data_dir / "agent"

    @property
    def logs(self) -> Path:
        """Container logs: /var/log/pods for the default data directory, where Kubernetes
        keeps them, else inside the data directory (nodes side by side on one machine)."""
        return POD_LOGS_ROOT if self.data_dir == DEFAULT_DATA_DIR else self.data_dir / "logs/pods"
