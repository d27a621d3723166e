"""Bad pod-level resources (`spec.resources`, KEP-2837, beta and on since 1.34) are refused with
1.37's 422 and its words, through the real kubectl 1.37 and the API alike.

What a node does with good ones (the pod's cgroup, the scheduler's fit) is in
tests/e2e/kubelet/test_pod_level_resources.py: it needs a node that runs containers.
"""

from __future__ import annotations

import json

import pytest
from cluster import Cluster
from tests.kubectl_builds import NEWEST

pytestmark = pytest.mark.integration

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
    cluster: Cluster,
    namespace: str,
    name: str,
    pod_resources: str,
    container_resources: str,
    message: str,
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
    done = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=manifest, version=NEWEST, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip() == message
    # The same body through the API: a 422 Invalid Status.
    dry_run = ("create", "-n", namespace, "--dry-run=client", "-o", "json", "-f", "-")
    body = json.loads(cluster.kubectl(*dry_run, stdin=manifest, version=NEWEST).stdout)
    status, answer, _ = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", body)
    assert (status, answer["reason"], answer["code"]) == (422, "Invalid", 422)
    # kubectl puts "The " before the Status message.
    assert answer["message"] == message.removeprefix("The ")
