"""API server benchmark: creates, watch delivery, large lists and memory, beside etcd.

Measures, against a fresh `kubelite server` (its own data directory, a port the kernel picks):

- pod creates per second and create latency p50/p99 at 1, 16 and 64 concurrent clients;
- watch delivery latency p99 (from the create request leaving the client to the ADDED event
  reaching a watcher), with one and with ten watchers;
- LIST of 10,000 pods (plain JSON and the Table kubectl asks for) and the server's RSS then;
- and, in the same run, raw put throughput of etcd (Debian's etcd-server on loopback, through
  its JSON gateway) at the same concurrency with values of the same size, as a ratio.

Run: `.venv/bin/python bench/api_bench.py` (add `--quick` for a short run). Figures are printed
and written as JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

from cluster import Cluster  # noqa: E402

CONCURRENCY = (1, 16, 64)
LIST_SIZE = 10_000


def pod_body(name: str) -> bytes:
    """A pod like the seed's nginx-sidecar: two containers, a shared volume, labels."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80}],
                        "volumeMounts": [{"name": "logs", "mountPath": "/var/log/nginx"}],
                    },
                    {
                        "name": "sidecar",
                        "image": "busybox:1.36",
                        "args": ["/bin/sh", "-c", "tail -n+1 -f /var/log/nginx/access.log"],
                        "volumeMounts": [{"name": "logs", "mountPath": "/var/log/nginx"}],
                    },
                ],
                "volumes": [{"name": "logs", "emptyDir": {}}],
            },
        }
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def tls_context(cluster: Cluster) -> ssl.SSLContext:
    tls = cluster.data_dir / "tls"
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    context.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
    return context


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def create_namespace(session: aiohttp.ClientSession, url: str, name: str) -> None:
    body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    async with session.post(
        f"{url}/api/v1/namespaces", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 201, await response.text()


async def create_burst(
    session: aiohttp.ClientSession,
    url: str,
    namespace: str,
    concurrency: int,
    total: int,
    prefix: str,
    sent_at: dict[str, float] | None = None,
) -> tuple[float, list[float]]:
    """`total` pod creates from `concurrency` workers; returns (seconds, latencies)."""
    path = f"{url}/api/v1/namespaces/{namespace}/pods"
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            name = f"{prefix}-{i}"
            body = pod_body(name)
            start = time.perf_counter()
            if sent_at is not None:
                sent_at[name] = start
            async with session.post(path, data=body, headers=headers) as response:
                await response.read()
                if response.status != 201:
                    raise RuntimeError(f"create failed: {response.status}")
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


async def watch_names(
    session: aiohttp.ClientSession,
    url: str,
    namespace: str,
    received: dict[str, float],
    ready: asyncio.Event,
) -> None:
    list_url = f"{url}/api/v1/namespaces/{namespace}/pods?limit=1"
    async with session.get(list_url) as response:
        rv = (await response.json())["metadata"]["resourceVersion"]
    watch_url = f"{url}/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={rv}"
    async with session.get(watch_url, timeout=aiohttp.ClientTimeout(total=None)) as response:
        ready.set()
        async for line in response.content:
            event = orjson.loads(line)
            if event["type"] == "ADDED":
                received.setdefault(event["object"]["metadata"]["name"], time.perf_counter())


async def bench_watch(
    session: aiohttp.ClientSession, url: str, watchers: int, total: int
) -> dict[str, float]:
    namespace = f"watch-{watchers}"
    await create_namespace(session, url, namespace)
    inboxes: list[dict[str, float]] = [{} for _ in range(watchers)]
    readies = [asyncio.Event() for _ in range(watchers)]
    tasks = [
        asyncio.create_task(watch_names(session, url, namespace, inbox, ready))
        for inbox, ready in zip(inboxes, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 10)
    sent: dict[str, float] = {}
    await create_burst(session, url, namespace, 16, total, "w", sent)
    deadline = time.monotonic() + 30
    while any(len(inbox) < total for inbox in inboxes) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    delays = [inbox[name] - sent[name] for inbox in inboxes for name in inbox if name in sent]
    missing = sum(total - len(inbox) for inbox in inboxes)
    return {
        "watchers": watchers,
        "events": len(delays),
        "missing": missing,
        "p50_ms": percentile(delays, 0.50) * 1000,
        "p99_ms": percentile(delays, 0.99) * 1000,
    }


async def timed_get(session: aiohttp.ClientSession, url: str, accept: str) -> tuple[float, int]:
    start = time.perf_counter()
    async with session.get(url, headers={"Accept": accept}) as response:
        body = await response.read()
        assert response.status == 200
    return time.perf_counter() - start, len(body)


async def bench_kubelite(cluster: Cluster, quick: bool) -> dict[str, Any]:
    assert cluster.process is not None
    results: dict[str, Any] = {"creates": [], "watch": []}
    connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=128)
    async with aiohttp.ClientSession(connector=connector) as session:
        url = cluster.url
        # Warm up connections and the server's caches.
        await create_namespace(session, url, "warmup")
        await create_burst(session, url, "warmup", 16, 200, "warm")
        for concurrency in CONCURRENCY:
            total = {1: 300, 16: 2000, 64: 4000}[concurrency] // (4 if quick else 1)
            namespace = f"c{concurrency}"
            await create_namespace(session, url, namespace)
            seconds, latencies = await create_burst(
                session, url, namespace, concurrency, total, "p"
            )
            results["creates"].append(
                {
                    "concurrency": concurrency,
                    "creates": total,
                    "per_second": total / seconds,
                    "p50_ms": statistics.median(latencies) * 1000,
                    "p99_ms": percentile(latencies, 0.99) * 1000,
                }
            )
        for watchers in (1, 10):
            results["watch"].append(
                await bench_watch(session, url, watchers, 500 if quick else 2000)
            )
        # 10,000 pods in one namespace, then list them.
        await create_namespace(session, url, "big")
        size = LIST_SIZE // (10 if quick else 1)
        await create_burst(session, url, "big", 64, size, "big")
        list_url = f"{url}/api/v1/namespaces/big/pods"
        json_times = []
        table_times = []
        for _ in range(3):
            seconds, json_bytes = await timed_get(session, list_url, "application/json")
            json_times.append(seconds)
            seconds, _ = await timed_get(
                session,
                list_url,
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )
            table_times.append(seconds)
        results["list"] = {
            "pods": size,
            "json_seconds": min(json_times),
            "json_mb": json_bytes / 1e6,
            "table_seconds": min(table_times),
        }
        results["rss_mb"] = rss_mb(cluster.process.pid)
    return results


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def bench_etcd(quick: bool) -> list[dict[str, Any]]:
    """Raw puts of pod-sized values into etcd through its JSON gateway, same concurrency."""
    if shutil.which("etcd") is None:
        return []
    data_dir = Path(tempfile.mkdtemp(prefix="kubelite-bench-etcd-"))
    client_port, peer_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            "etcd",
            "--data-dir",
            str(data_dir),
            "--listen-client-urls",
            f"http://127.0.0.1:{client_port}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client_port}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-cluster",
            f"default=http://127.0.0.1:{peer_port}",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results = []
    try:
        base = f"http://127.0.0.1:{client_port}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128)) as session:
            deadline = time.monotonic() + 20
            while True:
                try:
                    async with session.get(f"{base}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("etcd did not start")
                await asyncio.sleep(0.1)
            value = base64.b64encode(pod_body("x" * 8)).decode()
            for concurrency in CONCURRENCY:
                total = {1: 300, 16: 2000, 64: 4000}[concurrency] // (4 if quick else 1)
                results.append(await _etcd_burst(session, base, value, concurrency, total))
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)
    return results


async def _etcd_burst(
    session: aiohttp.ClientSession, base: str, value: str, concurrency: int, total: int
) -> dict[str, Any]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            key = base64.b64encode(f"/registry/pods/c{concurrency}/p-{i}".encode()).decode()
            body = json.dumps({"key": key, "value": value})
            start = time.perf_counter()
            async with session.post(f"{base}/v3/kv/put", data=body) as response:
                await response.read()
                assert response.status == 200
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    return {
        "concurrency": concurrency,
        "puts": total,
        "per_second": total / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def report(results: dict[str, Any]) -> None:
    etcd = {r["concurrency"]: r for r in results.get("etcd", [])}
    print("\npod creates (kubelite) vs raw puts (etcd)")
    print(
        f"{'clients':>8} {'creates/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'etcd puts/s':>12} {'etcd p99':>9} {'ratio':>6}"
    )
    for row in results["creates"]:
        peer = etcd.get(row["concurrency"])
        ratio = f"{row['per_second'] / peer['per_second']:.2f}" if peer else "-"
        peer_rate = f"{peer['per_second']:.0f}" if peer else "-"
        peer_p99 = f"{peer['p99_ms']:.1f}" if peer else "-"
        print(
            f"{row['concurrency']:>8} {row['per_second']:>10.0f} {row['p50_ms']:>8.1f} "
            f"{row['p99_ms']:>8.1f} {peer_rate:>12} {peer_p99:>9} {ratio:>6}"
        )
    print("\nwatch delivery (create sent -> event received, 16 creating clients)")
    for row in results["watch"]:
        print(
            f"  {row['watchers']:>2} watchers: p50 {row['p50_ms']:.1f} ms, "
            f"p99 {row['p99_ms']:.1f} ms, {row['events']} events, {row['missing']} missing"
        )
    listing = results["list"]
    print(
        f"\nLIST of {listing['pods']} pods: JSON {listing['json_seconds'] * 1000:.0f} ms "
        f"({listing['json_mb']:.1f} MB), Table {listing['table_seconds'] * 1000:.0f} ms"
    )
    print(f"server RSS with them stored: {results['rss_mb']:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run, for a smoke test")
    parser.add_argument("--no-etcd", action="store_true", help="skip the etcd peer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        cluster = Cluster(Path(tmp) / "data", Path(tmp) / "cache")
        cluster.start()
        try:
            results = asyncio.run(bench_kubelite(cluster, args.quick))
        finally:
            cluster.stop()
    if not args.no_etcd:
        results["etcd"] = asyncio.run(bench_etcd(args.quick))
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    report(results)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    path = out / f"api-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
