"""`kubelite scheduler`: the scheduler on its own, against any API server.

`kubelite server` runs the same scheduler in its own process unless `--disable-scheduler`;
this command is for running it apart (on another core, or against another cluster). Flags fill a
`SchedulerFlags` (each also read from a `KUBELITE_SCHEDULER_*` environment variable); the action
checks them and hands over to `kubelite.scheduler.scheduler`. As kube-scheduler, it schedules only
while it holds the `kube-system/kube-scheduler` Lease (--leader-elect, on by default; give a
second scheduler its own --leader-elect-resource-name) and exits when it loses it.

    kubelite scheduler --kubeconfig /var/lib/kubelite/kubeconfig.yaml
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from kubelite.api.defaulting.pods import DEFAULT_SCHEDULER_NAME
from kubelite.cli.cluster import leader_election
from kubelite.cli.cluster.service import flag_error, run_component, run_until_signalled
from kubelite.cli.flags import SCHEDULER_ENV, add_kubeconfig_flags
from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import ConfigError, load_config
from kubelite.client.leaderelection import LeaderElectionLost


@dataclass
class SchedulerFlags:
    """What `kubelite scheduler` was asked for: which API server, the scheduler name it answers to,
    and how many nodes it scores."""

    kubeconfig: str | None
    context: str | None
    scheduler_name: str
    percentage_of_nodes_to_score: int
    # --leader-elect*: schedule only while holding --leader-elect-resource-name's Lease.
    election: leader_election.LeaderElectionFlags = field(
        default_factory=leader_election.LeaderElectionFlags
    )
    lease_name: str = leader_election.SCHEDULER_LEASE


_env = SCHEDULER_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_flags(parser, _env)
    parser.add_argument(
        "--scheduler-name",
        default=_env("NAME", DEFAULT_SCHEDULER_NAME),
        help="schedule pods whose spec.schedulerName is this (default %(default)s)",
    )
    parser.add_argument(
        "--percentage-of-nodes-to-score",
        type=int,
        default=int(_env("PERCENTAGE_OF_NODES_TO_SCORE", "0")),
        help="share of nodes to find feasible before scoring; 0 adapts to the cluster's size "
        "as kube-scheduler does (default %(default)s)",
    )
    leader_election.add_arguments(parser, _env)
    parser.add_argument(
        "--leader-elect-resource-name",
        default=_env("LEADER_ELECT_RESOURCE_NAME", leader_election.SCHEDULER_LEASE),
        help="name of the Lease (default %(default)s; another name for a second scheduler "
        "that must not wait for the first)",
    )


def flags_from(args: argparse.Namespace) -> SchedulerFlags:
    return SchedulerFlags(
        kubeconfig=args.kubeconfig,
        context=args.context,
        scheduler_name=args.scheduler_name,
        percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
        election=leader_election.flags_from(args),
        lease_name=args.leader_elect_resource_name,
    )


async def serve(flags: SchedulerFlags) -> None:
    # Imported here: the other commands need none of the scheduler.
    from kubelite.scheduler.scheduler import Scheduler

    config = load_config(kubeconfig=flags.kubeconfig, context=flags.context)
    elections = leader_election.Elections(flags.election)
    async with APIClient(config, user_agent="kubelite-scheduler") as client:
        scheduler = Scheduler(
            client,
            scheduler_name=flags.scheduler_name,
            percentage_of_nodes_to_score=flags.percentage_of_nodes_to_score,
        )
        # It schedules only while it holds the Lease, and exits when it loses it, as
        # kube-scheduler does; a SIGTERM releases the Lease after scheduling has stopped.
        guarded = elections.guard(
            flags.lease_name,
            config,
            user_agent="kubelite-scheduler",
            component=flags.scheduler_name,
            work=scheduler.run,
        )
        try:
            await run_until_signalled(guarded, "scheduler")
        finally:
            await elections.close()


def run(args: argparse.Namespace) -> int:
    flags = flags_from(args)
    if not 0 <= flags.percentage_of_nodes_to_score <= 100:
        return flag_error(
            f"--percentage-of-nodes-to-score {flags.percentage_of_nodes_to_score} "
            "is not between 0 and 100"
        )
    problems = leader_election.problems(flags.election)
    if problems:
        return flag_error("; ".join(problems))
    return run_component(serve(flags), fails_on=(ConfigError, LeaderElectionLost))
