"""The CRI log format conmon writes."""

from __future__ import annotations

import pytest

from kubelite.runtime.oci.logs import parse_log_line, read_log


def test_parse_full_and_partial_lines() -> None:
    full = parse_log_line(b"2026-01-02T03:04:05.123456789+00:00 stdout F hello world\n")
    assert (full.stream, full.partial, full.content) == ("stdout", False, b"hello world")
    part = parse_log_line(b"2026-01-02T03:04:05.1+00:00 stderr P abc")
    assert (part.stream, part.partial, part.content) == ("stderr", True, b"abc")
    empty = parse_log_line(b"2026-01-02T03:04:05.1+00:00 stdout F")
    assert empty.content == b""


def test_read_log_joins_partial_lines_per_stream() -> None:
    data = (
        b"t stdout P hel\n"
        b"t stderr F oops\n"
        b"t stdout F lo\n"
        b"t stdout F again\n"
    )  # fmt: skip
    assert read_log(data) == {"stdout": b"hello\nagain\n", "stderr": b"oops\n"}


def test_not_a_log_line() -> None:
    with pytest.raises(ValueError, match="not a CRI log line"):
        parse_log_line(b"garbage")
