"""Pods the node cannot run get the status and events Kubernetes gives them, never a silent
`ContainerCreating`, and leave nothing behind once deleted."""

from __future__ import annotations

import os

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, delete_pod, get_pod, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]


def _waiting(node: Cluster, name: str, reason: str) -> dict | bool:
    pod = get_pod(node, name)
    statuses = pod["status"].get("containerStatuses") or []
    waiting = statuses[0]["state"].get("waiting") if statuses else None
    return bool(waiting and waiting.get("reason") == reason) and waiting


def _events(node: Cluster, name: str) -> str:
    return node.kubectl("events", "--for", f"pod/{name}").stdout


def test_an_image_that_cannot_be_pulled_is_err_image_pull_then_back_off(node: Cluster) -> None:
    # A registry on a loopback port nothing listens on: refused at once, as an unreachable
    # registry is (Docker Hub itself is out of reach here and would only time out).
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: no-image}
spec:
  containers:
  - name: main
    image: 127.0.0.1:9/busybox:nope
""",
    )
    try:
        pulled = wait_for("ErrImagePull", lambda: _waiting(node, "no-image", "ErrImagePull"))
        assert "127.0.0.1:9/busybox:nope" in pulled["message"]
        backing = wait_for(
            "ImagePullBackOff", lambda: _waiting(node, "no-image", "ImagePullBackOff")
        )
        assert backing["message"].startswith('Back-off pulling image "127.0.0.1:9/busybox:nope"')
        events = _events(node, "no-image")
        assert 'Failed to pull image "127.0.0.1:9/busybox:nope"' in events
        assert "Error: ErrImagePull" in events
        assert "ImagePullBackOff" in node.kubectl("get", "pod", "no-image").stdout
    finally:
        delete_pod(node, "no-image")


def test_a_command_that_does_not_exist_is_a_container_error_with_why(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: bad-command}
spec:
  containers:
  - name: main
    image: busybox
    command: ["/no/such/program"]
""",
    )
    try:
        waiting = wait_for(
            "a container error",
            lambda: (
                _waiting(node, "bad-command", "CreateContainerError")
                or _waiting(node, "bad-command", "RunContainerError")
            ),
        )
        assert "/no/such/program" in waiting["message"]
        assert "Error:" in _events(node, "bad-command")
    finally:
        delete_pod(node, "bad-command")


def test_a_missing_configmap_is_create_container_config_error(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: no-config}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    env:
    - name: SETTING
      valueFrom: {configMapKeyRef: {name: settings, key: level}}
""",
    )
    try:
        waiting = wait_for(
            "CreateContainerConfigError",
            lambda: _waiting(node, "no-config", "CreateContainerConfigError"),
        )
        assert waiting["message"] == 'configmap "settings" not found'
        # Once the ConfigMap exists, the container starts.
        node.kubectl("create", "configmap", "settings", "--from-literal=level=debug")
        wait_for(
            "the container to run",
            lambda: get_pod(node, "no-config")["status"].get("phase") == "Running",
        )
        env = node.kubectl("exec", "no-config", "--", "sh", "-c", "echo $SETTING").stdout
        assert env == "debug\n"
    finally:
        delete_pod(node, "no-config")
        node.kubectl("delete", "configmap", "settings", check=False)


def test_a_taken_host_port_keeps_the_second_pod_pending_with_the_reason(node: Cluster) -> None:
    template = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    ports: [{{containerPort: 8080, hostPort: 18080}}]
"""
    apply_manifest(node, template.format(name="port-a"))
    apply_manifest(node, template.format(name="port-b"))
    try:
        wait_for(
            "port-a to run", lambda: get_pod(node, "port-a")["status"].get("phase") == "Running"
        )
        wait_for(
            "port-b to be refused",
            lambda: "didn't have free ports for the requested pod ports" in _events(node, "port-b"),
        )
        assert get_pod(node, "port-b")["status"]["phase"] == "Pending"
    finally:
        node.kubectl(
            "delete", "pod", "port-a", "port-b", "--grace-period=1", "--timeout=60s", check=False
        )


def test_a_volume_type_the_node_cannot_mount_is_a_failed_mount(node: Cluster) -> None:
    apply_manifest(
        node,
        """
apiVersion: v1
kind: Pod
metadata: {name: nfs-volume}
spec:
  volumes: [{name: share, nfs: {server: 192.0.2.9, path: /export}}]
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    volumeMounts: [{name: share, mountPath: /share}]
""",
    )
    try:

        def failed_mount() -> str:
            events = _events(node, "nfs-volume")
            return events if "FailedMount" in events else ""

        events = wait_for("FailedMount", failed_mount)
        assert 'MountVolume.SetUp failed for volume "share"' in events
        assert "not supported by kubelite" in events
        waiting = _waiting(node, "nfs-volume", "ContainerCreating")
        assert waiting, "the container waits, with the event saying why"
    finally:
        delete_pod(node, "nfs-volume")
