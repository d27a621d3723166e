"""`kubectl describe` of pods with resources of their own (`spec.resources`, KEP-2837).

kubectl 1.37's describePod prints a `Resources:` block for the pod itself (describeResources at
level 1: Limits then Requests, names sorted) after `NominatedNodeName` and before the init
containers; describeNode counts a pod by component-helpers' PodRequests/PodLimits, so the pod's
own amounts win (1.36, kubernetes#137394).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.cli.kubectl.describe.nodes import describe_node
from kubelite.cli.kubectl.describe.pods import describe_pod

NOW = dt.datetime(2026, 8, 1, 12, 0, 0, tzinfo=dt.UTC)


def _pod() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "shared",
            "namespace": "default",
            "creationTimestamp": "2026-08-01T11:00:00Z",
        },
        "spec": {
            "nodeName": "node-a",
            "resources": {
                "limits": {"memory": "128Mi", "cpu": "500m"},
                "requests": {"memory": "128Mi", "cpu": "500m"},
            },
            "containers": [{"name": "app", "image": "busybox", "resources": {}}],
        },
        "status": {"phase": "Running", "qosClass": "Guaranteed"},
    }


def test_describe_pod_prints_the_pods_own_resources_before_its_containers() -> None:
    lines = describe_pod(_pod(), None, NOW).splitlines()
    start = lines.index("Resources:")
    assert lines[start : start + 8] == [
        "Resources:",
        "  Limits:",
        "    cpu:     500m",
        "    memory:  128Mi",
        "  Requests:",
        "    cpu:     500m",
        "    memory:  128Mi",
        "Containers:",
    ]
    assert lines[start - 1].startswith("IPs:")


def test_describe_pod_without_pod_level_resources_has_no_such_block() -> None:
    pod = _pod()
    del pod["spec"]["resources"]
    assert "Resources:" not in describe_pod(pod, None, NOW).splitlines()


def test_describe_node_counts_the_pods_own_requests_and_limits() -> None:
    node = {
        "metadata": {"name": "node-a", "creationTimestamp": "2026-08-01T10:00:00Z"},
        "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "10"}},
    }
    text = describe_node(node, [_pod()], None, "leases not found", NOW)
    row = next(line for line in text.splitlines() if "shared" in line)
    assert row.split()[2:10] == [
        "500m",
        "(25%)",
        "500m",
        "(25%)",
        "128Mi",
        "(12%)",
        "128Mi",
        "(12%)",
    ]
