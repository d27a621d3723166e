"""The `kubelite` command: one entry point with thin sub-commands, as k3s has."""

from __future__ import annotations

import argparse
import sys

from kubelite.cli import (
    agent,
    apply,
    cluster_dns,
    control_plane,
    create,
    daemon,
    delete,
    describe,
    events,
    exec_command,
    get,
    hollow_nodes,
    image,
    logs,
    proxy,
    reset,
    resources,
    scheduler,
    server,
    version,
)

# The kubectl-like commands: (name, module, help). Each module has add_arguments and run.
KUBECTL_COMMANDS = (
    ("apply", apply, "apply a configuration to resources from files or stdin"),
    ("create", create, "create resources from files or stdin"),
    ("describe", describe, "show details of a resource or group of resources"),
    ("delete", delete, "delete resources by file names, stdin, resources and names, or label"),
    ("events", events, "list events"),
    ("exec", exec_command, "execute a command in a container"),
    ("logs", logs, "print the logs for a container in a pod"),
    ("get", get, "display one or many resources"),
    ("api-resources", resources, "print the supported API resources on the server"),
    ("version", version, "print the client and server version information"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubelite", description="Kubernetes' Pod machinery, in Python."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    server_parser = commands.add_parser("server", help="run a single-node cluster")
    server.add_arguments(server_parser)
    server_parser.set_defaults(run=server.run)
    start_parser = commands.add_parser(
        "start", help="run `kubelite server` in the background and wait until it is ready"
    )
    server.add_arguments(start_parser)
    start_parser.set_defaults(run=daemon.start)
    stop_parser = commands.add_parser("stop", help="stop a server started with `kubelite start`")
    stop_parser.add_argument("--data-dir", default=str(server.DEFAULT_DATA_DIR))
    stop_parser.set_defaults(run=daemon.stop)
    hollow_parser = commands.add_parser(
        "hollow-nodes", help="simulate nodes (no containers) for scale tests, as kubemark does"
    )
    hollow_nodes.add_arguments(hollow_parser)
    hollow_parser.set_defaults(run=hollow_nodes.run)
    control_parser = commands.add_parser(
        "control-plane",
        help="run the controllers and the scheduler (what `kubelite server` starts beside it)",
    )
    control_plane.add_arguments(control_parser)
    control_parser.set_defaults(run=control_plane.run)
    dns_parser = commands.add_parser(
        "cluster-dns",
        help="run the cluster DNS server (what `kubelite server` starts beside it)",
    )
    cluster_dns.add_arguments(dns_parser)
    dns_parser.set_defaults(run=cluster_dns.run)
    scheduler_parser = commands.add_parser(
        "scheduler", help="run the scheduler on its own against an API server"
    )
    scheduler.add_arguments(scheduler_parser)
    scheduler_parser.set_defaults(run=scheduler.run)
    agent_parser = commands.add_parser(
        "agent", help="run a node: the kubelet and its container runtime"
    )
    agent.add_arguments(agent_parser)
    agent_parser.set_defaults(run=agent.run)
    proxy_parser = commands.add_parser(
        "proxy", help="run the node's service proxy (nftables) on its own against an API server"
    )
    proxy.add_arguments(proxy_parser)
    proxy_parser.set_defaults(run=proxy.run)
    reset_parser = commands.add_parser(
        "reset", help="tear the node down: remove its pods' containers, mounts and network"
    )
    reset.add_arguments(reset_parser)
    reset_parser.set_defaults(run=reset.run)
    image_parser = commands.add_parser(
        "image", help="pull, list, inspect, remove, import, export and push images"
    )
    image.add_arguments(image_parser)
    image_parser.set_defaults(run=image.run)
    for name, module, help_text in KUBECTL_COMMANDS:
        command_parser = commands.add_parser(name, help=help_text)
        module.add_arguments(command_parser)
        command_parser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
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
