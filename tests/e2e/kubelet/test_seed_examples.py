"""The seed's examples, applied unchanged with the real kubectl on a real node.

They live in examples/ (the document's manifests and their companions, as ../shared/seed/ has
them); the images they name are the example images of `images/`, served by the node's docker.io
mirror.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from tests.examples import COMPANIONS, MANIFESTS
from tests.integration.cluster import Cluster

from conftest import get_pod, http_get, pod_ready, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def _apply(node: Cluster, path: Path) -> None:
    node.kubectl("apply", "-f", str(path))


def _delete(node: Cluster, path: Path) -> None:
    # A short grace period: busybox as PID 1 ignores SIGTERM, and 30 s each adds up.
    node.kubectl("delete", "-f", str(path), "--grace-period=2", "--timeout=60s", check=False)


def test_simple_pod_runs_nginx_and_answers_on_its_ip(node: Cluster) -> None:
    manifest = COMPANIONS / "simple-pod-fixed.yaml"
    _apply(node, manifest)
    try:
        pod = wait_for("simple-pod to be Ready", lambda: pod_ready(node, "simple-pod"))
        ip = pod["status"]["podIP"]
        assert "Welcome to nginx" in wait_for("nginx", lambda: http_get(f"http://{ip}/"))
    finally:
        _delete(node, manifest)


def test_nginx_sidecar_shows_the_access_line_in_the_sidecars_logs(node: Cluster) -> None:
    manifest = MANIFESTS / "nginx-sidecar.yaml"
    _apply(node, manifest)
    try:
        pod = wait_for("nginx-sidecar to be Ready", lambda: pod_ready(node, "nginx-sidecar"))
        ip = pod["status"]["podIP"]
        wait_for("nginx", lambda: http_get(f"http://{ip}/"))
        logs = wait_for(
            "the access line",
            lambda: (
                out
                if "GET / HTTP/1.1"
                in (
                    out := node.kubectl(
                        "logs", "nginx-sidecar", "-c", "sidecar-access", check=False
                    ).stdout
                )
                else ""
            ),
            timeout=20,
        )
        assert "Wget" in logs  # the request's user agent, as nginx logs it
        # The README's exec: a command found on the image's PATH (/usr/sbin here).
        version = node.kubectl("exec", "nginx-sidecar", "-c", "nginx", "--", "nginx", "-v")
        assert version.stderr.startswith("nginx version: nginx/"), version.stderr
    finally:
        _delete(node, manifest)


def test_the_adapter_serves_the_main_containers_log_reshaped(node: Cluster) -> None:
    manifest = MANIFESTS / "adapter-container-demo.yaml"
    _apply(node, manifest)
    try:
        pod = wait_for(
            "adapter-container-demo to be Ready",
            lambda: pod_ready(node, "adapter-container-demo"),
        )
        ip = pod["status"]["podIP"]
        body = wait_for("the adapter's lines", lambda: http_get(f"http://{ip}:3080/"), timeout=30)
        first = json.loads(body.splitlines()[0])
        assert "Log" in json.dumps(first)
    finally:
        _delete(node, manifest)


def test_myapp_pod_waits_in_its_first_init_container(node: Cluster) -> None:
    manifest = MANIFESTS / "myapp-pod.yaml"
    _apply(node, manifest)
    try:
        wait_for(
            "the first init container to run",
            lambda: (
                (get_pod(node, "myapp-pod")["status"].get("initContainerStatuses") or [{}])[0]
                .get("state", {})
                .get("running")
            ),
        )
        table = node.kubectl("get", "pod", "myapp-pod").stdout
        assert "Init:0/2" in table
        # It reads its namespace from the service account volume, and waits for the Service.
        logs = wait_for(
            "the init container's log",
            lambda: node.kubectl("logs", "myapp-pod", "-c", "init-myservice", check=False).stdout,
        )
        assert "waiting for myservice" in logs
        pod = get_pod(node, "myapp-pod")
        assert pod["status"]["phase"] == "Pending"
        app = pod["status"]["containerStatuses"][0]["state"]["waiting"]
        assert app["reason"] == "PodInitializing"
    finally:
        _delete(node, manifest)


def test_a_restarted_kubelet_adopts_running_pods_without_restarting_them(
    node: Cluster,
) -> None:
    node.kubectl("run", "survivor", "--image=busybox", "--restart=Always", "--", "sleep", "3600")
    try:
        before = wait_for("survivor to be Ready", lambda: pod_ready(node, "survivor"))
        container_id = before["status"]["containerStatuses"][0]["containerID"]
        agent = node.agent_pid()
        os.kill(agent, signal.SIGKILL)  # the server's supervisor starts a new one
        wait_for(
            "a new kubelet",
            lambda: (pid := node.agent_pid(missing_ok=True)) != agent and pid,
        )
        # The new kubelet reports the pod again (a fresh heartbeat, the same container).
        wait_for("the node to be reported again", lambda: pod_ready(node, "survivor"))
        after = get_pod(node, "survivor")["status"]["containerStatuses"][0]
        assert after["containerID"] == container_id
        assert after["restartCount"] == 0 and "running" in after["state"]
    finally:
        node.kubectl("delete", "pod", "survivor", "--grace-period=2", "--timeout=60s", check=False)
