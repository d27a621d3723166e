"""Pod-level resources (`spec.resources`, KEP-2837, beta and on since 1.34) end to end: the real
kubectl 1.37 against a one-node kubelite cluster whose kubelet runs containers under runc.

- a pod that limits itself to 500m cpu and 128Mi memory, its two containers limiting nothing,
  is defaulted (pod requests = pod limits), classed Guaranteed, scheduled and run; its cgroup
  holds the pod-level limits and its containers' cgroups are held to them too;
- a pod whose own requests are more than the node has stays Pending, the scheduler saying
  `Insufficient cpu`;
- bad pod-level resources are refused with 1.37's 422 and its words.

The node's cgroups are the v1 hierarchies (see docs/runtime.md): the pod's `cpu.max` is
`cpu.cfs_quota_us` over `cpu.cfs_period_us` there, and its `memory.max` `memory.limit_in_bytes`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster
from images import build, publish
from images.recipe import load_all, select
from tests.kubectl_builds import NEWEST

from kubelite.api.quantity import Quantity

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

TIMEOUT = 90.0
CGROUP_ROOT = Path("/sys/fs/cgroup")
MI = 1 << 20


def wait_for(what: str, check: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _registry_up(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


def _kubectl(node: Cluster, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return node.kubectl(*args, version=NEWEST, **kwargs)


def _node_allocatable_cpu(node: Cluster) -> str:
    nodes = json.loads(_kubectl(node, "get", "nodes", "-o", "json").stdout)["items"]
    ready = [
        n
        for n in nodes
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n["status"].get("conditions") or ()
        )
    ]
    return str(ready[0]["status"]["allocatable"]["cpu"]) if ready else ""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A one-node cluster with its scheduler and kubelet, pulling busybox from the node's own
    registry (`--local-registry`), into which the example image is pushed first."""
    base = tmp_path_factory.mktemp("plr")
    suffix = secrets.token_hex(2)
    subnet = f"10.{90 + int(suffix[0], 16)}.{int(suffix[1:], 16) % 250}.0/24"
    registry = f"127.0.0.1:{_free_port()}"
    cluster = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--node-name",
            f"plr-{suffix}",
            "--pod-cidr",
            subnet,
            "--bridge",
            f"plr{suffix}",
            "--local-registry",
            registry,
            "--kubelet-port",
            "0",
            "--service-cidr",
            f"10.{200 + int(suffix[0], 16)}.0.0/16",
        ],
        agent=True,
    )
    cluster.start()
    try:
        wait_for("the local registry", lambda: _registry_up(registry))
        cache = build.cache_dir_from_env()
        for recipe in select(["busybox"], load_all()):
            built = build.build(recipe, cache_dir=cache, out_dir=base / "out")
            publish.push(built.archive, recipe.references, registry)
        wait_for("the node to be Ready", lambda: _node_allocatable_cpu(cluster))
        yield cluster
    finally:
        cluster.kubectl(
            "delete", "pods", "--all", "-A", "--grace-period=1", "--timeout=60s", check=False
        )
        cluster.stop()
        reset = subprocess.run(
            [sys.executable, "-m", "kubelite", "reset", "--data-dir", str(cluster.data_dir),
             "--bridge", f"plr{suffix}"],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        assert str(cluster.data_dir) not in Path("/proc/self/mounts").read_text()


def _get(node: Cluster, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = json.loads(_kubectl(node, "get", "pod", name, "-o", "json").stdout)
    return pod


def _running(node: Cluster, name: str) -> dict[str, Any] | None:
    pod = _get(node, name)
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
            conditions = _get(node, "too-big")["status"].get("conditions") or []
            for c in conditions:
                if c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable":
                    return str(c.get("message") or "")
            return ""

        message = wait_for("the scheduler to give up on the pod", unschedulable)
        assert message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
        pod = _get(node, "too-big")
        assert pod["status"]["phase"] == "Pending"
        assert "nodeName" not in pod["spec"]
        # The container alone would fit: the pod's own request is what is counted.
        assert pod["spec"]["resources"]["requests"] == {"cpu": too_much}
    finally:
        _kubectl(node, "delete", "pod", "too-big", "--grace-period=0", "--timeout=60s")


BAD_CASES = [
    pytest.param(
        "over",
        "{limits: {cpu: 500m}}",
        "{requests: {cpu: 100m}, limits: {cpu: '1'}}",
        'The Pod "over" is invalid: spec.resources.containers[0][cpu].limits: Invalid value: '
        '"1": must be less than or equal to pod limits of 500m',
        id="a container limited above the pod",
    ),
    pytest.param(
        "storage",
        "{limits: {cpu: '1', ephemeral-storage: 1Gi}}",
        "{}",
        'The Pod "storage" is invalid: spec.resources.limits[ephemeral-storage]: Unsupported '
        'value: ephemeral-storage: supported values: "cpu", "hugepages-", "memory"',
        id="a resource a pod cannot set for itself",
    ),
    pytest.param(
        "short",
        "{requests: {cpu: 200m}}",
        "{requests: {cpu: 300m}}",
        'The Pod "short" is invalid: spec.resources.requests[cpu]: Invalid value: "200m": '
        "must be greater than or equal to aggregate container requests of 300m",
        id="pod requests below what its containers request",
    ),
]


@pytest.mark.parametrize(("name", "pod_resources", "container_resources", "message"), BAD_CASES)
def test_bad_pod_level_resources_are_refused_as_1_37_refuses_them(
    node: Cluster, name: str, pod_resources: str, container_resources: str, message: str
) -> None:
    manifest = f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  resources: {pod_resources}
  containers:
  - {{name: app, image: busybox, resources: {container_resources}}}
"""
    done = _kubectl(node, "apply", "-f", "-", stdin=manifest, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == message
    # The same body through the API: a 422 Invalid Status.
    body = json.loads(
        _kubectl(node, "create", "--dry-run=client", "-o", "json", "-f", "-", stdin=manifest).stdout
    )
    status, answer, _ = node.request("POST", "/api/v1/namespaces/default/pods", body)
    assert (status, answer["reason"], answer["code"]) == (422, "Invalid", 422)
    # kubectl puts "The " before the Status message.
    assert answer["message"] == message.removeprefix("The ")
