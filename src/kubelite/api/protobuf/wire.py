"""The protocol buffers wire format: a reader of tagged fields, and nothing that knows a schema.

A message is a run of fields, each a varint key (`number << 3 | wire type`) and a value whose
shape the wire type gives: a varint, 8 bytes, a length-delimited run of bytes, or 4 bytes.
Kubernetes' generated code (gogo protobuf, proto2) uses no groups, so the group wire types are
refused like any other malformed input. The meaning of each field is the decoder's business
(`kubelite.api.protobuf.decode`); this module only splits the bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT = 0
I64 = 1
LEN = 2
I32 = 5

_MAX_VARINT_BYTES = 10


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message; the text is the Go library's."""


def read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """The unsigned varint at `pos`, and the position after it."""
    result = 0
    shift = 0
    for i in range(pos, min(pos + _MAX_VARINT_BYTES, len(data))):
        byte = data[i]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, i + 1
        shift += 7
    if pos + _MAX_VARINT_BYTES <= len(data):
        raise WireError("proto: integer overflow")
    raise WireError("unexpected EOF")


def as_int64(value: int) -> int:
    """A varint read as Go's int64 (two's complement in 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def as_int32(value: int) -> int:
    """A varint read as Go's int32, which keeps only the low 32 bits."""
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int | bytes]]:
    """Every field of a message in order: (number, wire type, value).

    The value is an int for VARINT, I64 and I32 (the raw unsigned bits) and bytes for LEN.
    """
    view = memoryview(data)
    pos = 0
    end = len(view)
    while pos < end:
        key, pos = read_varint(view, pos)
        number, wire_type = key >> 3, key & 7
        if number <= 0:
            raise WireError(f"proto: illegal tag {number} (wire type {wire_type})")
        if wire_type == VARINT:
            value, pos = read_varint(view, pos)
            yield number, wire_type, value
        elif wire_type == LEN:
            length, pos = read_varint(view, pos)
            if length > end - pos:
                raise WireError("unexpected EOF")
            yield number, wire_type, bytes(view[pos : pos + length])
            pos += length
        elif wire_type in (I64, I32):
            size = 8 if wire_type == I64 else 4
            if pos + size > end:
                raise WireError("unexpected EOF")
            yield number, wire_type, int.from_bytes(view[pos : pos + size], "little")
            pos += size
        else:
            raise WireError(f"proto: illegal wireType {wire_type}")


def packed_varints(data: bytes) -> list[int]:
    """The values of a packed repeated varint field."""
    values = []
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        values.append(value)
    return values
