"""`spec.hostnameOverride` (KEP-4762, GA in 1.37) on the host network is refused with 1.37's 422,
through the real kubectl 1.37.

What the kubelet does with an override (the pod's hostname and /etc/hosts) is in
tests/e2e/kubelet/test_hostname_override_envfiles.py: it needs a node that runs containers.
"""

from __future__ import annotations

import pytest
from cluster import Cluster
from tests.kubectl_builds import NEWEST

pytestmark = pytest.mark.integration


def test_an_override_on_the_host_network_is_refused(cluster: Cluster, namespace: str) -> None:
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  hostnameOverride: db.example.internal
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
"""
    result = cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", stdin=manifest, version=NEWEST, check=False
    )
    assert result.returncode == 1
    assert result.stderr == (
        'The Pod "hostnet" is invalid: spec.hostnameOverride: Forbidden: may not be specified '
        "when hostNetwork is true\n"
    )
    missing = cluster.kubectl("get", "pod", "hostnet", "-n", namespace, version=NEWEST, check=False)
    assert missing.returncode == 1
