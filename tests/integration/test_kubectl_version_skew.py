"""kubelite as the kubectl people install today sees it: a 1.37 server, within the supported skew
of kubectl 1.36 and 1.37, so they print no warning and everyday commands work.

`kubectl version` compares its own minor release with the server's and warns on stderr when they
are more than one apart (kubernetes/kubernetes#98250, kubectl 1.21 and later), as it did for a
current kubectl while kubelite said it was 1.33.
"""

from __future__ import annotations

import json

import pytest
from cluster import Cluster
from tests.examples import COMPANIONS

SKEW_WARNING = "version difference between client"


@pytest.mark.parametrize("kubectl_version", ["1.36", "1.37"])
def test_kubectl_version_shows_the_server_release_without_a_skew_warning(
    cluster: Cluster, kubectl_version: str
) -> None:
    build = cluster.kubectl_build(kubectl_version)
    result = cluster.kubectl("version", version=kubectl_version)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Client Version: v1.{build.minor}.")
    assert "Server Version: v1.37.0+kubelite" in lines
    assert SKEW_WARNING not in result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("kubectl_version", ["1.30"])
def test_an_old_kubectl_is_warned_of_the_skew(cluster: Cluster, kubectl_version: str) -> None:
    """The warning the test above looks for is real: kubectl 1.30 is seven releases behind.
    (Parametrized on `kubectl_version` to be skipped where the build is missing: conftest.)"""
    result = cluster.kubectl("version", version=kubectl_version)
    assert "Server Version: v1.37.0+kubelite" in result.stdout.splitlines()
    assert (
        "WARNING: version difference between client (1.30) and server (1.37) exceeds the "
        "supported minor version skew of +/-1"
    ) in result.stderr


@pytest.mark.parametrize("kubectl_version", ["1.36", "1.37"])
def test_everyday_commands_with_a_current_kubectl(
    cluster: Cluster, namespace: str, kubectl_version: str
) -> None:
    build = cluster.kubectl_build(kubectl_version)
    manifest = str(COMPANIONS / "simple-pod-fixed.yaml")

    def kubectl(*args: str) -> str:
        result = cluster.kubectl(*args, "-n", namespace, version=kubectl_version)
        # No warning of any kind: skew, deprecated API, unknown field.
        assert result.stderr == "", result.stderr
        return result.stdout

    assert kubectl("apply", "-f", manifest).strip() == "pod/simple-pod created"
    table = kubectl("get", "pods").splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table[1].split()[:4] == ["simple-pod", "0/1", "Pending", "0"]
    assert kubectl("get", "pods", "-o", "name").split() == ["pod/simple-pod"]
    pod = json.loads(kubectl("get", "pod", "simple-pod", "-o", "json"))
    assert pod["metadata"]["namespace"] == namespace
    assert pod["status"]["phase"] == "Pending"
    assert "Status:           Pending" in kubectl("describe", "pod", "simple-pod")
    deleted = kubectl("delete", "pod", "simple-pod", "--wait=true").strip()
    assert deleted == build.deleted('pod "simple-pod"', namespace)
    empty = cluster.kubectl("get", "pods", "-n", namespace, version=kubectl_version)
    assert (empty.stdout, empty.stderr.strip()) == (
        "",
        f"No resources found in {namespace} namespace.",
    )
