"""A gogo-style protobuf encoder for tests: JSON objects in, Kubernetes protobuf bodies out.

It writes what Kubernetes' generated Marshal methods write: fields in number order, map keys
sorted, repeated scalars unpacked, and every field that is not a pointer in Go even when it is
zero. That lets the tests check it byte for byte against bodies captured from kubectl, and then
trust it to build bodies kubectl never sends (a Pod, an Eviction, an events.k8s.io Event).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from kubelite.api import schema
from kubelite.api.protobuf.decode import MAGIC
from kubelite.api.protobuf.tables import MESSAGES
from kubelite.api.schema import Node

_TIMES = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
)
_RAW_JSON = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
)


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, data: bytes) -> bytes:
    return key(number, 2) + varint(len(data)) + data


def varint_field(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """The `k8s\\x00` magic and a runtime.Unknown around an encoded object."""
    type_meta = length_delimited(1, api_version.encode()) + length_delimited(2, kind.encode())
    unknown = (
        length_delimited(1, type_meta)
        + length_delimited(2, raw)
        + length_delimited(3, b"")
        + length_delimited(4, b"")
    )
    return MAGIC + unknown


def encode_request(obj: dict[str, Any]) -> bytes:
    """A whole request body for an object that has `apiVersion` and `kind`."""
    group, _, version = obj["apiVersion"].rpartition("/")
    definitions = schema.load()
    definition = definitions.definition_name(group, version, obj["kind"])
    assert definition is not None
    raw = encode_message(obj, definition, definitions.node(definition))
    return envelope(obj["apiVersion"], obj["kind"], raw)


def _is_message(node: Node) -> bool:
    return (
        node.kind in (schema.OBJECT, schema.QUANTITY, schema.INT_OR_STRING)
        or node.definition in _TIMES
        or node.definition in _RAW_JSON
    )


def encode_message(obj: dict[str, Any], definition: str, node: Node) -> bytes:
    out = b""
    for number, entry in sorted(MESSAGES[definition].items()):
        if entry.startswith("..."):
            out += length_delimited(number, encode_message(obj, entry[3:], node))
            continue
        name = entry.rstrip("!?")
        child = node.field(name)
        assert child is not None, (definition, name)
        # Pointers: scalars marked "?" and structs without "!"; gogo writes every other field.
        pointer = entry.endswith("?") or (entry == name and _is_message(child))
        value = obj.get(name)
        if child.kind == schema.ARRAY:
            for item in value or ():
                out += _encode_value(number, item, child.items)
        elif child.kind == schema.MAP:
            for map_key in sorted(value or {}):
                entry_bytes = length_delimited(1, map_key.encode())
                entry_bytes += _encode_value(2, value[map_key], child.items)
                out += length_delimited(number, entry_bytes)
        elif value is not None or not pointer:
            out += _encode_value(number, value, child)
    return out


def _encode_value(number: int, value: Any, node: Node) -> bytes:
    if node.definition in _TIMES:
        if value is None:
            return length_delimited(number, b"")
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        seconds = int(when.timestamp())
        nanos = when.microsecond * 1000
        return length_delimited(number, varint_field(1, seconds) + varint_field(2, nanos))
    if node.definition in _RAW_JSON:
        raw = json.dumps(value, separators=(",", ":")).encode() if value is not None else b""
        return length_delimited(number, length_delimited(1, raw) if raw else b"")
    if node.kind == schema.QUANTITY:
        return length_delimited(number, length_delimited(1, str(value or "0").encode()))
    if node.kind == schema.INT_OR_STRING:
        value = value or 0
        if isinstance(value, str):
            inner = varint_field(1, 1) + varint_field(2, 0) + length_delimited(3, value.encode())
        else:
            inner = varint_field(1, 0) + varint_field(2, value) + length_delimited(3, b"")
        return length_delimited(number, inner)
    if node.kind == schema.OBJECT:
        return length_delimited(number, encode_message(value or {}, node.definition, node))
    if node.kind == schema.STRING:
        if node.format == "byte":
            return length_delimited(number, base64.b64decode(value or ""))
        return length_delimited(number, (value or "").encode())
    if node.kind in (schema.INTEGER, schema.BOOLEAN):
        return varint_field(number, int(value or 0))
    raise AssertionError(f"no encoding for {node}")
