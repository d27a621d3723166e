"""Pod startup latency on a real node, as Kubernetes defines it, against `podman kube play`.

Kubernetes' pod startup SLI is the time from a pod's creation to all its containers running,
observed through a watch, for pods whose image is already on the node (its SLO: p99 under 5 s).
This starts `kubelite server` with its kubelet (root), pushes busybox to the node's local
registry, pulls it once, and then measures 50 one-container pods (`sleep`):

- one after another: each pod is created when the previous one runs (an idle node);
- all at once: 50 creates sent together.

The clock starts when the create request is sent and stops when a watch shows the pod Running
with every container running. In the same run, the same pods are started with
`podman kube play` (configured as RUNTIME_NOTES.md says; see runtime_bench.Podman), one after
another and 50 at once, each timed until the command returns (podman returns once the pod's
containers run), and the ratio of the p50s and p99s is printed.

Run: `.venv/bin/python bench/pod_startup_bench.py [--pods 50]` (root; about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from images import build, publish  # noqa: E402
from images.recipe import load_all, select  # noqa: E402
from tests.e2e.runtime.runtime_fixtures import make_busybox_rootfs  # noqa: E402
from tests.integration.cluster import Cluster  # noqa: E402

from kubelite.api.resources import Resource  # noqa: E402
from kubelite.client.api import APIClient  # noqa: E402
from kubelite.client.kubeconfig import load_config  # noqa: E402
from runtime_bench import Podman  # noqa: E402

PODS = Resource("", "v1", "pods", kind="Pod")
OBJECTIVE_P99 = 5.0  # Kubernetes' pod startup SLO, seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def pod_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": "busybox:1.28",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", "3600"],
                }
            ],
        },
    }


def running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    return (
        status.get("phase") == "Running"
        and bool(statuses)
        and all("running" in (s.get("state") or {}) for s in statuses)
    )


async def measure(
    client: APIClient, namespace: str, names: list[str], together: bool
) -> list[float]:
    """Latency of each pod, from its create request to a watch event showing it running."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    events: dict[str, asyncio.Event] = {name: asyncio.Event() for name in names}
    listing = await client.list(PODS, namespace=namespace)
    ready = asyncio.Event()

    async def watch() -> None:
        stream = client.watch(
            PODS, namespace=namespace, resource_version=listing["metadata"]["resourceVersion"]
        )
        ready.set()
        async for event in stream:
            name = event.object["metadata"]["name"]
            if name in events and name not in seen and running(event.object):
                seen[name] = time.perf_counter()
                events[name].set()

    watcher = asyncio.create_task(watch())
    await ready.wait()

    async def create(name: str) -> None:
        sent[name] = time.perf_counter()
        await client.create(PODS, pod_body(name), namespace=namespace)

    if together:
        await asyncio.gather(*(create(name) for name in names))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events.values())), 300)
    else:
        for name in names:
            await create(name)
            await asyncio.wait_for(events[name].wait(), 60)
    watcher.cancel()
    return [seen[name] - sent[name] for name in names]


async def delete_all(client: APIClient, namespace: str) -> None:
    listing = await client.list(PODS, namespace=namespace)
    for pod in listing["items"]:
        await client.delete(PODS, pod["metadata"]["name"], namespace=namespace)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not (await client.list(PODS, namespace=namespace))["items"]:
            return
        await asyncio.sleep(0.5)


async def kubelite_run(cluster: Cluster, pods: int) -> tuple[list[float], list[float]]:
    async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as client:
        # The image onto the node first: the SLI is for pods whose image is present.
        await measure(client, "default", ["warm-up"], together=False)
        await delete_all(client, "default")
        one_by_one = await measure(
            client, "default", [f"seq-{i}" for i in range(pods)], together=False
        )
        await delete_all(client, "default")
        at_once = await measure(client, "default", [f"all-{i}" for i in range(pods)], together=True)
        await delete_all(client, "default")
    return one_by_one, at_once


def podman_run(base: Path, pods: int) -> tuple[list[float], list[float]]:
    rootfs = base / "rootfs"
    make_busybox_rootfs(rootfs)
    podman = Podman(base / "podman")
    podman.setup(rootfs)

    def play(name: str) -> float:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "main", "image": "localhost/kl-bench-busybox:latest",
                                     "command": ["sleep", "3600"]}]},
        }  # fmt: skip
        manifest = base / f"{name}.json"
        manifest.write_text(json.dumps(pod))
        started = time.perf_counter()
        podman.run("kube", "play", "--network", podman.network, str(manifest))
        return time.perf_counter() - started

    try:
        play("warm-up")
        one_by_one = [play(f"seq-{i}") for i in range(pods)]
        podman.run("pod", "rm", "--all", "--force", "--time", "0")
        with ThreadPoolExecutor(max_workers=pods) as pool:
            at_once = list(pool.map(play, [f"all-{i}" for i in range(pods)]))
    finally:
        podman.teardown()
    return one_by_one, at_once


def report(times: list[float]) -> str:
    return (
        f"p50 {percentile(times, 0.5) * 1000:7.0f} ms  p99 {percentile(times, 0.99) * 1000:7.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--oci-runtime", choices=("runc", "crun"), default="runc")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("pod_startup_bench needs root")
    base = Path(tempfile.mkdtemp(prefix="kl-startup-"))
    suffix = secrets.token_hex(2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        registry = f"127.0.0.1:{probe.getsockname()[1]}"
    cluster = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--node-name", f"bench-{suffix}", "--pod-cidr", "10.213.0.0/24",
            "--bridge", f"klsb{suffix}", "--local-registry", registry, "--kubelet-port", "0",
            "--oci-runtime", args.oci_runtime,
        ],
        agent=True,
    )  # fmt: skip
    cluster.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", int(registry.rsplit(":", 1)[1]))) == 0:
                    break
            time.sleep(0.1)
        (recipe,) = select(["busybox"], load_all())
        built = build.build(recipe, cache_dir=build.cache_dir_from_env(), out_dir=base / "out")
        publish.push(built.archive, recipe.references, registry)
        one_by_one, at_once = asyncio.run(kubelite_run(cluster, args.pods))
    finally:
        cluster.stop()
        subprocess.run(
            [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(cluster.data_dir),
             "--bridge", f"klsb{suffix}"],
            capture_output=True,
        )  # fmt: skip
    print(
        f"\npod startup latency, {args.pods} pods on {args.oci_runtime} "
        "(image present; create -> all running)"
    )
    print(f"  kubelite, one after another: {report(one_by_one)}")
    print(f"  kubelite, all at once:       {report(at_once)}")
    print(f"  Kubernetes' objective: p99 under {OBJECTIVE_P99:.0f} s")
    if not args.no_podman:
        podman_seq, podman_all = podman_run(base, args.pods)
        print(f"  podman kube play, one after another: {report(podman_seq)}")
        print(f"  podman kube play, all at once:       {report(podman_all)}")
        for label, ours, theirs in (
            ("one after another", one_by_one, podman_seq),
            ("all at once", at_once, podman_all),
        ):
            p50 = percentile(ours, 0.5) / percentile(theirs, 0.5)
            p99 = percentile(ours, 0.99) / percentile(theirs, 0.99)
            print(f"  kubelite / podman, {label}: p50 {p50:.2f}, p99 {p99:.2f}")
    shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
