"""Kubelet changes of 1.35-1.37 on a real node: a restarted kubelet keeps what the pod status
said of running containers (KEP-4781), the node declares its features (KEP-5328), and the
container events name the container by their field path only (#134043)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, delete_pod, get_pod, pod_ready, wait_for
from kubelite.kubelet.node.declared_features import declared_features

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

# A readiness probe that takes 4 s to succeed: a kubelet that reset readiness on restart would
# leave the pod not ready at least that long, which the watch below cannot miss.
PROBED = """apiVersion: v1
kind: Pod
metadata:
  name: kept
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    startupProbe:
      exec:
        command: ["sh", "-c", "echo run >> /tmp/startup-runs"]
      periodSeconds: 1
    readinessProbe:
      exec:
        command: ["sh", "-c", "sleep 4; true"]
      periodSeconds: 5
      timeoutSeconds: 10
"""


def _startup_runs(node: Cluster) -> int:
    out = node.kubectl("exec", "kept", "--", "cat", "/tmp/startup-runs").stdout
    return len(out.split())


def _container(pod: dict) -> dict:
    return dict(pod["status"]["containerStatuses"][0])


def test_a_restarted_kubelet_keeps_readiness_and_does_not_rerun_startup_probes(
    node: Cluster,
) -> None:
    apply_manifest(node, PROBED)
    try:
        before = wait_for("kept to be Ready", lambda: pod_ready(node, "kept"))
        assert isinstance(before, dict)
        started = _container(before)
        assert started["started"] is True and started["ready"] is True
        runs = _startup_runs(node)
        # The container must have run well before the new kubelet starts (10 s grace).
        time.sleep(11)
        agent = node.agent_pid()
        os.kill(agent, signal.SIGKILL)
        wait_for("a new kubelet", lambda: (pid := node.agent_pid(missing_ok=True)) != agent and pid)
        # Watch the pod while the new kubelet takes over and its first readiness probe (4 s)
        # runs: never not ready, never not started.
        seen: list[tuple[bool, bool, bool]] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pod = get_pod(node, "kept")
            status = _container(pod)
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"]
            )
            seen.append((ready, bool(status.get("ready")), bool(status.get("started"))))
            time.sleep(0.2)
        assert seen and all(s == (True, True, True) for s in seen), seen
        after = _container(get_pod(node, "kept"))
        assert after["containerID"] == started["containerID"]
        assert after["restartCount"] == 0
        # The startup probe that succeeded before the restart was not run again.
        assert _startup_runs(node) == runs == 1
    finally:
        delete_pod(node, "kept")


def test_the_node_declares_its_features(node: Cluster) -> None:
    nodes = json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert [n["status"].get("declaredFeatures") for n in nodes] == [declared_features()]
    assert "RestartAllContainersOnContainerExits" in declared_features()


def test_the_kubelet_reports_the_release_the_server_serves(node: Cluster) -> None:
    """`kubectl get nodes` shows VERSION v1.37.0+kubelite, the same release /version says."""
    nodes = json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert [n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes] == ["v1.37.0+kubelite"]
    server = json.loads(node.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert (server["major"], server["minor"], server["gitVersion"]) == (
        "1",
        "37",
        "v1.37.0+kubelite",
    )


def test_created_and_started_events_name_the_container_by_field_path(node: Cluster) -> None:
    node.kubectl("run", "evented", "--image=busybox", "--restart=Never", "--", "sleep", "3600")
    try:
        wait_for("evented to be Ready", lambda: pod_ready(node, "evented"))

        def kubelet_events() -> list[tuple[str, str, str]]:
            out = node.kubectl(
                "get", "events", "--field-selector", "involvedObject.name=evented", "-o", "json"
            ).stdout
            return [
                (e["reason"], e["message"], e["involvedObject"].get("fieldPath", ""))
                for e in json.loads(out)["items"]
                if e["reason"] in ("Created", "Started")
            ]

        events = wait_for(
            "the Started event", lambda: len(kubelet_events()) == 2 and kubelet_events()
        )
        assert sorted(events) == [
            ("Created", "Container created", "spec.containers{evented}"),
            ("Started", "Container started", "spec.containers{evented}"),
        ]
    finally:
        delete_pod(node, "evented")
