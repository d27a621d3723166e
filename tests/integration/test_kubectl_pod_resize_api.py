"""The pods/resize subresource through the real kubectl 1.37 (`kubectl patch --subresource
resize`): what it may change, what it ignores, what it refuses and with which words.

The pods are never scheduled (the module's cluster has no scheduler and no kubelet): the API
side of a resize does not need a running container.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from cluster import Cluster, kubectl_binary
from tests.kubectl_builds import NEWEST

# Guaranteed: every container's cpu and memory requests equal its limits.
GUARANTEED = "{requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 100m, memory: 64Mi}}"
# Burstable: cpu only.
CPU_ONLY = "{requests: {cpu: 100m}, limits: {cpu: 100m}}"


def _create(cluster: Cluster, namespace: str, resources: str) -> dict[str, Any]:
    manifest = f"""
apiVersion: v1
kind: Pod
metadata:
  name: resizable
spec:
  containers:
  - name: c
    image: nginx
    resources: {resources}
"""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest, version=NEWEST)
    return _get(cluster, namespace)


@pytest.fixture
def pod(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """A Guaranteed pod, never scheduled."""
    return _create(cluster, namespace, GUARANTEED)


def _get(cluster: Cluster, namespace: str) -> dict[str, Any]:
    out = cluster.kubectl("get", "pod", "resizable", "-n", namespace, "-o", "json")
    pod: dict[str, Any] = json.loads(out.stdout)
    return pod


def _resources(cluster: Cluster, namespace: str) -> Any:
    """Container `c`'s resources as the server has them."""
    return _get(cluster, namespace)["spec"]["containers"][0]["resources"]


def _resources_patch(resources: dict[str, Any]) -> str:
    """A patch that sets container `c`'s resources, as compact JSON."""
    patch = {"spec": {"containers": [{"name": "c", "resources": resources}]}}
    return json.dumps(patch, separators=(",", ":"))


def _resize(cluster: Cluster, namespace: str, patch: str, patch_type: str = "merge") -> Any:
    return cluster.kubectl(
        "patch",
        "pod",
        "resizable",
        "-n",
        namespace,
        "--subresource",
        "resize",
        "--type",
        patch_type,
        "-p",
        patch,
        version=NEWEST,
        check=False,
    )


def test_discovery_lists_pods_resize(cluster: Cluster) -> None:
    listing = json.loads(cluster.kubectl("get", "--raw", "/api/v1", version=NEWEST).stdout)
    [entry] = [r for r in listing["resources"] if r["name"] == "pods/resize"]
    assert (entry["kind"], entry["verbs"]) == ("Pod", ["get", "patch", "update"])


def test_a_resize_changes_the_spec_and_bumps_the_generation(
    cluster: Cluster, namespace: str
) -> None:
    pod = _create(cluster, namespace, CPU_ONLY)
    patch = _resources_patch({"requests": {"cpu": "200m"}, "limits": {"cpu": "200m"}})
    result = _resize(cluster, namespace, patch)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pod/resizable patched"
    resized = _get(cluster, namespace)
    resources = resized["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": "200m"}, "limits": {"cpu": "200m"}}
    assert resized["metadata"]["generation"] == pod["metadata"]["generation"] + 1
    assert resized["spec"]["containers"][0]["image"] == "nginx"


def test_a_merge_patch_replaces_the_containers_and_so_removes_what_it_leaves_out(
    cluster: Cluster, namespace: str, pod: dict[str, Any]
) -> None:
    # RFC 7386 replaces lists whole: the Guaranteed pod's memory would go, which a resize
    # may not do (and which would make the pod Burstable).
    patch = _resources_patch({"requests": {"cpu": "200m"}, "limits": {"cpu": "200m"}})
    result = _resize(cluster, namespace, patch)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'The Pod "resizable" is invalid: ',
        '* spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result of resizing',
        "* spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed",
        "* spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed",
    ]


def test_a_strategic_resize_of_one_resource(
    cluster: Cluster, namespace: str, pod: dict[str, Any]
) -> None:
    patch = _resources_patch({"requests": {"memory": "128Mi"}, "limits": {"memory": "128Mi"}})
    result = _resize(cluster, namespace, patch, "strategic")
    assert result.returncode == 0, result.stderr
    resources = _resources(cluster, namespace)
    assert resources == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "100m", "memory": "128Mi"},
    }


def test_fields_other_than_resources_are_ignored(
    cluster: Cluster, namespace: str, pod: dict[str, Any]
) -> None:
    patch = (
        '{"metadata":{"labels":{"through":"resize"}},'
        '"spec":{"activeDeadlineSeconds":30,"containers":[{"name":"c","image":"busybox"}]}}'
    )
    result = _resize(cluster, namespace, patch, "strategic")
    assert result.returncode == 0, result.stderr
    # Nothing a resize may change changed: kubectl says so.
    assert result.stdout.strip() == "pod/resizable patched (no change)"
    after = _get(cluster, namespace)
    assert after["spec"]["containers"][0]["image"] == "nginx"
    assert "activeDeadlineSeconds" not in after["spec"]
    assert "labels" not in after["metadata"]
    assert after["metadata"]["generation"] == pod["metadata"]["generation"]


def test_a_change_of_qos_class_is_refused(
    cluster: Cluster, namespace: str, pod: dict[str, Any]
) -> None:
    patch = _resources_patch({"requests": {"cpu": "50m"}})
    result = _resize(cluster, namespace, patch, "strategic")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'The Pod "resizable" is invalid: spec: Invalid value: "Guaranteed": '
        "Pod QOS Class may not change as a result of resizing"
    )
    assert _resources(cluster, namespace)["requests"] == {
        "cpu": "100m",
        "memory": "64Mi",
    }


def test_only_cpu_and_memory_may_change(
    cluster: Cluster, namespace: str, pod: dict[str, Any]
) -> None:
    patch = _resources_patch({"requests": {"ephemeral-storage": "1Gi"}})
    result = _resize(cluster, namespace, patch, "strategic")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'The Pod "resizable" is invalid: spec: Forbidden: only cpu and memory resources are mutable'
    )


def test_a_plain_patch_of_resources_is_refused_as_before(
    cluster: Cluster, namespace: str, pod: dict[str, Any]
) -> None:
    result = cluster.kubectl(
        "patch",
        "pod",
        "resizable",
        "-n",
        namespace,
        "-p",
        _resources_patch({"limits": {"cpu": "200m"}}),
        version=NEWEST,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        'The Pod "resizable" is invalid: spec: Forbidden: pod updates may not change fields '
        "other than `spec.containers[*].image`"
    )


def test_kubectl_edit_of_the_resize_subresource_changes_the_resources(
    cluster: Cluster, namespace: str, pod: dict[str, Any], tmp_path: Any
) -> None:
    """`kubectl edit --subresource resize`, with an editor that doubles the cpu: kubectl GETs
    pods/resize, diffs the edited copy and PATCHes the subresource."""
    editor = tmp_path / "double-cpu.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/cpu: 100m/cpu: 200m/g" "$1"\n')
    editor.chmod(0o755)
    env = dict(cluster.env(), KUBE_EDITOR=str(editor))
    result = subprocess.run(
        [
            kubectl_binary(NEWEST),
            "edit",
            "pod",
            "resizable",
            "-n",
            namespace,
            "--subresource",
            "resize",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pod/resizable edited"
    resources = _resources(cluster, namespace)
    assert resources == {
        "requests": {"cpu": "200m", "memory": "64Mi"},
        "limits": {"cpu": "200m", "memory": "64Mi"},
    }
