"""Hollow nodes benchmark: what keeping N nodes alive costs, and how fast bound pods run.

Against a fresh `kubelite server` (its own data directory, a port the kernel picks):

1. `kubelite hollow-nodes --count N` (1,000 by default, `--nodes`) is started and its
   registration timed, from the start of the process to every node and lease written;
2. after one lease renewal interval (so that registration is over), for `--seconds` (60): the
   CPU seconds the hollow-nodes process and the API server use, given per minute, the lease
   renewals seen on a watch of kube-node-lease (per second, and the longest time one lease went
   without a renewal: a kubelet's is 10 s, and the node is lost after 40 s), and the node status
   writes seen on a watch of the nodes (a kubelet writes its status every 5 minutes when
   nothing changes, so about N/300 a second);
3. `--pods` pods (1,000) are created unscheduled, then all bound (pods/<name>/binding, spread
   over the nodes) as fast as the server takes it, and the time from the first binding to the
   last pod seen Running and Ready on a watch gives pods per second, with each pod's latency
   from its binding to Running (p50, p99) and the hollow process's CPU meanwhile;
4. the pods are deleted (gracefully, as `kubectl delete` does) and the time until the last is
   gone measured: the hollow node confirms each deletion as a kubelet does.

Run: `.venv/bin/python bench/hollow_bench.py` (`--nodes 5000 --pods 10000` for the scale the
scheduler benchmark uses; `--seconds 20` for a short run). Figures are printed and written as
JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
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

from api_bench import percentile, rss_mb, tls_context, write_results  # noqa: E402

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
NAMESPACE = "hollow-bench"
# The kubelet's renew interval for its 40 s lease, and the time after which a node whose lease
# was not renewed is taken for lost (the node lifecycle controller's grace period).
RENEW_INTERVAL = 10.0
LEASE_DURATION = 40.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (/proc/<pid>/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pod_body(name: str) -> bytes:
    """A pod no scheduler will take (the benchmark binds it), with the service account volume
    and resources a usual pod has, so that its status is of a usual size."""
    resources = {"cpu": "100m", "memory": "128Mi"}
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "hollow-bench"}},
            "spec": {
                "schedulerName": "hollow-bench-binder",
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": resources, "limits": resources},
                    }
                ],
            },
        }
    )


def binding_body(pod: str, node: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
    )


async def post_all(
    session: aiohttp.ClientSession,
    requests: list[tuple[str, str, bytes]],
    concurrency: int,
    sent: dict[str, float] | None = None,
) -> None:
    """POST (key, url, body) from `concurrency` workers, recording when each was sent."""
    items = iter(requests)

    async def worker() -> None:
        for key, url, body in items:
            if sent is not None:
                sent[key] = time.perf_counter()
            async with session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                if response.status not in (200, 201):
                    raise RuntimeError(f"POST {url}: {response.status} {await response.text()}")
                await response.read()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def watch(
    session: aiohttp.ClientSession, url: str, on_event: Any, ready: asyncio.Event
) -> None:
    """Follow a watch from the current resourceVersion, calling on_event(type, obj, now)."""
    async with session.get(url + ("&" if "?" in url else "?") + "limit=1") as response:
        version = (await response.json())["metadata"]["resourceVersion"]
    separator = "&" if "?" in url else "?"
    address = f"{url}{separator}watch=true&resourceVersion={version}"
    async with session.get(address, timeout=aiohttp.ClientTimeout(total=None)) as response:
        ready.set()
        async for line in response.content:
            event = orjson.loads(line)
            on_event(event["type"], event["object"], time.perf_counter())


async def start_watch(session: aiohttp.ClientSession, url: str, on_event: Any) -> asyncio.Task:
    ready = asyncio.Event()
    task = asyncio.create_task(watch(session, url, on_event, ready))
    await ready.wait()
    return task


async def stop_watch(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"hollow-nodes exited: see {log}")
        time.sleep(0.05)
    raise TimeoutError(f"hollow-nodes did not register in {timeout:.0f} s: see {log}")


async def measure_steady_state(
    session: aiohttp.ClientSession, url: str, hollow: int, server: int, seconds: float
) -> dict[str, Any]:
    """Heartbeat cost and regularity over `seconds`, once registration is over."""
    renewals: dict[str, list[float]] = {}
    status_writes = 0

    def on_lease(kind: str, lease: dict, now: float) -> None:
        if kind == "MODIFIED":
            renewals.setdefault(lease["metadata"]["name"], []).append(now)

    def on_node(kind: str, node: dict, now: float) -> None:
        nonlocal status_writes
        if kind == "MODIFIED":
            status_writes += 1

    lease_watch = await start_watch(session, url + LEASES, on_lease)
    node_watch = await start_watch(
        session, url + "/api/v1/nodes?labelSelector=kubelite.io%2Fhollow%3Dtrue", on_node
    )
    cpu_hollow, cpu_server = cpu_seconds(hollow), cpu_seconds(server)
    began = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - began
    cpu_hollow = cpu_seconds(hollow) - cpu_hollow
    cpu_server = cpu_seconds(server) - cpu_server
    await stop_watch(lease_watch)
    await stop_watch(node_watch)
    end = began + elapsed
    # The longest time any lease went unrenewed within the window (its edges included).
    longest = 0.0
    for times in renewals.values():
        points = [began, *times, end]
        longest = max(longest, *(b - a for a, b in itertools.pairwise(points)))
    total = sum(len(times) for times in renewals.values())
    return {
        "seconds": elapsed,
        "hollow_cpu_seconds_per_minute": cpu_hollow * 60 / elapsed,
        "server_cpu_seconds_per_minute": cpu_server * 60 / elapsed,
        "lease_renewals_per_second": total / elapsed,
        "leases_renewed": len(renewals),
        "longest_unrenewed_seconds": longest,
        "node_status_writes_per_second": status_writes / elapsed,
        "hollow_rss_mb": rss_mb(hollow),
    }


async def measure_pods(
    session: aiohttp.ClientSession, url: str, hollow: int, server: int, nodes: int, count: int
) -> dict[str, Any]:
    """Bind `count` pods as fast as the server takes it; time them to Running, then gone."""
    body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    async with session.post(
        f"{url}/api/v1/namespaces", data=body, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status in (201, 409), await response.text()
    pods_url = f"{url}/api/v1/namespaces/{NAMESPACE}/pods"
    names = [f"pod-{i}" for i in range(count)]
    await post_all(session, [(n, pods_url, pod_body(n)) for n in names], 16)

    running: dict[str, float] = {}
    gone: dict[str, float] = {}

    def on_pod(kind: str, pod: dict, now: float) -> None:
        name = pod["metadata"]["name"]
        if kind == "DELETED":
            gone[name] = now
            return
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        )
        if status.get("phase") == "Running" and ready:
            running.setdefault(name, now)

    pod_watch = await start_watch(session, pods_url, on_pod)
    bindings = [
        (name, f"{pods_url}/{name}/binding", binding_body(name, f"hollow-node-{i % nodes}"))
        for i, name in enumerate(names)
    ]
    sent: dict[str, float] = {}
    cpu_before, server_before = cpu_seconds(hollow), cpu_seconds(server)
    first = time.perf_counter()
    await post_all(session, bindings, 32, sent)
    bound = time.perf_counter()
    deadline = time.monotonic() + 600
    while len(running) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    last = max(running.values()) if running else time.perf_counter()
    cpu_pods = cpu_seconds(hollow) - cpu_before
    cpu_server = cpu_seconds(server) - server_before
    latencies = [running[n] - sent[n] for n in running if n in sent]

    cpu_before, server_before = cpu_seconds(hollow), cpu_seconds(server)
    deleting = time.perf_counter()
    async with session.delete(pods_url) as response:  # deletecollection, graceful
        assert response.status == 200, await response.text()
        await response.read()
    marked = time.perf_counter()
    deadline = time.monotonic() + 900
    while len(gone) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    deleted = max(gone.values()) if gone else time.perf_counter()
    delete_cpu = cpu_seconds(hollow) - cpu_before
    delete_server_cpu = cpu_seconds(server) - server_before
    await stop_watch(pod_watch)
    return {
        "pods": count,
        "running": len(running),
        "binding_seconds": bound - first,
        "to_running_seconds": last - first,
        "pods_per_second": len(running) / (last - first),
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p99_ms": percentile(latencies, 0.99) * 1000,
        "hollow_cpu_seconds": cpu_pods,
        "hollow_cpu_ms_per_pod": cpu_pods * 1000 / max(len(running), 1),
        "server_cpu_seconds": cpu_server,
        "deleted": len(gone),
        "delete_seconds": deleted - deleting,
        "delete_request_seconds": marked - deleting,
        "delete_hollow_cpu_seconds": delete_cpu,
        "delete_server_cpu_seconds": delete_server_cpu,
        "hollow_rss_mb": rss_mb(hollow),
    }


async def run(args: argparse.Namespace, cluster: Cluster, work: Path) -> dict[str, Any]:
    assert cluster.process is not None
    results: dict[str, Any] = {"nodes": args.nodes}
    log = work / "hollow.log"
    started = time.perf_counter()
    command = [sys.executable, "-m", "kubelite", "hollow-nodes", "--count", str(args.nodes)]
    hollow = subprocess.Popen(
        [*command, "--kubeconfig", str(cluster.kubeconfig)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_line(log, "hollow nodes registered", hollow, timeout=600)
        results["register_seconds"] = time.perf_counter() - started
        results["register_cpu_seconds"] = cpu_seconds(hollow.pid)
        connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            # Let the first renewals (spread over one interval) settle into the steady stream.
            await asyncio.sleep(RENEW_INTERVAL)
            results["steady"] = await measure_steady_state(
                session, cluster.url, hollow.pid, cluster.process.pid, args.seconds
            )
            if args.pods:
                results["pod_lifecycle"] = await measure_pods(
                    session, cluster.url, hollow.pid, cluster.process.pid, args.nodes, args.pods
                )
    finally:
        if hollow.poll() is None:
            hollow.send_signal(signal.SIGTERM)
            try:
                hollow.wait(60)
            except subprocess.TimeoutExpired:
                hollow.kill()
                hollow.wait()
    results["hollow_exit_code"] = hollow.returncode
    return results


def report(results: dict[str, Any]) -> None:
    steady = results["steady"]
    print(f"\n{results['nodes']} hollow nodes")
    print(
        f"registration: {results['register_seconds']:.1f} s "
        f"({results['register_cpu_seconds']:.1f} CPU s in the hollow-nodes process)"
    )
    print(
        f"keeping them alive, per minute of wall time: "
        f"{steady['hollow_cpu_seconds_per_minute']:.1f} CPU s in hollow-nodes, "
        f"{steady['server_cpu_seconds_per_minute']:.1f} CPU s in the API server"
    )
    print(
        f"lease renewals: {steady['lease_renewals_per_second']:.1f}/s "
        f"(a kubelet's rate: {results['nodes'] / RENEW_INTERVAL:.1f}/s), "
        f"{steady['leases_renewed']} leases renewed, longest without renewal "
        f"{steady['longest_unrenewed_seconds']:.1f} s (lost after {LEASE_DURATION:.0f} s)"
    )
    print(
        f"node status writes: {steady['node_status_writes_per_second']:.2f}/s "
        f"(every 5 minutes: {results['nodes'] / 300:.2f}/s); "
        f"hollow-nodes RSS {steady['hollow_rss_mb']:.0f} MB"
    )
    pods = results.get("pod_lifecycle")
    if pods:
        print(
            f"{pods['running']}/{pods['pods']} bound pods Running and Ready in "
            f"{pods['to_running_seconds']:.2f} s: {pods['pods_per_second']:.0f} pods/s "
            f"(bindings took {pods['binding_seconds']:.2f} s); binding to Running "
            f"p50 {pods['latency_p50_ms']:.0f} ms, p99 {pods['latency_p99_ms']:.0f} ms; "
            f"hollow-nodes used {pods['hollow_cpu_seconds']:.2f} CPU s meanwhile, heartbeats "
            f"included ({pods['hollow_cpu_ms_per_pod']:.2f} ms per pod), the API server "
            f"{pods['server_cpu_seconds']:.2f} CPU s"
        )
        print(
            f"{pods['deleted']} pods deleted and gone in {pods['delete_seconds']:.2f} s "
            f"(the deletecollection request took {pods['delete_request_seconds']:.2f} s; "
            f"CPU s: hollow-nodes {pods['delete_hollow_cpu_seconds']:.2f}, "
            f"API server {pods['delete_server_cpu_seconds']:.2f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000, help="hollow nodes (default 1000)")
    parser.add_argument("--pods", type=int, default=1000, help="pods to run (default 1000)")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="steady-state window (default 60)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-") as tmp:
        cluster = Cluster(Path(tmp) / "data", Path(tmp) / "cache")
        cluster.start()
        try:
            results = asyncio.run(run(args, cluster, Path(tmp)))
        finally:
            cluster.stop()
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    report(results)
    write_results("hollow", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
