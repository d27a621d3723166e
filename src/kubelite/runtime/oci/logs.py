"""The CRI log format conmon writes and the kubelet reads back for `kubectl logs`.

Each line is `<RFC3339Nano time> <stream> <tag> <content>`, where the tag is `F` for a full
line and `P` for a part of a line that was split (Kubernetes' `pkg/kubelet/kuberuntime/logs`).
"""

from __future__ import annotations

from dataclasses import dataclass

TAG_FULL = "F"
TAG_PARTIAL = "P"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a CRI log file: when, which stream, whether it is a partial line, and its
    bytes."""

    timestamp: str
    stream: str  # stdout or stderr
    partial: bool
    content: bytes


def parse_log_line(line: bytes) -> LogLine:
    """One line of a CRI log file, without its newline.

    >>> parse_log_line(b"2026-01-02T03:04:05.123456789+00:00 stdout F hello")
    LogLine(timestamp='2026-01-02T03:04:05.123456789+00:00', stream='stdout', partial=False, \
content=b'hello')
    """
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
        raise ValueError(f"not a CRI log line: {line[:80]!r}")
    content = parts[3] if len(parts) == 4 else b""
    return LogLine(
        timestamp=parts[0].decode(),
        stream=parts[1].decode(),
        partial=parts[2] == TAG_PARTIAL.encode(),
        content=content,
    )


def read_log(data: bytes) -> dict[str, bytes]:
    """The bytes each stream wrote, partial lines joined again."""
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    for raw in data.splitlines():
        if not raw:
            continue
        line = parse_log_line(raw)
        out[line.stream] += line.content
        if not line.partial:
            out[line.stream] += b"\n"
    return {k: bytes(v) for k, v in out.items()}
