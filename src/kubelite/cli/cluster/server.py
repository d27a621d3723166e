"""`kubelite server`: run a whole cluster's control plane in this process.

Flags are kept apart from the action, as k3s does: `ServerFlags` is filled from the command line
and `KUBELITE_*` environment variables, `run()` checks it and delegates to
`kubelite.apiserver.server`. At start the admin kubeconfig is written to `<data-dir>/
kubeconfig.yaml` (and, for the default data directory, to `/etc/kubelite/kubelite.yaml`, where
k3s users look), and its path is printed.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubelite.api import servicenetwork
from kubelite.api.wellknown import (
    ADMIN_KUBECONFIG,
    API_SERVER_PORT,
    CLUSTER_DNS_PORT,
    DEFAULT_DATA_DIR,
)
from kubelite.apiserver import certs, connections, datastore, master_leases, memory, node_join
from kubelite.apiserver.audit import AuditOptions, PolicyError
from kubelite.apiserver.encryption import EncryptionConfigError
from kubelite.apiserver.rbac.bootstrap_policy import CLUSTER_DNS_USER
from kubelite.apiserver.server import (
    NODE_TOKEN_FILE,
    APIServer,
    ServerConfig,
    default_advertise_address,
)
from kubelite.apiserver.server_join import SERVER_TOKEN_FILE
from kubelite.cli.cluster import cluster_dns, embedded_etcd, leader_election, local_registry
from kubelite.cli.cluster.service import flag_error, run_component, stop_on_signals
from kubelite.cli.cluster.supervisor import Supervised, child_env, kubelite_argv
from kubelite.cli.flags import SERVER_ENV, add_node_flags, node_args
from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import ClientConfig
from kubelite.etcd import embedded

DEFAULT_KUBECONFIG = ADMIN_KUBECONFIG
DEFAULT_PORT = API_SERVER_PORT
DEFAULT_CLUSTER_DNS_PORT = CLUSTER_DNS_PORT

log = logging.getLogger("kubelite.server")


@dataclass
class ServerFlags:
    """What `kubelite server` was asked for: the data directory, the API server's address and
    certificates, and which parts of the cluster to run beside it."""

    data_dir: Path
    https_port: int
    bind_address: str
    advertise_address: str
    tls_san: list[str]
    compaction_interval: float
    write_kubeconfig: Path | None
    disable_scheduler: bool = False
    disable_agent: bool = False
    # The port the cluster DNS answers on (0: any free one), unless disabled.
    cluster_dns_port: int = DEFAULT_CLUSTER_DNS_PORT
    disable_cluster_dns: bool = False
    # The cluster's DNS domain, for the cluster DNS as for the kubelets ("": cluster.local).
    cluster_domain: str = ""
    # The docker.io mirror this node runs on loopback ("" for none).
    local_registry: str = ""
    # Passed to the agent this server runs for its own machine.
    agent_args: list[str] = field(default_factory=list)
    # Passed to the controllers (`kubelite control-plane`).
    control_plane_args: list[str] = field(default_factory=list)
    service_cidr: str = str(servicenetwork.SERVICE_CIDR)
    node_port_range: str = "{}-{}".format(*servicenetwork.NODE_PORT_RANGE)
    request_timeout: float = connections.REQUEST_TIMEOUT
    max_connections_per_address: int = connections.MAX_CONNECTIONS_PER_ADDRESS
    authorization_mode: str = "RBAC"
    # kube-apiserver's --encryption-provider-config (and its automatic reload), or k3s'
    # --secrets-encryption.
    encryption_provider_config: Path | None = None
    encryption_provider_config_automatic_reload: bool = False
    secrets_encryption: bool = False
    # --audit-policy-file and --audit-log-* (kube-apiserver's flags, first-class here).
    audit: AuditOptions = field(default_factory=AuditOptions)
    endpoint_reconciler_ttl: float = master_leases.DEFAULT_TTL
    # --cluster-init, --server/--token, --cluster-reset, --etcd-*-port: embedded etcd.
    etcd: embedded.Options | None = None
    # k3s' --datastore-endpoint (etcd's URLs, comma-separated; "": SQLite) and its TLS files.
    datastore_endpoint: str = ""
    datastore_cafile: Path | None = None
    datastore_certfile: Path | None = None
    datastore_keyfile: Path | None = None


_env = SERVER_ENV
# kube-apiserver's --authorization-mode values kubelite has.
AUTHORIZATION_MODES = ("RBAC", "AlwaysAllow")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=_env("DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="where the store, certificates and kubeconfig live (default %(default)s)",
    )
    parser.add_argument(
        "--https-port",
        type=int,
        default=int(_env("HTTPS_PORT", str(DEFAULT_PORT))),
        help="port of the API server; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument("--bind-address", default=_env("BIND_ADDRESS", "0.0.0.0"))
    parser.add_argument(
        "--advertise-address",
        default=_env("ADVERTISE_ADDRESS", ""),
        help="the address other machines and the kubernetes Service reach the server at "
        "(default: the address of the default route's interface)",
    )
    parser.add_argument(
        "--tls-san", action="append", default=[], help="extra name or IP for the serving cert"
    )
    parser.add_argument(
        "--compaction-interval",
        type=float,
        default=float(_env("COMPACTION_INTERVAL", "300")),
        help="seconds between compactions of the store's history (default %(default)s)",
    )
    parser.add_argument(
        "--disable-scheduler",
        action="store_true",
        default=_env.flag("DISABLE_SCHEDULER"),
        help="do not run the scheduler here (run `kubelite scheduler` apart instead)",
    )
    parser.add_argument(
        "--disable-agent",
        action="store_true",
        default=_env.flag("DISABLE_AGENT"),
        help="run no kubelet here: a control-plane-only node",
    )
    add_node_flags(parser, _env, ["--disable-kube-proxy", "--cluster-cidr"], server=True)
    parser.add_argument(
        "--cluster-dns-port",
        type=int,
        default=int(_env("CLUSTER_DNS_PORT", str(DEFAULT_CLUSTER_DNS_PORT))),
        help="UDP and TCP port of the cluster DNS on the node's address, which the kube-dns "
        "Service leads to; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument(
        "--disable-cluster-dns",
        action="store_true",
        default=_env.flag("DISABLE_CLUSTER_DNS"),
        help="run no cluster DNS server here",
    )
    add_node_flags(
        parser,
        _env,
        [
            "--node-name",
            "--pod-cidr",
            "--bridge",
            "--cluster-dns",
            "--cluster-domain",
            "--resolv-conf",
        ],
        server=True,
    )
    parser.add_argument(
        "--local-registry",
        default=_env("LOCAL_REGISTRY", local_registry.DEFAULT_ADDRESS),
        help="run a registry here as this node's docker.io mirror, for images you push to it "
        "(default %(default)s; '' for none)",
    )
    add_node_flags(
        parser,
        _env,
        [
            "--oci-runtime",
            "--kubelet-port",
            "--registries-config",
            "--allowed-unsafe-sysctls",
            "--seccomp-default",
            "--flannel-backend",
        ],
        server=True,
    )
    parser.add_argument(
        "--terminated-pod-gc-threshold",
        type=int,
        default=int(threshold) if (threshold := _env("TERMINATED_POD_GC_THRESHOLD", "")) else None,
        help="terminated pods kept before the oldest are deleted (default 12500)",
    )
    parser.add_argument(
        "--service-cidr",
        default=_env("SERVICE_CIDR", str(servicenetwork.SERVICE_CIDR)),
        help="the range Services' cluster IPs come from (default %(default)s)",
    )
    parser.add_argument(
        "--service-node-port-range",
        default=_env("SERVICE_NODE_PORT_RANGE", "{}-{}".format(*servicenetwork.NODE_PORT_RANGE)),
        help="the ports NodePort Services may use (default %(default)s)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=float(_env("REQUEST_TIMEOUT", str(connections.REQUEST_TIMEOUT))),
        help="seconds a request may take to send its body (kube-apiserver's --request-timeout; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--max-connections-per-address",
        type=int,
        default=int(
            _env("MAX_CONNECTIONS_PER_ADDRESS", str(connections.MAX_CONNECTIONS_PER_ADDRESS))
        ),
        help="connections one client address may hold open; more are closed at once "
        "(default %(default)s, kube-apiserver's 400 + 200 requests in flight; 0: no cap)",
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[d for d in _env("DISABLE", "").split(",") if d],
        metavar="COMPONENT",
        help="do not run this packaged component: servicelb (k3s' spelling; repeatable, or "
        "comma-separated)",
    )
    parser.add_argument(
        "--authorization-mode",
        choices=AUTHORIZATION_MODES,
        default=_env("AUTHORIZATION_MODE", "RBAC"),
        help="RBAC (behind the system:masters group, as k3s runs it) or AlwaysAllow, which lets "
        "every authenticated user do anything (default %(default)s)",
    )
    parser.add_argument(
        "--audit-policy-file",
        default=_env("AUDIT_POLICY_FILE", ""),
        help="an audit.k8s.io/v1 Policy (YAML or JSON) saying which requests are logged and "
        "how much of them; auditing needs --audit-log-path too",
    )
    parser.add_argument(
        "--audit-log-path",
        default=_env("AUDIT_LOG_PATH", ""),
        help="if set, the requests the audit policy selects are logged to this file, one JSON "
        "event a line; '-' means standard out",
    )
    parser.add_argument(
        "--audit-log-maxage",
        type=int,
        default=int(_env("AUDIT_LOG_MAXAGE", "0")),
        help="the maximum number of days to retain old audit log files based on the timestamp "
        "encoded in their filename (default %(default)s: no limit)",
    )
    parser.add_argument(
        "--audit-log-maxbackup",
        type=int,
        default=int(_env("AUDIT_LOG_MAXBACKUP", "0")),
        help="the maximum number of old audit log files to retain (default %(default)s: all)",
    )
    parser.add_argument(
        "--audit-log-maxsize",
        type=int,
        default=int(_env("AUDIT_LOG_MAXSIZE", "0")),
        help="the maximum size in megabytes of the audit log file before it gets rotated "
        "(default %(default)s: lumberjack's 100)",
    )
    parser.add_argument(
        "--secrets-encryption",
        action="store_true",
        default=_env.flag("SECRETS_ENCRYPTION"),
        help="encrypt Secrets at rest with a key kubelite makes and keeps in "
        "<data-dir>/cred/encryption-config.json (k3s' flag; rotate with `kubelite "
        "secrets-encrypt rotate-keys`)",
    )
    parser.add_argument(
        "--encryption-provider-config",
        default=_env("ENCRYPTION_PROVIDER_CONFIG", ""),
        help="an apiserver.config.k8s.io/v1 EncryptionConfiguration saying which resources are "
        "encrypted at rest and how (kube-apiserver's flag)",
    )
    parser.add_argument(
        "--encryption-provider-config-automatic-reload",
        action="store_true",
        default=_env.flag("ENCRYPTION_PROVIDER_CONFIG_AUTOMATIC_RELOAD"),
        help="read --encryption-provider-config again whenever it changes",
    )
    parser.add_argument(
        "--endpoint-reconciler-ttl",
        type=float,
        default=float(_env("ENDPOINT_RECONCILER_TTL", str(master_leases.DEFAULT_TTL))),
        help="seconds this server stays in the kubernetes Service's endpoints after it last "
        "renewed its lease, renewed every two thirds of that (kube-apiserver's "
        "MasterEndpointReconcileTTL; default %(default)s)",
    )
    parser.add_argument(
        "--write-kubeconfig",
        default=_env("WRITE_KUBECONFIG", ""),
        help="also write the admin kubeconfig here",
    )
    parser.add_argument(
        "--datastore-endpoint",
        default=_env("DATASTORE_ENDPOINT", ""),
        help="keep the cluster's objects in etcd at these client URLs (http(s)://host:port, "
        "comma-separated) instead of SQLite under the data dir (k3s' flag)",
    )
    for name, what in (
        ("cafile", "the CA that signed etcd's serving certificate"),
        ("certfile", "the client certificate to present to etcd"),
        ("keyfile", "the key of --datastore-certfile"),
    ):
        parser.add_argument(
            f"--datastore-{name}",
            default=_env(f"DATASTORE_{name.upper()}", ""),
            help=f"{what}, for https datastore endpoints (k3s' flag)",
        )
    embedded_etcd.add_arguments(parser, _env)


def flags_from(args: argparse.Namespace) -> ServerFlags:
    try:
        service_cidr = servicenetwork.parse_service_cidr(args.service_cidr)
        servicenetwork.parse_node_port_range(args.service_node_port_range)
    except ValueError as e:
        raise SystemExit(f"kubelite server: {e}") from None
    if args.endpoint_reconciler_ttl <= 0:
        raise SystemExit("kubelite server: --endpoint-reconciler-ttl must be more than 0")
    if args.request_timeout <= 0:
        raise SystemExit("kubelite server: --request-timeout must be more than 0")
    if args.max_connections_per_address < 0:
        raise SystemExit("kubelite server: --max-connections-per-address cannot be negative")
    audit = AuditOptions(
        policy_file=Path(args.audit_policy_file) if args.audit_policy_file else None,
        log_path=args.audit_log_path,
        max_age=args.audit_log_maxage,
        max_backups=args.audit_log_maxbackup,
        max_size=args.audit_log_maxsize,
    )
    problems = audit.problems()
    if problems:
        raise SystemExit("kubelite server: " + "; ".join(problems))
    try:
        # Read now, so that a wrong policy stops the server before anything starts.
        audit.load_policy()
    except PolicyError as e:
        raise SystemExit(f"kubelite server: {e}") from None
    cluster_dns = args.cluster_dns
    if not cluster_dns and service_cidr != servicenetwork.SERVICE_CIDR:
        # As k3s: cluster DNS is the tenth address of whatever the service range is.
        cluster_dns = servicenetwork.cluster_dns_ip(service_cidr)
    return ServerFlags(
        data_dir=Path(args.data_dir),
        https_port=args.https_port,
        bind_address=args.bind_address,
        advertise_address=args.advertise_address or default_advertise_address(),
        tls_san=list(args.tls_san),
        compaction_interval=args.compaction_interval,
        write_kubeconfig=Path(args.write_kubeconfig) if args.write_kubeconfig else None,
        disable_scheduler=args.disable_scheduler,
        disable_agent=args.disable_agent,
        cluster_dns_port=args.cluster_dns_port,
        disable_cluster_dns=args.disable_cluster_dns,
        cluster_domain=args.cluster_domain,
        local_registry=args.local_registry,
        agent_args=node_args(args, cluster_dns=cluster_dns),
        control_plane_args=(
            ["--terminated-pod-gc-threshold", str(args.terminated_pod_gc_threshold)]
            if args.terminated_pod_gc_threshold is not None
            else []
        )
        + (["--disable-servicelb"] if SERVICELB in disabled_components(args.disable) else [])
        # Node IPAM gives the Nodes their pod CIDRs from the cluster CIDR, as k3s passes its
        # --cluster-cidr to kube-controller-manager.
        + (["--cluster-cidr", args.cluster_cidr] if args.cluster_cidr else []),
        service_cidr=args.service_cidr,
        node_port_range=args.service_node_port_range,
        request_timeout=args.request_timeout,
        max_connections_per_address=args.max_connections_per_address,
        authorization_mode=args.authorization_mode,
        audit=audit,
        encryption_provider_config=(
            Path(args.encryption_provider_config) if args.encryption_provider_config else None
        ),
        encryption_provider_config_automatic_reload=(
            args.encryption_provider_config_automatic_reload
        ),
        secrets_encryption=args.secrets_encryption,
        endpoint_reconciler_ttl=args.endpoint_reconciler_ttl,
        etcd=embedded_etcd.options_from(args, _node_name_of(args)),
        datastore_endpoint=_datastore_endpoint(args.datastore_endpoint),
        datastore_cafile=Path(args.datastore_cafile) if args.datastore_cafile else None,
        datastore_certfile=Path(args.datastore_certfile) if args.datastore_certfile else None,
        datastore_keyfile=Path(args.datastore_keyfile) if args.datastore_keyfile else None,
    )


def _datastore_endpoint(value: str) -> str:
    try:
        datastore.endpoints(value)
    except ValueError as e:
        raise SystemExit(f"kubelite server: --datastore-endpoint: {e}") from None
    return value


# The packaged components `--disable` may name (k3s has more: coredns, traefik, ...).
SERVICELB = "servicelb"
COMPONENTS = (SERVICELB,)


def disabled_components(values: list[str]) -> set[str]:
    """`--disable a,b --disable c`, checked against the components there are."""
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = names - set(COMPONENTS)
    if unknown:
        raise SystemExit(
            f"--disable: unknown component(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(COMPONENTS)}"
        )
    return names


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def admin_kubeconfig(pki: certs.Pki, server_url: str) -> str:
    return client_kubeconfig(
        pki.ca_cert.read_bytes(),
        server_url,
        pki.admin_cert.read_bytes(),
        pki.admin_key.read_bytes(),
    )


def client_kubeconfig(ca: bytes, server_url: str, cert: bytes, key: bytes) -> str:
    """A kubeconfig that reaches `server_url` (trusting `ca`) with a client certificate."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default",
                "cluster": {
                    "certificate-authority-data": _b64(ca),
                    "server": server_url,
                },
            }
        ],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default",
        "preferences": {},
        "users": [
            {
                "name": "default",
                "user": {
                    "client-certificate-data": _b64(cert),
                    "client-key-data": _b64(key),
                },
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


# The users of the control plane's certificates (the subjects of the default bindings).
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"


def _identity_kubeconfig(
    pki: certs.Pki, server_url: str, path: Path, user: str, groups: tuple[str, ...] = ()
) -> Path:
    """A kubeconfig at `path` for `user`, with a certificate issued afresh."""
    cert, key = certs.issue_client_cert(pki, user, groups)
    _write_private(path, client_kubeconfig(pki.ca_cert.read_bytes(), server_url, cert, key))
    return path


def component_kubeconfigs(pki: certs.Pki, server_url: str, data_dir: Path) -> tuple[Path, Path]:
    """Kubeconfigs for the controller manager and the scheduler, under
    `<data-dir>/kubeconfigs/`, with certificates issued afresh at each start."""
    directory = data_dir / "kubeconfigs"
    return (
        _identity_kubeconfig(
            pki, server_url, directory / "controller-manager.yaml", CONTROLLER_MANAGER_USER
        ),
        _identity_kubeconfig(pki, server_url, directory / "scheduler.yaml", SCHEDULER_USER),
    )


def node_kubeconfigs(pki: certs.Pki, server_url: str, flags: ServerFlags) -> tuple[Path, Path]:
    """This machine's kubelet as `system:node:<name>` (held to its own objects by the Node
    authorizer and NodeRestriction) and its service proxy as `system:kube-proxy`."""
    directory = flags.data_dir / "kubeconfigs"
    name = _node_name(flags)
    return (
        _identity_kubeconfig(
            pki,
            server_url,
            directory / "kubelet.yaml",
            f"{certs.NODE_USER_PREFIX}{name}",
            (node_join.NODES_GROUP,),
        ),
        _identity_kubeconfig(
            pki, server_url, directory / "kube-proxy.yaml", node_join.KUBE_PROXY_USER
        ),
    )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def kubeconfig_paths(flags: ServerFlags) -> list[Path]:
    paths = [flags.data_dir / "kubeconfig.yaml"]
    if flags.data_dir == DEFAULT_DATA_DIR:
        paths.append(DEFAULT_KUBECONFIG)
    if flags.write_kubeconfig is not None:
        paths.append(flags.write_kubeconfig)
    return paths


def _bind_cluster_dns(flags: ServerFlags) -> tuple[socket.socket, socket.socket] | None:
    """The cluster DNS server's UDP and TCP sockets on the node's address, bound here so that
    the kube-dns Endpoints can name the port before the DNS process starts, and so that the
    port outlives restarts of that process."""
    if flags.disable_cluster_dns:
        return None
    from kubelite.kubelet.node.machine import internal_ip

    address = internal_ip()
    try:
        return cluster_dns.bind(address, flags.cluster_dns_port)
    except OSError as e:
        print(
            f"no cluster DNS: cannot listen on {address}:{flags.cluster_dns_port}: {e}",
            flush=True,
        )
        return None


async def serve(flags: ServerFlags) -> None:
    if flags.etcd is not None and flags.etcd.cluster_reset:
        # As k3s: a reset is a run of its own, which exits 0 when done (then: no flag).
        await embedded_etcd.reset(flags.etcd)
        return
    # First: a join with a wrong token must leave nothing behind in the data dir.
    etcd = await embedded_etcd.start(flags.etcd)
    try:
        await _serve(flags, etcd)
    finally:
        if etcd is not None:
            await etcd.stop()


async def _serve(flags: ServerFlags, etcd: embedded_etcd.RunningEtcd | None) -> None:
    memory.start_tracing(flags.data_dir)
    trimming = memory.start_tuning()
    dns_sockets = _bind_cluster_dns(flags)
    dns_address = dns_sockets[0].getsockname()[:2] if dns_sockets else None
    config = ServerConfig(
        data_dir=flags.data_dir,
        https_port=flags.https_port,
        bind_address=flags.bind_address,
        advertise_address=flags.advertise_address,
        tls_san=flags.tls_san,
        compaction_interval=flags.compaction_interval,
        service_cidr=servicenetwork.parse_service_cidr(flags.service_cidr),
        node_port_range=servicenetwork.parse_node_port_range(flags.node_port_range),
        cluster_dns=dns_address,
        connections=connections.ConnectionPolicy(
            request_timeout=flags.request_timeout,
            max_per_address=flags.max_connections_per_address,
        ),
        authorization_mode=flags.authorization_mode,
        audit=flags.audit,
        encryption_provider_config=flags.encryption_provider_config,
        encryption_provider_config_automatic_reload=(
            flags.encryption_provider_config_automatic_reload
        ),
        secrets_encryption=flags.secrets_encryption,
        endpoint_reconciler_ttl=flags.endpoint_reconciler_ttl,
        datastore_endpoint=flags.datastore_endpoint,
        datastore_cafile=flags.datastore_cafile,
        datastore_certfile=flags.datastore_certfile,
        datastore_keyfile=flags.datastore_keyfile,
    )
    if etcd is not None:
        etcd.configure(config)
    server = APIServer(config)
    stop = stop_on_signals()
    await server.start()
    control_plane: Supervised | None = None
    agent: Supervised | None = None
    registry: Supervised | None = None
    dns: Supervised | None = None
    try:
        assert server.pki is not None
        host = flags.bind_address if flags.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"
        url = f"https://{host}:{server.port}"
        text = admin_kubeconfig(server.pki, url)
        paths = kubeconfig_paths(flags)
        for path in paths:
            _write_private(path, text)
            print(f"kubeconfig written to {path}", flush=True)
        print(
            f"node token (kubelite agent --server URL --token ...) in "
            f"{flags.data_dir / NODE_TOKEN_FILE}",
            flush=True,
        )
        if etcd is not None:
            print(
                f"server token (kubelite server --server URL --token ...) in "
                f"{flags.data_dir / SERVER_TOKEN_FILE}",
                flush=True,
            )
            etcd.start_controller(_admin_client(server.pki, url))
        # The controllers and the scheduler are clients of the API like any other, over
        # loopback HTTPS, in a process of their own (a core of their own), each with the
        # identity the default roles are bound to, as kubeadm and k3s set them up.
        manager, scheduler = component_kubeconfigs(server.pki, url, flags.data_dir)
        args = [
            "control-plane",
            "--kubeconfig",
            str(manager),
            "--scheduler-kubeconfig",
            str(scheduler),
            "--use-service-account-credentials",
            # csrsigning issues from the cluster CA, as kubeadm points
            # kube-controller-manager's --cluster-signing-* at its ca.crt and ca.key.
            "--cluster-signing-cert-file",
            str(server.pki.ca_cert),
            "--cluster-signing-key-file",
            str(server.pki.ca_key),
        ]
        if flags.disable_scheduler:
            args.append("--disable-scheduler")
        # One identity for every start of this server's control plane, so that a restarted
        # one takes its own Leases back at once (leader_election's docstring says why).
        args += [
            "--leader-elect-identity",
            leader_election.server_identity(flags.data_dir, _node_name(flags)),
        ]
        args += flags.control_plane_args
        control_plane = Supervised("control-plane", kubelite_argv(*args), child_env())
        control_plane.start()
        if dns_sockets is not None and dns_address is not None:
            fds = tuple(s.fileno() for s in dns_sockets)
            # Its own user, held to CoreDNS's role (list and watch what names are made of).
            dns_kubeconfig = _identity_kubeconfig(
                server.pki,
                url,
                flags.data_dir / "kubeconfigs" / "cluster-dns.yaml",
                CLUSTER_DNS_USER,
            )
            argv = [
                sys.executable,
                "-m",
                "kubelite.cli.cluster.cluster_dns",
                "--kubeconfig",
                str(dns_kubeconfig),
                "--udp-fd",
                str(fds[0]),
                "--tcp-fd",
                str(fds[1]),
            ]
            if flags.cluster_domain:
                argv += ["--cluster-domain", flags.cluster_domain]
            dns = Supervised("cluster-dns", argv, child_env(), pass_fds=fds)
            dns.start()
            dns_host, dns_port = dns_address
            print(f"cluster DNS listening on {dns_host}:{dns_port} (UDP and TCP)", flush=True)
        if not flags.disable_agent:
            if os.geteuid() == 0:
                registry, mirror_args = _start_local_registry(flags)
                kubelet, kube_proxy = node_kubeconfigs(server.pki, url, flags)
                argv = kubelite_argv(
                    "agent",
                    "--kubeconfig",
                    str(kubelet),
                    "--proxy-kubeconfig",
                    str(kube_proxy),
                    "--data-dir",
                    str(flags.data_dir),
                    *_kubelet_tls_args(server.pki, flags),
                    *mirror_args,
                    *flags.agent_args,
                )
                agent = Supervised("agent", argv, child_env())
                agent.start()
            else:
                print("not root: no kubelet runs on this node (--disable-agent)", flush=True)
        print(f"kubelite API server listening on {url}", flush=True)
        await stop.wait()
    finally:
        if agent is not None:
            await agent.stop()
        if registry is not None:
            await registry.stop()
        if dns is not None:
            await dns.stop()
        if control_plane is not None:
            await control_plane.stop()
        await server.stop()
        for sock in dns_sockets or ():
            sock.close()
        if trimming is not None:
            trimming.cancel()


def _admin_client(pki: certs.Pki, url: str) -> APIClient:
    """A client of this server as the admin, for the controllers the server runs itself."""
    return APIClient(
        ClientConfig(
            server=url,
            certificate_authority_data=pki.ca_cert.read_bytes(),
            client_certificate_data=pki.admin_cert.read_bytes(),
            client_key_data=pki.admin_key.read_bytes(),
        )
    )


def _start_local_registry(flags: ServerFlags) -> tuple[Supervised | None, list[str]]:
    """The node's local registry, and the agent flags that make it docker.io's mirror (only
    when the user names no registries config of their own)."""
    address = flags.local_registry
    if not address:
        return None, []
    problem = local_registry.available(address)
    if problem:
        print(f"no local registry: {problem}", flush=True)
        return None, []
    config = local_registry.write_config(flags.data_dir, address)
    registry = Supervised("registry", local_registry.argv(config), child_env())
    registry.start()
    print(f"local registry (docker.io mirror) at {address}", flush=True)
    own_config = _agent_flag(flags, "--registries-config")
    if own_config or local_registry.SYSTEM_REGISTRIES_CONFIG.exists():
        return registry, []
    mirror = local_registry.mirror_config(flags.data_dir, address)
    return registry, ["--registries-config", str(mirror)]


def _kubelet_tls_args(pki: certs.Pki, flags: ServerFlags) -> list[str]:
    """The serving certificate of this machine's kubelet, issued here by the cluster CA (the
    server has it at hand), and the CA its clients' certificates come from."""
    from kubelite.kubelet.node.machine import internal_ip

    name = _node_name(flags)
    ips = sorted({internal_ip(), flags.advertise_address, "127.0.0.1"} - {""})
    cert, key = certs.issue_kubelet_serving_cert(pki, name, ips)
    return [
        "--tls-cert-file",
        str(cert),
        "--tls-private-key-file",
        str(key),
        "--client-ca-file",
        str(pki.ca_cert),
    ]


def _node_name(flags: ServerFlags) -> str:
    """The name this machine's agent registers its Node under (the agent's own default)."""
    return _agent_flag(flags, "--node-name") or socket.gethostname().lower()


def _node_name_of(args: argparse.Namespace) -> str:
    return str(getattr(args, "node_name", "") or socket.gethostname().lower())


def _agent_flag(flags: ServerFlags, name: str) -> str:
    args = flags.agent_args
    return args[args.index(name) + 1] if name in args else ""


def run(args: argparse.Namespace) -> int:
    flags = flags_from(args)
    if not 0 <= flags.https_port <= 65535:
        return flag_error(f"--https-port {flags.https_port} is not a port")
    if not 0 <= flags.cluster_dns_port <= 65535:
        return flag_error(f"--cluster-dns-port {flags.cluster_dns_port} is not a port")
    if flags.secrets_encryption and flags.encryption_provider_config is not None:
        return flag_error(
            "--secrets-encryption and --encryption-provider-config cannot be used together"
        )
    return run_component(
        serve(flags),
        fails_on=(PermissionError, EncryptionConfigError, embedded.EmbeddedEtcdError),
    )
