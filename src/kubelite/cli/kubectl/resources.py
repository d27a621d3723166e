"""`kubelite api-resources`: the resources the server serves, as `kubectl api-resources` lists
them: the preferred version of each group, sorted by group and then by name (or by
`--sort-by name|kind`), with their short names, scope and kind; `-o wide` adds verbs and
categories, `-o name` prints `deployments.apps` style names only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from kubelite.cli import output
from kubelite.cli.kubectl.kubectl_args import CommandError, Session, add_global_flags, run_command
from kubelite.client import Resource


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")
    return text.lower() == "true"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespaced",
        type=_bool,
        nargs="?",
        const=True,
        default=None,
        help="only namespaced (true) or cluster-scoped (false) resources",
    )
    parser.add_argument("--api-group", default=None, help="only resources of this group")
    parser.add_argument(
        "--verbs", action="append", default=[], help="only resources with these verbs"
    )
    parser.add_argument("--sort-by", default="", choices=("", "name", "kind"))
    parser.add_argument("-o", "--output", default="", help="wide or name")
    parser.add_argument("--no-headers", action="store_true", help="leave out the header line")
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_command(args, lambda session: _api_resources(session, args))


def preferred(resources: list[Resource]) -> list[Resource]:
    """One version per group: the preferred one, which discovery lists first."""
    versions: dict[str, str] = {}
    for r in resources:
        versions.setdefault(r.group, r.version)
    return [r for r in resources if versions[r.group] == r.version]


def _sort_key(sort_by: str) -> Callable[[Resource], tuple[str, str]]:
    """kubectl's order: by group, then name; or by name or kind alone (a stable sort)."""
    if sort_by == "name":
        return lambda r: (r.plural, "")
    if sort_by == "kind":
        return lambda r: (r.kind, "")
    return lambda r: (r.group, r.plural)


async def _api_resources(session: Session, args: argparse.Namespace) -> int:
    if args.output not in ("", "wide", "name"):
        raise CommandError(f"--output {args.output} is not available")
    verbs = {v for value in args.verbs for v in value.split(",") if v}
    resources = [
        r
        for r in preferred(await session.client.api_resources())
        if (args.namespaced is None or r.namespaced == args.namespaced)
        and (args.api_group is None or r.group == args.api_group)
        and verbs <= set(r.verbs)
    ]
    resources.sort(key=_sort_key(args.sort_by))
    if args.output == "name":
        for r in resources:
            print(r.group_resource)
        return 0
    writer = output.get_tab_writer(sys.stdout)
    if not args.no_headers:
        header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
        if args.output == "wide":
            header += ["VERBS", "CATEGORIES"]
        writer.write("\t".join(header) + "\n")
    for r in resources:
        cells = [
            r.plural,
            ",".join(r.short_names),
            r.api_version,
            "true" if r.namespaced else "false",
            r.kind,
        ]
        if args.output == "wide":
            cells += [",".join(sorted(r.verbs)), ",".join(r.categories)]
        writer.write("\t".join(cells) + "\n")
    writer.flush()
    return 0
