"""Kubernetes protobuf request bodies, decoded into the JSON form the rest of kubelite reads.

kubectl 1.32 and later send the objects of their typed clients (`create namespace`, `create
configmap|secret|service|deployment`, `debug --copy-to`, `drain --disable-eviction`, ...) as
`application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a `runtime.Unknown` whose
`typeMeta` names the kind and whose `raw` holds the object in gogo protobuf. This module turns
such a body into exactly the dict that Go's JSON encoder would write for the same Go struct,
which is what kubectl would have sent as JSON, so that nothing after `decoding.parse_body`
needs to know which form came in.

Three sources meet here: field numbers, JSON names and Go's rules for zero values come from
`tables` (generated from kubectl's own descriptors and struct tags); value types come from the
OpenAPI schema (`kubelite.api.schema`); and the types whose protobuf form differs from their JSON
form (Time, MicroTime, Quantity, IntOrString, FieldsV1, RawExtension) are read by hand below.
Go's `null`s are left out rather than written, as the JSON decoder drops them anyway.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, cast

from kubelite.api import errors, meta, schema
from kubelite.api.protobuf import wire
from kubelite.api.protobuf.tables import MESSAGES
from kubelite.api.schema import Node

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
# The prefix of every body (runtime/serializer/protobuf: "k8s" and encoding style 0).
MAGIC = b"k8s\x00"

# Field numbers of the messages read by hand (apimachinery's generated.proto files; the table
# generator checks them against kubectl's descriptors).
_UNKNOWN_TYPE_META = 1
_UNKNOWN_RAW = 2
_TYPE_META_API_VERSION = 1
_TYPE_META_KIND = 2
_TIMESTAMP_SECONDS = 1
_TIMESTAMP_NANOS = 2
_QUANTITY_STRING = 1
_INT_OR_STRING_TYPE = 1
_INT_OR_STRING_INT = 2
_INT_OR_STRING_STR = 3
_RAW_BYTES = 1  # FieldsV1.Raw and RawExtension.raw
_MAP_KEY = 1
_MAP_VALUE = 2

# intstr.Type values.
_INTSTR_INT = 0
_INTSTR_STRING = 1

_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
_MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
_RAW_JSON = frozenset(
    {
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
    }
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Go's zero time.Time, which metav1.Time writes to JSON as null.
_GO_ZERO_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
# Where Kubernetes' "no kind is registered" error says the kind was looked for.
_SCHEME = "pkg/api/legacyscheme/scheme.go:30"

# Go's zero values, as its JSON encoder writes them (a zero Quantity is "0").
_ZEROS: dict[str, Any] = {
    schema.STRING: "",
    schema.INTEGER: 0,
    schema.BOOLEAN: False,
    schema.QUANTITY: "0",
    schema.INT_OR_STRING: 0,
}

# How Go's JSON encoder treats a field (see the marks in `tables`).
_OMIT_ZERO = ""
_ALWAYS = "!"
_POINTER = "?"
_INLINE = "..."


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the JSON name; "" for an embedded struct
    presence: str
    inline: str = ""  # the definition of an embedded struct


def _field(entry: str) -> _Field:
    if entry.startswith(_INLINE):
        return _Field("", _ALWAYS, entry[len(_INLINE) :])
    if entry[-1] in (_ALWAYS, _POINTER):
        return _Field(entry[:-1], entry[-1])
    return _Field(entry, _OMIT_ZERO)


_FIELDS: dict[str, dict[int, _Field]] = {
    definition: {number: _field(entry) for number, entry in table.items()}
    for definition, table in MESSAGES.items()
}


class _DecodeError(Exception):
    """A body that is protobuf but not a valid object; the text follows Go's where it can."""


def _wrong_wire_type(wire_type: int, name: str) -> _DecodeError:
    return _DecodeError(f"proto: wrong wireType = {wire_type} for field {name}")


def _is_message(node: Node) -> bool:
    """Whether a value of this schema is a protobuf message (as opposed to a scalar)."""
    return (
        node.kind in (schema.OBJECT, schema.QUANTITY, schema.INT_OR_STRING)
        or node.definition in (_TIME, _MICRO_TIME)
        or node.definition in _RAW_JSON
    )


def _is_zero(value: Any) -> bool:
    """Go's zero value of a scalar: "", 0 or false."""
    return value in ("", 0)


class _Decoder:
    """Reads messages of the served kinds, typing each field by the OpenAPI schema."""

    def message(self, data: bytes, definition: str, node: Node) -> dict[str, Any]:
        """A struct: its fields in Go's order, zero values given or left out as Go would."""
        table = _FIELDS.get(definition)
        if table is None:
            raise _DecodeError(f"no protobuf form is known for {definition}")
        sent: dict[int, Any] = {}
        for number, wire_type, value in wire.fields(data):
            field = table.get(number)
            if field is None:
                continue  # a field of a newer release: skipped, as gogo's generated code does
            child = node if field.inline else node.field(field.name)
            if child is None:
                continue
            if field.inline or _is_message(child):
                # A message sent in parts is the merge of its parts, which protobuf defines as
                # the decoding of their concatenation.
                if wire_type != wire.LEN:
                    raise _wrong_wire_type(wire_type, field.name or field.inline)
                sent[number] = sent.get(number, b"") + value
            elif child.kind == schema.ARRAY:
                sent.setdefault(number, []).extend(self.items(wire_type, value, child, field.name))
            elif child.kind == schema.MAP:
                if wire_type != wire.LEN:
                    raise _wrong_wire_type(wire_type, field.name)
                # wire.fields() gives a LEN field's value as bytes, every other one as an int.
                key, item = self.map_entry(cast(bytes, value), child, field.name)
                sent.setdefault(number, {})[key] = item
            else:
                sent[number] = self.scalar(wire_type, value, child, field.name)
        out: dict[str, Any] = {}
        for number, field in table.items():
            if field.inline:
                out.update(self.message(sent.get(number, b""), field.inline, node))
                continue
            child = node.field(field.name)
            if child is None:
                continue
            if number in sent:
                value = sent[number]
                if isinstance(value, bytes) and _is_message(child):
                    value = self.value(value, child)
                elif field.presence == _OMIT_ZERO and _is_zero(value):
                    continue
            elif field.presence == _ALWAYS:
                value = self.zero(child)
            else:
                continue
            if value is not None:
                out[field.name] = value
        return out

    def value(self, data: bytes, node: Node) -> Any:
        """A message-typed value: a struct, or one of the types with a JSON form of their own."""
        if node.definition in (_TIME, _MICRO_TIME):
            return self.time(data, node.definition == _MICRO_TIME)
        if node.definition in _RAW_JSON:
            return self.raw_json(data)
        if node.kind == schema.QUANTITY:
            return self.quantity(data)
        if node.kind == schema.INT_OR_STRING:
            return self.int_or_string(data)
        return self.message(data, node.definition, node)

    def zero(self, node: Node) -> Any:
        """What Go's JSON encoder writes for the zero value of a field that is always written."""
        if node.definition in (_TIME, _MICRO_TIME) or node.definition in _RAW_JSON:
            return None
        if node.kind == schema.OBJECT:
            return self.message(b"", node.definition, node)
        return _ZEROS.get(node.kind)

    def scalar(self, wire_type: int, value: int | bytes, node: Node, name: str) -> Any:
        kind = node.kind
        if kind == schema.STRING:
            if not isinstance(value, bytes):
                raise _wrong_wire_type(wire_type, name)
            if node.format == "byte":
                return base64.b64encode(value).decode("ascii")
            # Go keeps invalid UTF-8 in a string; its JSON encoder replaces it as this does.
            return value.decode("utf-8", errors="replace")
        if kind in (schema.INTEGER, schema.BOOLEAN):
            if not isinstance(value, int) or wire_type != wire.VARINT:
                raise _wrong_wire_type(wire_type, name)
            if kind == schema.BOOLEAN:
                return value != 0
            return wire.as_int32(value) if node.format == "int32" else wire.as_int64(value)
        raise _DecodeError(f"field {name} has no protobuf form kubelite knows")

    def items(self, wire_type: int, value: int | bytes, node: Node, name: str) -> list[Any]:
        """The elements one occurrence of a repeated field adds: one, or a packed run."""
        items = node.items
        if items is None:
            raise _DecodeError(f"field {name} has no protobuf form kubelite knows")
        if _is_message(items):
            if not isinstance(value, bytes):
                raise _wrong_wire_type(wire_type, name)
            return [self.value(value, items)]
        if items.kind in (schema.INTEGER, schema.BOOLEAN) and isinstance(value, bytes):
            return [self.scalar(wire.VARINT, v, items, name) for v in wire.packed_varints(value)]
        return [self.scalar(wire_type, value, items, name)]

    def map_entry(self, data: bytes, node: Node, name: str) -> tuple[str, Any]:
        """One entry of a map field: a message of a key (1) and a value (2)."""
        items = node.items
        if items is None:
            raise _DecodeError(f"field {name} has no protobuf form kubelite knows")
        key = ""
        item: Any = None
        for number, wire_type, value in wire.fields(data):
            if number == _MAP_KEY:
                if not isinstance(value, bytes):
                    raise _wrong_wire_type(wire_type, name)
                key = value.decode("utf-8", errors="replace")
            elif number == _MAP_VALUE:
                if items.kind == schema.ARRAY and isinstance(value, bytes):
                    # A named list (authorization's ExtraValue): a message of its items.
                    item = [
                        element
                        for _, kind, raw in wire.fields(value)
                        for element in self.items(kind, raw, items, name)
                    ]
                elif _is_message(items):
                    if not isinstance(value, bytes):
                        raise _wrong_wire_type(wire_type, name)
                    item = self.value(value, items)
                else:
                    item = self.scalar(wire_type, value, items, name)
        return key, self.zero(items) if item is None else item

    def time(self, data: bytes, micro: bool) -> str | None:
        """metav1.Time and MicroTime: a Timestamp; an empty one is Go's zero time (null)."""
        if not data:
            return None
        seconds = nanos = 0
        for number, wire_type, value in wire.fields(data):
            if number not in (_TIMESTAMP_SECONDS, _TIMESTAMP_NANOS):
                continue
            if wire_type != wire.VARINT or not isinstance(value, int):
                raise _wrong_wire_type(wire_type, "Seconds" if number == 1 else "Nanos")
            if number == _TIMESTAMP_SECONDS:
                seconds = wire.as_int64(value)
            else:
                nanos = wire.as_int32(value)
        try:
            when = _EPOCH + dt.timedelta(seconds=seconds, microseconds=nanos // 1000)
        except OverflowError as exc:
            raise _DecodeError(f"time out of range: {seconds}s {nanos}ns") from exc
        if when == _GO_ZERO_TIME:
            return None
        return meta.format_micro_time(when) if micro else meta.format_time(when)

    def quantity(self, data: bytes) -> str:
        """resource.Quantity: the string it carries; an empty message is Go's zero, "0"."""
        text = "0"
        for number, wire_type, value in wire.fields(data):
            if number == _QUANTITY_STRING:
                if not isinstance(value, bytes):
                    raise _wrong_wire_type(wire_type, "String")
                text = value.decode("utf-8", errors="replace")
        return text

    def int_or_string(self, data: bytes) -> int | str:
        """intstr.IntOrString: the int or the string its type names."""
        kind, number_value, text = _INTSTR_INT, 0, ""
        for number, wire_type, value in wire.fields(data):
            if number == _INT_OR_STRING_STR:
                if not isinstance(value, bytes):
                    raise _wrong_wire_type(wire_type, "StrVal")
                text = value.decode("utf-8", errors="replace")
            elif number in (_INT_OR_STRING_TYPE, _INT_OR_STRING_INT):
                if not isinstance(value, int) or wire_type != wire.VARINT:
                    raise _wrong_wire_type(wire_type, "Type" if number == 1 else "IntVal")
                if number == _INT_OR_STRING_TYPE:
                    kind = wire.as_int64(value)
                else:
                    number_value = wire.as_int32(value)
        if kind == _INTSTR_INT:
            return number_value
        if kind == _INTSTR_STRING:
            return text
        raise _DecodeError("impossible IntOrString.Type")

    def raw_json(self, data: bytes) -> Any:
        """FieldsV1 and RawExtension: JSON carried as bytes."""
        raw = b""
        for number, wire_type, value in wire.fields(data):
            if number == _RAW_BYTES:
                if not isinstance(value, bytes):
                    raise _wrong_wire_type(wire_type, "Raw")
                raw = value
        if not raw:
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _DecodeError(f"invalid JSON in a raw field: {exc}") from exc


def _envelope(data: bytes) -> tuple[str, str, bytes]:
    """apiVersion, kind and the object's bytes from a `runtime.Unknown`."""
    api_version = kind = ""
    raw = b""
    for number, _, value in wire.fields(data):
        if number == _UNKNOWN_TYPE_META and isinstance(value, bytes):
            for inner, _, text in wire.fields(value):
                if isinstance(text, bytes) and inner == _TYPE_META_API_VERSION:
                    api_version = text.decode("utf-8", errors="replace")
                elif isinstance(text, bytes) and inner == _TYPE_META_KIND:
                    kind = text.decode("utf-8", errors="replace")
        elif number == _UNKNOWN_RAW and isinstance(value, bytes):
            raw = value
    return api_version, kind, raw


def decode_request(body: bytes) -> dict[str, Any]:
    """A Kubernetes protobuf body as the JSON dict of its object, with `kind` and `apiVersion`.

    Raises a 400 BadRequest, as Kubernetes does, when the body is not the protobuf envelope,
    names a kind kubelite does not serve, or does not decode as that kind.
    """
    if not body:
        raise errors.bad_request("empty data")
    if not body.startswith(MAGIC):
        prefix = " ".join(str(b) for b in MAGIC)
        raise errors.bad_request(
            f"provided data does not appear to be a protobuf message, expected prefix [{prefix}]"
        )
    if len(body) == len(MAGIC):
        raise errors.bad_request("empty body")
    try:
        api_version, kind, raw = _envelope(body[len(MAGIC) :])
    except wire.WireError as exc:
        raise errors.bad_request(str(exc)) from exc
    type_meta = f"runtime.TypeMeta{{APIVersion:{json.dumps(api_version)}, Kind:{json.dumps(kind)}}}"
    if not kind:
        raise errors.bad_request(f"Object 'Kind' is missing in '{type_meta}'")
    if not api_version:
        raise errors.bad_request(f"Object 'apiVersion' is missing in '{type_meta}'")
    group, _, version = api_version.rpartition("/")
    definitions = schema.load()
    definition = definitions.definition_name(group, version, kind)
    if definition is None or definition not in _FIELDS:
        raise errors.bad_request(
            f'no kind "{kind}" is registered for version "{api_version}" in scheme "{_SCHEME}"'
        )
    try:
        obj = _Decoder().message(raw, definition, definitions.node(definition))
    except (wire.WireError, _DecodeError) as exc:
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}'
        ) from exc
    return {"kind": kind, "apiVersion": api_version, **obj}
