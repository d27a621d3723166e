"""`kubelite delete`: delete objects by name, from files, by label, or all of a type.

Each object gets one DELETE with `{"propagationPolicy": "Background"}` (and
`gracePeriodSeconds` when `--grace-period`, `--now` or `--force` set one), then
`pod "web" deleted` is printed. With `--wait` (the default) the command then waits, as kubectl
does, until every deleted object is really gone: a pod with a grace period lingers as
Terminating until its kubelet confirms its containers stopped. Waiting lists the object by
`metadata.name` and watches from that list until the object with the deleted uid disappears.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass

from kubelite.api import fields, meta
from kubelite.cli import output
from kubelite.cli.kubectl.apply import add_dry_run_flag, plan, with_message
from kubelite.cli.kubectl.kubectl_args import (
    DEFAULT_CHUNK_SIZE,
    CommandError,
    Session,
    add_all_namespaces_flag,
    add_filename_flags,
    add_global_flags,
    add_selector_flag,
    report_errors,
    resolve_targets,
    run_command,
)
from kubelite.cli.kubectl.manifests import read_manifests
from kubelite.client import APIClient, APIError, APINotFoundError, Resource

FORCE_WARNING = (
    "Warning: Immediate deletion does not wait for confirmation that the running resource has "
    "been terminated. The resource may continue to run on the cluster indefinitely."
)
# kubectl delete waits a week when --timeout is 0 (its default).
DEFAULT_WAIT_TIMEOUT = 7 * 24 * 3600.0
NO_TARGETS = """You must provide one or more resources by argument or filename.
Example resource specifications include:
   '-f rsrc.yaml'
   '--filename=rsrc.json'
   '<resource> <name>'
   '<resource>'"""
PROPAGATION = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}


@dataclass(frozen=True)
class Doomed:
    """One object to delete; `source` is its file, for messages, when it came from -f."""

    resource: Resource
    name: str
    namespace: str | None
    source: str = ""

    def printed(self) -> str:
        """`pod "web"`, `deployment.apps "web"`."""
        return f'{output.kind_prefix(self.resource.kind, self.resource.group)} "{self.name}"'


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _duration(text: str) -> float:
    """A Go-style duration (`30s`, `5m`, `1h`) or a number of seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * units[suffix]
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    add_filename_flags(parser, "delete")
    add_selector_flag(parser)
    parser.add_argument("--all", action="store_true", help="delete every object of the types")
    parser.add_argument(
        "--grace-period",
        type=int,
        default=-1,
        help="seconds to give the object to terminate gracefully (-1: its own default)",
    )
    parser.add_argument("--now", action="store_true", help="the same as --grace-period=1")
    parser.add_argument(
        "--force", action="store_true", help="delete at once, without waiting for the kubelet"
    )
    parser.add_argument(
        "--wait",
        type=_bool,
        nargs="?",
        const=True,
        default=True,
        help="wait until the objects are gone (default true)",
    )
    parser.add_argument(
        "--timeout", type=_duration, default=0.0, help="how long to wait, e.g. 30s (0: a week)"
    )
    parser.add_argument(
        "--cascade",
        default="background",
        type=str.lower,
        choices=sorted(PROPAGATION),
        help="how dependents are deleted",
    )
    parser.add_argument(
        "--ignore-not-found", action="store_true", help="say nothing about missing objects"
    )
    add_dry_run_flag(parser, "what would be deleted")
    add_all_namespaces_flag(parser)
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_command(args, lambda session: _delete(session, args))


def grace_period(args: argparse.Namespace) -> int | None:
    """The gracePeriodSeconds to send, following kubectl's rules for --now and --force."""
    period = args.grace_period
    if args.now:
        if period >= 0:
            raise CommandError("--now and --grace-period cannot be specified together")
        period = 1
    if args.force and period < 0:
        period = 0
    if period == 0 and not args.force:
        # kubectl turns --grace-period=0 into 1 unless --force says immediate deletion is meant.
        period = 1
    return period if period >= 0 else None


async def _doomed(session: Session, args: argparse.Namespace) -> list[Doomed]:
    client = session.client
    if args.filename:
        manifests = read_manifests(args.filename, recursive=args.recursive)
        return [
            Doomed(p.resource, p.name, p.namespace, p.manifest.source)
            for p in await plan(session, manifests)
        ]
    if not args.resources:
        raise CommandError(NO_TARGETS)
    targets, _ = await resolve_targets(client, args.resources, "delete")
    doomed: list[Doomed] = []
    for target in targets:
        resource = target.resource
        namespace = session.scope(resource, args.all_namespaces)
        if target.name is not None:
            doomed.append(Doomed(resource, target.name, namespace))
            continue
        if not args.all and not args.selector:
            raise CommandError("resource(s) were provided, but no name was specified")
        listing = await client.list(
            resource, namespace=namespace, label_selector=args.selector, limit=DEFAULT_CHUNK_SIZE
        )
        doomed += [
            Doomed(resource, meta.name_of(item), meta.namespace_of(item) or None)
            for item in listing.get("items") or []
        ]
    return doomed


async def wait_until_gone(client: APIClient, item: Doomed, uid: str) -> None:
    """Return once no object of this name has the deleted uid any more."""
    selector = f"metadata.name={fields.escape_value(item.name)}"
    listing = await client.list(item.resource, namespace=item.namespace, field_selector=selector)
    if not any(meta.get_path(o, "metadata", "uid") == uid for o in listing.get("items") or []):
        return
    resource_version = meta.get_path(listing, "metadata", "resourceVersion")
    while True:
        # A watch ends when the server's timeout does: start another one from where it was.
        events = client.watch(
            item.resource,
            namespace=item.namespace,
            field_selector=selector,
            resource_version=resource_version,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                resource_version = meta.get_path(event.object, "metadata", "resourceVersion")
                same = meta.get_path(event.object, "metadata", "uid") == uid
                if event.type == "DELETED" and same:
                    return
                if event.type in ("ADDED", "MODIFIED") and not same:
                    return


async def _delete(session: Session, args: argparse.Namespace) -> int:
    period = grace_period(args)
    doomed = await _doomed(session, args)
    if not doomed:
        print("No resources found")
        return 0
    if args.force and period == 0:
        print(FORCE_WARNING, file=sys.stderr)
    suffix = {"client": " (dry run)", "server": " (server dry run)"}.get(args.dry_run, "")
    verb = "force deleted" if args.force and period == 0 else "deleted"
    errors: list[BaseException] = []
    waiting: list[tuple[Doomed, str]] = []
    for item in doomed:
        if args.dry_run != "client":
            try:
                answer = await session.client.delete(
                    item.resource,
                    item.name,
                    namespace=item.namespace,
                    grace_period_seconds=period,
                    propagation_policy=PROPAGATION[args.cascade],
                    dry_run=args.dry_run == "server",
                )
            except APINotFoundError as e:
                if not args.ignore_not_found:
                    errors.append(
                        with_message(e, f'error when deleting "{item.source}": {e.message}')
                        if item.source
                        else e
                    )
                continue
            except APIError as e:
                errors.append(e)
                continue
            uid = meta.get_path(answer, "metadata", "uid") or meta.get_path(
                answer, "details", "uid"
            )
            if uid and args.dry_run == "none":
                waiting.append((item, uid))
        print(f"{item.printed()} {verb}{suffix}", flush=True)
    if args.wait and waiting:
        timeout = args.timeout or DEFAULT_WAIT_TIMEOUT
        try:
            await asyncio.wait_for(
                asyncio.gather(*(wait_until_gone(session.client, i, u) for i, u in waiting)),
                timeout,
            )
        except TimeoutError:
            errors.append(CommandError("timed out waiting for the condition"))
    return report_errors(errors)
