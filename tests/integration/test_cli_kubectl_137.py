"""kubelite's kubectl-like commands side by side with the real kubectl 1.37 on one cluster:
`get -o kyaml` of a pod and of a List, `describe pod` events with the field path they are about,
and a kuberc that both read.

The real kubectl's `-o kyaml` and `describe` run client-side, so its output against kubelite's
server is the reference. The cluster runs no scheduler: pods stay Pending and their
descriptions do not change between the two commands. Events are dated hours back so that their
Age reads the same whenever each command runs.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster
from tests import kubectl_builds

pytestmark = pytest.mark.integration

NEWEST = kubectl_builds.NEWEST


@pytest.fixture(autouse=True)
def _kubectl_137() -> None:
    build = kubectl_builds.exactly(NEWEST)
    if build.minor < 37:
        pytest.skip(f"needs kubectl 1.37 or newer, this machine has {build}")


def _pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app": "web", **labels},
            # Strings YAML would misread bare, text over several lines, and a non-ASCII one.
            "annotations": {
                "on": "yes",
                "numbers": "0123",
                "empty": "",
                "script": "set -e\n  indented\n\ttabbed\nend\n",
                "unicode": "héllo 日本 🎉",
            },
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "nginx:1.27",
                    "args": ["--flag", "null", "true"],
                    "env": [{"name": "MULTI", "value": "a\nb"}, {"name": "EMPTY", "value": ""}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                }
            ],
            "tolerations": [],
        },
    }


def _create(cluster: Cluster, namespace: str, obj: dict[str, Any]) -> None:
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(obj), version=NEWEST)


def _both(cluster: Cluster, *args: str) -> tuple[str, str]:
    """The real kubectl's and kubelite's output of the same command."""
    real = cluster.kubectl(*args, version=NEWEST).stdout
    ours = cluster.kubelite(*args).stdout
    return real, ours


def test_get_pod_kyaml_is_kubectls(cluster: Cluster, namespace: str) -> None:
    _create(cluster, namespace, _pod("web"))
    real, ours = _both(cluster, "get", "pod", "web", "-n", namespace, "-o", "kyaml")
    assert real.startswith("---\n{\n")
    assert '    annotations: {\n      empty: "",\n' in real
    assert ours == real


def test_get_list_kyaml_is_kubectls(cluster: Cluster, namespace: str) -> None:
    _create(cluster, namespace, _pod("one"))
    _create(cluster, namespace, _pod("two", tier="front"))
    real, ours = _both(cluster, "get", "pods", "-n", namespace, "-o", "kyaml")
    assert '  kind: "List",\n' in real and "  items: [{\n" in real
    assert ours == real
    # Several kinds in one List, and an empty List.
    real, ours = _both(cluster, "get", "pods,serviceaccounts", "-n", namespace, "-o", "kyaml")
    assert ours == real
    real, ours = _both(cluster, "get", "configmaps", "-n", namespace, "-l", "x=y", "-o", "kyaml")
    assert "  items: [],\n" in real
    assert ours == real


def _event(namespace: str, pod: dict[str, Any], name: str, field_path: str, message: str) -> Any:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod["metadata"]["name"],
        "namespace": namespace,
        "uid": pod["metadata"]["uid"],
    }
    if field_path:
        involved["fieldPath"] = field_path
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": involved,
        "reason": name.capitalize(),
        "message": message,
        "type": "Normal",
        "source": {"component": "kubelet"},
        "firstTimestamp": when,
        "lastTimestamp": when,
        "count": 1,
    }


def test_describe_pod_events_name_their_field_path(cluster: Cluster, namespace: str) -> None:
    _create(cluster, namespace, _pod("web"))
    _create(cluster, namespace, _pod("other"))
    pod = json.loads(
        cluster.kubectl("get", "pod", "web", "-n", namespace, "-o", "json", version=NEWEST).stdout
    )
    for name, path, message in (
        ("pulled", "spec.containers{web}", "Container image already present"),
        ("scheduled", "", "  Assigned to a node  "),
        ("created", "spec.initContainers{init}", "Created container init"),
    ):
        _create(cluster, namespace, _event(namespace, pod, name, path, message))
    real, ours = _both(cluster, "describe", "pod", "web", "-n", namespace)
    assert "kubelet  spec.containers{web}: Container image already present\n" in ours
    assert "kubelet  Assigned to a node\n" in ours
    assert ours == real
    # Several pods: kubectl 1.36 leaves their events out unless asked for.
    real, ours = _both(cluster, "describe", "pods", "-n", namespace)
    assert "Events:" not in ours
    assert ours == real
    real, ours = _both(cluster, "describe", "pods", "-n", namespace, "--show-events=true")
    assert ours.count("Events:") == 2
    assert ours == real


def test_kuberc_is_read_by_both(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    """An alias and a command's default from one kuberc change both commands alike, and a flag
    given on the command line still wins."""
    _create(cluster, namespace, _pod("web"))
    kuberc = tmp_path / "kuberc"
    kuberc.write_text(
        "apiVersion: kubectl.config.k8s.io/v1beta1\n"
        "kind: Preference\n"
        "defaults:\n"
        "- command: get\n"
        "  options:\n"
        "  - {name: output, default: name}\n"
        "aliases:\n"
        "- name: pods\n"
        "  command: get\n"
        "  prependArgs: [pods]\n"
        f"  appendArgs: [-n, {namespace}]\n"
        "  options:\n"
        "  - {name: output, default: kyaml}\n"
    )
    env = cluster.env()
    del env["KUBECTL_KUBERC"]
    env["KUBERC"] = str(kuberc)
    build = kubectl_builds.exactly(NEWEST)

    def run(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    for args in (["get", "pods", "-n", namespace], ["pods"], ["pods", "-o", "json"]):
        real = run([build.path, *args])
        ours = run([sys.executable, "-m", "kubelite", *args])
        assert ours == real, args
    assert run([sys.executable, "-m", "kubelite", "get", "pods", "-n", namespace]) == "pod/web\n"
    assert run([sys.executable, "-m", "kubelite", "pods"]).startswith("---\n{\n")
