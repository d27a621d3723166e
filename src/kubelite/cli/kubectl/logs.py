"""`kubelite logs`: a container's log, as `kubectl logs` prints it.

The API server's `pods/log` does the work (it asks the pod's kubelet); this command names the
container (the only one, else `-c`, else kubectl's default-container annotation), passes the
options on, and copies the text to stdout as it arrives, which with `-f` lasts until the
container stops.
"""

from __future__ import annotations

import argparse
import sys

from kubelite.api.resources import PODS
from kubelite.cli.kubectl.kubectl_args import CommandError, Session, add_global_flags, run_command

# kubectl's annotation naming the container `logs` and `exec` use when none is given.
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pod", help="the pod's name")
    parser.add_argument("-c", "--container", default="", help="the container's name")
    parser.add_argument("-f", "--follow", action="store_true", help="stream the log")
    parser.add_argument("-p", "--previous", action="store_true", help="the previous instance")
    parser.add_argument("--tail", type=int, default=-1, help="only the last N lines")
    parser.add_argument("--timestamps", action="store_true", help="prefix each line's time")
    parser.add_argument("--since", default="", help="only newer lines: 10s, 5m, 1h")
    parser.add_argument("--limit-bytes", type=int, default=0, help="at most this many bytes")
    add_global_flags(parser)


def _seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    if not text or text[-1] not in units or not text[:-1].isdigit():
        raise CommandError(f'invalid argument "{text}" for "--since" flag: use 10s, 5m or 1h')
    return int(text[:-1]) * units[text[-1]]


async def choose_container(session: Session, pod_name: str, wanted: str) -> str:
    """The container a command without `-c` means, as kubectl chooses it."""
    if wanted:
        return wanted
    pod = await session.client.get(PODS, pod_name, namespace=session.namespace)
    names = [c["name"] for c in pod["spec"]["containers"]]
    annotated = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        DEFAULT_CONTAINER_ANNOTATION
    )
    if annotated in names:
        return str(annotated)
    if len(names) > 1:
        print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
    return str(names[0])


async def _logs(session: Session, args: argparse.Namespace) -> int:
    container = await choose_container(session, args.pod, args.container)
    params = {"container": container}
    if args.follow:
        params["follow"] = "true"
    if args.previous:
        params["previous"] = "true"
    if args.tail >= 0:
        params["tailLines"] = str(args.tail)
    if args.timestamps:
        params["timestamps"] = "true"
    if args.since:
        params["sinceSeconds"] = str(_seconds(args.since))
    if args.limit_bytes > 0:
        params["limitBytes"] = str(args.limit_bytes)
    path = PODS.path(namespace=session.namespace, name=args.pod, subresource="log")
    async for chunk in session.client.stream(path, params=params):
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    return run_command(args, lambda session: _logs(session, args))
