"""A second node joins with the server's node token, and runs pods like the first."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster

from conftest import get_pod, node_ready, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


@pytest.fixture(scope="module")
def joined(node: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A node of its own data dir, bridge and pod CIDR, joined with `--server --token`."""
    data = tmp_path_factory.mktemp("joined")
    suffix = secrets.token_hex(2)
    name = f"kl-join-{suffix}"
    bridge = f"klj{suffix}"
    token = (node.data_dir / "node-token").read_text().strip()
    log = (data / "agent.log").open("w")
    agent = subprocess.Popen(
        [
            sys.executable, "-m", "kubelite", "agent",
            "--server", node.url, "--token", token, "--data-dir", str(data / "d"),
            "--node-name", name, "--pod-cidr", f"10.{120 + int(suffix[0], 16)}.0.0/24",
            "--bridge", bridge, "--kubelet-port", "0",
            "--registries-config", str(node.data_dir / "registries.yaml"),
        ],
        stdout=log,
        stderr=log,
    )  # fmt: skip
    try:
        wait_for(f"{name} to be Ready", lambda: node_ready(node, name))
        yield name
    finally:
        node.kubectl(
            "delete", "pods", "-l", "joined=yes", "--grace-period=1", "--timeout=60s", check=False
        )
        agent.send_signal(signal.SIGTERM)
        agent.wait(30)
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(data / "d"),
             "--bridge", bridge],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        assert str(data) not in Path("/proc/self/mounts").read_text()


def test_a_bad_token_is_refused_before_anything_is_trusted(node: Cluster, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "kubelite", "agent", "--server", node.url,
            "--token", "K10" + "0" * 64 + "::node:nope", "--data-dir", str(tmp_path),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is not the one the node token names" in done.stderr


def test_a_joined_node_runs_pods_and_serves_their_logs(node: Cluster, joined: str) -> None:
    node.kubectl(
        "run", "on-joined", "--image=busybox", "--labels=joined=yes", "--restart=Never",
        f"--overrides={{\"spec\": {{\"nodeName\": \"{joined}\"}}}}",
        "--", "sh", "-c", "echo from the joined node; sleep 3600",
    )  # fmt: skip
    pod = wait_for(
        "the pod to run on the joined node",
        lambda: (p := get_pod(node, "on-joined"))["status"].get("phase") == "Running" and p,
    )
    assert pod["spec"]["nodeName"] == joined
    logs = wait_for("its log", lambda: node.kubectl("logs", "on-joined", check=False).stdout)
    assert logs == "from the joined node\n"
    assert node.kubectl("exec", "on-joined", "--", "hostname").stdout == "on-joined\n"


def test_a_daemon_set_runs_one_pod_on_each_node(node: Cluster, joined: str) -> None:
    daemon_set = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "every-node"},
        "spec": {
            "selector": {"matchLabels": {"app": "every-node"}},
            "template": {
                "metadata": {"labels": {"app": "every-node"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "agent", "image": "busybox", "command": ["sleep", "3600"]}
                    ],
                },
            },
        },
    }
    nodes = {
        n["metadata"]["name"]
        for n in json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    }
    assert joined in nodes and len(nodes) == 2

    def running_on() -> list[str] | None:
        pods = json.loads(node.kubectl("get", "pods", "-l", "app=every-node", "-o", "json").stdout)[
            "items"
        ]
        placed = sorted(
            p["spec"].get("nodeName", "") for p in pods if p["status"].get("phase") == "Running"
        )
        return placed if len(pods) == len(placed) == len(nodes) else None

    node.kubectl("apply", "-f", "-", stdin=json.dumps(daemon_set))
    try:
        assert wait_for("a running daemon pod on each node", running_on) == sorted(nodes)
        status = node.kubectl("rollout", "status", "daemonset/every-node", "--timeout=60s")
        assert "successfully rolled out" in status.stdout
    finally:
        node.kubectl("delete", "daemonset", "every-node", "--timeout=60s", check=False)
        wait_for(
            "the daemon pods to go",
            lambda: (
                not json.loads(
                    node.kubectl("get", "pods", "-l", "app=every-node", "-o", "json").stdout
                )["items"]
            ),
        )
