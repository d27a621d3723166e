"""A one-node cluster with its kubelet, shared by the kubelet's e2e tests.

The images are the example images of `images/`, built from Debian packages and pushed to the
node's own local registry (`kubelite server --local-registry`), which the server makes docker.io's
mirror, so pods name `busybox`, `nginx` and `bbachin1/adapter-node-server` exactly as the seed's
manifests do.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from images import build, publish
from images.recipe import load_all, select
from tests.integration.cluster import Cluster

TIMEOUT = 60.0
# The example images these tests run.
IMAGES = ["busybox", "nginx", "adapter-node-server"]


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _registry_up(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A one-node cluster whose kubelet pulls docker.io images from the node's own local
    registry (`--local-registry`), into which the example images are pushed first."""
    base = tmp_path_factory.mktemp("node")
    suffix = secrets.token_hex(2)
    subnet = f"10.{90 + int(suffix[0], 16)}.{int(suffix[1:], 16) % 250}.0/24"
    # A service range of its own, so that its proxy's rules never meet another cluster's
    # on this machine (a developer's own cluster keeps 10.43.0.0/16).
    service_cidr = f"10.{200 + int(suffix[0], 16)}.0.0/16"
    registry = f"127.0.0.1:{_free_port()}"
    cluster = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--node-name",
            f"kl-e2e-{suffix}",
            "--pod-cidr",
            subnet,
            "--bridge",
            f"kle2e{suffix}",
            "--local-registry",
            registry,
            "--kubelet-port",
            "0",
            "--service-cidr",
            service_cidr,
        ],
        agent=True,
    )
    cluster.start()
    try:
        wait_for("the local registry", lambda: _registry_up(registry))
        cache = build.cache_dir_from_env()
        for recipe in select(IMAGES, load_all()):
            built = build.build(recipe, cache_dir=cache, out_dir=base / "out")
            publish.push(built.archive, recipe.references, registry)
        wait_for("the node to be Ready", lambda: node_ready(cluster))
        yield cluster
    finally:
        _delete_all_pods(cluster)
        cluster.stop()
        reset = subprocess.run(
            [
                sys.executable, "-m", "kubelite", "reset",
                "--data-dir", str(cluster.data_dir), "--bridge", f"kle2e{suffix}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        mounts = Path("/proc/self/mounts").read_text()
        assert str(cluster.data_dir) not in mounts


def service_address(cluster: Cluster, offset: int) -> str:
    """The address `offset` into the cluster's service range: 1 is the `kubernetes` Service's,
    10 the cluster DNS'."""
    args = cluster.extra_args
    cidr = args[args.index("--service-cidr") + 1] if "--service-cidr" in args else "10.43.0.0/16"
    return str(ipaddress.ip_network(cidr).network_address + offset)


def node_ready(cluster: Cluster, name: str | None = None) -> bool:
    """Whether the node `name` (any node when None) reports Ready."""
    done = cluster.kubectl("get", "nodes", "-o", "json", check=False)
    if done.returncode != 0:
        return False
    for item in json.loads(done.stdout)["items"]:
        if name is not None and item["metadata"]["name"] != name:
            continue
        for condition in item["status"].get("conditions", []):
            if condition["type"] == "Ready" and condition["status"] == "True":
                return True
    return False


def _delete_all_pods(cluster: Cluster) -> None:
    cluster.kubectl(
        "delete", "pods", "--all", "-A", "--grace-period=2", "--timeout=60s", check=False
    )


def get_pod(cluster: Cluster, name: str) -> dict:
    return json.loads(cluster.kubectl("get", "pod", name, "-o", "json").stdout)


def pod_ready(cluster: Cluster, name: str) -> dict | bool:
    pod = get_pod(cluster, name)
    conditions = pod["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) and pod


def http_get(url: str) -> str:
    """The body at `url`, fetched from the host as a person would with wget ("" on failure)."""
    done = subprocess.run(
        ["busybox", "wget", "-q", "-O", "-", url], capture_output=True, text=True, check=False
    )
    return done.stdout


def apply_manifest(cluster: Cluster, manifest: str) -> None:
    """`kubectl apply` of a manifest given as text."""
    cluster.kubectl("apply", "-f", "-", stdin=manifest)


def delete_pod(cluster: Cluster, name: str) -> None:
    """Delete a pod with a short grace period: busybox as PID 1 ignores SIGTERM."""
    cluster.kubectl("delete", "pod", name, "--grace-period=1", "--timeout=60s", check=False)


def phase(cluster: Cluster, name: str) -> str:
    return str(get_pod(cluster, name)["status"].get("phase"))
