"""Scheduler benchmark: kube-scheduler's SchedulingBasic workload on this machine.

As `test/integration/scheduler_perf`'s SchedulingBasic at 5,000 nodes: nodes of 4 CPUs, 32 GiB
and 110 pods; 1,000 pods placed first, then 10,000 pods measured, each asking 100m CPU and
500 MiB. kube-scheduler's CI fails below 680 pods/s on this workload.

The API server runs alone (`kubelite server --disable-scheduler`), the scheduler in a process
of its own (`kubelite scheduler`), and the nodes are either hollow nodes (`kubelite
hollow-nodes`: leases renewed, bound pods moved to Running, as kubelets would) or, with
`--plain-nodes`, bare Node objects as scheduler_perf uses.

Measured: pods bound per second from the first measured create to the last binding seen on a
watch, and each pod's latency from its create request to its binding on the watch (p50, p99).
With `--profile`, py-spy samples the scheduler meanwhile and the top of the profile is printed.

Run: `.venv/bin/python bench/scheduler_bench.py` (`--nodes 500 --pods 2000` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from tests.integration.cluster import Cluster  # noqa: E402

from api_bench import percentile, rss_mb, tls_context  # noqa: E402

KUBE_SCHEDULER_CI_THRESHOLD = 680  # pods/s, SchedulingBasic at 5,000 nodes


def plain_node(name: str) -> dict[str, Any]:
    allocatable = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": allocatable,
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod_body(name: str) -> bytes:
    resources = {"cpu": "100m", "memory": "500Mi"}
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "containers": [
                    {
                        "name": "pause",
                        "image": "registry.k8s.io/pause:3.10",
                        "ports": [{"containerPort": 80}],
                        "resources": {"limits": resources, "requests": resources},
                    }
                ]
            },
        }
    )


async def create_all(
    session: aiohttp.ClientSession,
    url: str,
    path: str,
    bodies: list[tuple[str, bytes]],
    concurrency: int,
    sent: dict[str, float] | None = None,
) -> None:
    items = iter(bodies)

    async def worker() -> None:
        for name, body in items:
            if sent is not None:
                sent[name] = time.perf_counter()
            async with session.post(
                url + path, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                if response.status != 201:
                    raise RuntimeError(f"create {name}: {response.status} {await response.text()}")
                await response.read()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def watch_bindings(
    session: aiohttp.ClientSession,
    url: str,
    namespace: str,
    bound: dict[str, float],
    ready: asyncio.Event,
) -> None:
    async with session.get(f"{url}/api/v1/namespaces/{namespace}/pods?limit=1") as response:
        rv = (await response.json())["metadata"]["resourceVersion"]
    watch = f"{url}/api/v1/namespaces/{namespace}/pods?watch=true&resourceVersion={rv}"
    async with session.get(watch, timeout=aiohttp.ClientTimeout(total=None)) as response:
        ready.set()
        async for line in response.content:
            event = orjson.loads(line)
            obj = event["object"]
            if obj.get("spec", {}).get("nodeName"):
                bound.setdefault(obj["metadata"]["name"], time.perf_counter())


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_of(processes: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in processes.items()}


def start_process(args: list[str], cluster: Cluster, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kubelite", *args, "--kubeconfig", str(cluster.kubeconfig)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_nodes(session: aiohttp.ClientSession, url: str, count: int) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        async with session.get(f"{url}/api/v1/nodes?limit=1") as response:
            body = await response.json()
        have = len(body["items"]) + int(body["metadata"].get("remainingItemCount") or 0)
        if have >= count:
            return
        await asyncio.sleep(1)
    raise TimeoutError(f"{count} nodes did not register")


async def run(args: argparse.Namespace, cluster: Cluster, work: Path) -> dict[str, Any]:
    url = cluster.url
    assert cluster.process is not None  # main() started it
    connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=128)
    hollow = scheduler = None
    results: dict[str, Any] = {"nodes": args.nodes, "pods": args.pods, "init_pods": args.init}
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        if args.plain_nodes:
            nodes = [
                (f"node-{i}", orjson.dumps(plain_node(f"node-{i}"))) for i in range(args.nodes)
            ]
            await create_all(session, url, "/api/v1/nodes", nodes, 32)
        else:
            hollow = start_process(
                ["hollow-nodes", "--count", str(args.nodes), "--cpu", "4", "--memory", "32Gi"],
                cluster,
                work / "hollow.log",
            )
            await wait_nodes(session, url, args.nodes)
        results["nodes_seconds"] = time.perf_counter() - started
        scheduler = start_process(["scheduler"], cluster, work / "scheduler.log")
        for namespace in ("init", "measure"):
            body = orjson.dumps(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
            async with session.post(
                f"{url}/api/v1/namespaces", data=body, headers={"Content-Type": "application/json"}
            ) as response:
                assert response.status == 201, await response.text()
        # The pods placed before measuring, as SchedulingBasic's initPods.
        init_bound: dict[str, float] = {}
        ready = asyncio.Event()
        watcher = asyncio.create_task(watch_bindings(session, url, "init", init_bound, ready))
        await ready.wait()
        init = [(f"init-{i}", pod_body(f"init-{i}")) for i in range(args.init)]
        await create_all(session, url, "/api/v1/namespaces/init/pods", init, 16)
        deadline = time.monotonic() + 600
        while len(init_bound) < args.init and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        watcher.cancel()
        profilers = []
        if args.profile:
            for name, pid in (("scheduler", scheduler.pid), ("server", cluster.process.pid)):
                profilers.append((name, start_profiler(pid, args.profile_dir / f"{name}.folded")))
        bound: dict[str, float] = {}
        sent: dict[str, float] = {}
        ready = asyncio.Event()
        watcher = asyncio.create_task(watch_bindings(session, url, "measure", bound, ready))
        await ready.wait()
        measured = [(f"pod-{i}", pod_body(f"pod-{i}")) for i in range(args.pods)]
        processes = {
            "server": cluster.process.pid,
            "scheduler": scheduler.pid,
            "bench": os.getpid(),
        }
        if hollow is not None:
            processes["hollow-nodes"] = hollow.pid
        cpu_before = cpu_of(processes)
        first = time.perf_counter()
        await create_all(session, url, "/api/v1/namespaces/measure/pods", measured, 16, sent)
        created = time.perf_counter()
        deadline = time.monotonic() + 900
        while len(bound) < args.pods and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        watcher.cancel()
        last = max(bound.values()) if bound else time.perf_counter()
        cpu_after = cpu_of(processes)
        window = time.perf_counter() - first
        results["cpu_cores"] = {
            name: (cpu_after[name] - cpu_before[name]) / window for name in processes
        }
        latencies = [bound[n] - sent[n] for n in bound if n in sent]
        results.update(
            bound=len(bound),
            create_seconds=created - first,
            seconds=last - first,
            pods_per_second=len(bound) / (last - first),
            latency_p50_ms=percentile(latencies, 0.5) * 1000,
            latency_p99_ms=percentile(latencies, 0.99) * 1000,
            scheduler_rss_mb=rss_mb(scheduler.pid),
            server_rss_mb=rss_mb(cluster.process.pid) if cluster.process else 0.0,
        )
        for name, profiler in profilers:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
            results[f"profile_{name}"] = top_of_profile(args.profile_dir / f"{name}.folded")
    stop_process(scheduler)
    stop_process(hollow)
    return results


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` into a folded-stacks file until interrupted."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
    return subprocess.Popen(
        [*command, "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def top_of_profile(folded: Path, count: int = 25) -> list[tuple[str, float]]:
    """Own time (the innermost frame) of the hottest functions, in percent of samples."""
    own: dict[str, int] = {}
    total = 0
    if not folded.exists():
        return []
    for line in folded.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        total += n
        leaf = stack.split(";")[-1]
        own[leaf] = own.get(leaf, 0) + n
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:count]
    return [(name, 100.0 * n / total) for name, n in ranked]


def report(results: dict[str, Any]) -> None:
    print(
        f"\nSchedulingBasic: {results['nodes']} nodes, {results['init_pods']} pods placed first, "
        f"{results['pods']} measured"
    )
    print(
        f"  bound {results['bound']} pods in {results['seconds']:.2f} s: "
        f"{results['pods_per_second']:.0f} pods/s "
        f"(kube-scheduler CI threshold {KUBE_SCHEDULER_CI_THRESHOLD} pods/s)"
    )
    print(
        f"  create -> bound latency p50 {results['latency_p50_ms']:.0f} ms, "
        f"p99 {results['latency_p99_ms']:.0f} ms; creates took {results['create_seconds']:.2f} s"
    )
    print(
        f"  RSS: scheduler {results['scheduler_rss_mb']:.0f} MB, "
        f"API server {results['server_rss_mb']:.0f} MB"
    )
    cores = ", ".join(f"{name} {used:.2f}" for name, used in results["cpu_cores"].items())
    print(f"  CPU cores used while measuring: {cores}")
    for process in ("scheduler", "server"):
        if f"profile_{process}" in results:
            print(f"  where the {process}'s time goes (own time, share of samples):")
            for name, share in results[f"profile_{process}"]:
                print(f"    {share:5.1f}%  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--init", type=int, default=1000, help="pods placed before measuring")
    parser.add_argument("--plain-nodes", action="store_true", help="bare Node objects")
    parser.add_argument("--profile", action="store_true", help="sample the scheduler with py-spy")
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # py-spy's folded stacks are kept beside the figures, for flame graphs and a closer look.
    args.profile_dir = HERE / "results" / f"scheduler-{stamp}-profiles"
    if args.profile:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kubelite-sched-bench-") as tmp:
        work = Path(tmp)
        cluster = Cluster(work / "data", work / "cache", extra_args=["--disable-scheduler"])
        cluster.start()
        try:
            results = asyncio.run(run(args, cluster, work))
        finally:
            cluster.stop()
    report(results)
    out = HERE / "results" / f"scheduler-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
