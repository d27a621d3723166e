"""Service proxy benchmark: sync times, a new Service's time to answer, and added latency.

In network namespaces made for the run (tests/e2e/proxy/proxy_netns.py: a client outside the
cluster, a node namespace that routes and holds the proxy's table, a pod with a TCP server):

1. sync time (rule generation + `nft -f`) of a full sync with 1,000 and 10,000 Services of 10
   endpoints each (`--sizes`), split into generation and nft, and an incremental sync of one
   changed Service (one endpoint replaced) at the largest size;
2. at the largest size, with the proxier's sync loop running: the time from a new Service's
   objects (its Service and EndpointSlice, as the informers deliver them) reaching the proxier
   to its ClusterIP answering a client, measured by the client retrying every few ms (aim:
   within 1 s; `--repeat` times, p50 and max);
3. the latency of a request (TCP connect, the server's first line, close) from the client to
   the pod through a ClusterIP against the pod's IP directly, with the largest table in place,
   interleaved (`--requests` each); aim: no more than 10% added.

Run as root: `.venv/bin/python bench/proxy_bench.py` (`--sizes 1000` for a short run). Figures
are printed and written as JSON to bench/results/. `--profile` runs the largest full sync's
generation under pyinstrument.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e" / "proxy"))

from proxy_netns import NetnsNode  # noqa: E402

from kubelite.proxy.claims import ClaimChange, ElementClaims  # noqa: E402
from kubelite.proxy.conntrack import Conntrack  # noqa: E402
from kubelite.proxy.nft import Nft  # noqa: E402
from kubelite.proxy.proxier import Proxier  # noqa: E402
from kubelite.proxy.rules import ProxyConfig  # noqa: E402
from kubelite.proxy.transaction import full_sync  # noqa: E402

Obj = dict[str, Any]
ENDPOINTS = 10

# Retries connecting to host:port every 2 ms (20 ms timeout each) once told "go"; prints the
# seconds from "go" to the first answer.
POLLER = r"""
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
start = time.monotonic()
while True:
    try:
        with socket.create_connection((host, port), timeout=0.02) as s:
            s.settimeout(1)
            if s.recv(64):
                break
    except OSError:
        time.sleep(0.002)
print(f"{time.monotonic() - start:.6f}", flush=True)
"""

# `count` requests alternating between two addresses; prints per-request seconds for each.
LATENCY = r"""
import socket, sys, time, json
a, b = sys.argv[1], sys.argv[2]
port_a, port_b, count = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
times = {"a": [], "b": []}
def one(host, port):
    t = time.perf_counter()
    with socket.create_connection((host, port), timeout=2) as s:
        s.recv(64)
    return time.perf_counter() - t
for _ in range(50):
    one(a, port_a); one(b, port_b)
for i in range(count):
    if i % 2:
        times["a"].append(one(a, port_a)); times["b"].append(one(b, port_b))
    else:
        times["b"].append(one(b, port_b)); times["a"].append(one(a, port_a))
print(json.dumps(times))
"""


def cluster_ip(i: int) -> str:
    return f"10.96.{i // 250}.{i % 250 + 1}"


def service(i: int, ip: str | None = None) -> Obj:
    return {
        "metadata": {"namespace": "bench", "name": f"svc-{i}"},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip or cluster_ip(i),
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
    }


def endpoint_slice(i: int, ips: list[str]) -> Obj:
    return {
        "metadata": {
            "namespace": "bench",
            "name": f"svc-{i}-abcde",
            "labels": {"kubernetes.io/service-name": f"svc-{i}"},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [ip], "nodeName": "bench-node", "conditions": {"ready": True}}
            for ip in ips
        ],
    }


def fake_endpoints(i: int) -> list[str]:
    """Ten addresses of their own for Service i (nothing answers on them)."""
    ks = range(i * ENDPOINTS, (i + 1) * ENDPOINTS)
    return [f"10.{100 + k // 65536}.{k // 256 % 256}.{k % 256}" for k in ks]


def make_proxier(net: NetnsNode) -> Proxier:
    config = ProxyConfig(
        node_name="bench-node",
        cluster_cidrs=(net.cluster_cidr,),
        nodeport_ips=(net.node_ip,),
    )
    return Proxier(
        config,
        nft=Nft(net.nft_command()),
        conntrack=Conntrack(net.conntrack_command()),
    )


def fill(proxier: Proxier, size: int) -> None:
    for i in range(size):
        proxier.on_service("ADDED", service(i))
        proxier.on_endpoint_slice("ADDED", endpoint_slice(i, fake_endpoints(i)))


async def full_sync_time(net: NetnsNode, size: int, profile: bool) -> tuple[Proxier, Obj]:
    proxier = make_proxier(net)
    fill(proxier, size)
    proxier.initialized = True
    start = time.perf_counter()
    built = [proxier.build(key)[0] for key in proxier.services]
    claims, _, _ = ElementClaims().update(
        ClaimChange(None, {}, ("", str(i)), rules.elements) for i, rules in enumerate(built)
    )
    text = full_sync(proxier.config, built, claims.effective())
    generation = time.perf_counter() - start
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        proxier.full_needed = True
        await proxier.sync()
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False)[:6000])
    proxier.full_needed = True
    start = time.perf_counter()
    await proxier.sync()
    total = time.perf_counter() - start
    result = {
        "services": size,
        "endpoints": size * ENDPOINTS,
        "full_sync_s": round(total, 3),
        "generation_s": round(generation, 3),
        "nft_s": round(total - generation, 3),
        "nft_file_mb": round(len(text) / 1e6, 1),
    }
    print(
        f"full sync, {size} services x {ENDPOINTS} endpoints: {total:.3f} s "
        f"(generation {generation:.3f} s, nft {total - generation:.3f} s, "
        f"{len(text) / 1e6:.1f} MB)"
    )
    return proxier, result


async def incremental_time(proxier: Proxier, rounds: int = 5) -> Obj:
    times = []
    for r in range(rounds):
        i = 17 + r
        ips = fake_endpoints(i)
        ips[0] = f"10.99.{r}.{r + 1}"
        proxier.on_endpoint_slice("MODIFIED", endpoint_slice(i, ips))
        start = time.perf_counter()
        await proxier.sync()
        times.append(time.perf_counter() - start)
    p50 = statistics.median(times)
    print(
        f"incremental sync of one changed Service: p50 {p50 * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms"
    )
    return {
        "incremental_sync_p50_ms": round(p50 * 1000, 1),
        "incremental_sync_max_ms": round(max(times) * 1000, 1),
    }


async def time_to_answer(net: NetnsNode, proxier: Proxier, size: int, repeat: int) -> Obj:
    pod_ip = net.pods["server"]
    loop = asyncio.create_task(proxier.run())
    times: list[float] = []
    synced: list[float] = []
    try:
        for r in range(repeat):
            i = size + 1000 + r
            ip = f"10.97.0.{r + 1}"
            poller = subprocess.Popen(
                ["ip", "netns", "exec", net.client, sys.executable, "-c", POLLER, ip, "80"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert poller.stdout is not None and poller.stdin is not None
            assert poller.stdout.readline().strip() == "ready"
            # Let the loop's rate limiter refill, as after a quiet moment.
            await asyncio.sleep(1.5)
            poller.stdin.write("go\n")
            poller.stdin.flush()
            go = time.monotonic()
            proxier.on_service("ADDED", service(i, ip))
            proxier.on_endpoint_slice("ADDED", endpoint_slice(i, [pod_ip]))
            line = await asyncio.to_thread(poller.stdout.readline)
            poller.wait(5)
            times.append(float(line))
            synced.append(proxier.last_sync_at - go)
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    p50 = statistics.median(times)
    print(
        f"new Service to its ClusterIP answering, at {size} services: p50 {p50 * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms (aim: < 1000 ms); its sync done after p50 "
        f"{statistics.median(synced) * 1000:.0f} ms"
    )
    return {
        "time_to_sync_p50_ms": round(statistics.median(synced) * 1000),
        "time_to_answer_p50_ms": round(p50 * 1000),
        "time_to_answer_max_ms": round(max(times) * 1000),
    }


async def added_latency(net: NetnsNode, proxier: Proxier, requests: int) -> Obj:
    pod_ip = net.pods["server"]
    ip = "10.97.1.1"
    proxier.on_service("ADDED", service(999_999, ip))
    proxier.on_endpoint_slice("ADDED", endpoint_slice(999_999, [pod_ip]))
    await proxier.sync()
    out = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            net.client,
            sys.executable,
            "-c",
            LATENCY,
            ip,
            pod_ip,
            "80",
            "8080",
            str(requests),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    times = json.loads(out)
    via, direct = statistics.median(times["a"]), statistics.median(times["b"])
    mean_via, mean_direct = statistics.fmean(times["a"]), statistics.fmean(times["b"])
    added = (via - direct) / direct * 100
    print(
        f"request latency (connect + first line), p50: ClusterIP {via * 1e6:.0f} us, "
        f"pod IP {direct * 1e6:.0f} us: {added:+.1f}% (mean {mean_via * 1e6:.0f} vs "
        f"{mean_direct * 1e6:.0f} us; aim: <= +10%)"
    )
    return {
        "latency_cluster_ip_p50_us": round(via * 1e6),
        "latency_pod_ip_p50_us": round(direct * 1e6),
        "latency_added_pct": round(added, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("proxy_bench makes network namespaces and must run as root")
    sizes = [int(s) for s in args.sizes.split(",")]
    # SIGTERM cancels the run, so that `finally` removes the namespaces.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results: dict[str, Any] = {"full_sync": []}
    net = NetnsNode()
    try:
        net.setup()
        net.add_pod("server")
        proxier = None
        for size in sizes:
            proxier, result = await full_sync_time(net, size, args.profile and size == sizes[-1])
            results["full_sync"].append(result)
        assert proxier is not None
        results.update(await incremental_time(proxier))
        results.update(await time_to_answer(net, proxier, sizes[-1], args.repeat))
        results.update(await added_latency(net, proxier, args.requests))
    finally:
        net.close()
    out = HERE / "results" / "proxy_bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    asyncio.run(main())
