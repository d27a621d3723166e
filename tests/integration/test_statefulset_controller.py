"""The StatefulSet controller in a real `kubelite server`, with hollow nodes and the real kubectl.

The module's server runs its scheduler; a `kubelite hollow-nodes` process runs the pods, which
it reports Running and Ready at once. Order is checked on snapshots of the namespace's pods
(one LIST each, so every snapshot is one moment of the cluster): whatever the controller does,
no snapshot may show a pod it should not yet have made, or show a lower ordinal gone while a
higher one is still there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import Cluster, wait_for
from test_hollow_nodes import hollow_nodes
from tests.examples import COMPANIONS

Obj = dict[str, Any]
WAIT = 60.0
REVISION_LABEL = "controller-revision-hash"
# A readiness gate the test opens by hand, to hold a pod not Ready for as long as it needs.
GATE = "example.com/warmed-up"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The module's server, with its scheduler, and two hollow nodes to run the pods."""
    base = tmp_path_factory.mktemp("cluster")
    c = Cluster(base / "data", base / "cache")
    c.start()
    try:
        with hollow_nodes(c, "--count", "2", "--name-prefix", "sts-node-"):
            yield c
    finally:
        c.stop()


def pods(cluster: Cluster, namespace: str) -> dict[str, Obj]:
    """The namespace's pods by name, from one LIST."""
    status, body, _ = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods")
    assert status == 200, body
    return {p["metadata"]["name"]: p for p in body["items"]}


def ready(pod: Obj | None) -> bool:
    if pod is None or (pod.get("status") or {}).get("phase") != "Running":
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def running(pod: Obj | None) -> bool:
    return pod is not None and (pod.get("status") or {}).get("phase") == "Running"


def watch_pods(
    cluster: Cluster,
    namespace: str,
    done: Callable[[dict[str, Obj]], bool],
    what: str,
    timeout: float = WAIT,
) -> list[dict[str, Obj]]:
    """Snapshots of the pods until `done` holds for one; fails with `what` after `timeout`."""
    snapshots = []
    deadline = time.monotonic() + timeout
    while True:
        snapshot = pods(cluster, namespace)
        snapshots.append(snapshot)
        if done(snapshot):
            return snapshots
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {sorted(snapshot)}")
        time.sleep(0.05)


def stateful_set(cluster: Cluster, namespace: str, name: str) -> Obj:
    out = cluster.kubectl("get", "statefulset", name, "-n", namespace, "-o", "json").stdout
    return json.loads(out)


def events(cluster: Cluster, namespace: str, reason: str) -> list[tuple[int, str]]:
    """(when recorded, message) of the namespace's events with this reason, oldest first."""
    out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    found = [
        (int(e["metadata"]["name"].rsplit(".", 1)[1], 16), e["message"])
        for e in json.loads(out)["items"]
        if e["reason"] == reason
    ]
    return sorted(found)


def messages(cluster: Cluster, namespace: str, reason: str) -> list[str]:
    return [message for _, message in events(cluster, namespace, reason)]


def rollout_status(cluster: Cluster, namespace: str) -> str:
    result = cluster.kubectl(
        "rollout", "status", "statefulset/redis-st", "-n", namespace, "--timeout=60s", timeout=90
    )
    return result.stdout


def test_redis_backends_come_up_in_order_and_roll(cluster: Cluster, namespace: str) -> None:
    manifest = (COMPANIONS / "redis-backends.yaml").read_text()
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)

    # OrderedReady: redis-st-1 exists only once redis-st-0 is Running and Ready.
    snapshots = watch_pods(
        cluster, namespace, lambda s: ready(s.get("redis-st-1")), "redis-st-1 to be ready"
    )
    for snapshot in snapshots:
        if "redis-st-1" in snapshot:
            assert ready(snapshot.get("redis-st-0")), "redis-st-1 was made before redis-st-0 ran"
    # Event names end in the nanosecond they were recorded at, in hex: 0 was made first.
    created = events(cluster, namespace, "SuccessfulCreate")
    assert [message for _, message in created] == [
        "create Pod redis-st-0 in StatefulSet redis-st successful",
        "create Pod redis-st-1 in StatefulSet redis-st successful",
    ]

    pod = pods(cluster, namespace)["redis-st-1"]
    assert pod["spec"]["hostname"] == "redis-st-1"
    assert pod["spec"]["subdomain"] == "redis-svc"
    assert pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "redis-st-1"
    assert pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert "partitioned roll out complete: 2 new pods have been updated" in rollout_status(
        cluster, namespace
    )
    sts = stateful_set(cluster, namespace, "redis-st")
    revision = sts["status"]["currentRevision"]
    assert pod["metadata"]["labels"][REVISION_LABEL] == revision
    assert sts["status"]["updateRevision"] == revision
    assert (sts["status"]["replicas"], sts["status"]["readyReplicas"]) == (2, 2)
    assert sts["status"]["observedGeneration"] == sts["metadata"]["generation"]
    row = cluster.kubectl("get", "controllerrevisions", "-n", namespace).stdout.splitlines()[1]
    assert row.split()[:3] == [revision, "statefulset.apps/redis-st", "1"]

    # Scale to 3, then back to 1: the highest ordinals go first, one at a time.
    cluster.kubectl("scale", "statefulset/redis-st", "--replicas=3", "-n", namespace)
    watch_pods(cluster, namespace, lambda s: ready(s.get("redis-st-2")), "redis-st-2")
    cluster.kubectl("scale", "statefulset/redis-st", "--replicas=1", "-n", namespace)
    snapshots = watch_pods(
        cluster, namespace, lambda s: sorted(s) == ["redis-st-0"], "the scale down to one pod"
    )
    for snapshot in snapshots:
        assert not ("redis-st-2" in snapshot and "redis-st-1" not in snapshot), (
            "redis-st-1 went before redis-st-2"
        )
    assert messages(cluster, namespace, "SuccessfulDelete") == [
        "delete Pod redis-st-2 in StatefulSet redis-st successful",
        "delete Pod redis-st-1 in StatefulSet redis-st successful",
    ]

    # A new image rolls out from the highest ordinal down, one pod at a time. The new
    # template also has a readiness gate, which the test opens pod by pod: until it does, the
    # updated pod is not Ready and the controller must wait.
    cluster.kubectl("scale", "statefulset/redis-st", "--replicas=3", "-n", namespace)
    rollout_status(cluster, namespace)
    template = {
        "spec": {
            "readinessGates": [{"conditionType": GATE}],
            "containers": [{"name": "redis", "image": "redis:7"}],
        }
    }
    cluster.kubectl(
        "patch",
        "statefulset/redis-st",
        "-n",
        namespace,
        "-p",
        json.dumps({"spec": {"template": template}}),
    )

    def updated(snapshot: dict[str, Obj]) -> set[str]:
        return {
            name
            for name, p in snapshot.items()
            if p["metadata"]["labels"].get(REVISION_LABEL) != revision
        }

    done: set[str] = set()
    for name in ("redis-st-2", "redis-st-1", "redis-st-0"):
        done.add(name)
        (*_, snapshot) = watch_pods(
            cluster,
            namespace,
            lambda s, name=name: running(s.get(name)) and name in updated(s),
            f"{name} at the new revision",
        )
        assert updated(snapshot) == done
        assert snapshot[name]["spec"]["containers"][0]["image"] == "redis:7"
        open_gate(cluster, namespace, name)
    assert "partitioned roll out complete: 3 new pods have been updated" in rollout_status(
        cluster, namespace
    )
    sts = stateful_set(cluster, namespace, "redis-st")
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"] != revision
    assert sts["status"]["updatedReplicas"] == 3
    assert "delete Pod redis-st-2 in StatefulSet redis-st successful" in messages(
        cluster, namespace, "SuccessfulDelete"
    )

    # A deleted pod comes back under the same name.
    uid = pods(cluster, namespace)["redis-st-0"]["metadata"]["uid"]
    cluster.kubectl("delete", "pod", "redis-st-0", "-n", namespace, "--wait=false")
    watch_pods(
        cluster,
        namespace,
        lambda s: running(s.get("redis-st-0")) and s["redis-st-0"]["metadata"]["uid"] != uid,
        "redis-st-0 to be made again",
    )
    open_gate(cluster, namespace, "redis-st-0")
    rollout_status(cluster, namespace)


def gated(name: str, replicas: int) -> Obj:
    """A StatefulSet whose pods are Ready only once the test sets their readiness gate."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "readinessGates": [{"conditionType": GATE}],
                    "containers": [{"name": "app", "image": "registry.local/app:1"}],
                },
            },
        },
    }


def open_gate(cluster: Cluster, namespace: str, pod: str) -> None:
    condition = {"type": GATE, "status": "True"}
    cluster.kubectl(
        "patch",
        "pod",
        pod,
        "-n",
        namespace,
        "--subresource=status",
        "--type=strategic",
        "-p",
        json.dumps({"status": {"conditions": [condition]}}),
    )


def test_ordered_ready_waits_for_each_pod_to_be_ready(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(gated("gated", 2)))
    watch_pods(
        cluster,
        namespace,
        lambda s: (s.get("gated-0") or {}).get("status", {}).get("phase") == "Running",
        "gated-0 to run",
    )
    # Running but not Ready: the controller goes no further, whatever it is told meanwhile.
    cluster.kubectl("annotate", "statefulset/gated", "poke=1", "-n", namespace)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        snapshot = pods(cluster, namespace)
        assert sorted(snapshot) == ["gated-0"] and not ready(snapshot["gated-0"])
        time.sleep(0.1)
    open_gate(cluster, namespace, "gated-0")
    snapshots = watch_pods(cluster, namespace, lambda s: "gated-1" in s, "gated-1")
    assert all(ready(s["gated-0"]) for s in snapshots if "gated-1" in s)


CLAIMED = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "web"},
    "spec": {
        "serviceName": "web",
        "replicas": 1,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Retain"},
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "registry.local/app:1",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ]
            },
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    },
}


def test_a_volume_claim_template_gives_each_pod_its_claim(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(CLAIMED))
    watch_pods(cluster, namespace, lambda s: "web-0" in s, "web-0")
    out = cluster.kubectl("get", "pvc", "-n", namespace).stdout.splitlines()
    assert out[0].split() == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS",
        "MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    assert out[1].split()[:3] == ["data-web-0", "Pending", "<unset>"]
    claim = json.loads(
        cluster.kubectl("get", "pvc", "data-web-0", "-n", namespace, "-o", "json").stdout
    )
    assert claim["metadata"]["labels"] == {"app": "web"}
    (owner,) = claim["metadata"]["ownerReferences"]  # whenDeleted: Delete
    assert (owner["kind"], owner["name"]) == ("StatefulSet", "web")
    volumes = pods(cluster, namespace)["web-0"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}} in volumes
    assert messages(cluster, namespace, "SuccessfulCreate") == [
        "create Claim data-web-0 Pod web-0 in StatefulSet web success",
        "create Pod web-0 in StatefulSet web successful",
    ]
    # No volume will bind the claim (no provisioner yet): web-0 waits, as Kubernetes has it.

    def waiting() -> dict[str, Any] | None:
        pod = pods(cluster, namespace)["web-0"]
        scheduled = [c for c in pod["status"].get("conditions", []) if c["type"] == "PodScheduled"]
        return scheduled[0] if scheduled and scheduled[0]["status"] == "False" else None

    condition = wait_for("web-0 to be unschedulable", waiting)
    assert condition["reason"] == "Unschedulable"
    assert condition["message"].endswith(" pod has unbound immediate PersistentVolumeClaims.")
    assert pods(cluster, namespace)["web-0"]["status"]["phase"] == "Pending"
