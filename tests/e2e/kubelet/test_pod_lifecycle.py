"""Pods through their whole lifecycle on a real node: `kubelite server` with its kubelet,
images pulled from a local registry standing in for Docker Hub, containers on runc.

The images are the example images of `images/`, built from Debian packages and pushed to a
`docker-registry` on loopback; the node's registries.yaml makes it docker.io's mirror, so the
pods name `busybox` and `nginx` exactly as the seed's manifests do.
"""

from __future__ import annotations

import json
import os
import secrets
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

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

TIMEOUT = 60.0


def _wait(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local registry holding busybox and nginx under their Docker Hub names."""
    from tests.e2e.runtime.images_fixtures import running_registry

    work = tmp_path_factory.mktemp("registry")
    cache = build.cache_dir_from_env()
    with running_registry(work / "registry") as reg:
        for recipe in select(["busybox", "nginx"], load_all()):
            built = build.build(recipe, cache_dir=cache, out_dir=work / "out")
            publish.push(built.archive, recipe.references, reg.host)
        yield reg.host


@pytest.fixture(scope="module")
def node(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A one-node cluster whose kubelet pulls docker.io images from the local registry."""
    base = tmp_path_factory.mktemp("node")
    registries = base / "registries.yaml"
    registries.write_text(f'mirrors:\n  docker.io:\n    endpoint: ["http://{registry}"]\n')
    suffix = secrets.token_hex(2)
    subnet = f"10.{90 + int(suffix[0], 16)}.{int(suffix[1:], 16) % 250}.0/24"
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
            "--registries-config",
            str(registries),
            "--kubelet-port",
            "0",
        ],
        agent=True,
    )
    cluster.start()
    try:
        _wait("the node to be Ready", lambda: _node_ready(cluster))
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


def _node_ready(cluster: Cluster) -> bool:
    done = cluster.kubectl("get", "nodes", "-o", "json", check=False)
    if done.returncode != 0:
        return False
    for item in json.loads(done.stdout)["items"]:
        for condition in item["status"].get("conditions", []):
            if condition["type"] == "Ready" and condition["status"] == "True":
                return True
    return False


def _delete_all_pods(cluster: Cluster) -> None:
    cluster.kubectl("delete", "pods", "--all", "-A", "--timeout=60s", check=False)


def _pod(cluster: Cluster, name: str) -> dict:
    return json.loads(cluster.kubectl("get", "pod", name, "-o", "json").stdout)


def _apply(cluster: Cluster, manifest: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest)


def test_a_busybox_pod_runs_its_command_and_succeeds(node: Cluster) -> None:
    _apply(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: busybox
    command: ["sh", "-c", "echo hello from $(hostname); echo pid $$$$"]
""",
    )
    pod = _wait(
        "hello to succeed",
        lambda: (p := _pod(node, "hello"))["status"].get("phase") == "Succeeded" and p,
    )
    state = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert state["reason"] == "Completed" and state["exitCode"] == 0
    logs = node.kubectl("logs", "hello").stdout
    # `$$$$` reaches the shell as `$$` (Kubernetes' $(VAR) expansion turns `$$` into `$`): the
    # command is PID 1 of its container, and the pod's name is its host name.
    assert logs == "hello from hello\npid 1\n"
    table = node.kubectl("get", "pod", "hello").stdout
    assert "Completed" in table


def test_an_nginx_pod_is_ready_and_answers_on_its_ip(node: Cluster) -> None:
    _apply(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: nginx
    image: nginx
    ports: [{containerPort: 80}]
""",
    )

    def ready() -> dict | bool:
        pod = _pod(node, "web")
        conditions = pod["status"].get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) and pod

    pod = _wait("web to be Ready", ready)
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"]
    ip = pod["status"]["podIP"]
    page = _wait(
        "nginx to answer",
        lambda: (
            subprocess.run(
                ["busybox", "wget", "-q", "-O", "-", f"http://{ip}/"],
                capture_output=True,
                text=True,
            ).stdout
        ),
        timeout=20,
    )
    assert "Welcome to nginx" in page
    wide = node.kubectl("get", "pod", "web", "-o", "wide").stdout
    assert ip in wide and "Running" in wide


def test_a_failing_container_under_never_makes_the_pod_failed(node: Cluster) -> None:
    _apply(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: fails}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "exit 3"]
""",
    )
    pod = _wait(
        "fails to fail", lambda: (p := _pod(node, "fails"))["status"].get("phase") == "Failed" and p
    )
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Error", 3)


def test_a_crashing_container_goes_into_crash_loop_back_off(node: Cluster) -> None:
    _apply(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "exit 1"]
""",
    )

    def backing_off() -> dict | bool:
        pod = _pod(node, "crash")
        statuses = pod["status"].get("containerStatuses") or []
        waiting = statuses[0]["state"].get("waiting") if statuses else None
        return bool(waiting and waiting.get("reason") == "CrashLoopBackOff") and pod

    pod = _wait("CrashLoopBackOff", backing_off)
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s restarting failed container=main" in status["state"]["waiting"]["message"]
    assert "CrashLoopBackOff" in node.kubectl("get", "pod", "crash").stdout


def test_a_deleted_pod_is_stopped_and_goes_away(node: Cluster) -> None:
    _apply(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
""",
    )
    _wait("sleeper to run", lambda: _pod(node, "sleeper")["status"].get("phase") == "Running")
    started = time.monotonic()
    node.kubectl("delete", "pod", "sleeper", "--timeout=30s")
    # sleep ignores SIGTERM as PID 1: the kubelet kills it after the 2 s grace period.
    assert 1.5 < time.monotonic() - started < 20
    gone = node.kubectl("get", "pod", "sleeper", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
