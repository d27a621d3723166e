"""Nodes started without --pod-cidr take the block node IPAM gives their Node, and their pods'
addresses come from it: the server's own node (timed from `kubelite server` to Ready) and a
second node that joins. A restarted agent finds its Node's block again.

The cluster has a cluster CIDR of its own (`--cluster-cidr`), so its bridges never meet another
cluster's addresses on this machine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from images import build, publish
from images.recipe import load_all, select
from tests.integration.cluster import Cluster

from conftest import _free_port, _registry_up, get_pod, node_ready, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def pod_cidr_of(cluster: Cluster, name: str) -> str:
    return cluster.kubectl("get", "node", name, "-o", "jsonpath={.spec.podCIDR}").stdout


@pytest.fixture(scope="module")
def ipam_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str, float]]:
    """A server whose node has no --pod-cidr, and the seconds from its start to a Ready node."""
    base = tmp_path_factory.mktemp("ipam")
    suffix = secrets.token_hex(2)
    cluster_cidr = f"10.{150 + int(suffix[0], 16)}.0.0/16"
    registry = f"127.0.0.1:{_free_port()}"
    name = f"kl-ipam-{suffix}"
    bridge = f"klip{suffix}"
    cluster = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--node-name", name, "--bridge", bridge, "--cluster-cidr", cluster_cidr,
            "--local-registry", registry, "--kubelet-port", "0",
            "--service-cidr", f"10.{220 + int(suffix[0], 16) % 30}.0.0/16",
        ],
        agent=True,
    )  # fmt: skip
    started = time.monotonic()
    cluster.start()
    try:
        wait_for("the node to be Ready", lambda: node_ready(cluster, name))
        ready_after = time.monotonic() - started
        wait_for("the local registry", lambda: _registry_up(registry))
        for recipe in select(["busybox"], load_all()):
            built = build.build(recipe, cache_dir=build.cache_dir_from_env(), out_dir=base / "out")
            publish.push(built.archive, recipe.references, registry)
        yield cluster, name, ready_after
    finally:
        cluster.kubectl("delete", "pods", "--all", "--grace-period=1", "--timeout=60s", check=False)
        cluster.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(cluster.data_dir),
             "--bridge", bridge],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr


def cluster_cidr(cluster: Cluster) -> ipaddress.IPv4Network:
    args = cluster.extra_args
    return ipaddress.IPv4Network(args[args.index("--cluster-cidr") + 1])


def run_pod(cluster: Cluster, pod: str, node: str) -> str:
    """Run a pod on `node`; its IP once Running."""
    cluster.kubectl(
        "run", pod, "--image=busybox", "--restart=Never",
        f"--overrides={{\"spec\": {{\"nodeName\": \"{node}\", "
        "\"terminationGracePeriodSeconds\": 1}}",
        "--", "sleep", "3600",
    )  # fmt: skip
    running = wait_for(
        f"{pod} to run",
        lambda: (p := get_pod(cluster, pod))["status"].get("phase") == "Running" and p,
    )
    return str(running["status"]["podIP"])


def test_the_servers_node_gets_the_first_block_and_its_pods_addresses_come_from_it(
    ipam_node: tuple[Cluster, str, float],
) -> None:
    cluster, name, ready_after = ipam_node
    print(f"kubelite server start to Ready node (pod CIDR from node IPAM): {ready_after:.1f}s")
    cidr = pod_cidr_of(cluster, name)
    assert cidr == str(next(cluster_cidr(cluster).subnets(new_prefix=24)))
    ip = run_pod(cluster, "on-ipam-node", name)
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)
    log = cluster.log_path.read_text() if cluster.log_path else ""
    assert f"Node CIDR assigned for: {name} ({cidr})" in log


def test_a_joined_node_without_pod_cidr_gets_the_next_block_and_keeps_it_after_a_restart(
    ipam_node: tuple[Cluster, str, float], tmp_path: Path
) -> None:
    cluster, _, _ = ipam_node
    suffix = secrets.token_hex(2)
    name, bridge = f"kl-ipj-{suffix}", f"klipj{suffix}"
    token = (cluster.data_dir / "node-token").read_text().strip()
    argv = [
        sys.executable, "-m", "kubelite", "agent", "--server", cluster.url, "--token", token,
        "--data-dir", str(tmp_path / "d"), "--node-name", name, "--bridge", bridge,
        "--kubelet-port", "0", "--cluster-cidr", str(cluster_cidr(cluster)),
        "--registries-config", str(cluster.data_dir / "registries.yaml"),
    ]  # fmt: skip
    log_path = tmp_path / "agent.log"

    def start() -> subprocess.Popen[bytes]:
        with log_path.open("a") as log:
            return subprocess.Popen(argv, stdout=log, stderr=log)

    def stop(agent: subprocess.Popen[bytes]) -> None:
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)

    agent = start()
    try:
        wait_for(f"{name} to be Ready", lambda: node_ready(cluster, name))
        cidr = pod_cidr_of(cluster, name)
        blocks = list(cluster_cidr(cluster).subnets(new_prefix=24))
        assert cidr == str(blocks[1])
        # Whether it logged a wait depends on how fast node IPAM was; that it took the Node's
        # block, not one of its own, it always says.
        assert f"Node CIDR assigned for: {name} ({cidr})" in log_path.read_text()
        ip = run_pod(cluster, "on-ipam-joined", name)
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)

        stop(agent)
        agent = start()
        wait_for(
            "the restarted agent to take its Node's block",
            lambda: log_path.read_text().count(f"Node CIDR assigned for: {name}") == 2,
        )
        assert pod_cidr_of(cluster, name) == cidr
        nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
        assert len({n["spec"]["podCIDR"] for n in nodes}) == len(nodes) == 2
    finally:
        cluster.kubectl(
            "delete", "pod", "on-ipam-joined", "--grace-period=1", "--timeout=60s", check=False
        )
        stop(agent)
        cluster.kubectl("delete", "node", name, check=False)
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(tmp_path / "d"),
             "--bridge", bridge],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
