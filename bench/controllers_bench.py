"""Workload controllers benchmark: a Deployment of 1,000 replicas on 100 hollow nodes.

The whole control plane runs as `kubelite server` runs it (API server; controllers and
scheduler in their child process), with `kubelite hollow-nodes` for the nodes (leases renewed,
bound pods reported Running and Ready at once, as kubelets would). Measured, through a watch:

- scale-up: from the Deployment's create request until 1,000 of its pods are Running;
- rollout: from the image change until the rollout is complete as `kubectl rollout status`
  judges it (observedGeneration caught up; replicas, updatedReplicas and availableReplicas all
  1,000), and until the last old pod is gone;
- CPU seconds each process used over each phase.

The issue's aims: 1,000 pods Running within 20 s, the rollout within 60 s. (kube-controller-
manager's default client QPS limits would allow about 20 creates/s; kubelite has none.)

Run: `.venv/bin/python bench/controllers_bench.py` (`--replicas 200 --nodes 20` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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

from api_bench import rss_mb, tls_context  # noqa: E402
from scheduler_bench import cpu_of, start_process, stop_process, wait_nodes  # noqa: E402

NAMESPACE = "default"
NAME = "bench"
AIM_RUNNING_SECONDS = 20.0
AIM_ROLLOUT_SECONDS = 60.0


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "registry.local/app:1",
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
        },
    }


def control_plane_pid(server_pid: int) -> int | None:
    """The `kubelite control-plane` child of the server."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == server_pid and b"control-plane" in cmdline:
            return int(stat.parent.name)
    return None


class PodWatch:
    """Pods of the Deployment by name: their pod-template-hash and whether they run."""

    def __init__(self) -> None:
        self.pods: dict[str, tuple[str, bool]] = {}
        self.changed = asyncio.Event()

    def running(self, template_hash: str | None = None) -> int:
        return sum(
            1
            for h, up in self.pods.values()
            if up and (template_hash is None or h == template_hash)
        )

    def other_than(self, template_hash: str) -> int:
        return sum(1 for h, _ in self.pods.values() if h != template_hash)

    async def follow(self, session: aiohttp.ClientSession, url: str, ready: asyncio.Event) -> None:
        base = f"{url}/api/v1/namespaces/{NAMESPACE}/pods"
        async with session.get(f"{base}?limit=1") as response:
            rv = (await response.json())["metadata"]["resourceVersion"]
        watch = f"{base}?watch=true&resourceVersion={rv}&labelSelector=app%3D{NAME}"
        async with session.get(watch, timeout=aiohttp.ClientTimeout(total=None)) as response:
            ready.set()
            async for line in response.content:
                event = orjson.loads(line)
                pod = event["object"]
                name = pod["metadata"]["name"]
                if event["type"] == "DELETED":
                    self.pods.pop(name, None)
                else:
                    labels = pod["metadata"].get("labels") or {}
                    up = (pod.get("status") or {}).get("phase") == "Running" and not pod[
                        "metadata"
                    ].get("deletionTimestamp")
                    self.pods[name] = (labels.get("pod-template-hash", ""), up)
                self.changed.set()


async def wait_until(watch: PodWatch, check: Any, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark phase did not finish")
        watch.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.changed.wait(), 1.0)
    return time.perf_counter()


async def get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        return await response.json()


async def run(args: argparse.Namespace, cluster: Cluster, work: Path) -> dict[str, Any]:
    url = cluster.url
    connector = aiohttp.TCPConnector(ssl=tls_context(cluster), limit=32)
    results: dict[str, Any] = {"nodes": args.nodes, "replicas": args.replicas}
    assert cluster.process is not None
    hollow = start_process(
        ["hollow-nodes", "--count", str(args.nodes), "--pods", "110"], cluster, work / "hollow.log"
    )
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_nodes(session, url, args.nodes)
            plane = control_plane_pid(cluster.process.pid)
            processes = {"server": cluster.process.pid, "hollow-nodes": hollow.pid}
            if plane is not None:
                processes["control-plane"] = plane
            watch = PodWatch()
            ready = asyncio.Event()
            watcher = asyncio.create_task(watch.follow(session, url, ready))
            await ready.wait()
            deployments = f"{url}/apis/apps/v1/namespaces/{NAMESPACE}/deployments"

            cpu_before = cpu_of(processes)
            start = time.perf_counter()
            async with session.post(
                deployments,
                data=orjson.dumps(deployment(args.replicas)),
                headers={"Content-Type": "application/json"},
            ) as response:
                assert response.status == 201, await response.text()
            done = await wait_until(watch, lambda: watch.running() >= args.replicas, 600)
            cpu_after = cpu_of(processes)
            results["running_seconds"] = done - start
            results["running_cpu_seconds"] = {n: cpu_after[n] - cpu_before[n] for n in processes}

            old_hash = next(iter({h for h, _ in watch.pods.values()}))
            cpu_before = cpu_of(processes)
            start = time.perf_counter()
            patch = {"spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.local/app:2"}
            ]}}}}  # fmt: skip
            async with session.patch(
                f"{deployments}/{NAME}",
                data=orjson.dumps(patch),
                headers={"Content-Type": "application/strategic-merge-patch+json"},
            ) as response:
                assert response.status == 200, await response.text()
                generation = (await response.json())["metadata"]["generation"]

            complete_at: list[float] = []

            async def rollout_complete() -> None:
                while True:
                    d = await get_json(session, f"{deployments}/{NAME}")
                    status = d.get("status") or {}
                    if (
                        status.get("observedGeneration", 0) >= generation
                        and status.get("updatedReplicas") == args.replicas
                        and status.get("replicas") == args.replicas
                        and status.get("availableReplicas") == args.replicas
                    ):
                        complete_at.append(time.perf_counter())
                        return
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(rollout_complete(), 900)

            def old_gone() -> bool:
                return watch.other_than(old_hash) == len(watch.pods) >= args.replicas

            gone = await wait_until(watch, old_gone, 900)
            cpu_after = cpu_of(processes)
            results["rollout_seconds"] = complete_at[0] - start
            results["rollout_old_pods_gone_seconds"] = gone - start
            results["rollout_cpu_seconds"] = {n: cpu_after[n] - cpu_before[n] for n in processes}
            results["rss_mb"] = {n: rss_mb(pid) for n, pid in processes.items()}
            watcher.cancel()
    finally:
        stop_process(hollow)
    return results


def report(results: dict[str, Any]) -> None:
    print(f"\nDeployment of {results['replicas']} replicas on {results['nodes']} hollow nodes")
    print(
        f"  create -> {results['replicas']} pods Running: {results['running_seconds']:.1f} s "
        f"(aim {AIM_RUNNING_SECONDS:.0f} s)"
    )
    print(
        f"  image change -> rollout complete: {results['rollout_seconds']:.1f} s "
        f"(aim {AIM_ROLLOUT_SECONDS:.0f} s); last old pod gone after "
        f"{results['rollout_old_pods_gone_seconds']:.1f} s"
    )
    for phase in ("running", "rollout"):
        cpu = ", ".join(f"{n} {s:.1f}" for n, s in results[f"{phase}_cpu_seconds"].items())
        print(f"  CPU seconds during {phase}: {cpu}")
    print("  RSS MB: " + ", ".join(f"{n} {v:.0f}" for n, v in results["rss_mb"].items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1000)
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="kubelite-controllers-bench-") as tmp:
        work = Path(tmp)
        cluster = Cluster(work / "data", work / "cache")
        cluster.start()
        try:
            results = asyncio.run(run(args, cluster, work))
        finally:
            cluster.stop()
    report(results)
    out = HERE / "results" / f"controllers-{stamp}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
