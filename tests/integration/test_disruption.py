"""Disruption budgets, evictions, `kubectl drain`/`uncordon` and the pod garbage collector,
against a real server with its controllers and scheduler, hollow nodes, and the real kubectl.

Each test has its own namespace and its own hollow nodes (a name prefix and a label of its
own), and its ReplicaSet's pods select those nodes, so that tests sharing the module's server
never move each other's pods. The pod garbage collector runs every second here, with a
quarantine of two seconds for missing nodes (Kubernetes: 20 s and 40 s).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import DEFAULT_KUBECTL, Cluster, kubectl_binary, wait_for
from test_hollow_nodes import hollow_nodes

Obj = dict[str, Any]
WAIT = 60.0
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The module's server, with its scheduler, and a pod garbage collector in a hurry that
    keeps two terminated pods."""
    base = tmp_path_factory.mktemp("cluster")
    c = Cluster(
        base / "data",
        base / "cache",
        extra_args=["--terminated-pod-gc-threshold", "2"],
        server_env={
            "KUBELITE_CONTROL_PLANE_POD_GC_PERIOD": "1",
            "KUBELITE_CONTROL_PLANE_POD_GC_QUARANTINE": "2",
        },
    )
    c.start()
    try:
        yield c
    finally:
        c.stop()


def apply(cluster: Cluster, namespace: str, *objects: Obj) -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=manifest)


def get(cluster: Cluster, *args: str) -> Obj:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def replica_set(name: str, node_label: str, replicas: int = 3) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": {"test": node_label},
                    "containers": [{"name": "app", "image": "registry.local/app:1"}],
                },
            },
        },
    }


def budget(name: str, app: str, **numbers: Any) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": app}}, **numbers},
    }


def ready_pods(cluster: Cluster, namespace: str, app: str) -> list[Obj]:
    pods = get(cluster, "pods", "-n", namespace, "-l", f"app={app}")["items"]
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in p["status"].get("conditions", [])
        )
    ]


def budget_status(cluster: Cluster, namespace: str, name: str) -> Obj:
    return get(cluster, "pdb", name, "-n", namespace).get("status") or {}


def settled(cluster: Cluster, namespace: str, name: str, **wanted: int) -> Obj:
    """Wait until the budget's status says `wanted` for its current generation."""

    def check() -> Obj | None:
        pdb = get(cluster, "pdb", name, "-n", namespace)
        status = pdb.get("status") or {}
        if status.get("observedGeneration") != pdb["metadata"]["generation"]:
            return None
        return status if all(status.get(k) == v for k, v in wanted.items()) else None

    return wait_for(f"budget {name} with {wanted}", check, WAIT)


def nodes_of(pods: list[Obj]) -> set[str]:
    return {p["spec"]["nodeName"] for p in pods}


def test_a_budget_that_allows_no_disruption_blocks_drain_with_kubernetes_429(
    cluster: Cluster, namespace: str
) -> None:
    prefix = f"{namespace}-n"
    with hollow_nodes(
        cluster, "--count", "2", "--name-prefix", prefix, "--label", f"test={namespace}"
    ):
        apply(cluster, namespace, replica_set("web", namespace))
        wait_for("3 ready pods", lambda: len(ready_pods(cluster, namespace, "web")) == 3, WAIT)
        apply(cluster, namespace, budget("web-pdb", "web", minAvailable=3))
        status = settled(
            cluster,
            namespace,
            "web-pdb",
            currentHealthy=3,
            desiredHealthy=3,
            expectedPods=3,
            disruptionsAllowed=0,
        )
        (condition,) = status["conditions"]
        assert (condition["type"], condition["status"], condition["reason"]) == (
            "DisruptionAllowed",
            "False",
            "InsufficientPods",
        )
        row = cluster.kubectl("get", "pdb", "web-pdb", "-n", namespace).stdout.splitlines()
        assert row[0].split() == [
            "NAME",
            "MIN",
            "AVAILABLE",
            "MAX",
            "UNAVAILABLE",
            "ALLOWED",
            "DISRUPTIONS",
            "AGE",
        ]
        assert row[1].split()[:4] == ["web-pdb", "3", "N/A", "0"]

        victim = ready_pods(cluster, namespace, "web")[0]
        name = victim["metadata"]["name"]
        eviction = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        code, body, _ = cluster.request(
            "POST", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction", eviction
        )
        assert code == 429
        assert body["reason"] == "TooManyRequests"
        assert body["message"] == VIOLATION
        assert body["details"]["causes"] == [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget web-pdb needs 3 healthy pods and has 3 currently",
            }
        ]

        node = victim["spec"]["nodeName"]
        drain = cluster.kubectl(
            "drain",
            node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=12s",
            version="1.33",
            check=False,
        )
        assert drain.returncode != 0
        assert f"node/{node} cordoned" in drain.stdout
        assert (
            f'error when evicting pods/"{name}" -n "{namespace}" (will retry after 5s): '
            f"{VIOLATION}" in drain.stderr
        ), drain.stderr
        assert get(cluster, "node", node)["spec"]["unschedulable"] is True
        assert len(ready_pods(cluster, namespace, "web")) == 3
        assert name in {p["metadata"]["name"] for p in ready_pods(cluster, namespace, "web")}

        out = cluster.kubectl("uncordon", node).stdout
        assert f"node/{node} uncordoned" in out
        assert "unschedulable" not in get(cluster, "node", node)["spec"]


def test_drain_evicts_within_the_budget_and_the_pods_come_back_on_another_node(
    cluster: Cluster, namespace: str
) -> None:
    prefix = f"{namespace}-n"
    with hollow_nodes(
        cluster, "--count", "2", "--name-prefix", prefix, "--label", f"test={namespace}"
    ):
        apply(cluster, namespace, replica_set("api", namespace))
        wait_for("3 ready pods", lambda: len(ready_pods(cluster, namespace, "api")) == 3, WAIT)
        apply(cluster, namespace, budget("api-pdb", "api", minAvailable=2))
        settled(cluster, namespace, "api-pdb", currentHealthy=3, disruptionsAllowed=1)
        before = ready_pods(cluster, namespace, "api")
        node = sorted(p["spec"]["nodeName"] for p in before)[0]
        on_node = sorted(p["metadata"]["name"] for p in before if p["spec"]["nodeName"] == node)

        drain = cluster.kubectl(
            "drain", node, "--ignore-daemonsets", "--timeout=90s", version="1.33", timeout=120
        )
        for name in on_node:
            assert f"pod/{name} evicted" in drain.stdout, drain.stdout
        assert f"node/{node} drained" in drain.stdout

        def replaced() -> list[Obj] | None:
            pods = ready_pods(cluster, namespace, "api")
            return pods if len(pods) == 3 and node not in nodes_of(pods) else None

        after = wait_for("3 ready pods off the drained node", replaced, WAIT)
        assert not set(on_node) & {p["metadata"]["name"] for p in after}
        settled(cluster, namespace, "api-pdb", currentHealthy=3, disruptionsAllowed=1)

        cluster.kubectl("uncordon", node)
        assert "unschedulable" not in get(cluster, "node", node)["spec"]


def watch_events(text: str) -> list[Obj]:
    """The events `kubectl get --watch --output-watch-events -o json` printed, one JSON
    document after another."""
    decoder = json.JSONDecoder()
    events, at = [], 0
    while (start := text.find("{", at)) >= 0:
        event, at = decoder.raw_decode(text, start)
        events.append(event)
    return events


def test_pods_of_a_deleted_node_are_marked_failed_and_garbage_collected(
    cluster: Cluster, namespace: str
) -> None:
    prefix = f"{namespace}-n"
    with hollow_nodes(
        cluster, "--count", "1", "--name-prefix", prefix, "--label", f"test={namespace}"
    ):
        apply(cluster, namespace, replica_set("gone", namespace, replicas=2))
        pods = wait_for(
            "2 ready pods",
            lambda: (
                len(ready_pods(cluster, namespace, "gone")) == 2
                and ready_pods(cluster, namespace, "gone")
            ),
            WAIT,
        )
        names = {p["metadata"]["name"] for p in pods}
        watcher = subprocess.Popen(
            [
                kubectl_binary(DEFAULT_KUBECTL),
                "get",
                "pods",
                "-n",
                namespace,
                "--watch",
                "--output-watch-events",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=cluster.env(),
        )
        stdout = watcher.stdout
        assert stdout is not None
        printed: list[str] = []
        reader = threading.Thread(
            target=lambda: printed.extend(iter(stdout.readline, "")), daemon=True
        )
        reader.start()
        try:
            cluster.kubectl("delete", "node", f"{prefix}0")

            def collected() -> bool:
                left = get(cluster, "pods", "-n", namespace)["items"]
                return not names & {p["metadata"]["name"] for p in left}

            wait_for("the deleted node's pods to be collected", collected, WAIT)

            def deletions_watched() -> bool:
                # The watch may print them a moment after a GET stops listing the pods.
                deleted = {
                    e["object"]["metadata"]["name"]
                    for e in watch_events("".join(printed))
                    if e["type"] == "DELETED"
                }
                return names <= deleted

            wait_for("the watch to print both deletions", deletions_watched, WAIT)
        finally:
            watcher.terminate()
            watcher.wait(timeout=10)
            reader.join(timeout=10)
    events = watch_events("".join(printed))
    for name in names:
        seen = [e for e in events if e["object"]["metadata"]["name"] == name]
        assert seen[-1]["type"] == "DELETED"
        failed = [e["object"] for e in seen if e["object"]["status"].get("phase") == "Failed"]
        assert failed, seen
        condition = next(
            c for c in failed[0]["status"]["conditions"] if c["type"] == "DisruptionTarget"
        )
        assert (condition["status"], condition["reason"], condition["message"]) == (
            "True",
            "DeletionByPodGC",
            "PodGC: node no longer exists",
        )


def test_terminated_pods_beyond_the_threshold_are_collected_oldest_first(
    cluster: Cluster, namespace: str
) -> None:
    names = ["done-a", "done-b", "done-c", "done-d"]
    for name in names:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            # No scheduler by this name: the pods stay where the test puts them.
            "spec": {
                "schedulerName": "nobody",
                "containers": [{"name": "c", "image": "registry.local/app:1"}],
            },
        }
        apply(cluster, namespace, body)
    for name in names:
        pod = get(cluster, "pod", name, "-n", namespace)
        pod["status"]["phase"] = "Succeeded"
        code, answer, _ = cluster.request(
            "PUT", f"/api/v1/namespaces/{namespace}/pods/{name}/status", pod
        )
        assert code == 200, answer

    def left() -> list[str] | None:
        pods = sorted(p["metadata"]["name"] for p in get(cluster, "pods", "-n", namespace)["items"])
        return pods if len(pods) == 2 else None

    # The server's --terminated-pod-gc-threshold 2 keeps the two newest (names break ties).
    assert wait_for("two terminated pods left", left, WAIT) == ["done-c", "done-d"]


def test_drain_refuses_unmanaged_pods_without_force_and_skips_daemon_set_pods(
    cluster: Cluster, namespace: str
) -> None:
    prefix = f"{namespace}-n"
    node = f"{prefix}0"
    with hollow_nodes(
        cluster, "--count", "1", "--name-prefix", prefix, "--label", f"test={namespace}"
    ):
        daemon_set = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "agent"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {
                        # Only this test's node: other tests' hollow nodes share the server.
                        "nodeSelector": {"test": namespace},
                        "containers": [{"name": "a", "image": "registry.local/app:1"}],
                    },
                },
            },
        }
        apply(cluster, namespace, daemon_set)
        container = {"name": "c", "image": "registry.local/app:1"}
        lonely = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "lonely"},
            "spec": {
                "nodeName": node,
                "containers": [{**container, "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
                "volumes": [{"name": "s", "emptyDir": {}}],
            },
        }
        apply(cluster, namespace, lonely)

        def daemon_pod() -> str | None:
            pods = get(cluster, "pods", "-n", namespace, "-l", "app=agent")["items"]
            running = [
                p["metadata"]["name"]
                for p in pods
                if p["spec"].get("nodeName") == node and p["status"].get("phase") == "Running"
            ]
            return running[0] if len(pods) == len(running) == 1 else None

        agent = wait_for("the DaemonSet's pod on the node", daemon_pod)
        cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "pod/lonely")

        refused = cluster.kubectl("drain", node, "--timeout=20s", check=False)
        assert refused.returncode != 0
        assert (
            f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
            f"{namespace}/{agent}" in refused.stderr
        ), refused.stderr
        assert (
            f"cannot delete Pods with local storage (use --delete-emptydir-data to override): "
            f"{namespace}/lonely" in refused.stderr
        )
        refused = cluster.kubectl(
            "drain",
            node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=20s",
            check=False,
        )
        assert refused.returncode != 0
        assert (
            f"cannot delete Pods that declare no controller (use --force to override): "
            f"{namespace}/lonely" in refused.stderr
        ), refused.stderr
        assert len(get(cluster, "pods", "-n", namespace)["items"]) == 2

        drained = cluster.kubectl(
            "drain",
            node,
            "--force",
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=30s",
        )
        # kubectl joins its warnings in one line; the DaemonSet's pod is among them.
        assert f"ignoring DaemonSet-managed Pods: {namespace}/{agent}" in drained.stderr
        assert "pod/lonely evicted" in drained.stdout
        names = [p["metadata"]["name"] for p in get(cluster, "pods", "-n", namespace)["items"]]
        assert names == [agent]
        cluster.kubectl("uncordon", node)
