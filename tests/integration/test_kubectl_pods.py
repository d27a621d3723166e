"""The seed's pods through the real kubectl: apply, get, describe, watch, delete."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml
from cluster import KUBECTL_VERSIONS, Cluster, kubectl_binary
from tests.examples import COMPANIONS, MANIFESTS


@pytest.mark.parametrize("kubectl_version", KUBECTL_VERSIONS)
def test_apply_creates_then_reports_unchanged(
    cluster: Cluster, namespace: str, kubectl_version: str
):
    manifest = str(COMPANIONS / "simple-pod-fixed.yaml")
    first = cluster.kubectl("apply", "-n", namespace, "-f", manifest, version=kubectl_version)
    assert first.stdout.strip() == "pod/simple-pod created"
    again = cluster.kubectl("apply", "-n", namespace, "-f", manifest, version=kubectl_version)
    assert again.stdout.strip() == "pod/simple-pod unchanged"
    pod = json.loads(
        cluster.kubectl("get", "pod", "simple-pod", "-n", namespace, "-o", "json").stdout
    )
    assert pod["spec"]["containers"][0]["image"] == "nginx:latest"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    assert pod["status"]["phase"] == "Pending"
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod["metadata"]["annotations"]


def test_apply_changes_an_image_through_a_strategic_merge_patch(cluster: Cluster, namespace: str):
    manifest = yaml.safe_load((COMPANIONS / "simple-pod-fixed.yaml").read_text())
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(manifest))
    manifest["spec"]["containers"][0]["image"] = "nginx:1.27"
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(manifest))
    assert out.stdout.strip() == "pod/simple-pod configured"
    image = cluster.kubectl(
        "get", "pod", "simple-pod", "-n", namespace, "-o", "jsonpath={.spec.containers[0].image}"
    ).stdout
    assert image == "nginx:1.27"


def test_get_prints_the_pod_table_with_wide_columns(cluster: Cluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", str(MANIFESTS / "myapp-pod.yaml"))
    table = cluster.kubectl("get", "pods", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    name, ready, status, restarts, _age = table[1].split()
    assert (name, ready, status, restarts) == ("myapp-pod", "0/1", "Pending", "0")
    wide = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]
    assert wide[1].split()[5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_get_all_namespaces_and_labels(cluster: Cluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", str(MANIFESTS / "myapp-pod.yaml"))
    listing = cluster.kubectl("get", "pods", "-A", "--show-labels").stdout.splitlines()
    assert listing[0].split()[:2] == ["NAMESPACE", "NAME"]
    row = next(line for line in listing if line.startswith(namespace))
    assert row.split()[-1] == "app=myapp"
    selected = cluster.kubectl("get", "pods", "-n", namespace, "-l", "app=myapp", "-o", "name")
    assert selected.stdout.split() == ["pod/myapp-pod"]
    none = cluster.kubectl("get", "pods", "-n", namespace, "-l", "app notin (myapp)")
    assert f"No resources found in {namespace} namespace." in none.stderr


def test_get_yaml_round_trips_the_stored_object(cluster: Cluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", str(MANIFESTS / "nginx-sidecar.yaml"))
    pod = yaml.safe_load(
        cluster.kubectl("get", "pod", "nginx-sidecar", "-n", namespace, "-o", "yaml").stdout
    )
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    assert pod["metadata"]["uid"] and pod["metadata"]["resourceVersion"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["nginx", "sidecar-access"]
    assert {"name": "logs", "emptyDir": {}} in pod["spec"]["volumes"]
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert pod["status"]["qosClass"] == "BestEffort"


def test_describe_shows_the_pod_and_its_events(cluster: Cluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", str(MANIFESTS / "myapp-pod.yaml"))
    pod = json.loads(
        cluster.kubectl("get", "pod", "myapp-pod", "-n", namespace, "-o", "json").stdout
    )
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "myapp-pod.test1", "namespace": namespace},
        "involvedObject": {
            "kind": "Pod",
            "apiVersion": "v1",
            "name": "myapp-pod",
            "namespace": namespace,
            "uid": pod["metadata"]["uid"],
        },
        "reason": "Scheduled",
        "message": f"Successfully assigned {namespace}/myapp-pod to node-1",
        "type": "Normal",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": pod["metadata"]["creationTimestamp"],
        "lastTimestamp": pod["metadata"]["creationTimestamp"],
        "count": 1,
    }
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(event))
    described = cluster.kubectl("describe", "pod", "myapp-pod", "-n", namespace).stdout
    assert "Name:             myapp-pod" in described
    assert f"Namespace:        {namespace}" in described
    assert "Status:           Pending" in described
    assert "QoS Class:                   BestEffort" in described
    assert "Init Containers:" in described and "init-myservice:" in described
    assert "Scheduled" in described and "Successfully assigned" in described


@pytest.mark.parametrize("kubectl_version", KUBECTL_VERSIONS)
def test_delete_waits_until_the_pod_is_gone(cluster: Cluster, namespace: str, kubectl_version: str):
    cluster.kubectl("apply", "-n", namespace, "-f", str(COMPANIONS / "simple-pod-fixed.yaml"))
    out = cluster.kubectl(
        "delete", "pod", "simple-pod", "-n", namespace, "--wait=true", version=kubectl_version
    )
    assert out.stdout.strip() == cluster.kubectl_build(kubectl_version).deleted(
        'pod "simple-pod"', namespace
    )
    missing = cluster.kubectl("get", "pod", "simple-pod", "-n", namespace, check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "simple-pod" not found' in missing.stderr


def test_get_watch_prints_changes_as_they_happen(cluster: Cluster, namespace: str):
    manifest = str(COMPANIONS / "simple-pod-fixed.yaml")
    cluster.kubectl("apply", "-n", namespace, "-f", manifest)
    watcher = subprocess.Popen(
        [kubectl_binary(), "get", "pods", "-n", namespace, "-w"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env(),
    )
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline()
        assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert watcher.stdout.readline().split()[:3] == ["simple-pod", "0/1", "Pending"]
        cluster.kubectl("label", "pod", "simple-pod", "-n", namespace, "tier=web")
        cluster.kubectl("delete", "pod", "simple-pod", "-n", namespace, "--wait=false")
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < 2:
            line = watcher.stdout.readline()
            if line:
                seen.append(line.split()[:3])
        assert seen == [["simple-pod", "0/1", "Pending"], ["simple-pod", "0/1", "Pending"]]
    finally:
        watcher.kill()
        watcher.wait()


def test_events_lists_events_of_a_pod(cluster: Cluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", str(COMPANIONS / "simple-pod-fixed.yaml"))
    for reason, message in (("Scheduled", "assigned"), ("Pulling", 'Pulling image "nginx"')):
        cluster.kubectl(
            "create",
            "-f",
            "-",
            stdin=json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"generateName": "simple-pod.", "namespace": namespace},
                    "involvedObject": {
                        "kind": "Pod",
                        "apiVersion": "v1",
                        "name": "simple-pod",
                        "namespace": namespace,
                    },
                    "reason": reason,
                    "message": message,
                    "type": "Normal",
                    "source": {"component": "kubelet"},
                    "lastTimestamp": "2026-01-01T00:00:00Z",
                    "firstTimestamp": "2026-01-01T00:00:00Z",
                }
            ),
        )
    out = cluster.kubectl("events", "-n", namespace, "--for", "pod/simple-pod").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Scheduled" in line and "Pod/simple-pod" in line for line in lines[1:])
    assert any('Pulling image "nginx"' in line for line in lines[1:])
    table = cluster.kubectl("get", "events", "-n", namespace).stdout.splitlines()
    assert table[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert len(table) == 3
