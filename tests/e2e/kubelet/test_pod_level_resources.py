"""Pod-level resources (`spec.resources`, KEP-2837, beta and on since 1.34) on a real node, with
the real kubectl 1.37:

- a pod that limits itself to 500m cpu and 128Mi memory, its two containers limiting nothing,
  is defaulted (pod requests = pod limits), classed Guaranteed, scheduled and run; its cgroup
  holds the pod-level limits and its containers' cgroups are held to them too;
- a pod whose own requests are more than the node has stays Pending, the scheduler saying
  `Insufficient cpu`.

The 422s for bad pod-level resources need no node; they are in
tests/integration/test_kubectl_pod_level_resources.py.

The node's cgroups are the v1 hierarchies (see docs/runtime.md): the pod's `cpu.max` is
`cpu.cfs_quota_us` over `cpu.cfs_period_us` there, and its `memory.max` `memory.limit_in_bytes`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.integration.cluster import Cluster
from tests.kubectl_builds import NEWEST

from conftest import get_pod, wait_for
from kubelite.api.quantity import Quantity

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
MI = 1 << 20


def _kubectl(node: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return node.kubectl(*args, version=NEWEST, **kwargs)


def _node_allocatable_cpu(node: Cluster) -> str:
    nodes = json.loads(_kubectl(node, "get", "nodes", "-o", "json").stdout)["items"]
    return str(nodes[0]["status"]["allocatable"]["cpu"])


def _running(node: Cluster, name: str) -> dict[str, Any] | None:
    pod = get_pod(node, name)
    statuses = pod["status"].get("containerStatuses") or []
    running = len(statuses) == 2 and all("running" in (s.get("state") or {}) for s in statuses)
    return pod if running else None


def _cgroup_dir(controller: str, uid: str) -> Path:
    found = sorted((CGROUP_ROOT / controller).glob(f"**/pod{uid}"))
    assert len(found) == 1, found
    return found[0]


SHARED = """
apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  terminationGracePeriodSeconds: 1
  resources:
    limits: {cpu: 500m, memory: 128Mi}
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
  - {name: helper, image: busybox, command: [sleep, "3600"]}
"""


def test_a_pod_limited_as_a_whole_runs_in_a_cgroup_of_that_size(node: Cluster) -> None:
    _kubectl(node, "apply", "-f", "-", stdin=SHARED)
    try:
        pod = wait_for("both containers to run", lambda: _running(node, "shared"))
        # Defaulted as 1.37 does: the pod's requests are its limits; the containers untouched.
        assert pod["spec"]["resources"] == {
            "limits": {"cpu": "500m", "memory": "128Mi"},
            "requests": {"cpu": "500m", "memory": "128Mi"},
        }
        assert [c["resources"] for c in pod["spec"]["containers"]] == [{}, {}]
        qos = _kubectl(node, "get", "pod", "shared", "-o", "jsonpath={.status.qosClass}")
        assert qos.stdout == "Guaranteed"

        uid = pod["metadata"]["uid"]
        cpu, memory = _cgroup_dir("cpu", uid), _cgroup_dir("memory", uid)
        # cpu.max "50000 100000" and memory.max 134217728, as cgroup v1 writes them.
        assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
        assert (cpu / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (cpu / "cpu.shares").read_text().strip() == "512"
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(128 * MI)
        # Each container, limiting nothing itself, is held to the pod's limits in its own
        # cgroup too (the kubelet's getCPULimit / getMemoryLimit).
        containers = [d for d in cpu.iterdir() if d.is_dir()]
        assert len(containers) >= 2
        for directory in containers:
            assert (directory / "cpu.cfs_quota_us").read_text().strip() == "50000"
            limit = memory / directory.name / "memory.limit_in_bytes"
            assert limit.read_text().strip() == str(128 * MI)

        described = _kubectl(node, "describe", "pod", "shared").stdout
        assert "Resources:\n  Limits:\n    cpu:     500m\n    memory:  128Mi\n" in described
        assert "QoS Class:                   Guaranteed" in described
    finally:
        _kubectl(node, "delete", "pod", "shared", "--grace-period=1", "--timeout=60s")


def test_a_pod_asking_more_than_the_node_has_stays_pending(node: Cluster) -> None:
    allocatable = _node_allocatable_cpu(node)
    # One whole cpu more than the node has.
    too_much = str(Quantity.from_json(allocatable).milli_value() // 1000 + 1)
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: too-big}}
spec:
  terminationGracePeriodSeconds: 1
  resources:
    requests: {{cpu: "{too_much}"}}
  containers:
  - {{name: app, image: busybox, command: [sleep, "3600"], resources: {{requests: {{cpu: 100m}}}}}}
"""
    _kubectl(node, "apply", "-f", "-", stdin=manifest)
    try:

        def unschedulable() -> str:
            conditions = get_pod(node, "too-big")["status"].get("conditions") or []
            for c in conditions:
                if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable":
                    return str(c.get("message") or "")
            return ""

        message = wait_for("the scheduler to give up on the pod", unschedulable)
        assert message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
        pod = get_pod(node, "too-big")
        assert pod["status"]["phase"] == "Pending"
        assert "nodeName" not in pod["spec"]
        # The container alone would fit: the pod's own request is what is counted.
        assert pod["spec"]["resources"]["requests"] == {"cpu": too_much}
    finally:
        _kubectl(node, "delete", "pod", "too-big", "--grace-period=0", "--timeout=60s")
