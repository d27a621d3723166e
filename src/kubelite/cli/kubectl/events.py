"""`kubelite events`: the events of a namespace, of all namespaces, or of one object.

Like `kubectl events`, this lists core events (`--for pod/web` selects them with
`involvedObject.kind`, `involvedObject.apiVersion` and `involvedObject.name`), keeps those of the
`--types` asked for, sorts them oldest first by their series' last observation, else their
lastTimestamp, else their eventTime, and prints LAST SEEN, TYPE, REASON, OBJECT and MESSAGE,
with NAMESPACE first for `-A`. `-w` prints events as they arrive.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from kubelite.api import fields, meta
from kubelite.api.resources import EVENTS
from kubelite.api.types import Obj
from kubelite.cli import output
from kubelite.cli.kubectl.describe.events import event_interval, sort_events
from kubelite.cli.kubectl.kubectl_args import (
    DEFAULT_CHUNK_SIZE,
    CommandError,
    Session,
    add_all_namespaces_flag,
    add_global_flags,
    run_command,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--for",
        dest="for_object",
        default="",
        metavar="TYPE/NAME",
        help="only the events of this object",
    )
    parser.add_argument(
        "--types", action="append", default=[], help="only events of these types (Normal, Warning)"
    )
    parser.add_argument("-w", "--watch", action="store_true", help="then wait for more events")
    parser.add_argument("--no-headers", action="store_true", help="leave out the header line")
    parser.add_argument("-o", "--output", default="", help="yaml or json")
    add_all_namespaces_flag(parser)
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_command(args, lambda session: _events(session, args))


def _types(args: argparse.Namespace) -> set[str]:
    wanted = {t.strip().lower() for value in args.types for t in value.split(",") if t.strip()}
    for value in wanted:
        if value not in ("normal", "warning"):
            raise CommandError("valid --types are Normal or Warning")
    return wanted


async def _selector(session: Session, for_object: str) -> str:
    if not for_object:
        return ""
    if "/" not in for_object:
        raise CommandError("--for must be in resource/name form")
    kind, _, name = for_object.partition("/")
    if "/" in name:
        raise CommandError("arguments in resource/name form may not have more than one slash")
    resource = await session.client.resource_for(kind)
    terms = (
        ("involvedObject.kind", resource.kind),
        ("involvedObject.apiVersion", resource.api_version),
        ("involvedObject.name", name),
    )
    return ",".join(f"{key}={fields.escape_value(value)}" for key, value in terms)


def _row(event: Obj, all_namespaces: bool) -> str:
    now = meta.now()
    involved = event.get("involvedObject") or {}
    cells = [
        event_interval(event, now),
        event.get("type", ""),
        event.get("reason", ""),
        f"{involved.get('kind', '')}/{involved.get('name', '')}",
        (event.get("message") or "").strip(),
    ]
    if all_namespaces:
        cells.insert(0, meta.namespace_of(event))
    return "\t".join(cells) + "\n"


def _header(all_namespaces: bool) -> str:
    return ("NAMESPACE\t" if all_namespaces else "") + "LAST SEEN\tTYPE\tREASON\tOBJECT\tMESSAGE\n"


async def _events(session: Session, args: argparse.Namespace) -> int:
    if args.output not in ("", "yaml", "json"):
        raise CommandError(
            f'unable to match a printer suitable for the output format "{args.output}", '
            "allowed formats are: json,yaml"
        )
    types = _types(args)
    selector = await _selector(session, args.for_object)
    namespace = None if args.all_namespaces else session.namespace
    writer = output.get_tab_writer(sys.stdout)
    if args.watch:
        header_printed = args.no_headers
        events = session.client.watch(EVENTS, namespace=namespace, field_selector=selector)
        async with contextlib.aclosing(events):
            async for event in events:
                # Events expire after an hour; kubectl does not print their deletion.
                if event.type == "DELETED" or (
                    types and (event.object.get("type") or "").lower() not in types
                ):
                    continue
                if not header_printed:
                    writer.write(_header(args.all_namespaces))
                    header_printed = True
                writer.write(_row(event.object, args.all_namespaces))
                writer.flush()
        return 0
    listing = await session.client.list(
        EVENTS, namespace=namespace, field_selector=selector, limit=DEFAULT_CHUNK_SIZE
    )
    items = [
        {"apiVersion": "v1", "kind": "Event", **item}
        for item in listing.get("items") or []
        if not types or (item.get("type") or "").lower() in types
    ]
    if not items:
        if args.all_namespaces:
            print("No events found.", file=sys.stderr)
        else:
            print(f"No events found in {session.namespace} namespace.", file=sys.stderr)
        return 0
    items = sort_events(items)
    if args.output:
        event_list = {"apiVersion": "v1", "items": items, "kind": "EventList", "metadata": {}}
        for item in items:
            (item.get("metadata") or {}).pop("managedFields", None)
            # kubectl decodes into the typed Event, which always has these fields.
            item.setdefault("eventTime", None)
            item.setdefault("reportingComponent", "")
            item.setdefault("reportingInstance", "")
        text = output.to_json(event_list) if args.output == "json" else output.to_yaml(event_list)
        sys.stdout.write(text)
        return 0
    if not args.no_headers:
        writer.write(_header(args.all_namespaces))
    for item in items:
        writer.write(_row(item, args.all_namespaces))
    writer.flush()
    return 0
