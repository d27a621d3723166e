"""CRI log files read back as `kubectl logs` shows them: parsing, partial lines, every option."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest

from kubelite.kubelet import logs
from kubelite.kubelet.logs import LogOptions, Timestamp, parse_line, parse_timestamp

T0 = "2026-12-02T03:00:00.000000001Z"
T1 = "2026-12-02T03:00:01.5Z"
T2 = "2026-12-02T04:00:02.123456789+01:00"  # 03:00:02.123456789 UTC


def cri(*lines: tuple[str, str, str, str]) -> bytes:
    return b"".join(f"{t} {s} {tag} {text}\n".encode() for t, s, tag, text in lines)


async def collect(
    path: Path, options: LogOptions, is_running: logs.IsRunning | None = None
) -> bytes:
    return b"".join([chunk async for chunk in logs.read_logs(path, options, is_running)])


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "0.log"
    path.write_bytes(
        cri(
            (T0, "stdout", "F", "one"),
            (T1, "stderr", "P", "two "),
            (T1, "stderr", "P", "in "),
            (T1, "stderr", "F", "pieces"),
            (T2, "stdout", "F", "three"),
        )
    )
    return path


# --- parsing --------------------------------------------------------------------------------


def test_a_full_line_parses_into_time_stream_and_text() -> None:
    entry = parse_line(b"2026-12-02T03:00:00.000000001Z stdout F hello world\n")
    assert entry.timestamp == Timestamp(parse_timestamp(T0).ns)
    assert (entry.stream, entry.partial, entry.text) == ("stdout", False, b"hello world")


def test_a_partial_line_and_extra_tags() -> None:
    entry = parse_line(b"2026-12-02T03:00:00Z stderr P:x piece")
    assert (entry.stream, entry.partial, entry.text) == ("stderr", True, b"piece")


def test_an_empty_line_of_output_has_no_text() -> None:
    assert parse_line(b"2026-12-02T03:00:00Z stdout F").text == b""
    assert parse_line(b"2026-12-02T03:00:00Z stdout F ").text == b""


@pytest.mark.parametrize(
    "line",
    [
        b"garbage",
        b"2026-12-02T03:00:00Z stdin F x",
        b"2026-12-02T03:00:00Z stdout X x",
        b"no stdout F",
    ],
)
def test_malformed_lines_are_refused(line: bytes) -> None:
    with pytest.raises(ValueError):
        parse_line(line)


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        (T0, "2026-12-02T03:00:00.000000001Z"),
        (T1, "2026-12-02T03:00:01.500000000Z"),
        (T2, "2026-12-02T04:00:02.123456789+01:00"),
        ("2026-12-02T03:00:00-05:30", "2026-12-02T03:00:00.000000000-05:30"),
    ],
)
def test_timestamps_print_as_go_rfc3339nano_fixed(text: str, formatted: str) -> None:
    assert parse_timestamp(text).format() == formatted


def test_timestamps_with_offsets_compare_by_instant() -> None:
    assert parse_timestamp(T2).ns == parse_timestamp("2026-12-02T03:00:02.123456789Z").ns


def test_options_from_query() -> None:
    now = parse_timestamp(T2).ns
    opts = logs.options_from_query(
        {
            "tailLines": "2",
            "timestamps": "true",
            "limitBytes": "10",
            "follow": "1",
            "sinceSeconds": "60",
        },
        now_ns=now,
    )
    assert opts == LogOptions(
        tail_lines=2,
        since=Timestamp(now - 60_000_000_000),
        timestamps=True,
        limit_bytes=10,
        follow=True,
    )
    assert logs.options_from_query({"sinceTime": T1}).since == parse_timestamp(T1)
    assert logs.options_from_query({"tailLines": "-1"}).tail_lines is None
    with pytest.raises(ValueError, match="tailLines"):
        logs.options_from_query({"tailLines": "x"})


# --- reading with options -------------------------------------------------------------------


async def test_pieces_are_joined_into_one_line(log_file: Path) -> None:
    assert await collect(log_file, LogOptions()) == b"one\ntwo in pieces\nthree\n"


async def test_timestamps_go_before_each_line_not_each_piece(log_file: Path) -> None:
    out = await collect(log_file, LogOptions(timestamps=True))
    assert out == (
        b"2026-12-02T03:00:00.000000001Z one\n"
        b"2026-12-02T03:00:01.500000000Z two in pieces\n"
        b"2026-12-02T04:00:02.123456789+01:00 three\n"
    )


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        (0, b""),
        (1, b"three\n"),
        (2, b"two in pieces\nthree\n"),
        (3, b"one\ntwo in pieces\nthree\n"),
        (10, b"one\ntwo in pieces\nthree\n"),
    ],
)
async def test_tail_counts_lines_of_output(log_file: Path, tail: int, expected: bytes) -> None:
    assert await collect(log_file, LogOptions(tail_lines=tail)) == expected


def test_tail_reads_a_long_file_backwards_across_blocks() -> None:
    lines = [(T0, "stdout", "F", f"line {i:06d} " + "x" * 100) for i in range(3000)]
    data = cri(*lines)
    f = io.BytesIO(data)
    start = logs.tail_offset(f, 1500)
    assert data[start:].count(b"\n") == 1500
    assert data[start:].startswith(f"{T0} stdout F line 001500".encode())


def _naive_tail(data: bytes, lines: int) -> int:
    """The start of the last `lines` lines of output, the slow obvious way."""
    starts, offset, line_start = [], 0, 0
    for raw in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
        parts = raw.split(b" ", 3)
        if len(parts) >= 3 and parts[2] != b"P":
            starts.append(line_start)
            line_start = offset + len(raw) + 1
        offset += len(raw) + 1
    return 0 if lines >= len(starts) else starts[len(starts) - lines]


@pytest.mark.parametrize("seed", range(5))
def test_tail_offset_matches_a_naive_count_at_every_block_boundary(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    rng = random.Random(seed)
    pieces = []
    for i in range(60):
        tag = rng.choice("PPF")
        pieces.append(f"{T0} stdout {tag} {'y' * rng.randrange(0, 12)}{i}\n".encode())
        if rng.random() < 0.05:
            pieces.append(b"garbage\n")
    data = b"".join(pieces)
    if seed % 2:
        data += f"{T1} stdout F no newline".encode()
    monkeypatch.setattr(logs, "_READ_SIZE", rng.choice([1, 7, 50, 4096]))
    for lines in range(0, 70, 3):
        expected = len(data) if lines == 0 else _naive_tail(data, lines)
        assert logs.tail_offset(io.BytesIO(data), lines) == expected, lines


async def test_since_skips_older_lines(log_file: Path) -> None:
    since = parse_timestamp("2026-12-02T03:00:01Z")
    assert await collect(log_file, LogOptions(since=since)) == b"two in pieces\nthree\n"


async def test_limit_bytes_cuts_the_output(log_file: Path) -> None:
    assert await collect(log_file, LogOptions(limit_bytes=7)) == b"one\ntwo"
    out = await collect(log_file, LogOptions(limit_bytes=12, timestamps=True))
    assert out == b"2026-12-02T0"


async def test_a_last_line_without_newline_is_shown(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(cri((T0, "stdout", "F", "a")) + f"{T1} stdout F b".encode())
    assert await collect(path, LogOptions()) == b"a\nb\n"


async def test_unparsable_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(cri((T0, "stdout", "F", "a")) + b"junk\n" + cri((T1, "stdout", "F", "b")))
    assert await collect(path, LogOptions()) == b"a\nb\n"


# --- follow ---------------------------------------------------------------------------------


async def _next(agen: object, timeout: float = 5.0) -> bytes:
    return await asyncio.wait_for(agen.__anext__(), timeout)  # type: ignore[attr-defined]


async def test_follow_streams_appended_lines_and_ends_with_the_container(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(cri((T0, "stdout", "F", "first")))
    running = True

    async def is_running() -> bool:
        return running

    stream = logs.read_logs(path, LogOptions(follow=True), is_running)
    try:
        assert await _next(stream) == b"first\n"
        with path.open("ab") as f:
            f.write(cri((T1, "stdout", "P", "sec")))
            f.flush()
            assert await _next(stream) == b"sec"
            f.write(cri((T1, "stdout", "F", "ond")))
        assert await _next(stream) == b"ond\n"
        with path.open("ab") as f:
            f.write(cri((T2, "stdout", "F", "last words")))
        running = False
        rest = [chunk async for chunk in stream]
        assert b"".join(rest) == b"last words\n"
    finally:
        await stream.aclose()


async def test_follow_moves_on_to_a_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(cri((T0, "stdout", "F", "old")))
    stream = logs.read_logs(path, LogOptions(follow=True))
    try:
        assert await _next(stream) == b"old\n"
        with path.open("ab") as f:
            f.write(cri((T1, "stdout", "F", "end of old")))
        os.rename(path, tmp_path / "0.log.1")
        path.write_bytes(cri((T2, "stdout", "F", "new")))
        seen = b""
        while seen != b"end of old\nnew\n":
            seen += await _next(stream)
    finally:
        await stream.aclose()


async def test_follow_of_a_stopped_container_reads_what_is_there_and_ends(log_file: Path) -> None:
    async def stopped() -> bool:
        return False

    out = await asyncio.wait_for(collect(log_file, LogOptions(follow=True), stopped), 5)
    assert out == b"one\ntwo in pieces\nthree\n"
