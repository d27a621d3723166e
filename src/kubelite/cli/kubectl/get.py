"""`kubelite get`: list or fetch objects and print them as `kubectl get` does.

Tables come from the server: the request asks for a `meta.k8s.io/v1 Table` and this module only
lays it out, the way kubectl's printer does (cli-runtime `printers/tableprinter.go`): priority-1
columns only with `-o wide`, a NAMESPACE column first with `-A`, `kind/name` when several kinds
were asked for, `-L` label columns and LABELS (`--show-labels`) last. Each resource gets its
own table, and tables are separated by a blank line. `-o yaml|kyaml|json|name` ask for plain
objects; several objects print as a `v1 List`. `-o kyaml` (kubectl 1.35's default-on KYAML, which
1.37 offers whatever `KUBECTL_KYAML` says) writes each object as its own `---` document.

With `-w`, the list is printed and then every change after the list's resourceVersion, one row
(or object) at a time, with column widths remembered so that the rows stay aligned.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from kubelite.api import meta
from kubelite.api.types import Obj
from kubelite.cli import kyaml, output
from kubelite.cli.kubectl.kubectl_args import (
    DEFAULT_CHUNK_SIZE,
    CommandError,
    Session,
    add_all_namespaces_flag,
    add_filename_flags,
    add_global_flags,
    add_selector_flag,
    file_targets,
    missing_type,
    report_errors,
    resolve_targets,
    run_command,
)
from kubelite.client import APIClient, APIError, APINotFoundError, Resource

TABLE_FORMATS = ("", "wide")
OBJECT_FORMATS = ("yaml", "kyaml", "json", "name")

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One thing to fetch: a named object, or (name None) every object that matches."""

    resource: Resource
    name: str | None
    namespace: str | None


@dataclass
class TableOptions:
    """How kubectl decorates a server's Table (printers.PrintOptions)."""

    wide: bool = False
    with_namespace: bool = False
    kind_prefix: str = ""
    show_labels: bool = False
    label_columns: list[str] = field(default_factory=list)
    no_headers: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resources", nargs="*", metavar="TYPE[/NAME] [NAME...]")
    parser.add_argument("-o", "--output", default="", help="wide, yaml, kyaml, json or name")
    add_selector_flag(parser)
    parser.add_argument(
        "--field-selector", default="", help="e.g. --field-selector spec.nodeName=n1"
    )
    parser.add_argument("--show-labels", action="store_true", help="add a LABELS column")
    parser.add_argument(
        "-L",
        "--label-columns",
        action="append",
        default=[],
        help="labels to show as columns (comma-separated, repeatable)",
    )
    parser.add_argument("--no-headers", action="store_true", help="leave out the header line")
    parser.add_argument("-w", "--watch", action="store_true", help="then watch for changes")
    parser.add_argument(
        "--watch-only", action="store_true", help="watch for changes without listing first"
    )
    parser.add_argument(
        "--ignore-not-found", action="store_true", help="say nothing about missing objects"
    )
    parser.add_argument(
        "--show-managed-fields",
        action="store_true",
        help="keep metadata.managedFields in -o yaml|json",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="page size of lists (0: all)"
    )
    add_filename_flags(parser, "get")
    add_all_namespaces_flag(parser)
    add_global_flags(parser)


def run(args: argparse.Namespace) -> int:
    return run_command(args, lambda session: _get(session, args))


def _check_output(fmt: str) -> None:
    if fmt not in TABLE_FORMATS + OBJECT_FORMATS:
        raise CommandError(
            f'unable to match a printer suitable for the output format "{fmt}", '
            "allowed formats are: json,kyaml,name,wide,yaml"
        )


async def _requests(session: Session, args: argparse.Namespace) -> tuple[list[Request], bool]:
    """What to fetch, and whether tables print `kind/name`."""
    client = session.client
    if args.filename:
        requests = [
            Request(target.resource, target.name, target.namespace)
            async for target in file_targets(session, args)
        ]
        kinds = {(r.resource.group, r.resource.kind) for r in requests}
        return requests, len(kinds) > 1
    if not args.resources:
        raise missing_type("get")
    targets, several_kinds = await resolve_targets(client, args.resources, "get")
    if args.all_namespaces and any(t.name for t in targets):
        raise CommandError("a resource cannot be retrieved by name across all namespaces")
    requests = [
        Request(target.resource, target.name, session.scope(target.resource, args.all_namespaces))
        for target in targets
    ]
    return requests, several_kinds


async def _get(session: Session, args: argparse.Namespace) -> int:
    _check_output(args.output)
    requests, several_kinds = await _requests(session, args)
    if args.watch or args.watch_only:
        return await _watch(session.client, requests, args, several_kinds)
    if args.output in OBJECT_FORMATS:
        return await _print_objects(session, requests, args)
    return await _print_tables(session, requests, args, several_kinds)


# --- tables -----------------------------------------------------------------------------------


def _table_options(
    args: argparse.Namespace, resource: Resource, several_kinds: bool
) -> TableOptions:
    label_columns = [label for value in args.label_columns for label in value.split(",") if label]
    return TableOptions(
        wide=args.output == "wide",
        with_namespace=bool(args.all_namespaces) and resource.namespaced,
        kind_prefix=output.kind_prefix(resource.kind, resource.group) if several_kinds else "",
        show_labels=args.show_labels,
        label_columns=label_columns,
        no_headers=args.no_headers,
    )


def _table_from_objects(listing: Obj) -> Obj:
    """Name and Age, for a server that answered a Table request with plain objects."""
    items = listing.get("items") if "items" in listing else [listing]
    now = meta.now()
    return {
        "kind": "Table",
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "priority": 0},
        ],
        "rows": [
            {
                "cells": [
                    meta.name_of(item),
                    meta.age(meta.get_path(item, "metadata", "creationTimestamp"), now),
                ],
                "object": item,
            }
            for item in items or []
        ],
        "metadata": listing.get("metadata") or {},
    }


def header_of(columns: list[Obj], options: TableOptions) -> list[str]:
    """The header cells of a decorated table."""
    header = [c["name"].upper() for c in columns if options.wide or not c.get("priority")]
    if options.with_namespace:
        header.insert(0, "NAMESPACE")
    header += [label.rsplit("/", 1)[-1].upper() for label in options.label_columns]
    if options.show_labels:
        header.append("LABELS")
    return header


def row_cells(columns: list[Obj], row: Obj, options: TableOptions) -> list[str]:
    """One row's cells after decoration (printers.decorateTable)."""
    cells: list[str] = []
    for column, value in zip(columns, row.get("cells") or [], strict=False):
        if not options.wide and column.get("priority"):
            continue
        text = output.format_cell(value)
        if options.kind_prefix and column.get("format") == "name":
            text = f"{options.kind_prefix}/{text}"
        cells.append(text)
    metadata = (row.get("object") or {}).get("metadata") or {}
    labels = metadata.get("labels") or {}
    if options.with_namespace:
        cells.insert(0, metadata.get("namespace", ""))
    cells += [labels.get(label, "") for label in options.label_columns]
    if options.show_labels:
        cells.append(output.format_labels(labels))
    return cells


class TablePrinter:
    """Prints successive Tables of one resource under one header, into a shared writer."""

    def __init__(self, writer: output.TabWriter, options: TableOptions) -> None:
        self._writer = writer
        self._options = options
        self._columns: list[Obj] = []
        self._header_printed = False
        self.rows_printed = 0

    def print(self, table: Obj) -> None:
        columns = table.get("columnDefinitions") or self._columns
        if columns != self._columns:
            # New columns need a new header (kubectl compares the definitions).
            self._columns = columns
            self._header_printed = False
        rows = table.get("rows") or []
        if not rows:
            return
        if not self._header_printed and not self._options.no_headers:
            self._writer.write("\t".join(header_of(columns, self._options)) + "\n")
        self._header_printed = True
        for row in rows:
            self._writer.write("\t".join(row_cells(columns, row, self._options)) + "\n")
        self.rows_printed += len(rows)


async def _answer_or_error(
    fetch: Awaitable[T], args: argparse.Namespace, errors: list[BaseException]
) -> T | None:
    """The server's answer, or None with its error added to `errors`: a request that fails
    leaves the others to be printed, as kubectl's visitor does. A missing object is no error
    with --ignore-not-found."""
    try:
        return await fetch
    except APINotFoundError as e:
        if not args.ignore_not_found:
            errors.append(e)
    except APIError as e:
        errors.append(e)
    return None


async def _fetch_table(
    client: APIClient, request: Request, args: argparse.Namespace, field_selector: str = ""
) -> Obj:
    if request.name is not None:
        answer = await client.get(
            request.resource, request.name, namespace=request.namespace, table=True
        )
    else:
        answer = await client.list(
            request.resource,
            namespace=request.namespace,
            label_selector=args.selector,
            field_selector=field_selector or args.field_selector,
            limit=args.chunk_size or None,
            table=True,
        )
    return answer if answer.get("kind") == "Table" else _table_from_objects(answer)


def _no_resources(session: Session, requests: list[Request]) -> None:
    if all(r.namespace for r in requests):
        print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)
    else:
        print("No resources found", file=sys.stderr)


async def _print_tables(
    session: Session, requests: list[Request], args: argparse.Namespace, several_kinds: bool
) -> int:
    writer = output.get_tab_writer(sys.stdout)
    errors: list[BaseException] = []
    printed = 0
    last: Resource | None = None
    printer: TablePrinter | None = None
    pending_separator = False
    for request in requests:
        if printer is None or request.resource != last:
            # A new resource starts a new table: new widths, and a blank line before it if
            # anything was printed already.
            writer.flush()
            writer.forget_widths()
            pending_separator = printed > 0 and not args.no_headers
            printer = TablePrinter(writer, _table_options(args, request.resource, several_kinds))
            last = request.resource
        table = await _answer_or_error(_fetch_table(session.client, request, args), args, errors)
        if table is None:
            continue
        if table.get("rows") and pending_separator:
            writer.write("\n")
            pending_separator = False
        before = printer.rows_printed
        printer.print(table)
        printed += printer.rows_printed - before
    writer.flush()
    if not printed and not errors and not args.ignore_not_found:
        _no_resources(session, requests)
    return report_errors(errors)


# --- objects ----------------------------------------------------------------------------------


def _with_type(obj: Obj, resource: Resource) -> Obj:
    """Items of a list come without apiVersion and kind; kubectl fills them in."""
    obj.setdefault("apiVersion", resource.api_version)
    obj.setdefault("kind", resource.kind)
    return obj


async def _fetch_objects(
    client: APIClient, request: Request, args: argparse.Namespace
) -> list[Obj]:
    if request.name is not None:
        obj = await client.get(request.resource, request.name, namespace=request.namespace)
        return [_with_type(obj, request.resource)]
    listing = await client.list(
        request.resource,
        namespace=request.namespace,
        label_selector=args.selector,
        field_selector=args.field_selector,
        limit=args.chunk_size or None,
    )
    return [_with_type(item, request.resource) for item in listing.get("items") or []]


def to_kyaml(obj: Obj) -> str:
    """`-o kyaml`; an object kubectl's YAML parser would refuse fails the command as there."""
    try:
        return kyaml.encode(obj)
    except kyaml.KYAMLError as e:
        raise CommandError(str(e)) from e


class ObjectPrinter:
    """`-o name|yaml|json` for a stream of objects (YAML documents after the first get `---`).

    Like kubectl, it leaves out metadata.managedFields unless asked to show them.
    """

    def __init__(self, fmt: str, *, show_managed_fields: bool = False) -> None:
        self._fmt = fmt
        self._show_managed_fields = show_managed_fields
        self._count = 0

    def print(self, obj: Obj, resource: Resource) -> None:
        if not self._show_managed_fields:
            (obj.get("metadata") or {}).pop("managedFields", None)
        if self._fmt == "name":
            text = output.object_name(resource.kind, resource.group, meta.name_of(obj)) + "\n"
        elif self._fmt == "json":
            text = output.to_json(obj)
        elif self._fmt == "kyaml":
            text = to_kyaml(obj)
        else:
            text = ("---\n" if self._count else "") + output.to_yaml(obj)
        self._count += 1
        sys.stdout.write(text)
        sys.stdout.flush()


async def _print_objects(
    session: Session, requests: list[Request], args: argparse.Namespace
) -> int:
    errors: list[BaseException] = []
    found: list[tuple[Obj, Resource]] = []
    for request in requests:
        objs = await _answer_or_error(_fetch_objects(session.client, request, args), args, errors)
        if objs is None:
            continue
        found.extend((obj, request.resource) for obj in objs)
    if args.output == "name":
        printer = ObjectPrinter("name")
        for obj, resource in found:
            printer.print(obj, resource)
    elif len(requests) == 1 and requests[0].name is not None and len(found) == 1:
        ObjectPrinter(args.output, show_managed_fields=args.show_managed_fields).print(*found[0])
    elif found or not errors:
        if not args.show_managed_fields:
            for obj, _ in found:
                (obj.get("metadata") or {}).pop("managedFields", None)
        listing = output.as_list([obj for obj, _ in found])
        if args.output == "json":
            text = output.to_json(listing)
        elif args.output == "kyaml":
            text = to_kyaml(listing)
        else:
            text = output.to_yaml(listing)
        sys.stdout.write(text)
    return report_errors(errors)


# --- watch ------------------------------------------------------------------------------------


def _name_selector(name: str | None, field_selector: str) -> str:
    if name is None:
        return field_selector
    term = f"metadata.name={name}"
    return f"{term},{field_selector}" if field_selector else term


def _resource_version(obj: Obj) -> str | None:
    if obj.get("kind") == "Table":
        rows = obj.get("rows") or []
        if rows:
            return meta.get_path(rows[-1], "object", "metadata", "resourceVersion")
    return meta.get_path(obj, "metadata", "resourceVersion")


async def _watch(
    client: APIClient, requests: list[Request], args: argparse.Namespace, several_kinds: bool
) -> int:
    if len({r.resource for r in requests}) != 1 or len({r.name for r in requests}) != 1:
        raise CommandError(
            "watch is only supported on individual resources and resource collections, "
            f"but {len(requests)} resources were found"
        )
    request = requests[0]
    field_selector = _name_selector(request.name, args.field_selector)
    list_request = Request(request.resource, None, request.namespace)
    table_mode = args.output in TABLE_FORMATS
    writer = output.get_tab_writer(sys.stdout)
    table_printer = TablePrinter(writer, _table_options(args, request.resource, several_kinds))
    object_printer = ObjectPrinter(args.output, show_managed_fields=args.show_managed_fields)
    if table_mode:
        listing = await _fetch_table(client, list_request, args, field_selector)
        if not args.watch_only:
            table_printer.print(listing)
            writer.flush()
        elif listing.get("columnDefinitions"):
            table_printer.print({**listing, "rows": []})
    else:
        listing = await client.list(
            request.resource,
            namespace=request.namespace,
            label_selector=args.selector,
            field_selector=field_selector,
        )
        if not args.watch_only:
            for item in listing.get("items") or []:
                object_printer.print(_with_type(item, request.resource), request.resource)
    resource_version = meta.get_path(listing, "metadata", "resourceVersion")
    while True:
        # The server ends a watch after a while; carry on from the last change seen.
        events = client.watch(
            request.resource,
            namespace=request.namespace,
            label_selector=args.selector,
            field_selector=field_selector,
            resource_version=resource_version,
            table=table_mode,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if event.type == "BOOKMARK":
                    continue
                resource_version = _resource_version(event.object) or resource_version
                if table_mode:
                    table_printer.print(event.object)
                    writer.flush()
                else:
                    object_printer.print(
                        _with_type(event.object, request.resource), request.resource
                    )
