"""`kubelite control-plane`: the controllers and the scheduler, in a process of their own.

`kubelite server` starts this as its child, so that the API server and the components that
watch it do not share one interpreter lock: on a machine of two cores each gets one. Like
kube-controller-manager and kube-scheduler they are clients of the API over HTTPS and nothing
else. It can also be run by hand against any kubeconfig.

A child of `kubelite server` (KUBELITE_PARENT_PID set) asks the kernel to end it when the server
ends, even by SIGKILL, so that no controller outlives its API server.

With several servers, each runs one of these; as kube-controller-manager and kube-scheduler,
the controllers act only while this process holds the `kube-system/kube-controller-manager`
Lease and the scheduler only while it holds `kube-system/kube-scheduler` (two elections, as two
Kubernetes processes would hold them; `leader_election`). A lost Lease ends the process with
"leaderelection lost", as it ends those components, and the server starts a new one that
contends again; a clean stop releases both Leases once the components have stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kubelite.cli.cluster import durations, leader_election
from kubelite.cli.cluster.service import flag_error, run_component, stop_on_signals
from kubelite.cli.flags import CONTROL_PLANE_ENV, add_kubeconfig_flags
from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import ConfigError, load_config
from kubelite.client.leaderelection import LeaderElectionLost
from kubelite.controllers.nodelifecycle_config import (
    GC_CHECK_PERIOD,
    QUARANTINE_TIME,
    TERMINATED_POD_GC_THRESHOLD,
    NodeLifecycleConfig,
    PodGCSettings,
)

if TYPE_CHECKING:
    from kubelite.controllers.csrsigning import ClusterSigningConfig
    from kubelite.controllers.nodeipam import NodeIpamConfig

PARENT_PID_ENV = "KUBELITE_PARENT_PID"
# kube-controller-manager's --secure-port.
DEFAULT_SECURE_PORT = 10257
log = logging.getLogger("kubelite.control-plane")
_PR_SET_PDEATHSIG = 1


@dataclass
class ControlPlaneFlags:
    """What `kubelite control-plane` was asked for: which API server, which controllers and the
    scheduler to run, and their settings."""

    kubeconfig: str | None
    context: str | None
    disable_scheduler: bool
    node_lifecycle: NodeLifecycleConfig = field(default_factory=NodeLifecycleConfig)
    pod_gc: PodGCSettings = field(default_factory=PodGCSettings)
    bind_address: str = "127.0.0.1"
    secure_port: int = DEFAULT_SECURE_PORT
    disable_servicelb: bool = False
    scheduler_kubeconfig: str = ""
    use_service_account_credentials: bool = False
    # kube-controller-manager's --cluster-signing-*: the CA csrsigning issues from.
    cluster_signing_cert_file: str = ""
    cluster_signing_key_file: str = ""
    cluster_signing_duration: float = 8760 * 3600.0
    # --leader-elect*: the controllers run only while this process holds the
    # kube-controller-manager Lease, the scheduler while it holds kube-scheduler.
    election: leader_election.LeaderElectionFlags = field(
        default_factory=leader_election.LeaderElectionFlags
    )
    # kube-controller-manager's --allocate-node-cidrs (off there, on here as k3s turns it on),
    # --cluster-cidr and --node-cidr-mask-size (0: 24 for IPv4, 64 for IPv6).
    allocate_node_cidrs: bool = True
    cluster_cidr: str = "10.42.0.0/16"
    node_cidr_mask_size: int = 0


_env = CONTROL_PLANE_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_flags(parser, _env)
    parser.add_argument(
        "--disable-servicelb",
        action="store_true",
        default=_env.flag("DISABLE_SERVICELB"),
        help="give LoadBalancer Services no node addresses (k3s' ServiceLB off)",
    )
    parser.add_argument(
        "--disable-scheduler",
        action="store_true",
        default=_env.flag("DISABLE_SCHEDULER"),
        help="run the controllers only",
    )
    parser.add_argument(
        "--secure-port",
        type=int,
        default=int(_env("SECURE_PORT", str(DEFAULT_SECURE_PORT))),
        help="HTTPS port of /metrics and /healthz (default 10257; 0 serves none)",
    )
    parser.add_argument(
        "--scheduler-kubeconfig",
        default=_env("SCHEDULER_KUBECONFIG", ""),
        help="the scheduler's own credentials (default: those of --kubeconfig)",
    )
    parser.add_argument(
        "--use-service-account-credentials",
        action="store_true",
        default=_env.flag("USE_SERVICE_ACCOUNT_CREDENTIALS"),
        help="run each controller as a service account of its own in kube-system "
        "(kube-controller-manager's flag)",
    )
    parser.add_argument(
        "--cluster-signing-cert-file",
        default=_env("CLUSTER_SIGNING_CERT_FILE", ""),
        help="PEM CA certificate the csrsigning controller issues certificates from "
        "(without it and its key, no CertificateSigningRequest is signed)",
    )
    parser.add_argument(
        "--cluster-signing-key-file",
        default=_env("CLUSTER_SIGNING_KEY_FILE", ""),
        help="PEM private key of --cluster-signing-cert-file",
    )
    parser.add_argument(
        "--cluster-signing-duration",
        type=durations.argument,
        default=_env("CLUSTER_SIGNING_DURATION", "8760h"),
        help="the longest certificate csrsigning issues (default 8760h0m0s)",
    )
    parser.add_argument(
        "--bind-address",
        default=_env("BIND_ADDRESS", "127.0.0.1"),
        help="address of that port (default 127.0.0.1)",
    )
    parser.add_argument(
        "--allocate-node-cidrs",
        type=_switch,
        nargs="?",
        const=True,
        default=_switch(_env("ALLOCATE_NODE_CIDRS", "true")),
        help="give each Node without a pod CIDR one from --cluster-cidr (default true, as k3s; "
        "--allocate-node-cidrs=false turns it off)",
    )
    parser.add_argument(
        "--cluster-cidr",
        default=_env("CLUSTER_CIDR", "10.42.0.0/16"),
        help="the range Nodes' pod CIDRs come from (default %(default)s)",
    )
    parser.add_argument(
        "--node-cidr-mask-size",
        type=int,
        default=int(_env("NODE_CIDR_MASK_SIZE", "0")),
        help="the prefix length of each Node's pod CIDR (default 24 for IPv4, 64 for IPv6)",
    )
    leader_election.add_arguments(parser, _env)
    # kube-controller-manager's node lifecycle flags, under their names there.
    defaults = NodeLifecycleConfig()
    parser.add_argument(
        "--node-monitor-period",
        type=durations.argument,
        default=_env("NODE_MONITOR_PERIOD", f"{defaults.monitor_period}s"),
        help="how often node health is checked (default 5s)",
    )
    parser.add_argument(
        "--node-monitor-grace-period",
        type=durations.argument,
        default=_env("NODE_MONITOR_GRACE_PERIOD", f"{defaults.grace_period}s"),
        help="how long a node may go without reporting before it is Unknown (default 50s)",
    )
    parser.add_argument(
        "--node-startup-grace-period",
        type=durations.argument,
        default=_env("NODE_STARTUP_GRACE_PERIOD", f"{defaults.startup_grace_period}s"),
        help="how long a new node may take to report at all (default 1m0s)",
    )
    parser.add_argument(
        "--node-eviction-rate",
        type=float,
        default=float(_env("NODE_EVICTION_RATE", str(defaults.eviction_rate))),
        help="nodes per second whose pods are evicted while a zone is healthy (default 0.1)",
    )
    parser.add_argument(
        "--secondary-node-eviction-rate",
        type=float,
        default=float(_env("SECONDARY_NODE_EVICTION_RATE", str(defaults.secondary_eviction_rate))),
        help="the same for a large zone mostly down (default 0.01)",
    )
    parser.add_argument(
        "--unhealthy-zone-threshold",
        type=float,
        default=float(_env("UNHEALTHY_ZONE_THRESHOLD", str(defaults.unhealthy_zone_threshold))),
        help="share of not-ready nodes (at least 3) that makes a zone unhealthy (default 0.55)",
    )
    parser.add_argument(
        "--large-cluster-size-threshold",
        type=int,
        default=int(_env("LARGE_CLUSTER_SIZE_THRESHOLD", str(defaults.large_cluster_threshold))),
        help="zones above this many nodes keep evicting slowly when unhealthy (default 50)",
    )
    parser.add_argument(
        "--terminated-pod-gc-threshold",
        type=int,
        default=int(_env("TERMINATED_POD_GC_THRESHOLD", str(TERMINATED_POD_GC_THRESHOLD))),
        help="terminated pods kept before the pod garbage collector deletes the oldest; "
        "0 or less keeps them all (default %(default)s)",
    )
    # How often the pod garbage collector looks, and how long a missing node is quarantined,
    # are Kubernetes constants; tests shorten them (as its NewPodGCInternal does).
    parser.add_argument(
        "--pod-gc-period",
        type=float,
        default=float(_env("POD_GC_PERIOD", str(GC_CHECK_PERIOD))),
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--pod-gc-quarantine",
        type=float,
        default=float(_env("POD_GC_QUARANTINE", str(QUARANTINE_TIME))),
        help=argparse.SUPPRESS,
    )


def flags_from(args: argparse.Namespace) -> ControlPlaneFlags:
    lifecycle = NodeLifecycleConfig(
        monitor_period=args.node_monitor_period,
        grace_period=args.node_monitor_grace_period,
        startup_grace_period=args.node_startup_grace_period,
        eviction_rate=args.node_eviction_rate,
        secondary_eviction_rate=args.secondary_node_eviction_rate,
        unhealthy_zone_threshold=args.unhealthy_zone_threshold,
        large_cluster_threshold=args.large_cluster_size_threshold,
    )
    return ControlPlaneFlags(
        args.kubeconfig,
        args.context,
        args.disable_scheduler,
        lifecycle,
        PodGCSettings(
            terminated_pod_threshold=args.terminated_pod_gc_threshold,
            period=args.pod_gc_period,
            quarantine=args.pod_gc_quarantine,
        ),
        bind_address=args.bind_address,
        secure_port=args.secure_port,
        disable_servicelb=args.disable_servicelb,
        scheduler_kubeconfig=args.scheduler_kubeconfig,
        use_service_account_credentials=args.use_service_account_credentials,
        cluster_signing_cert_file=args.cluster_signing_cert_file,
        cluster_signing_key_file=args.cluster_signing_key_file,
        cluster_signing_duration=args.cluster_signing_duration,
        election=leader_election.flags_from(args),
        allocate_node_cidrs=args.allocate_node_cidrs,
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
    )


def _switch(value: str) -> bool:
    """A Go boolean flag's value (strconv.ParseBool): `--flag=false` turns a default-on one off."""
    lowered = value.strip().lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


def warn_once() -> Callable[[str], None]:
    """A warning handler that logs each distinct warning once: the Endpoints controller is
    told on every write that v1 Endpoints is deprecated, which says nothing new after the first."""
    seen: set[str] = set()

    def handle(message: str) -> None:
        if message not in seen:
            seen.add(message)
            log.warning("%s", message)

    return handle


def die_with_parent() -> None:
    """End this process with SIGTERM when the server that started it ends."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    # The parent may have ended before prctl took effect: then no signal will come.
    if os.getppid() != int(parent):
        sys.exit(0)


def _signing_config(flags: ControlPlaneFlags) -> ClusterSigningConfig | None:
    """The csrsigning controller's CA, when both files were given (Kubernetes skips the
    controller, with a log line, when they are not)."""
    if not (flags.cluster_signing_cert_file and flags.cluster_signing_key_file):
        log.info("no --cluster-signing-cert-file/--cluster-signing-key-file: csrsigning is off")
        return None
    from kubelite.controllers.csrsigning import ClusterSigningConfig

    return ClusterSigningConfig(
        Path(flags.cluster_signing_cert_file),
        Path(flags.cluster_signing_key_file),
        dt.timedelta(seconds=flags.cluster_signing_duration),
    )


def _node_ipam_config(flags: ControlPlaneFlags) -> NodeIpamConfig | None:
    """node-ipam-controller's settings, or None when --allocate-node-cidrs is off; a bad
    --cluster-cidr or --node-cidr-mask-size stops the control plane, as it stops
    kube-controller-manager."""
    if not flags.allocate_node_cidrs:
        log.info("--allocate-node-cidrs is off: node-ipam-controller does not run")
        return None
    from kubelite.controllers.cidrset import CIDRSetError
    from kubelite.controllers.nodeipam import NodeIpamConfig

    config = NodeIpamConfig(flags.cluster_cidr, flags.node_cidr_mask_size)
    try:
        config.cidr_set()
    except CIDRSetError as e:
        raise SystemExit(f"kubelite control-plane: {e}") from None
    return config


async def serve(flags: ControlPlaneFlags) -> None:
    # Imported here: the other commands need none of this.
    from prometheus_client import CollectorRegistry

    from kubelite.cli.cluster import control_plane_http
    from kubelite.cli.cluster.delegated_auth import DelegatedAuth
    from kubelite.client import workqueue_metrics
    from kubelite.controllers.credentials import ServiceAccountCredentials
    from kubelite.controllers.manager import ControllerManager
    from kubelite.scheduler.scheduler import Scheduler

    config = load_config(kubeconfig=flags.kubeconfig, context=flags.context)
    # Before any controller makes its work queue: the queues record into this registry.
    registry = CollectorRegistry()
    workqueue_metrics.enable(registry)
    # One list+watch per resource for the whole process: the controllers and the scheduler
    # share the manager's informers (the controllers ask first: they want full objects).
    manager_client = APIClient(
        config, user_agent="kubelite-controller-manager", warning_handler=warn_once()
    )
    elections = leader_election.Elections(flags.election)
    # /metrics callers are authenticated and authorized by the API server, as
    # kube-controller-manager's delegated authentication and authorization do.
    http = await control_plane_http.serve(
        flags.bind_address,
        flags.secure_port,
        registry,
        auth=DelegatedAuth(manager_client),
        client_ca=config.certificate_authority_data,
        checks={"leaderElection": elections.health},
    )
    controllers = ControllerManager(
        manager_client,
        node_lifecycle=flags.node_lifecycle,
        pod_gc=flags.pod_gc,
        disable_servicelb=flags.disable_servicelb,
        credentials=(
            ServiceAccountCredentials(manager_client)
            if flags.use_service_account_credentials
            else None
        ),
        signing=_signing_config(flags),
        node_ipam=_node_ipam_config(flags),
    )
    tasks: list[asyncio.Task[None]] = []
    scheduler_client = None
    scheduler = None
    if not flags.disable_scheduler:
        scheduler_config = (
            load_config(kubeconfig=flags.scheduler_kubeconfig)
            if flags.scheduler_kubeconfig
            else config
        )
        # The scheduler writes as itself (bindings, pod conditions, events); it reads through
        # the manager's informers, which may list and watch everything.
        scheduler_client = APIClient(scheduler_config, user_agent="kubelite-scheduler")
        scheduler = Scheduler(scheduler_client, informers=controllers.informers)

    async def run_controllers() -> None:
        await controllers.prepare()
        controllers.start()
        try:
            await asyncio.Event().wait()
        finally:
            # Before the Lease is released: no controller may act once another can lead.
            await controllers.stop()

    # Each component acts only while this process holds its Lease (kube-controller-manager
    # and kube-scheduler each elect on their own); informers start with the component.
    tasks.append(
        asyncio.create_task(
            elections.guard(
                leader_election.CONTROLLER_MANAGER_LEASE,
                config,
                user_agent="kubelite-controller-manager",
                component="kube-controller-manager",
                work=run_controllers,
            ),
            name="controller-manager",
        )
    )
    if scheduler is not None:
        tasks.append(
            asyncio.create_task(
                elections.guard(
                    leader_election.SCHEDULER_LEASE,
                    scheduler_client.config if scheduler_client is not None else config,
                    user_agent="kubelite-scheduler",
                    component=scheduler.name,
                    work=scheduler.run,
                ),
                name="scheduler",
            )
        )
    stop = stop_on_signals()
    lost: list[LeaderElectionLost] = []

    def ended(task: asyncio.Task[None]) -> None:
        # A component that stops on its own is broken, and one that lost its Lease must stop
        # (kube-scheduler and kube-controller-manager exit: "leaderelection lost"): end the
        # process, so that the server starts a whole new one that contends again.
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, LeaderElectionLost):
            log.error("leaderelection lost: %s; the control plane stops", error.lease)
            lost.append(error)
        else:
            log.error("%s ended: %r; the control plane stops", task.get_name(), error)
        stop.set()

    for task in tasks:
        task.add_done_callback(ended)
    try:
        await stop.wait()
    finally:
        # The scheduler first: it reads through the controller manager's informers.
        for task in reversed(tasks):
            task.cancel()
            # A task that failed has said so in `ended`; its error must not stop the others'
            # shutdown.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # /metrics first: its callers are checked through the manager's client.
        if http is not None:
            await http.cleanup()
        if scheduler_client is not None:
            await scheduler_client.close()
        await controllers.stop()
        await elections.close()
    if lost:
        raise lost[0]


def run(args: argparse.Namespace) -> int:
    die_with_parent()
    flags = flags_from(args)
    # Checked before anything starts: a wrong range stops the control plane at once.
    _node_ipam_config(flags)
    problems = leader_election.problems(flags.election)
    if problems:
        return flag_error("; ".join(problems))
    return run_component(serve(flags), fails_on=(ConfigError, LeaderElectionLost))
