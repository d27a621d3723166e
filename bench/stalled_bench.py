"""Stalled connections benchmark: the API server's memory before, while and after 1,000 clients
that connect and stall, and how long it takes to drop them.

Against a fresh `kubelite server` (its own data directory, a port the kernel picks, no scheduler
and no kubelet), with its default timeouts (`kubelite.apiserver.connections`: 32 s for a TLS
handshake or a request head, 60 s for a body):

1. the server's RSS (/proc/PID/status VmRSS) after a warm-up create and list;
2. `--connections` connections (1,000) are opened, a quarter of each kind: TCP only (no TLS
   handshake), TLS done and nothing sent, half a request head, and a create whose body stops
   half-way; they come from 127.0.0.2, .3, ... (`--addresses`, 4), so that no address reaches
   the cap of 600 connections; the RSS once all are open;
3. each connection is read until the server closes it (or resets it): the time from opening
   to closing, per kind, the RSS once the last is gone, and again once the server has
   trimmed its heap (about a second after a burst of closes; waited for up to 10 s);
4. a create must still be answered 201;
5. steps 2 to 4 are done again (`--rounds`, 2): a second burst shows whether anything of the
   first one stayed (the first also pays for what the server allocates once, on its first TLS
   connections and first timeouts); then the server's count of dropped connections, by reason,
   is read from /metrics.

Run: `.venv/bin/python bench/stalled_bench.py` (about two and a half minutes; `--request-timeout
5` shortens the wait for the stalled bodies). Figures are printed and written as JSON to
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from tests.integration.cluster import Cluster  # noqa: E402

from api_bench import rss_mb, tls_context, write_results  # noqa: E402

KINDS = ("tcp-only", "tls-silent", "half-head", "half-body")
HALF_HEAD = b"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: 127.0.0.1\r\nAcce"
HALF_BODY = (
    b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"stalled"},"data":{"k":"'
)
# How many connections are being opened at once (TLS handshakes cost the client CPU too).
OPENING = 64
# Longer than the server's slowest drop: a body's request timeout, then the 0.5 s it lingers
# and the 5 s a TLS close may wait, with room for a busy machine.
MARGIN = 60.0
# The aim: the RSS back within 20% of where it started.
AIM = 1.2
SETTLE = 10.0
DROPPED = "kubelite_apiserver_dropped_connections_total"
TRIMS = "kubelite_apiserver_heap_trims_total"


async def open_stalled(
    kind: str, source: str, port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    tls = kind != "tcp-only"
    reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        port,
        ssl=context if tls else None,
        server_hostname="127.0.0.1" if tls else None,
        local_addr=(source, 0),
    )
    if kind == "half-head":
        writer.write(HALF_HEAD)
    elif kind == "half-body":
        writer.write(HALF_BODY)
    await writer.drain()
    return reader, writer


async def until_closed(reader: asyncio.StreamReader) -> float:
    """When the server closed the connection (whatever it sent first is dropped)."""
    while True:
        try:
            if not await reader.read(65536):
                break
        except OSError:
            break
    return time.monotonic()


async def create(session: aiohttp.ClientSession, url: str, name: str) -> int:
    body = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    async with session.post(
        f"{url}/api/v1/namespaces/default/configmaps",
        data=body,
        headers={"Content-Type": "application/json"},
    ) as response:
        await response.read()
        return response.status


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The server's connection metrics: dropped connections by reason, and its heap trims."""
    async with session.get(f"{url}/metrics") as response:
        text = await response.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(DROPPED + "{"):
            labels, value = line.rsplit(" ", 1)
            values[labels.split('reason="', 1)[1].split('"', 1)[0]] = float(value)
        elif line.startswith(TRIMS + " "):
            values[TRIMS] = float(line.split()[1])
    return values


async def stall_round(
    session: aiohttp.ClientSession,
    cluster: Cluster,
    context: ssl.SSLContext,
    count: int,
    addresses: int,
    wait: float,
) -> dict[str, Any]:
    """One burst of `count` stalled connections, held until the server has dropped them all."""
    assert cluster.process is not None
    pid = cluster.process.pid
    port = int(cluster.url.rsplit(":", 1)[1])
    plan = [
        (KINDS[i % len(KINDS)], f"127.0.0.{2 + (i // len(KINDS)) % addresses}")
        for i in range(count)
    ]
    gate = asyncio.Semaphore(OPENING)
    opened_all: list[float] = []
    still_open: Counter[str] = Counter()

    async def one(kind: str, source: str) -> tuple[str, float, float]:
        async with gate:
            reader, writer = await open_stalled(kind, source, port, context)
            opened = time.monotonic()
        opened_all.append(opened)
        still_open[kind] += 1
        try:
            closed = await until_closed(reader)
        finally:
            still_open[kind] -= 1
            writer.close()
        return kind, opened, closed

    started = time.monotonic()
    tasks = [asyncio.create_task(one(kind, source)) for kind, source in plan]
    peak = rss_mb(pid)
    while len(opened_all) < count and not all(t.done() for t in tasks):
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.2)
    held = rss_mb(pid)
    opening_seconds = time.monotonic() - started
    pending = set(tasks)
    deadline = time.monotonic() + wait
    while pending and time.monotonic() < deadline:
        _, pending = await asyncio.wait(pending, timeout=1.0)
        peak = max(peak, rss_mb(pid))
    if pending:
        opening = len(pending) - sum(still_open.values())
        raise SystemExit(
            f"the server has not dropped {len(pending)} connections in {wait:.0f} s: "
            f"{dict(still_open)} open, {opening} still opening"
        )
    results = [t.result() for t in tasks]
    last_closed = time.monotonic()
    after = rss_mb(pid)
    # The server gives freed memory back about a second after a burst of closes
    # (kubelite.apiserver.heap): wait for its next trim, for up to SETTLE seconds.
    trims = (await scrape(session, cluster.url)).get(TRIMS, 0.0)
    while time.monotonic() - last_closed < SETTLE:
        if (await scrape(session, cluster.url)).get(TRIMS, 0.0) > trims:
            break
        await asyncio.sleep(0.1)
    settled = rss_mb(pid)
    settle_seconds = time.monotonic() - last_closed

    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for kind, opened, closed in results:
        by_kind[kind].append(closed - opened)
    return {
        "rss_mb": {"held": held, "peak": peak, "after": after, "settled": settled},
        "settle_seconds": settle_seconds,
        "opening_seconds": opening_seconds,
        "held_seconds": {
            kind: {"median": statistics.median(times), "max": max(times), "count": len(times)}
            for kind, times in by_kind.items()
        },
        "create_after": await create(session, cluster.url, f"after-{time.monotonic_ns()}"),
    }


async def bench(
    cluster: Cluster, count: int, addresses: int, rounds: int, wait: float
) -> dict[str, Any]:
    assert cluster.process is not None
    context = tls_context(cluster)
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(connector=connector) as session:
        assert await create(session, cluster.url, "warm-up") == 201
        async with session.get(f"{cluster.url}/api/v1/namespaces/default/configmaps") as r:
            await r.read()
        before = rss_mb(cluster.process.pid)
        done = [
            await stall_round(session, cluster, context, count, addresses, wait)
            for _ in range(rounds)
        ]
        dropped = await scrape(session, cluster.url)
    return {
        "connections": count,
        "addresses": addresses,
        "rss_before_mb": before,
        "rounds": done,
        "dropped": dropped,
    }


def report(results: dict[str, Any]) -> None:
    before = results["rss_before_mb"]
    print(
        f"\n{results['connections']} stalled connections from {results['addresses']} "
        f"addresses, {len(results['rounds'])} rounds; server RSS at the start {before:.1f} MB\n"
    )
    print(
        f"{'round':<7}{'opened in s':>12}{'all open MB':>13}{'peak MB':>9}"
        f"{'at last drop MB':>17}{'trimmed MB':>12}{'/ start':>9}{'create':>8}"
    )
    for n, row in enumerate(results["rounds"], 1):
        rss = row["rss_mb"]
        print(
            f"{n:<7}{row['opening_seconds']:>12.1f}{rss['held']:>13.1f}{rss['peak']:>9.1f}"
            f"{rss['after']:>17.1f}{rss['settled']:>12.1f}{rss['settled'] / before:>9.2f}"
            f"{row['create_after']:>8}"
        )
    print(f"(aim: at most {AIM:.2f} times the start)")
    print(f"\n{'round':<7}{'kind':<14}{'count':>7}{'held median s':>15}{'held max s':>12}")
    for n, row in enumerate(results["rounds"], 1):
        for kind, times in row["held_seconds"].items():
            print(
                f"{n:<7}{kind:<14}{times['count']:>7}{times['median']:>15.1f}{times['max']:>12.1f}"
            )
    print("\ndropped by the server, by reason (and its heap trims):")
    for reason, value in sorted(results["dropped"].items()):
        print(f"  {reason.removeprefix('kubelite_apiserver_'):<32}{value:>8.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--addresses", type=int, default=4, help="127.0.0.2 onwards")
    parser.add_argument(
        "--rounds", type=int, default=2, help="bursts one after the other (default %(default)s)"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=None, help="the server's (default: its own, 60)"
    )
    args = parser.parse_args()
    server_args = ["--disable-scheduler"]
    timeout = 60.0
    if args.request_timeout is not None:
        server_args += ["--request-timeout", str(args.request_timeout)]
        timeout = args.request_timeout
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        cluster = Cluster(Path(tmp) / "data", Path(tmp) / "cache", extra_args=server_args)
        cluster.start()
        try:
            results = asyncio.run(
                bench(cluster, args.connections, args.addresses, args.rounds, timeout + MARGIN)
            )
        finally:
            cluster.stop()
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    report(results)
    write_results("stalled", results)
    return 0 if all(r["create_after"] == 201 for r in results["rounds"]) else 1


if __name__ == "__main__":
    sys.exit(main())
