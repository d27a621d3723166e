"""Losing nodes: the node lifecycle and taint eviction controllers, with hollow nodes.

A cluster with two `kubelite hollow-nodes` processes of two nodes each runs a ReplicaSet whose
pods tolerate `unreachable` for 3 s. Killing one process stops its nodes' Lease renewals: after
--node-monitor-grace-period (6 s here) they go Ready=Unknown with Kubernetes' reason and
message, get the unreachable taints (NoSchedule, and NoExecute at the eviction rate), their pods
are marked not Ready and then evicted with the DisruptionTarget condition, and the ReplicaSet's
replacements run on the remaining nodes. Started again, the nodes report Ready and lose the
taints.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster, wait_for

Obj = dict[str, Any]

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="kubelite runs on Linux")

GRACE = "6s"
# Fast enough that both lost nodes are tainted within the test's patience.
EVICTION_RATE = "1"
WAIT = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("lifecycle")
    c = Cluster(
        base / "data",
        base / "cache",
        server_env={
            "KUBELITE_CONTROL_PLANE_NODE_MONITOR_GRACE_PERIOD": GRACE,
            "KUBELITE_CONTROL_PLANE_NODE_MONITOR_PERIOD": "1s",
            "KUBELITE_CONTROL_PLANE_NODE_EVICTION_RATE": EVICTION_RATE,
        },
    )
    c.start()
    try:
        yield c
    finally:
        c.stop()


def hollow(cluster: Cluster, prefix: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "kubelite", "hollow-nodes", "--count", "2",
            "--name-prefix", prefix, "--lease-duration-seconds", "6",
            "--kubeconfig", str(cluster.kubeconfig),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cluster.env(),
    )  # fmt: skip
    return process


def get(cluster: Cluster, *args: str) -> Obj:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def ready_status(node: Obj) -> Obj:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


REPLICA_SET = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "spread"},
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": {"app": "spread"}},
        "template": {
            "metadata": {"labels": {"app": "spread"}},
            "spec": {
                # One pod per node: every node holds one to lose. Tainted (lost) nodes are no
                # domain of the spread (Honor), so the replacements fit on the others.
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "nodeTaintsPolicy": "Honor",
                        "labelSelector": {"matchLabels": {"app": "spread"}},
                    }
                ],
                "tolerations": [
                    {
                        "key": "node.kubernetes.io/unreachable",
                        "operator": "Exists",
                        "effect": "NoExecute",
                        "tolerationSeconds": 3,
                    }
                ],
                "containers": [{"name": "app", "image": "registry.local/app:1"}],
            },
        },
    },
}


def pods_by_node(cluster: Cluster) -> dict[str, list[Obj]]:
    found: dict[str, list[Obj]] = {}
    for pod in get(cluster, "pods", "-l", "app=spread")["items"]:
        found.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    return found


def evicted(cluster: Cluster, name: str) -> Obj | None:
    """The pod once it is being deleted (it stays so: its node's kubelet is gone)."""
    pod = get(cluster, "pod", name)
    return pod if pod["metadata"].get("deletionTimestamp") else None


def test_lost_nodes_are_tainted_and_their_pods_replaced(cluster: Cluster) -> None:
    first, second = hollow(cluster, "keep-"), hollow(cluster, "lose-")
    try:
        wait_for("4 Ready nodes", lambda: len(get(cluster, "nodes")["items"]) == 4, WAIT)
        cluster.kubectl("apply", "-f", "-", stdin=json.dumps(REPLICA_SET))

        def running_everywhere() -> dict[str, list[Obj]] | None:
            by_node = pods_by_node(cluster)
            running = [
                p for ps in by_node.values() for p in ps if p["status"].get("phase") == "Running"
            ]
            return by_node if len(running) == 4 and len(by_node) == 4 else None

        before = wait_for("a running pod on each node", running_everywhere, WAIT)
        doomed = {p["metadata"]["name"] for n in ("lose-0", "lose-1") for p in before[n]}

        second.send_signal(signal.SIGKILL)
        second.wait()

        def unknown(name: str) -> Obj | None:
            node = get(cluster, "node", name)
            return node if ready_status(node)["status"] == "Unknown" else None

        lost = wait_for("lose-0 to be Unknown", lambda: unknown("lose-0"), WAIT)
        condition = ready_status(lost)
        assert (condition["reason"], condition["message"]) == (
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
        )
        for name in ("lose-0", "lose-1"):
            node = wait_for(
                f"{name}'s NoExecute taint",
                lambda name=name: (
                    (n := get(cluster, "node", name))
                    and {(t["key"], t["effect"]) for t in n["spec"].get("taints", [])}
                    >= {
                        ("node.kubernetes.io/unreachable", "NoSchedule"),
                        ("node.kubernetes.io/unreachable", "NoExecute"),
                    }
                    and n
                ),
                WAIT,
            )
            assert ready_status(node)["status"] == "Unknown"
        assert ready_status(get(cluster, "node", "keep-0"))["status"] == "True"

        # The lost pods: not Ready, then marked for deletion by the taint manager.
        for name in doomed:
            pod = wait_for(f"{name} to be evicted", lambda name=name: evicted(cluster, name), WAIT)
            conditions = {c["type"]: c for c in pod["status"]["conditions"]}
            assert conditions["Ready"]["status"] == "False"
            assert conditions["DisruptionTarget"]["reason"] == "DeletionByTaintManager"
        events = cluster.kubectl(
            "get", "events", "--field-selector", "reason=TaintManagerEviction", "-o", "json"
        ).stdout
        assert {e["involvedObject"]["name"] for e in json.loads(events)["items"]} >= doomed

        # Replacements run on the nodes that are left (the spread allows two per node there).
        def replaced() -> bool:
            live = [
                p
                for ps in pods_by_node(cluster).values()
                for p in ps
                if not p["metadata"].get("deletionTimestamp")
            ]
            return len(live) == 4 and all(
                p["spec"].get("nodeName", "").startswith("keep-")
                and p["status"].get("phase") == "Running"
                for p in live
            )

        wait_for("4 running pods on the remaining nodes", replaced, WAIT)

        # The nodes come back: Ready, and untainted.
        second = hollow(cluster, "lose-")
        for name in ("lose-0", "lose-1"):
            wait_for(
                f"{name} Ready without unreachable taints",
                lambda name=name: (
                    (n := get(cluster, "node", name))
                    and ready_status(n)["status"] == "True"
                    and not [
                        t
                        for t in n["spec"].get("taints", [])
                        if t["key"].startswith("node.kubernetes.io/")
                    ]
                ),
                WAIT,
            )
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        cluster.kubectl("delete", "rs", "spread", "--wait=false", check=False)
