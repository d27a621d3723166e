"""The protobuf wire format reader: varints, fields, and the malformed inputs it refuses."""

from __future__ import annotations

import pytest

from kubelite.api.protobuf import wire


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"\x00", 0),
        (b"\x01", 1),
        (b"\x7f", 127),
        (b"\xac\x02", 300),
        (b"\xff\xff\xff\xff\x0f", 0xFFFF_FFFF),
        (b"\xff" * 9 + b"\x01", 0xFFFF_FFFF_FFFF_FFFF),
    ],
)
def test_varints_read_little_endian_groups_of_seven_bits(data: bytes, value: int) -> None:
    assert wire.read_varint(data, 0) == (value, len(data))


def test_a_varint_longer_than_ten_bytes_is_an_overflow() -> None:
    with pytest.raises(wire.WireError, match="integer overflow"):
        wire.read_varint(b"\xff" * 11, 0)


def test_a_varint_cut_short_is_an_unexpected_eof() -> None:
    with pytest.raises(wire.WireError, match="unexpected EOF"):
        wire.read_varint(b"\xff\xff", 0)


@pytest.mark.parametrize(
    ("raw", "int64", "int32"),
    [
        (5, 5, 5),
        (0xFFFF_FFFF_FFFF_FFFF, -1, -1),
        (0xFFFF_FFFF_FFFF_FF85, -123, -123),
        (1 << 31, 1 << 31, -(1 << 31)),
    ],
)
def test_varints_read_as_go_signed_integers(raw: int, int64: int, int32: int) -> None:
    assert wire.as_int64(raw) == int64
    assert wire.as_int32(raw) == int32


def test_fields_are_split_with_their_numbers_and_wire_types() -> None:
    data = b"".join(
        [
            b"\x08\x96\x01",  # 1: varint 150
            b"\x12\x03abc",  # 2: bytes "abc"
            b"\x19" + (7).to_bytes(8, "little"),  # 3: 64 bits
            b"\x25" + (9).to_bytes(4, "little"),  # 4: 32 bits
            b"\x80\x01\x01",  # 16: varint 1, behind a two-byte key
        ]
    )
    assert list(wire.fields(data)) == [
        (1, wire.VARINT, 150),
        (2, wire.LEN, b"abc"),
        (3, wire.I64, 7),
        (4, wire.I32, 9),
        (16, wire.VARINT, 1),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x12\x05ab", "unexpected EOF"),  # length past the end
        (b"\x19\x01\x02", "unexpected EOF"),  # 64-bit value cut short
        (b"\x08", "unexpected EOF"),  # key without its value
        (b"\x0b", r"illegal wireType 3"),  # groups are not used by Kubernetes
        (b"\x0e\x00", r"illegal wireType 6"),
        (b"\x00\x00", r"illegal tag 0"),
    ],
)
def test_malformed_messages_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        list(wire.fields(data))


def test_packed_varints_are_read_one_after_another() -> None:
    assert wire.packed_varints(b"\x01\xac\x02\x00") == [1, 300, 0]
