"""Content negotiation: which form of an object the client asked for, and rendering it.

Clients name the form in `Accept`: plain JSON (`application/json`, the default), YAML, or one of
the server-side transformations of meta.k8s.io: `as=Table` (what `kubectl get` prints, with the
columns computed here), `as=PartialObjectMetadata` / `PartialObjectMetadataList` (metadata only,
for garbage collectors and `kubectl get -o name`-style clients). Protobuf is not spoken; clients
that offer JSON as well (kubectl does) get JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kubelite.api import errors, meta
from kubelite.api.kinds import ResourceType
from kubelite.api.printers import printer_for
from kubelite.api.types import Obj

JSON = "json"
YAML = "yaml"
TABLE = "table"
PARTIAL = "partial"
PARTIAL_LIST = "partiallist"

_META_GROUP = "meta.k8s.io"
_META_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class Target:
    """The negotiated form of a response."""

    form: str
    meta_version: str = "v1"

    @property
    def content_type(self) -> str:
        if self.form == YAML:
            return "application/yaml"
        if self.form == TABLE:
            return f"application/json;as=Table;v={self.meta_version};g={_META_GROUP}"
        if self.form == PARTIAL:
            return (
                f"application/json;as=PartialObjectMetadata;v={self.meta_version};g={_META_GROUP}"
            )
        if self.form == PARTIAL_LIST:
            return (
                f"application/json;as=PartialObjectMetadataList;v={self.meta_version};"
                f"g={_META_GROUP}"
            )
        return "application/json"


JSON_TARGET = Target(JSON)


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for item in accept.split(","):
        pieces = [p.strip() for p in item.split(";")]
        if not pieces[0]:
            continue
        params = {}
        for piece in pieces[1:]:
            if "=" in piece:
                k, v = piece.split("=", 1)
                params[k.strip().lower()] = v.strip()
        ranges.append((pieces[0].lower(), params))
    # Highest quality first, header order among equals (goautoneg sorts the same way).
    return sorted(ranges, key=lambda r: -_quality(r[1]))


def _quality(params: dict[str, str]) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def negotiate(accept: str, *, is_list: bool) -> Target:
    """The first form in `Accept` that kubelite can produce; 406 when there is none."""
    if not accept:
        return JSON_TARGET
    for media, params in _media_ranges(accept):
        if media in ("application/json", "application/*", "*/*", "application/yaml"):
            wanted = params.get("as")
            if not wanted:
                return Target(YAML) if media == "application/yaml" else JSON_TARGET
            if params.get("g") != _META_GROUP or params.get("v") not in _META_VERSIONS:
                continue
            version = params["v"]
            if wanted == "Table":
                return Target(TABLE, version)
            if wanted == "PartialObjectMetadata" and not is_list:
                return Target(PARTIAL, version)
            if wanted == "PartialObjectMetadataList" and is_list:
                return Target(PARTIAL_LIST, version)
    raise errors.not_acceptable(
        "only the following media types are accepted: application/json, application/yaml, "
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    )


def partial_metadata(obj: Obj, version: str = "v1") -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{_META_GROUP}/{version}",
        "metadata": obj.get("metadata", {}),
    }


def table(
    resource: ResourceType,
    objects: list[Obj],
    *,
    list_meta: Obj,
    include_object: str = "Metadata",
    headers: bool = True,
    version: str = "v1",
    now: dt.datetime | None = None,
) -> Obj:
    """A `meta.k8s.io/v1 Table` of objects, with the columns of the kind's printer."""
    to_row = row_maker(resource, include_object=include_object, version=version, now=now)
    rows = [to_row(obj) for obj in objects]
    return table_of_rows(resource, rows, list_meta=list_meta, headers=headers, version=version)


def row_maker(
    resource: ResourceType,
    *,
    include_object: str = "Metadata",
    version: str = "v1",
    now: dt.datetime | None = None,
) -> Callable[[Obj], Obj]:
    """What turns one object into its Table row.

    A list applies it to each object as it is read, so that a Table of ten thousand pods never
    holds ten thousand decoded pods at once, only their rows.
    """
    printer = printer_for(resource.group, resource.kind)
    when = now or meta.now()

    def to_row(obj: Obj) -> Obj:
        row: Obj = {"cells": printer.cells(obj, when)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object == "None":
            row["object"] = None
        else:
            row["object"] = partial_metadata(obj, version)
        return row

    return to_row


def table_of_rows(
    resource: ResourceType,
    rows: list[Obj],
    *,
    list_meta: Obj,
    headers: bool = True,
    version: str = "v1",
) -> Obj:
    """A `meta.k8s.io/v1 Table` of rows that `row_maker` made."""
    printer = printer_for(resource.group, resource.kind)
    return {
        "kind": "Table",
        "apiVersion": f"{_META_GROUP}/{version}",
        "metadata": list_meta,
        "columnDefinitions": [c.definition() for c in printer.columns] if headers else None,
        "rows": rows,
    }


def check_include_object(value: str) -> str:
    if value in ("", "Metadata", "Object", "None"):
        return value or "Metadata"
    raise errors.bad_request(f'unrecognized includeObject value: "{value}"')


def dump(value: Any, target: Target) -> bytes:
    """Serialize a response body in the negotiated encoding.

    JSON ends with a newline, as Go's json.Encoder ends it (see `responses`); YAML ends with
    one of its own.
    """
    if target.form == YAML:
        return yaml.safe_dump(value, sort_keys=False).encode()
    return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
