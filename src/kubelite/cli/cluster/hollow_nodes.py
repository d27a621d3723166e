"""`kubelite hollow-nodes`: simulated nodes for scale tests without machines.

Like kubemark's hollow nodes and KWOK, it registers `--count` nodes with the capacity given,
keeps their leases and status fresh at the cost real kubelets pay, and moves the pods bound to
them to Running, all from one process that talks to the API server over HTTP. The flags are
filled into a `HollowConfig` (each also read from a `KUBELITE_HOLLOW_*` environment variable),
checked here, and handed to `kubelite.hollow.runner`.

    kubelite hollow-nodes --count 100 --kubeconfig ~/.kube/config \\
        --cpu 8 --memory 32Gi --label topology.kubernetes.io/zone=zone-a
"""

from __future__ import annotations

import argparse
import sys

from kubelite.api.quantity import QuantityError, parse_quantity
from kubelite.cli.cluster.service import flag_error, run_component
from kubelite.cli.flags import HOLLOW_ENV, add_kubeconfig_flags
from kubelite.client.errors import APIConnectionError, APIError
from kubelite.client.kubeconfig import ConfigError
from kubelite.hollow import nodes
from kubelite.hollow.heartbeats import NodeNameTaken
from kubelite.hollow.runner import DEFAULT_NAME_PREFIX, HollowConfig, serve

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class FlagError(ValueError):
    """A flag value that cannot be used; the message names the flag."""


_env = HOLLOW_ENV


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--count",
        type=int,
        default=int(_env("COUNT", "0")),
        help="how many nodes to simulate (required)",
    )
    add_kubeconfig_flags(parser, _env)
    parser.add_argument(
        "--name-prefix",
        default=_env("NAME_PREFIX", DEFAULT_NAME_PREFIX),
        help="node names are the prefix and a number (default %(default)s)",
    )
    parser.add_argument(
        "--first-index",
        type=int,
        default=int(_env("FIRST_INDEX", "0")),
        help="number of the first node, to run several processes side by side (default 0)",
    )
    parser.add_argument("--cpu", default=_env("CPU", "32"), help="cpu capacity (default 32)")
    parser.add_argument(
        "--memory", default=_env("MEMORY", "256Gi"), help="memory capacity (default 256Gi)"
    )
    parser.add_argument(
        "--pods",
        type=int,
        default=int(_env("PODS", str(nodes.DEFAULT_MAX_PODS))),
        help="pods per node, the kubelet's --max-pods (default %(default)s)",
    )
    parser.add_argument(
        "--ephemeral-storage",
        default=_env("EPHEMERAL_STORAGE", "100Gi"),
        help="ephemeral-storage capacity (default 100Gi)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra node label, e.g. topology.kubernetes.io/zone=a (repeatable)",
    )
    parser.add_argument(
        "--taint",
        action="append",
        default=[],
        metavar="KEY[=VALUE]:EFFECT",
        help="a node taint, e.g. dedicated=gpu:NoSchedule (repeatable; none by default)",
    )
    parser.add_argument(
        "--lease-duration-seconds",
        type=int,
        default=int(_env("LEASE_DURATION_SECONDS", "40")),
        help="the kubelet's nodeLeaseDurationSeconds; leases are renewed every quarter of it "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--delete-on-exit",
        action="store_true",
        default=_env.flag("DELETE_ON_EXIT"),
        help="delete the nodes and their leases when stopped",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log each failed heartbeat, not a summary"
    )


def _quantity(flag: str, value: str) -> str:
    try:
        quantity = parse_quantity(value)
    except QuantityError as e:
        raise FlagError(f"{flag} {value!r}: {e}") from e
    if quantity.sign() <= 0:
        raise FlagError(f"{flag} {value!r}: must be greater than zero")
    return str(quantity)


def _labels(values: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, sep, label = value.partition("=")
        if not sep or not key:
            raise FlagError(f"--label {value!r}: expected KEY=VALUE")
        labels[key] = label
    return labels


def _taints(values: list[str]) -> list[dict[str, str]]:
    """`key=value:Effect` or `key:Effect`, as `kubectl taint` writes them."""
    taints = []
    for value in values:
        spec, sep, effect = value.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise FlagError(
                f"--taint {value!r}: expected KEY[=VALUE]:EFFECT, EFFECT one of "
                + ", ".join(TAINT_EFFECTS)
            )
        key, _, taint_value = spec.partition("=")
        if not key:
            raise FlagError(f"--taint {value!r}: the key is empty")
        taint = {"key": key, "effect": effect}
        if taint_value:
            taint["value"] = taint_value
        taints.append(taint)
    return taints


def config_from(args: argparse.Namespace) -> HollowConfig:
    """The command's configuration, checked; FlagError names the first bad flag."""
    if args.count <= 0:
        raise FlagError("--count must be given and greater than zero")
    if args.pods <= 0:
        raise FlagError("--pods must be greater than zero")
    if args.first_index < 0:
        raise FlagError("--first-index must not be negative")
    room = nodes.node_capacity_limit(args.pods)
    if args.first_index + args.count > room:
        raise FlagError(
            f"--count {args.count}: the simulated address ranges have room for {room} nodes "
            f"of {args.pods} pods"
        )
    if args.lease_duration_seconds < 4:
        raise FlagError("--lease-duration-seconds must be at least 4")
    return HollowConfig(
        count=args.count,
        kubeconfig=args.kubeconfig,
        context=args.context,
        name_prefix=args.name_prefix,
        first_index=args.first_index,
        cpu=_quantity("--cpu", args.cpu),
        memory=_quantity("--memory", args.memory),
        pods=args.pods,
        ephemeral_storage=_quantity("--ephemeral-storage", args.ephemeral_storage),
        labels=_labels(args.label),
        taints=_taints(args.taint),
        lease_duration_seconds=args.lease_duration_seconds,
        delete_on_exit=args.delete_on_exit,
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from(args)
    except FlagError as e:
        return flag_error(str(e))

    def ready() -> None:
        print(f"{config.count} hollow nodes registered ({config.name_prefix}*)", flush=True)

    try:
        return run_component(
            serve(config, ready),
            fails_on=(ConfigError, APIConnectionError, NodeNameTaken),
            verbose=args.verbose,
        )
    except APIError as e:
        print(f"Error from server ({e.reason}): {e.message}", file=sys.stderr)
        return 1
