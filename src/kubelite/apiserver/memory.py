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
glibc's malloc_trim(0) hands free pages back (what is left then is held, not merely free),
with the RSS split as the kernel counts it, CPython's small-object arenas against the bytes
live in them, SQLite's own allocations and the fill of each bounded cache.
`KUBELITE_MEMORY_REPORT=clear` also empties those caches and reads the RSS again: what that
gives back is what the caches held; what it does not is fragmentation.
Nothing of this runs unless a variable is set; SIGUSR2 keeps its default action (the process
ends) otherwise, as with any program that does not handle it.

What does run always is a little tuning of glibc's allocator (`tune_allocator`) and a trim of
the heap once a minute (`trim_periodically`): freed memory goes back to the kernel instead of
staying in the RSS as a high-water mark. `KUBELITE_MEMORY_TUNING=0` leaves both out, to measure
what they change (`bench/memory_bench.py --server-env KUBELITE_MEMORY_TUNING=0`).
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import ctypes.util
import functools
import gc
import json
import logging
import os
import re
import signal
import sys
import tempfile
import tracemalloc
import types
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ENV_FRAMES = "KUBELITE_TRACEMALLOC"
ENV_REPORT = "KUBELITE_MEMORY_REPORT"
ENV_TUNING = "KUBELITE_MEMORY_TUNING"
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


def rss_parts() -> dict[str, int]:
    """The RSS split as the kernel counts it (RssAnon, RssFile, RssShmem), in bytes: the
    heap is anonymous memory; SQLite's WAL index and mapped libraries are files."""
    parts = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
            name, value = line.split(":", 1)
            parts[name] = int(value.split()[0]) * 1024
    return parts


def pymalloc_stats() -> dict[str, int]:
    """CPython's small-object allocator, from sys._debugmallocstats: its arenas (1 MiB each
    on 64-bit Linux) stay mapped while any object in them lives, so the RSS it holds can be
    far more than the bytes in its allocated blocks. That gap is fragmentation, not a leak."""
    debug = getattr(sys, "_debugmallocstats", None)
    if debug is None:
        return {}
    with tempfile.TemporaryFile("w+") as capture:
        # It writes with C's stdio to fd 2: point fd 2 at the file for the call.
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            debug()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()
    wanted = {
        "# arenas allocated current": "arenas",
        "# arenas highwater mark": "arenas_highwater",
        "# bytes in allocated blocks": "allocated_bytes",
        "# bytes in available blocks": "available_bytes",
        "Total": "total_bytes",
    }
    stats: dict[str, int] = {}
    for line in text.splitlines():
        label, _, value = line.partition("=")
        key = wanted.get(label.strip())
        if key is not None and key not in stats:
            stats[key] = int(value.strip().replace(",", ""))
    return stats


def sqlite_memory() -> int:
    """Bytes SQLite's own allocator holds in this process (its page caches, mostly); -1 when
    the library cannot be reached."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return -1
    used = getattr(ctypes.CDLL(name), "sqlite3_memory_used", None)
    if used is None:
        return -1
    used.restype = ctypes.c_int64
    return int(used())


def bounded_caches() -> dict[str, Any]:
    """kubelite's lru caches with a size bound, by qualified name: the caches keyed on what
    clients send (names, selectors, field paths), as opposed to the unbounded ones keyed on the
    schema, which hold a fixed amount."""
    found: dict[str, Any] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("kubelite.") or module is None:
            continue
        for value in list(vars(module).values()):
            # By type, not by attribute: some imported objects answer any attribute lookup with
            # an error of their own (dnslib's QTYPE raises DNSError, not AttributeError).
            if not isinstance(value, functools._lru_cache_wrapper):
                continue
            if value.cache_parameters().get("maxsize") is None:
                continue
            found[f"{name}.{value.__qualname__}"] = value
    return found


def _libc_function(name: str) -> Any:
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    return getattr(ctypes.CDLL(libc_name), name, None)


def has_malloc_trim() -> bool:
    """Whether the C library is glibc, the one with malloc_trim."""
    return _libc_function("malloc_trim") is not None


def malloc_trim() -> bool:
    """glibc's malloc_trim(0): give the free memory of every arena back to the kernel. False
    where the C library has no such function."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim(0)
    return True


# mallopt(3) parameters.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
# Allocations from this size up get pages of their own (mmap), given back when freed. At
# 256 KiB a Table of 10,000 pods took 0.70 s against 0.55 s without tuning (every buffer of
# a big response came as fresh pages, faulted in one by one); at 1 MiB it takes 0.54 s, and the
# RSS after memory_bench's hostile run settles as low (141 MB after a trim, against 146).
MMAP_THRESHOLD = 1 << 20
# Arenas glibc may make for the server's threads (its default is eight per core).
ARENA_MAX = 2
# How often the server gives the free memory of its heap back (see `trim_periodically`).
TRIM_INTERVAL = 60.0


def tune_allocator() -> bool:
    """Make glibc give big freed buffers back at once, and keep fewer arenas.

    glibc serves allocations of 128 KiB and more with pages of their own, but raises that
    threshold to the size of each such block freed (up to 32 MiB): after the first 1 MB request
    body, every later one came from the heap, and the heap keeps its high-water mark. Setting
    the threshold fixes it where it is, above what a big response's buffers take. The
    server's few threads (the store's writer, readers and checkpointer) would each get an
    arena of their own; two is enough for them.
    False where the C library has no mallopt.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_ARENA_MAX, ARENA_MAX)
    return True


async def trim_periodically(interval: float = TRIM_INTERVAL) -> None:
    """Every `interval` seconds, give the heap's free pages back (malloc_trim): what a burst of
    requests freed stops counting in the RSS within a minute of it. One call takes a few
    milliseconds of the loop for a heap of hundreds of megabytes."""
    if _libc_function("malloc_trim") is None:
        return
    while True:
        await asyncio.sleep(interval)
        malloc_trim()


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
            if isinstance(obj, types.CoroutineType) and obj.cr_frame is not None:
                coroutines[f"{obj.cr_code.co_qualname} line {obj.cr_frame.f_lineno}"] += 1
        report["objects"] = sum(counts.values())
        report["by_type"] = [[n, counts[n], sizes[n]] for n, _ in sizes.most_common(25)]
        report["coroutines"] = coroutines.most_common(15)
        report["big_values"] = _big_value_holders()
        report["trimmed"] = malloc_trim()
        report["rss_after_trim"] = rss_bytes()
        report["rss_parts"] = rss_parts()
        report["pymalloc"] = pymalloc_stats()
        report["sqlite_bytes"] = sqlite_memory()
        caches = bounded_caches()
        report["caches"] = {name: f.cache_info().currsize for name, f in caches.items()}
        if os.environ.get(ENV_REPORT) == "clear":
            for f in caches.values():
                f.cache_clear()
            re.purge()
            gc.collect()
            malloc_trim()
            report["rss_after_clearing"] = rss_bytes()
            report["pymalloc_after_clearing"] = pymalloc_stats()
        path.write_text(json.dumps(report, indent=1))
        print(f"memory report written to {path}", file=sys.stderr, flush=True)
        return path


def _describe(obj: Any) -> str:
    frame = obj.cr_frame if isinstance(obj, types.CoroutineType) else obj
    if isinstance(frame, types.FrameType):
        return f"frame {frame.f_code.co_qualname}:{frame.f_lineno}"
    return type(obj).__name__


def _big_value_holders(threshold: int = 256 << 10) -> dict[str, int]:
    """What refers to the stored values of at least `threshold` bytes still alive (two levels
    up from their KeyValue), counted by the chain of types: where big values are kept."""
    chains: collections.Counter[str] = collections.Counter()
    values = [
        o
        for o in gc.get_objects()
        if type(o).__name__ == "KeyValue" and len(getattr(o, "value", b"")) >= threshold
    ]
    for kv in values:
        for holder in gc.get_referrers(kv):
            if holder is values:
                continue
            above = [_describe(h) for h in gc.get_referrers(holder)][:3]
            chains[f"{_describe(holder)} <- {', '.join(above)}"] += len(kv.value)
    return dict(chains.most_common(12))


def start_tuning() -> asyncio.Task[None] | None:
    """Tune the allocator and start the periodic trim, unless KUBELITE_MEMORY_TUNING=0 (to
    measure without them). Call it inside the running loop; cancel the task to stop."""
    if os.environ.get(ENV_TUNING, "") == "0":
        return None
    tune_allocator()
    return asyncio.create_task(trim_periodically(), name="malloc-trim")


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
