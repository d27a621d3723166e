"""The `kubelite` command: one entry point with thin sub-commands, as k3s has.

The sub-commands come in two kinds, one package each: `cluster/` runs and tends the cluster on
this machine (the long-running server, agent, scheduler and proxy, and the node tools `reset`
and `image`), `kubectl/` talks to an API server as kubectl does. `kubelite --help` lists them in
those two sections; the children `kubelite server` starts for itself (the controllers and the
cluster DNS) are left out of it, and run as any other command when spawned.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from kubelite.cli.cluster import (
    agent,
    cluster_dns,
    control_plane,
    daemon,
    etcd_snapshot,
    hollow_nodes,
    image,
    kubeconfig,
    proxy,
    reset,
    scheduler,
    secrets_encrypt,
    server,
)
from kubelite.cli.kubectl import (
    apply,
    create,
    delete,
    describe,
    events,
    exec_command,
    get,
    kuberc,
    logs,
    resources,
    version,
)


@dataclass(frozen=True)
class Command:
    """One sub-command: how it declares its flags, what runs it, its line in `kubelite --help`."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    # Only `kubelite server` starts it: it stays off `kubelite --help`, not off the parser.
    internal: bool = False


def _module_command(name: str, module: ModuleType, help_text: str, **kwargs: bool) -> Command:
    """A command whose module has `add_arguments(parser)` and `run(args)`, as most have."""
    return Command(name, help_text, module.add_arguments, module.run, **kwargs)


def _add_stop_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=str(server.DEFAULT_DATA_DIR))


# The commands that run the cluster on this machine, or tend the node it leaves behind.
CLUSTER_COMMANDS = (
    _module_command("server", server, "run a single-node cluster"),
    # `start` and `stop` wrap `server` (`start` takes its flags) in the background.
    Command(
        "start",
        "run `kubelite server` in the background and wait until it is ready",
        server.add_arguments,
        daemon.start,
    ),
    Command(
        "stop", "stop a server started with `kubelite start`", _add_stop_arguments, daemon.stop
    ),
    _module_command("agent", agent, "run a node: the kubelet and its container runtime"),
    _module_command("scheduler", scheduler, "run the scheduler on its own against an API server"),
    _module_command(
        "proxy", proxy, "run the node's service proxy (nftables) on its own against an API server"
    ),
    _module_command(
        "hollow-nodes",
        hollow_nodes,
        "simulate nodes (no containers) for scale tests, as kubemark does",
    ),
    _module_command(
        "control-plane",
        control_plane,
        "run the controllers and the scheduler (what `kubelite server` starts beside it)",
        internal=True,
    ),
    _module_command(
        "cluster-dns",
        cluster_dns,
        "run the cluster DNS server (what `kubelite server` starts beside it)",
        internal=True,
    ),
    _module_command(
        "reset", reset, "tear the node down: remove its pods' containers, mounts and network"
    ),
    _module_command("image", image, "pull, list, inspect, remove, import, export and push images"),
    _module_command(
        "etcd-snapshot",
        etcd_snapshot,
        "save, list, delete, prune or restore snapshots of the server's embedded etcd",
    ),
    _module_command(
        "kubeconfig",
        kubeconfig,
        "issue a kubeconfig for a user and groups, signed by the cluster CA",
    ),
    _module_command(
        "secrets-encrypt",
        secrets_encrypt,
        "show or rotate the keys Secrets are encrypted with at rest (status, rotate-keys, "
        "reencrypt)",
    ),
)

# The kubectl-like commands.
KUBECTL_COMMANDS = (
    _module_command("apply", apply, "apply a configuration to resources from files or stdin"),
    _module_command("create", create, "create resources from files or stdin"),
    _module_command("describe", describe, "show details of a resource or group of resources"),
    _module_command(
        "delete", delete, "delete resources by file names, stdin, resources and names, or label"
    ),
    _module_command("events", events, "list events"),
    _module_command("exec", exec_command, "execute a command in a container"),
    _module_command("logs", logs, "print the logs for a container in a pod"),
    _module_command("get", get, "display one or many resources"),
    _module_command("api-resources", resources, "print the supported API resources on the server"),
    _module_command("version", version, "print the client and server version information"),
)

# The width `kubelite --help` wraps its command sections to, as argparse's default is.
HELP_WIDTH = 80


def _section(title: str, commands: tuple[Command, ...], indent: int) -> str:
    """A section of `kubelite --help`: a title and a `name  help` row per public command, the
    help starting at column `indent`."""
    shown = [c for c in commands if not c.internal]
    lines = [f"{title}:"]
    for command in shown:
        wrapped = textwrap.wrap(command.help, HELP_WIDTH - indent)
        lines.append(f"  {command.name:<{indent - 2}}{wrapped[0]}")
        lines += [" " * indent + more for more in wrapped[1:]]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    everything = CLUSTER_COMMANDS + KUBECTL_COMMANDS
    indent = 2 + max(len(c.name) for c in everything if not c.internal) + 2
    cluster = "cluster commands (run and tend the cluster on this machine)"
    kubectl = "kubectl-like commands (talk to an API server)"
    overview = "\n\n".join(
        (
            "Kubernetes' Pod machinery, in Python.",
            _section(cluster, CLUSTER_COMMANDS, indent),
            _section(kubectl, KUBECTL_COMMANDS, indent),
        )
    )
    parser = argparse.ArgumentParser(
        prog="kubelite",
        usage="%(prog)s [-h] COMMAND ...",
        description=overview,
        epilog="Run `kubelite COMMAND --help` for a command's flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The description lists the commands by section; argparse's own list would repeat them all,
    # the internal ones too.
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", help=argparse.SUPPRESS, prog=parser.prog
    )
    for command in everything:
        command_parser = commands.add_parser(command.name)
        command.add_arguments(command_parser)
        command_parser.set_defaults(run=command.run)
    return parser


def command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    parsers = command_parsers(parser)
    kubectl_names = {c.name for c in KUBECTL_COMMANDS}
    try:
        # The user's kuberc: aliases and default flag values of the kubectl-like commands.
        argv = kuberc.apply(
            argv,
            {name: p for name, p in parsers.items() if name in kubectl_names},
            set(parsers),
            _warn,
        )
    except kuberc.KubercError as e:
        print(f"error occurred while applying preferences {e}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    if args.command in argv:
        # `kubelite start` hands its own flags on to the server it starts.
        args.server_argv = argv[argv.index(args.command) + 1 :]
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
