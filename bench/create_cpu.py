"""Server CPU per pod create: what one sequential client costs the API server, read from /proc.

`api_bench`'s one-client stage is short (300 creates, well under a second) and its figure swings
with whatever else the machine does in that second. This measures the same request path for
longer, and reads the server process's own CPU time (utime + stime) around the run, so that a
change to the create path shows up as microseconds of CPU per create even when the wall-clock
rate is noisy. The children (the control plane) are reported apart: they react to every pod.

Run: `.venv/bin/python bench/create_cpu.py [--creates N] [--clients C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.cluster import Cluster

import api_bench


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (the server's control plane and what it starts)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            found.append(int(entry))
            found += descendants(int(entry))
    return found


async def measure(cluster: Cluster, creates: int, clients: int) -> None:
    assert cluster.process is not None
    server = cluster.process.pid
    connector = aiohttp.TCPConnector(ssl=api_bench.tls_context(cluster), limit=128)
    async with aiohttp.ClientSession(connector=connector) as session:
        await api_bench.create_namespace(session, cluster.url, "warmup")
        await api_bench.create_namespace(session, cluster.url, "measured")
        await api_bench.create_burst(session, cluster.url, "warmup", 16, 300, "warm")
        await api_bench.create_burst(session, cluster.url, "measured", clients, 100, "w")
        children = descendants(server)
        before = {pid: cpu_seconds(pid) for pid in [server, *children]}
        start = time.perf_counter()
        await api_bench.create_burst(session, cluster.url, "measured", clients, creates, "p")
        wall = time.perf_counter() - start
        after = {pid: cpu_seconds(pid) for pid in before}
    per_create = {pid: (after[pid] - before[pid]) / creates * 1e6 for pid in before}
    others = sum(us for pid, us in per_create.items() if pid != server)
    print(
        f"{creates} creates from {clients} client(s): {creates / wall:.0f} creates/s; "
        f"API server {per_create[server]:.0f} us CPU per create, "
        f"its children {others:.0f} us"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        cluster = Cluster(Path(tmp) / "data", Path(tmp) / "cache", extra_args=api_bench.SERVER_ARGS)
        cluster.start()
        try:
            asyncio.run(measure(cluster, args.creates, args.clients))
        finally:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
