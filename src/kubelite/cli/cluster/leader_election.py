"""The --leader-elect* flags of `kubelite control-plane` and `kubelite scheduler`, and the
identity a server's own control plane holds its Leases as.

The flags are kube-scheduler's and kube-controller-manager's (component-base's
BindLeaderElectionFlags), with their defaults: on, 15 s lease, 10 s renew deadline, 2 s retry.

**Identity.** Kubernetes' components hold a Lease as `<hostname>_<random uuid>`, new at every
start; a restarted component then waits for its own old Lease to expire (up to 15 s) like any
other candidate. A standalone `kubelite control-plane` or `kubelite scheduler` does the same.
The control plane that `kubelite server` runs as its child is instead given
`<node name>_<uuid kept in the data dir>` (`server_identity`): the same for every start of that
server, so a child restarted after a crash, or after `kubelite stop`/`start` or a SIGKILLed
server, finds its own identity in the Lease and takes it back at once (client-go treats a Lease
whose holder is itself as held). That is safe because one server never runs two control-plane
children at once (`supervisor.Supervised` starts the next only after the last has exited), and
two servers never share a data dir. A clean stop also releases the Leases (ReleaseOnCancel), so
another server's control plane takes over at its next try.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.cli.cluster import durations
from kubelite.cli.flags import Env
from kubelite.client.api import APIClient
from kubelite.client.events import EventRecorder
from kubelite.client.kubeconfig import ClientConfig
from kubelite.client.leaderelection import (
    LEASE_DURATION,
    LEASE_NAMESPACE,
    RENEW_DEADLINE,
    RETRY_PERIOD,
    LeaderElector,
    LeaseLock,
    Timings,
    default_identity,
    lease_client,
)

# The Leases of kube-controller-manager and kube-scheduler (--leader-elect-resource-name).
CONTROLLER_MANAGER_LEASE = "kube-controller-manager"
SCHEDULER_LEASE = "kube-scheduler"

# Where a server keeps the stable half of its control plane's identity.
IDENTITY_FILE = "control-plane-id"
# strconv.ParseBool, which pflag's bool flags use.
_TRUE = frozenset(("1", "t", "T", "true", "TRUE", "True"))
_FALSE = frozenset(("0", "f", "F", "false", "FALSE", "False"))


def parse_bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


@dataclass(frozen=True)
class LeaderElectionFlags:
    """Whether to elect, with which durations, and as whom ("" for `<hostname>_<uuid>`)."""

    leader_elect: bool = True
    timings: Timings = field(default_factory=Timings)
    identity: str = ""
    resource_namespace: str = LEASE_NAMESPACE

    def holder_identity(self) -> str:
        return self.identity or default_identity()


def add_arguments(parser: argparse.ArgumentParser, env: Env) -> None:
    parser.add_argument(
        "--leader-elect",
        type=parse_bool,
        nargs="?",
        const=True,
        default=parse_bool(env("LEADER_ELECT", "true")),
        help="run only while holding a Lease in kube-system, for several copies of this "
        "component against one cluster (default true; --leader-elect=false to turn off)",
    )
    parser.add_argument(
        "--leader-elect-lease-duration",
        type=durations.argument,
        default=env("LEADER_ELECT_LEASE_DURATION", f"{LEASE_DURATION:g}s"),
        help="how long a candidate waits after the leader's last renewal before it may take "
        "over (default 15s)",
    )
    parser.add_argument(
        "--leader-elect-renew-deadline",
        type=durations.argument,
        default=env("LEADER_ELECT_RENEW_DEADLINE", f"{RENEW_DEADLINE:g}s"),
        help="how long the leader tries to renew before it stops leading (default 10s)",
    )
    parser.add_argument(
        "--leader-elect-retry-period",
        type=durations.argument,
        default=env("LEADER_ELECT_RETRY_PERIOD", f"{RETRY_PERIOD:g}s"),
        help="how long candidates wait between tries to acquire or renew (default 2s)",
    )
    parser.add_argument(
        "--leader-elect-resource-namespace",
        default=env("LEADER_ELECT_RESOURCE_NAMESPACE", LEASE_NAMESPACE),
        help="namespace of the Leases (default %(default)s)",
    )
    # Set by `kubelite server` for its own child (see the module docstring); not Kubernetes'.
    parser.add_argument(
        "--leader-elect-identity",
        default=env("LEADER_ELECT_IDENTITY", ""),
        help=argparse.SUPPRESS,
    )


def flags_from(args: argparse.Namespace) -> LeaderElectionFlags:
    return LeaderElectionFlags(
        leader_elect=args.leader_elect,
        timings=Timings(
            lease_duration=args.leader_elect_lease_duration,
            renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        ),
        identity=args.leader_elect_identity,
        resource_namespace=args.leader_elect_resource_namespace,
    )


def problems(flags: LeaderElectionFlags) -> list[str]:
    """What the component refuses to start with (NewLeaderElector's checks)."""
    if not flags.leader_elect:
        return []
    return [f"leader election: {p}" for p in flags.timings.problems()]


def server_identity(data_dir: Path, node_name: str) -> str:
    """`<node name>_<uuid>`, the uuid made once and kept in the data dir: one server's control
    plane is the same candidate across restarts."""
    path = data_dir / IDENTITY_FILE
    try:
        stable = path.read_text().strip()
    except FileNotFoundError:
        stable = ""
    if not stable:
        stable = str(uuid.uuid4())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(stable + "\n")
        os.replace(tmp, path)
    return f"{node_name}_{stable}"


class Elections:
    """The Leases one process contends for, each guarding one component (`kubelite
    control-plane` holds two: the controller manager's and the scheduler's, as two
    Kubernetes processes would)."""

    def __init__(self, flags: LeaderElectionFlags) -> None:
        self.flags = flags
        self.identity = flags.holder_identity()
        self.electors: dict[str, LeaderElector] = {}
        self._clients: list[APIClient] = []

    def guard(
        self,
        lease: str,
        config: ClientConfig,
        *,
        user_agent: str,
        component: str,
        work: Callable[[], Coroutine[Any, Any, None]],
    ) -> Coroutine[Any, Any, None]:
        """`work`, started only once this process holds `lease` and cancelled when it loses it
        (LeaderElectionLost); at once and unguarded with --leader-elect=false. `component`
        is the source of the `LeaderElection` Events on the Lease."""
        if not self.flags.leader_elect:
            return work()
        client = lease_client(config, user_agent, self.flags.timings)
        self._clients.append(client)
        lock = LeaseLock(
            client,
            lease,
            self.identity,
            namespace=self.flags.resource_namespace,
            recorder=EventRecorder(client, component),
        )
        elector = LeaderElector(lock, self.flags.timings)
        self.electors[lease] = elector
        return elector.run(work)

    def health(self) -> str | None:
        """/healthz's `leaderElection` check: why it fails, or None."""
        for elector in self.electors.values():
            problem = elector.check()
            if problem:
                return problem
        return None

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
