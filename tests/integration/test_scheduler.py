"""The scheduler inside `kubelite server`, driven with the real kubectl.

Nodes here are plain Node objects with capacity, as kube-scheduler's own integration tests use:
no kubelet runs them. Tests that share the module's cluster keep to their own nodes with a
nodeSelector on a label of their own; tests that check a whole FailedScheduling message, which
counts every node, get a cluster of their own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster

Obj = dict[str, Any]
WAIT = 30.0
# The module's server runs its scheduler (conftest's clusters run without).
pytestmark = pytest.mark.with_scheduler


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "data", tmp_path / "cache")
    c.start()
    try:
        yield c
    finally:
        c.stop()


def node(name: str, *, cpu: str = "4", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    allocatable = {"cpu": cpu, "memory": "8Gi", "pods": "110", "ephemeral-storage": "50Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": allocatable,
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
        },
    }


def pod(name: str, *, cpu: str = "", selector: dict[str, str] | None = None, **spec: Any) -> Obj:
    container: Obj = {"name": "app", "image": "registry.local/app:1"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [container], **spec},
    }
    if selector:
        body["spec"]["nodeSelector"] = selector
    return body


def create(cluster: Cluster, *objects: Obj, namespace: str = "default") -> None:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=manifest)


def get_pod(cluster: Cluster, namespace: str, name: str) -> Obj:
    out = cluster.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout
    return json.loads(out)


def wait_for(what: str, check: Any, timeout: float = WAIT) -> Any:
    """Poll `check` until it returns something true; the test fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def scheduled_condition(obj: Obj) -> Obj | None:
    for condition in obj.get("status", {}).get("conditions") or ():
        if condition["type"] == "PodScheduled":
            return condition
    return None


def test_pods_land_on_nodes_with_room_and_kubectl_shows_where(
    cluster: Cluster, namespace: str
) -> None:
    label = {"test": namespace}
    create(cluster, node(f"{namespace}-a", cpu="2", labels=label))
    create(cluster, node(f"{namespace}-b", cpu="2", labels=label))
    create(
        cluster,
        *(pod(f"web-{i}", cpu="1", selector=label) for i in range(4)),
        namespace=namespace,
    )
    nodes = wait_for(
        "four pods bound",
        lambda: (
            [get_pod(cluster, namespace, f"web-{i}")["spec"].get("nodeName") for i in range(4)]
            if all(
                get_pod(cluster, namespace, f"web-{i}")["spec"].get("nodeName") for i in range(4)
            )
            else None
        ),
    )
    # Two cores each: the four pods cannot all go to one node.
    assert sorted(nodes) == sorted([f"{namespace}-a"] * 2 + [f"{namespace}-b"] * 2)
    bound = get_pod(cluster, namespace, "web-0")
    condition = scheduled_condition(bound)
    assert condition is not None and condition["status"] == "True"
    wide = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout
    assert "NODE" in wide.splitlines()[0]
    assert "web-0 " in wide and bound["spec"]["nodeName"] in wide
    events = wait_for(
        "the Scheduled event",
        lambda: (
            out
            if "Successfully assigned"
            in (
                out := cluster.kubectl(
                    "get",
                    "events",
                    "-n",
                    namespace,
                    "--field-selector",
                    "involvedObject.name=web-0",
                ).stdout
            )
            else None
        ),
    )
    assert f"Successfully assigned {namespace}/web-0 to {bound['spec']['nodeName']}" in events
    described = cluster.kubectl("describe", "pod", "web-0", "-n", namespace).stdout
    assert "default-scheduler" in described and "Scheduled" in described


def test_an_unschedulable_pod_says_why_then_lands_when_a_node_comes(
    own_cluster: Cluster,
) -> None:
    cluster = own_cluster
    create(cluster, node("small", cpu="1"))
    create(
        cluster,
        node("gpu", cpu="8", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    )
    create(cluster, pod("big", cpu="2"))
    expected = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)."
    condition = wait_for(
        "PodScheduled=False",
        lambda: (
            c
            if (c := scheduled_condition(get_pod(cluster, "default", "big")))
            and c["status"] == "False"
            else None
        ),
    )
    assert (condition["reason"], condition["message"]) == ("Unschedulable", expected)
    described = cluster.kubectl("describe", "pod", "big").stdout
    assert "FailedScheduling" in described and expected in described
    assert "Pending" in cluster.kubectl("get", "pod", "big").stdout

    create(cluster, node("large", cpu="4"))
    bound = wait_for(
        "the pod to land on the new node",
        lambda: get_pod(cluster, "default", "big")["spec"].get("nodeName"),
    )
    assert bound == "large"


def test_a_pod_for_another_scheduler_is_left_alone(cluster: Cluster, namespace: str) -> None:
    label = {"test": namespace}
    create(cluster, node(f"{namespace}-n", labels=label))
    create(cluster, pod("theirs", selector=label, schedulerName="elsewhere"), namespace=namespace)
    create(cluster, pod("ours", selector=label), namespace=namespace)
    wait_for(
        "ours to be bound", lambda: get_pod(cluster, namespace, "ours")["spec"].get("nodeName")
    )
    theirs = get_pod(cluster, namespace, "theirs")
    assert "nodeName" not in theirs["spec"]
    assert scheduled_condition(theirs) is None
    events = cluster.kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=theirs"
    ).stdout
    assert "Scheduled" not in events and "FailedScheduling" not in events


def test_host_ports_and_anti_affinity_keep_pods_apart(cluster: Cluster, namespace: str) -> None:
    label = {"test": namespace}
    create(cluster, node(f"{namespace}-a", labels=label), node(f"{namespace}-b", labels=label))
    port = {"containerPort": 8080, "hostPort": 18080}
    spread = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"role": "spread"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }

    def spread_pod(name: str) -> Obj:
        body = pod(name, selector=label, affinity=spread)
        body["metadata"]["labels"]["role"] = "spread"
        return body

    def port_pod(name: str) -> Obj:
        body = pod(name, selector=label)
        body["spec"]["containers"][0]["ports"] = [port]
        return body

    create(cluster, spread_pod("s1"), spread_pod("s2"), namespace=namespace)
    placed = {
        wait_for(f"{n} bound", lambda n=n: get_pod(cluster, namespace, n)["spec"].get("nodeName"))
        for n in ("s1", "s2")
    }
    assert placed == {f"{namespace}-a", f"{namespace}-b"}
    create(cluster, spread_pod("s3"), namespace=namespace)
    condition = wait_for(
        "s3 refused",
        lambda: scheduled_condition(get_pod(cluster, namespace, "s3")),
    )
    assert condition["reason"] == "Unschedulable"
    assert "2 node(s) didn't match pod anti-affinity rules" in condition["message"]

    create(cluster, port_pod("p1"), port_pod("p2"), namespace=namespace)
    ports = {
        wait_for(f"{n} bound", lambda n=n: get_pod(cluster, namespace, n)["spec"].get("nodeName"))
        for n in ("p1", "p2")
    }
    assert ports == {f"{namespace}-a", f"{namespace}-b"}
    create(cluster, port_pod("p3"), namespace=namespace)
    condition = wait_for(
        "p3 refused", lambda: scheduled_condition(get_pod(cluster, namespace, "p3"))
    )
    assert "2 node(s) didn't have free ports for the requested pod ports" in condition["message"]


def test_pods_are_scheduled_onto_hollow_nodes_and_run(cluster: Cluster, namespace: str) -> None:
    """The whole path without machines: create, schedule, bind, Running as a kubelet reports."""
    from test_hollow_nodes import hollow_nodes

    label = {"test": namespace}
    with hollow_nodes(
        cluster, "--count", "2", "--name-prefix", f"{namespace}-h", "--label", f"test={namespace}"
    ):
        create(
            cluster,
            *(pod(f"app-{i}", cpu="100m", selector=label) for i in range(3)),
            namespace=namespace,
        )
        cluster.kubectl(
            "wait", "pods", "--all", "-n", namespace, "--for=condition=Ready", "--timeout=60s"
        )
        wide = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout
        rows = wide.splitlines()[1:]
        assert len(rows) == 3 and all("Running" in row for row in rows)
        assert all(f"{namespace}-h" in row for row in rows)


def test_topology_spread_evens_out_zones(cluster: Cluster, namespace: str) -> None:
    label = {"test": namespace}
    zone = "topology.kubernetes.io/zone"
    create(
        cluster,
        node(f"{namespace}-a1", labels={**label, zone: "za"}),
        node(f"{namespace}-a2", labels={**label, zone: "za"}),
        node(f"{namespace}-b1", labels={**label, zone: "zb"}),
    )

    def zoned_pod(name: str, key: str = zone) -> Obj:
        body = pod(name, selector=label)
        body["metadata"]["labels"]["role"] = "zoned"
        body["spec"]["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"role": "zoned"}},
            }
        ]
        return body

    names = [f"z{i}" for i in range(4)]
    create(cluster, *(zoned_pod(n) for n in names), namespace=namespace)
    placed = [
        wait_for(f"{n} bound", lambda n=n: get_pod(cluster, namespace, n)["spec"].get("nodeName"))
        for n in names
    ]
    # Two zones, one of them with twice the nodes: still two pods in each.
    in_zone_b = sum(1 for name in placed if name == f"{namespace}-b1")
    assert in_zone_b == 2, placed

    create(cluster, zoned_pod("norack", key="rack"), namespace=namespace)
    condition = wait_for(
        "norack refused", lambda: scheduled_condition(get_pod(cluster, namespace, "norack"))
    )
    assert condition["reason"] == "Unschedulable"
    assert (
        "3 node(s) didn't match pod topology spread constraints (missing required label)"
        in condition["message"]
    )


def workload(kind: str, name: str, replicas: int, label: dict[str, str]) -> Obj:
    """A ReplicaSet or Deployment of `replicas` pods without topologySpreadConstraints, kept
    to the test's own nodes by a nodeSelector."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": label,
                    "containers": [{"name": "app", "image": "registry.local/app:1"}],
                },
            },
        },
    }


def pods_per_node(cluster: Cluster, namespace: str, app: str, count: int) -> dict[str, int]:
    """Once `count` pods labelled app=`app` are bound: how many are on each node."""

    def bound() -> dict[str, int] | None:
        listed = json.loads(
            cluster.kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json").stdout
        )
        nodes = [p["spec"].get("nodeName") for p in listed["items"]]
        if len(nodes) != count or not all(nodes):
            return None
        per_node: dict[str, int] = {}
        for name in nodes:
            per_node[name] = per_node.get(name, 0) + 1
        return per_node

    return wait_for(f"{count} pods of {app} bound", bound, timeout=60.0)


def test_default_constraints_spread_a_replicaset_and_a_deployment(
    cluster: Cluster, namespace: str
) -> None:
    """Pods without constraints of their own are spread by PodTopologySpread's System defaults
    (hostname, maxSkew 3), selected through their ReplicaSet: on 3 equal hollow nodes, 6 pods
    go 2 to each. Without them, resource scoring ties once each node has a pod (100m of 32
    CPUs rounds away) and the rest land at random."""
    from test_hollow_nodes import hollow_nodes

    label = {"test": namespace}
    with hollow_nodes(
        cluster, "--count", "3", "--name-prefix", f"{namespace}-h", "--label", f"test={namespace}"
    ):
        create(cluster, workload("ReplicaSet", "spread-rs", 6, label), namespace=namespace)
        spread = pods_per_node(cluster, namespace, "spread-rs", 6)
        assert sorted(spread.values()) == [2, 2, 2], spread
        assert all(name.startswith(f"{namespace}-h") for name in spread)

        # A Deployment's pods belong to its ReplicaSet, whose selector (with the template
        # hash) picks them alone: the 6 pods above do not weigh on them.
        create(cluster, workload("Deployment", "spread-deploy", 6, label), namespace=namespace)
        spread = pods_per_node(cluster, namespace, "spread-deploy", 6)
        assert sorted(spread.values()) == [2, 2, 2], spread
