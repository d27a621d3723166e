"""In-place pod resize on a real node (KEP-1287, GA in 1.35): `kubectl patch --subresource
resize` changes a running container's cgroup limits without restarting it, a resize beyond the
node is Infeasible, and a container whose resize policy asks for it is restarted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, delete_pod, get_pod, pod_ready, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _pod_manifest(name: str, policy: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    resources:
      requests: {{cpu: 100m, memory: 64Mi}}
      limits: {{cpu: 100m, memory: 64Mi}}
{policy}"""


def _resize(node: Cluster, name: str, cpu: str, memory: str, *, check: bool = True) -> str:
    """`kubectl patch --subresource resize` of the container's requests and limits; its
    error output."""
    resources = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    patch = {"spec": {"containers": [{"name": "app", "resources": resources}]}}
    done = node.kubectl(
        "patch", "pod", name, "--subresource", "resize", "-p", json.dumps(patch), check=check
    )
    return done.stderr


def _blocker_manifest(milli_cpu: int) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: resize-blocker}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
    resources:
      requests: {{cpu: {milli_cpu}m}}
"""


def _milli(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(value) * 1000


def _node(node: Cluster) -> dict:
    return json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]


def _cpu_used(node: Cluster, but: str = "") -> int:
    """The CPU the node's running pods request (all but `but`), as the kubelet counts them."""
    pods = json.loads(node.kubectl("get", "pods", "-A", "-o", "json").stdout)["items"]
    used = 0
    for pod in pods:
        if pod["metadata"]["name"] == but or pod["status"].get("phase") in ("Succeeded", "Failed"):
            continue
        for container in pod["spec"]["containers"]:
            cpu = ((container.get("resources") or {}).get("requests") or {}).get("cpu")
            used += _milli(cpu) if cpu else 0
    return used


def _cgroup_dir(node: Cluster, name: str, controller: str) -> Path:
    """The container's cgroup in one v1 hierarchy, from its own /proc/self/cgroup (runc makes
    no cgroup namespace on v1, so the paths are the host's)."""
    lines = node.kubelite("exec", name, "--", "cat", "/proc/self/cgroup").stdout.splitlines()
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    raise AssertionError(f"no {controller} cgroup in {lines}")


def _read(path: Path) -> int:
    return int(path.read_text())


def _resize_conditions(pod: dict) -> list[dict]:
    return [
        c
        for c in pod["status"].get("conditions") or []
        if c["type"] in ("PodResizePending", "PodResizeInProgress")
    ]


def _resized_to(node: Cluster, name: str, cpu: str, memory: str) -> dict | bool:
    pod = get_pod(node, name)
    status = pod["status"]["containerStatuses"][0]
    want = {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}
    done = status.get("resources") == want and not _resize_conditions(pod)
    return done and pod


def test_a_running_container_is_resized_in_place_or_deferred_until_there_is_room(
    node: Cluster,
) -> None:
    apply_manifest(node, _pod_manifest("resize-me"))
    try:
        before = wait_for("resize-me to be Ready", lambda: pod_ready(node, "resize-me"))
        assert isinstance(before, dict)
        status = before["status"]["containerStatuses"][0]
        assert status["allocatedResources"] == {"cpu": "100m", "memory": "64Mi"}
        assert status["resources"]["limits"] == {"cpu": "100m", "memory": "64Mi"}
        cpu_dir = _cgroup_dir(node, "resize-me", "cpu")
        memory_dir = _cgroup_dir(node, "resize-me", "memory")
        assert _read(cpu_dir / "cpu.cfs_quota_us") == 10_000
        assert _read(memory_dir / "memory.limit_in_bytes") == 64 << 20

        _resize(node, "resize-me", "200m", "128Mi")
        after = wait_for(
            "the resize to be done",
            lambda: _resized_to(node, "resize-me", "200m", "128Mi"),
        )
        assert isinstance(after, dict)
        resized = after["status"]["containerStatuses"][0]
        assert resized["containerID"] == status["containerID"]
        assert resized["restartCount"] == 0
        assert resized["allocatedResources"] == {"cpu": "200m", "memory": "128Mi"}
        assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
        assert after["status"]["observedGeneration"] == after["metadata"]["generation"]
        # The container's cgroup, and the pod's above it.
        assert _read(cpu_dir / "cpu.cfs_quota_us") == 20_000
        assert _read(cpu_dir / "cpu.shares") == 204
        assert _read(memory_dir / "memory.limit_in_bytes") == 128 << 20
        assert _read(cpu_dir.parent / "cpu.cfs_quota_us") == 20_000
        assert _read(memory_dir.parent / "memory.limit_in_bytes") == 128 << 20

        # A size the node never has is refused by the API server (PodResizeValidator, 1.36+)
        # before the kubelet sees it.
        refused = _resize(node, "resize-me", "8", "128Mi", check=False)
        assert "Node didn't have enough allocatable resources: cpu, requested: 8000" in refused

        # A size the node has, but not beside another pod: Deferred until that pod goes.
        allocatable = _milli(_node(node)["status"]["allocatable"]["cpu"])
        blocker = allocatable - _cpu_used(node) - 100
        apply_manifest(node, _blocker_manifest(blocker))
        wait_for("the blocker to run", lambda: pod_ready(node, "resize-blocker"))
        used = _cpu_used(node, but="resize-me")
        _resize(node, "resize-me", "500m", "128Mi")

        def deferred() -> tuple[dict, dict] | bool:
            pod = get_pod(node, "resize-me")
            found = [c for c in _resize_conditions(pod) if c["type"] == "PodResizePending"]
            return bool(found) and found[0].get("reason") == "Deferred" and (pod, found[0])

        pod, condition = wait_for("the resize to be Deferred", deferred)
        assert condition["status"] == "True"
        assert condition["message"] == (
            f"Node didn't have enough resource: cpu, requested: 500, used: {used}, "
            f"capacity: {allocatable}"
        )
        assert condition["observedGeneration"] == pod["metadata"]["generation"]
        still = pod["status"]["containerStatuses"][0]
        assert still["resources"]["limits"]["cpu"] == "200m"
        assert still["allocatedResources"]["cpu"] == "200m"
        assert _read(cpu_dir / "cpu.cfs_quota_us") == 20_000
        delete_pod(node, "resize-blocker")
        wait_for(
            "the deferred resize to be done once the blocker left",
            lambda: _resized_to(node, "resize-me", "500m", "128Mi"),
        )
        assert _read(cpu_dir / "cpu.cfs_quota_us") == 50_000
    finally:
        delete_pod(node, "resize-blocker")
        delete_pod(node, "resize-me")


def test_a_memory_resize_restarts_a_container_whose_policy_says_so(node: Cluster) -> None:
    policy = """    resizePolicy:
    - {resourceName: cpu, restartPolicy: NotRequired}
    - {resourceName: memory, restartPolicy: RestartContainer}
"""
    apply_manifest(node, _pod_manifest("resize-restart", policy))
    try:
        before = wait_for("resize-restart to be Ready", lambda: pod_ready(node, "resize-restart"))
        assert isinstance(before, dict)
        first = before["status"]["containerStatuses"][0]
        _resize(node, "resize-restart", "100m", "128Mi")

        def restarted() -> dict | bool:
            pod = _resized_to(node, "resize-restart", "100m", "128Mi")
            if not isinstance(pod, dict):
                return False
            status = pod["status"]["containerStatuses"][0]
            return status["restartCount"] == 1 and "running" in status["state"] and pod

        after = wait_for("the container to restart with 128Mi", restarted)
        assert isinstance(after, dict)
        status = after["status"]["containerStatuses"][0]
        assert status["containerID"] != first["containerID"]
        memory_dir = _cgroup_dir(node, "resize-restart", "memory")
        assert _read(memory_dir / "memory.limit_in_bytes") == 128 << 20
        events = node.kubectl(
            "get", "events", "--field-selector", "involvedObject.name=resize-restart", "-o", "json"
        ).stdout
        messages = [e["message"] for e in json.loads(events)["items"]]
        assert "Container app resize requires restart" in messages
    finally:
        delete_pod(node, "resize-restart")


def _pod_level_manifest(name: str) -> str:
    """A pod bounded by its own resources (KEP-2837); its container states none."""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 1
  resources:
    limits: {{cpu: 200m, memory: 128Mi}}
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
"""


def _pod_level_resized_to(node: Cluster, name: str, cpu: str, memory: str) -> dict | bool:
    pod = get_pod(node, name)
    want = {"limits": {"cpu": cpu, "memory": memory}, "requests": {"cpu": cpu, "memory": memory}}
    done = pod["status"].get("resources") == want and not _resize_conditions(pod)
    return done and pod


def test_the_pods_own_resources_are_resized_in_place(node: Cluster) -> None:
    """InPlacePodLevelResourcesVerticalScaling (beta, on since 1.36): `spec.resources` through
    pods/resize; the kubelet resizes the pod cgroup, keeps the container, and reports the new
    size in status.resources and status.allocatedResources, with ResizeStarted and
    ResizeCompleted events."""
    name = "resize-pod-level"
    apply_manifest(node, _pod_level_manifest(name))
    try:
        before = wait_for(f"{name} to be Ready", lambda: pod_ready(node, name))
        assert isinstance(before, dict)
        assert before["status"]["qosClass"] == "Guaranteed"
        assert before["status"]["allocatedResources"] == {"cpu": "200m", "memory": "128Mi"}
        first = before["status"]["containerStatuses"][0]
        # The container's cgroups are unbounded; the pod cgroup above them holds the limits.
        pod_cpu = _cgroup_dir(node, name, "cpu").parent
        pod_memory = _cgroup_dir(node, name, "memory").parent
        assert _read(pod_cpu / "cpu.cfs_quota_us") == 20_000
        assert _read(pod_memory / "memory.limit_in_bytes") == 128 << 20
        wait_for(
            "status.resources to show the pod cgroup",
            lambda: _pod_level_resized_to(node, name, "200m", "128Mi"),
        )

        resources = {
            "requests": {"cpu": "400m", "memory": "256Mi"},
            "limits": {"cpu": "400m", "memory": "256Mi"},
        }
        patch = json.dumps({"spec": {"resources": resources}})
        node.kubectl("patch", "pod", name, "--subresource", "resize", "-p", patch)
        after = wait_for(
            "the pod-level resize to be done",
            lambda: _pod_level_resized_to(node, name, "400m", "256Mi"),
        )
        assert isinstance(after, dict)
        status = after["status"]["containerStatuses"][0]
        assert status["containerID"] == first["containerID"]
        assert status["restartCount"] == 0
        assert after["status"]["allocatedResources"] == {"cpu": "400m", "memory": "256Mi"}
        assert after["status"]["observedGeneration"] == after["metadata"]["generation"]
        assert _read(pod_cpu / "cpu.cfs_quota_us") == 40_000
        assert _read(pod_cpu / "cpu.shares") == 409
        assert _read(pod_memory / "memory.limit_in_bytes") == 256 << 20

        def resize_events() -> list[str] | bool:
            listed = node.kubectl(
                "get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"
            ).stdout
            reasons = [e["reason"] for e in json.loads(listed)["items"]]
            return "ResizeCompleted" in reasons and reasons

        reasons = wait_for("the resize events", resize_events)
        assert isinstance(reasons, list)
        assert "ResizeStarted" in reasons
    finally:
        delete_pod(node, name)
