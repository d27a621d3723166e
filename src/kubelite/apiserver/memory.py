"""The API server's memory, seen from inside: tracemalloc snapshots on demand, for debugging.

Telling a leak from the allocator's high-water mark needs to know what Python still holds,
by the line that allocated it. With `KUBELITE_TRACEMALLOC=N` in its environment, `kubelite
server` starts tracemalloc (keeping N frames of each allocation's traceback) before it builds
anything, and writes a snapshot each time it gets SIGUSR2: after a full garbage collection, to
`<data dir>/tracemalloc/<n>.snapshot`, named in a line on stderr. `bench/memory_bench.py` asks
for one at each of its phases and compares them by traceback.

Tracing costs several times the memory it traces and slows every allocation, so nothing of it
runs unless the variable is set; SIGUSR2 keeps its default action (the process ends) otherwise,
as with any program that does not handle it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import tracemalloc
from pathlib import Path

log = logging.getLogger(__name__)

ENV_FRAMES = "KUBELITE_TRACEMALLOC"
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


def start_tracing(data_dir: Path) -> SnapshotWriter | None:
    """Start tracemalloc and answer SIGUSR2 with a snapshot, if KUBELITE_TRACEMALLOC asks.

    Call it inside the running loop, before the server allocates what should be traced.
    """
    frames = tracing_frames()
    if not frames:
        return None
    tracemalloc.start(frames)
    writer = SnapshotWriter(data_dir / "tracemalloc")
    asyncio.get_running_loop().add_signal_handler(SNAPSHOT_SIGNAL, writer.write)
    log.warning("tracemalloc is on (%d frames): the server is slower and larger", frames)
    return writer
