"""The API server's memory, seen from inside: reports and tracemalloc snapshots, for debugging.

Telling a leak from the allocator's high-water mark needs to know what Python still holds,
by the line that allocated it. With `KUBELITE_TRACEMALLOC=N` in its environment, `kubelite
server` starts tracemalloc (keeping N frames of each allocation's traceback) before it builds
anything, and writes a snapshot each time it gets SIGUSR2: after a full garbage collection, to
`<data dir>/tracemalloc/<n>.snapshot`, named in a line on stderr. `bench/memory_bench.py` asks
for one at each of its phases and compares them by traceback.

Tracing costs several times the memory it traces and slows every allocation. For a cheaper
look, `KUBELITE_MEMORY_REPORT=1` makes SIGUSR2 write `<data dir>/tracemalloc/<n>.json`
instead: the RSS, the objects the garbage collector tracks by type, and the RSS again after
glibc's malloc_trim(0) hands free pages back (what is left then is held, not merely free).
Nothing of this runs unless a variable is set; SIGUSR2 keeps its default action (the process
ends) otherwise, as with any program that does not handle it.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
import gc
import json
import logging
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENV_FRAMES = "KUBELITE_TRACEMALLOC"
ENV_REPORT = "KUBELITE_MEMORY_REPORT"
SNAPSHOT_SIGNAL = signal.SIGUSR2


def tracing_frames(environ: dict[str, str] | None = None) -> int:
    """The frames per traceback asked for by KUBELITE_TRACEMALLOC; 0 when it is unset or 0."""
    text = (os.environ if environ is None else environ).get(ENV_FRAMES, "").strip()
    if not text:
        return 0
    try:
        frames = int(text)
    except ValueError:
        raise ValueError(f"{ENV_FRAMES} must be a number of frames, not {text!r}") from None
    return max(0, frames)


class SnapshotWriter:
    """Writes numbered tracemalloc snapshots into one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written = 0

    def write(self) -> Path:
        # What is garbage now would only blur the comparison between two snapshots.
        gc.collect()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.written += 1
        path = self.directory / f"{self.written}.snapshot"
        tracemalloc.take_snapshot().dump(str(path))
        print(f"tracemalloc snapshot written to {path}", file=sys.stderr, flush=True)
        return path


def rss_bytes() -> int:
    """This process's resident set size (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def malloc_trim() -> bool:
    """glibc's malloc_trim(0): give the free memory of every arena back to the kernel. False
    where the C library has no such function."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    trim = getattr(ctypes.CDLL(libc_name), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


class ReportWriter(SnapshotWriter):
    """Writes numbered reports of what the process holds (see the module's docstring)."""

    def write(self) -> Path:
        gc.collect()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.written += 1
        path = self.directory / f"{self.written}.json"
        report: dict[str, Any] = {"rss": rss_bytes()}
        counts: collections.Counter[str] = collections.Counter()
        sizes: collections.Counter[str] = collections.Counter()
        coroutines: collections.Counter[str] = collections.Counter()
        for obj in gc.get_objects():
            name = type(obj).__name__
            counts[name] += 1
            sizes[name] += sys.getsizeof(obj)
            frame = getattr(obj, "cr_frame", None)
            if frame is not None:
                coroutines[f"{obj.cr_code.co_qualname} line {frame.f_lineno}"] += 1
        report["objects"] = sum(counts.values())
        report["by_type"] = [[n, counts[n], sizes[n]] for n, _ in sizes.most_common(25)]
        report["coroutines"] = coroutines.most_common(15)
        report["trimmed"] = malloc_trim()
        report["rss_after_trim"] = rss_bytes()
        path.write_text(json.dumps(report, indent=1))
        print(f"memory report written to {path}", file=sys.stderr, flush=True)
        return path


def start_tracing(data_dir: Path) -> SnapshotWriter | None:
    """Start tracemalloc and answer SIGUSR2 with a snapshot, if KUBELITE_TRACEMALLOC asks, or
    answer it with a report, if KUBELITE_MEMORY_REPORT does.

    Call it inside the running loop, before the server allocates what should be traced.
    """
    frames = tracing_frames()
    directory = data_dir / "tracemalloc"
    if frames:
        tracemalloc.start(frames)
        writer = SnapshotWriter(directory)
        log.warning("tracemalloc is on (%d frames): the server is slower and larger", frames)
    elif os.environ.get(ENV_REPORT, "") not in ("", "0"):
        writer = ReportWriter(directory)
    else:
        return None
    asyncio.get_running_loop().add_signal_handler(SNAPSHOT_SIGNAL, writer.write)
    return writer
