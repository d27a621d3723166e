"""`kubelite scheduler`: the scheduler on its own, against any API server.

`kubelite server` runs the same scheduler in its own process unless `--disable-scheduler`;
this command is for running it apart (on another core, or against another cluster). Flags fill a
`SchedulerFlags` (each also read from a `KUBELITE_SCHEDULER_*` environment variable); the action
checks them and hands over to `kubelite.scheduler.scheduler`.

    kubelite scheduler --kubeconfig /var/lib/kubelite/kubeconfig.yaml
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from kubelite.api.defaulting.pods import DEFAULT_SCHEDULER_NAME
from kubelite.cli.cluster.service import flag_error, run_component, run_until_signalled
from kubelite.cli.flags import SCHEDULER_ENV, add_kubeconfig_flags
from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import load_config


@dataclass
class SchedulerFlags:
    """What `kubelite scheduler` was asked for: which API server, the scheduler name it answers to,
    and how many nodes it scores."""

    kubeconfig: str | None
    context: str | None
    scheduler_name: str
    percentage_of_nodes_to_score: int


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


def flags_from(args: argparse.Namespace) -> SchedulerFlags:
    return SchedulerFlags(
        kubeconfig=args.kubeconfig,
        context=args.context,
        scheduler_name=args.scheduler_name,
        percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
    )


async def serve(flags: SchedulerFlags) -> None:
    # Imported here: the other commands need none of the scheduler.
    from kubelite.scheduler.scheduler import Scheduler

    config = load_config(kubeconfig=flags.kubeconfig, context=flags.context)
    async with APIClient(config, user_agent="kubelite-scheduler") as client:
        scheduler = Scheduler(
            client,
            scheduler_name=flags.scheduler_name,
            percentage_of_nodes_to_score=flags.percentage_of_nodes_to_score,
        )
        await run_until_signalled(scheduler.run(), "scheduler")


def run(args: argparse.Namespace) -> int:
    flags = flags_from(args)
    if not 0 <= flags.percentage_of_nodes_to_score <= 100:
        return flag_error(
            f"--percentage-of-nodes-to-score {flags.percentage_of_nodes_to_score} "
            "is not between 0 and 100"
        )
    return run_component(serve(flags))
