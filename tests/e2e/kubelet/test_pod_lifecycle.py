"""Pods through their whole lifecycle on a real node (`kubelite server` with its kubelet, images
from a local registry standing in for Docker Hub, containers on runc), driven by the real kubectl.
"""

from __future__ import annotations

import os
import time

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, get_pod, http_get, pod_ready, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def test_a_busybox_pod_runs_its_command_and_succeeds(node: Cluster) -> None:
    apply_manifest(
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
    pod = wait_for(
        "hello to succeed",
        lambda: (p := get_pod(node, "hello"))["status"].get("phase") == "Succeeded" and p,
    )
    status = pod["status"]["containerStatuses"][0]
    state = status["state"]["terminated"]
    assert state["reason"] == "Completed" and state["exitCode"] == 0
    # The image as its registry names it, by digest, as Kubernetes shows imageID.
    assert status["imageID"].startswith("docker.io/library/busybox@sha256:")
    logs = node.kubectl("logs", "hello").stdout
    # `$$$$` reaches the shell as `$$` (Kubernetes' $(VAR) expansion turns `$$` into `$`): the
    # command is PID 1 of its container, and the pod's name is its host name.
    assert logs == "hello from hello\npid 1\n"
    assert node.kubelite("logs", "hello").stdout == logs
    table = node.kubectl("get", "pod", "hello").stdout
    assert "Completed" in table


def test_an_nginx_pod_is_ready_and_answers_on_its_ip(node: Cluster) -> None:
    apply_manifest(
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

    pod = wait_for("web to be Ready", lambda: pod_ready(node, "web"))
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"]
    ip = pod["status"]["podIP"]
    page = wait_for("nginx to answer", lambda: http_get(f"http://{ip}/"), timeout=20)
    assert "Welcome to nginx" in page
    script = "echo out; echo err >&2; exit 3"
    ran = node.kubelite("exec", "web", "--", "sh", "-c", script, check=False)
    assert (ran.returncode, ran.stdout) == (3, "out\n")
    assert "err\n" in ran.stderr and "command terminated with exit code 3" in ran.stderr
    fed = node.kubelite("exec", "-i", "web", "--", "cat", stdin="fed through stdin\n")
    assert fed.stdout == "fed through stdin\n"
    wide = node.kubectl("get", "pod", "web", "-o", "wide").stdout
    assert ip in wide and "Running" in wide


def test_a_failing_container_under_never_makes_the_pod_failed(node: Cluster) -> None:
    apply_manifest(
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
    pod = wait_for(
        "fails to fail",
        lambda: (p := get_pod(node, "fails"))["status"].get("phase") == "Failed" and p,
    )
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"]) == ("Error", 3)


def test_a_crashing_container_goes_into_crash_loop_back_off(node: Cluster) -> None:
    apply_manifest(
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
        pod = get_pod(node, "crash")
        statuses = pod["status"].get("containerStatuses") or []
        waiting = statuses[0]["state"].get("waiting") if statuses else None
        return bool(waiting and waiting.get("reason") == "CrashLoopBackOff") and pod

    pod = wait_for("CrashLoopBackOff", backing_off)
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert "back-off 10s restarting failed container=main" in status["state"]["waiting"]["message"]
    assert "CrashLoopBackOff" in node.kubectl("get", "pod", "crash").stdout


def test_a_deleted_pod_is_stopped_and_goes_away(node: Cluster) -> None:
    apply_manifest(
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
    wait_for("sleeper to run", lambda: get_pod(node, "sleeper")["status"].get("phase") == "Running")
    started = time.monotonic()
    node.kubectl("delete", "pod", "sleeper", "--timeout=30s")
    # sleep ignores SIGTERM as PID 1: the kubelet kills it after the 2 s grace period.
    assert 1.5 < time.monotonic() - started < 20
    gone = node.kubectl("get", "pod", "sleeper", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
