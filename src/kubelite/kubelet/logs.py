"""Reading a container's CRI-format log file the way `kubectl logs` asks for it.

conmon writes one line per chunk of container output, `<RFC3339Nano> <stdout|stderr> <P|F> <text>`
(CRI's log format): `F` ends a line of the container's output, `P` is a piece of a longer line
that the following pieces continue, up to the next `F`. The kubelet's /containerLogs turns such a
file back into the container's output, with the options of Kubernetes' PodLogOptions:

- `tail_lines`: only the last N lines (a line is everything up to an `F`, partial pieces
  included);
- `since_ns`: skip pieces written before that time;
- `timestamps`: put the piece's time (RFC3339Nano, always nine digits) and a space before each line;
- `limit_bytes`: stop after that many bytes of output, cutting the last piece;
- `follow`: keep reading as the file grows, move on to the new file when it is rotated or
  replaced, and stop once the container is no longer running and the file is read to its end.

Parsing and option handling are pure functions; `read_logs` is the async iterator the server
streams from. Reading is by polling (stdlib only): a live file is checked every
`FOLLOW_POLL_INTERVAL`, the container's state every `STATE_CHECK_PERIOD`.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# CRI log format (kubelet pkg/kubelet/kuberuntime/logs): stream names and the full/partial tags.
STDOUT = "stdout"
STDERR = "stderr"
TAG_PARTIAL = b"P"
TAG_FULL = b"F"
# How often a followed file is looked at for new lines or a rotation.
FOLLOW_POLL_INTERVAL = 0.1
# How often `follow` asks whether the container still runs (the kubelet's stateCheckPeriod is 5 s;
# shorter here so that `kubectl logs -f` ends soon after the container).
STATE_CHECK_PERIOD = 1.0
# Bytes read at a time, and the most bytes one yielded chunk gathers.
_READ_SIZE = 64 * 1024

_RFC3339 = re.compile(
    rb"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class Timestamp:
    """A point in time with nanoseconds (datetime has only microseconds) and its UTC offset."""

    ns: int  # since the epoch, UTC
    offset_s: int = 0  # the zone it was written in, kept for printing it back

    def format(self) -> str:
        """Go's RFC3339NanoFixed (`2006-01-02T15:04:05.000000000Z07:00`), as the kubelet prints."""
        seconds, nanos = divmod(self.ns + self.offset_s * 1_000_000_000, 1_000_000_000)
        t = time.gmtime(seconds)
        if self.offset_s == 0:
            zone = "Z"
        else:
            sign = "+" if self.offset_s > 0 else "-"
            hours, minutes = divmod(abs(self.offset_s) // 60, 60)
            zone = f"{sign}{hours:02d}:{minutes:02d}"
        return f"{time.strftime('%Y-%m-%dT%H:%M:%S', t)}.{nanos:09d}{zone}"


def parse_timestamp(value: bytes | str) -> Timestamp:
    """Parse RFC 3339 with up to nine fractional digits: `2026-12-02T03:25:34.5+01:00`."""
    raw = value.encode() if isinstance(value, str) else value
    found = _RFC3339.match(raw)
    if found is None:
        raise ValueError(f"invalid RFC3339 time {raw.decode(errors='replace')!r}")
    fraction = found.group(7) or b""
    nanos = int(fraction.ljust(9, b"0")) if fraction else 0
    seconds, offset = _seconds(raw[:19], found.group(8))
    return Timestamp(seconds * 1_000_000_000 + nanos, offset)


@functools.lru_cache(maxsize=4096)
def _seconds(date_time: bytes, zone: bytes) -> tuple[int, int]:
    """Epoch seconds and UTC offset of `YYYY-MM-DDTHH:MM:SS` in `zone`; cached, since the lines
    of a log share their seconds far more often than not."""
    offset = 0
    if zone not in (b"Z", b"z"):
        sign = 1 if zone[:1] == b"+" else -1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    fields = (
        int(date_time[0:4]),
        int(date_time[5:7]),
        int(date_time[8:10]),
        int(date_time[11:13]),
        int(date_time[14:16]),
        int(date_time[17:19]),
    )
    if not (1 <= fields[1] <= 12 and 1 <= fields[2] <= 31 and fields[3] < 24 and fields[4] < 60):
        raise ValueError(f"invalid RFC3339 time {date_time.decode(errors='replace')!r}")
    return calendar.timegm((*fields, 0, 0, 0)) - offset, offset


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a CRI log file: a full line of output, or a piece of one."""

    time: bytes  # RFC 3339, as written; parsed only when an option needs it
    stream: str
    partial: bool
    text: bytes  # without the newline the container wrote

    @property
    def timestamp(self) -> Timestamp:
        return parse_timestamp(self.time)


def parse_line(line: bytes) -> LogEntry:
    """Parse `<time> <stream> <tags> <text>` (one file line, its newline removed or not).

    The tags field may carry more tags after a `:`; only the first (P or F) means anything.
    """
    line = line.removesuffix(b"\n")
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise ValueError(f"invalid CRI log line {line[:80]!r}")
    stamp, stream, tags = parts[0], parts[1].decode(errors="replace"), parts[2]
    if stream not in (STDOUT, STDERR):
        raise ValueError(f"unknown stream {stream!r} in CRI log line")
    tag = tags.split(b":", 1)[0]
    if tag not in (TAG_PARTIAL, TAG_FULL):
        raise ValueError(f"unknown tag {tag!r} in CRI log line")
    if _RFC3339.match(stamp) is None:
        raise ValueError(f"invalid time {stamp[:40]!r} in CRI log line")
    text = parts[3] if len(parts) == 4 else b""
    return LogEntry(stamp, stream, tag == TAG_PARTIAL, text)


@dataclass(frozen=True)
class LogOptions:
    """What to read: PodLogOptions as the kubelet applies them (None: no limit)."""

    tail_lines: int | None = None
    since: Timestamp | None = None
    timestamps: bool = False
    limit_bytes: int | None = None
    follow: bool = False


_TRUE = ("true", "1")


def options_from_query(query: dict[str, str], now_ns: int | None = None) -> LogOptions:
    """The options of a /containerLogs query; ValueError names a value that does not parse.

    `sinceSeconds` counts back from `now_ns` (the current time by default); `sinceTime` is an
    RFC 3339 time. A negative tailLines means every line, as in Kubernetes.
    """

    def integer(name: str) -> int | None:
        raw = query.get(name)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{name}: invalid value {raw!r}: must be an integer") from None

    tail = integer("tailLines")
    limit = integer("limitBytes")
    since_seconds = integer("sinceSeconds")
    since: Timestamp | None = None
    if since_seconds is not None:
        now = time.time_ns() if now_ns is None else now_ns
        since = Timestamp(now - since_seconds * 1_000_000_000)
    elif query.get("sinceTime"):
        since = parse_timestamp(query["sinceTime"])
    return LogOptions(
        tail_lines=tail if tail is not None and tail >= 0 else None,
        since=since,
        timestamps=query.get("timestamps", "").lower() in _TRUE,
        limit_bytes=limit if limit is not None and limit > 0 else None,
        follow=query.get("follow", "").lower() in _TRUE,
    )


class Formatter:
    """Turns parsed entries into output bytes: since, timestamps and limitBytes, in that order.

    A line's timestamp goes before its first piece only, so a line written in pieces reads as one
    line. `done` turns true once limitBytes is reached.
    """

    def __init__(self, options: LogOptions) -> None:
        self.options = options
        self.remaining = options.limit_bytes
        self._line_start = {STDOUT: True, STDERR: True}

    @property
    def done(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def format(self, entry: LogEntry) -> bytes:
        starts_line = self._line_start[entry.stream]
        self._line_start[entry.stream] = not entry.partial
        since = self.options.since
        stamp = entry.timestamp if since is not None or self.options.timestamps else None
        if since is not None and stamp is not None and stamp.ns < since.ns:
            return b""
        out = entry.text if entry.partial else entry.text + b"\n"
        if stamp is not None and self.options.timestamps and starts_line:
            out = stamp.format().encode() + b" " + out
        if self.remaining is not None:
            out = out[: self.remaining]
            self.remaining -= len(out)
        return out


def tail_offset(f: BinaryIO, lines: int) -> int:
    """Where the last `lines` lines of output start in a CRI log file (0: the whole file).

    Reads backwards a block at a time, looking at each file line once, so a long file's head is
    never read. A line of output is counted at its `F` piece; the pieces before it (back to the
    previous `F`) belong to it. Lines that do not parse are not counted (the reader skips them).
    """
    end = f.seek(0, os.SEEK_END)
    if lines == 0:
        return end
    pos = end
    carry = b""  # the part already read of the file line the read bytes start in
    full = 0
    while pos > 0:
        step = min(_READ_SIZE, pos)
        pos -= step
        f.seek(pos)
        data = f.read(step) + carry
        segments = data.split(b"\n")
        # The first segment may go on in the block before; it is looked at once that is read.
        whole = segments if pos == 0 else segments[1:]
        carry = b"" if pos == 0 else segments[0]
        newline = pos + len(data)  # where the newline after the segment being looked at is
        for segment in reversed(whole):
            if segment and _is_full(segment):
                full += 1
                if full == lines + 1:
                    return newline + 1
            newline -= len(segment) + 1
    return 0


def _is_full(line: bytes) -> bool:
    """Whether a file line is the `F` end of a line of output."""
    parts = line.split(b" ", 3)
    return len(parts) >= 3 and parts[2].split(b":", 1)[0] != TAG_PARTIAL


IsRunning = Callable[[], Awaitable[bool]]


async def read_logs(
    path: Path, options: LogOptions, is_running: IsRunning | None = None
) -> AsyncIterator[bytes]:
    """Yield the container's output from the CRI log file at `path`, as `options` say.

    With `follow`, waits for more until `is_running` answers False (None: until cancelled) and
    the file is read to its end; a rotated or replaced file is read to its end, then the new
    one from its start.
    """
    formatter = Formatter(options)
    f = path.open("rb")
    try:
        f.seek(tail_offset(f, options.tail_lines) if options.tail_lines is not None else 0)
        pending = b""
        # The first time the end is reached, ask at once: a stopped container's log just ends.
        last_state_check = -STATE_CHECK_PERIOD
        stopping = False
        while True:
            data = f.read(_READ_SIZE)
            if data:
                pending += data
                *complete, pending = pending.split(b"\n")
                out = _format_lines(complete, formatter)
                if out:
                    yield out
                if formatter.done:
                    return
                continue
            # At the end of the file as it is now.
            if not options.follow or stopping:
                if pending:
                    # A last line without its newline: the kubelet shows it too.
                    out = _format_lines([pending], formatter)
                    if out:
                        yield out
                return
            if _truncated(f):
                # Truncated in place (copytruncate): what is there now is new.
                f.seek(0)
                pending = b""
                continue
            if _replaced(path, f):
                if f.read(1):
                    # Written between the last read and the rename: finish the old file first.
                    f.seek(-1, os.SEEK_CUR)
                    continue
                f.close()
                f = path.open("rb")
                pending = b""
                continue
            if is_running is not None and time.monotonic() - last_state_check >= (
                STATE_CHECK_PERIOD
            ):
                last_state_check = time.monotonic()
                if not await is_running():
                    # One more pass: what the container wrote just before it ended.
                    stopping = True
                    continue
            await asyncio.sleep(FOLLOW_POLL_INTERVAL)
    finally:
        f.close()


def _format_lines(lines: list[bytes], formatter: Formatter) -> bytes:
    chunks = []
    for line in lines:
        if not line:
            continue
        try:
            entry = parse_line(line)
        except ValueError:
            # The kubelet skips lines it cannot parse and goes on with the rest.
            continue
        chunks.append(formatter.format(entry))
        if formatter.done:
            break
    return b"".join(chunks)


def _replaced(path: Path, f: BinaryIO) -> bool:
    """Whether another file now has the name (rotated or replaced); not while there is none."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        # Rotation renames first and creates after: wait for the new file.
        return False
    mine = os.fstat(f.fileno())
    return (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev)


def _truncated(f: BinaryIO) -> bool:
    return os.fstat(f.fileno()).st_size < f.tell()
