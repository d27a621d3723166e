"""The DaemonSet controller in a real `kubelite server`, with hollow nodes and the real kubectl.

The module's server runs its scheduler, which binds the daemon pods to the node their affinity
names; `kubelite hollow-nodes` processes are the nodes, and report the pods Running and Ready
at once. Nodes join during the test by starting more hollow-nodes processes, one of them
tainted. Every wait is on a condition, with a timeout.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster
from test_hollow_nodes import hollow_nodes, wait_until
from test_statefulset_controller import messages, pods, ready

Obj = dict[str, Any]
WAIT = 60.0
PREFIX = "ds-node-"
HASH_LABEL = "controller-revision-hash"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The module's server, with its scheduler, and two hollow nodes."""
    base = tmp_path_factory.mktemp("cluster")
    c = Cluster(base / "data", base / "cache")
    c.start()
    try:
        with hollow_nodes(c, "--count", "2", "--name-prefix", PREFIX):
            yield c
    finally:
        c.stop()


def daemon_set(image: str, *, tolerations: list[Obj] | None = None, name: str = "agent") -> str:
    spec: Obj = {"containers": [{"name": "agent", "image": image}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
            },
        }
    )


def by_node(cluster: Cluster, namespace: str, app: str) -> dict[str, list[Obj]]:
    """The live pods of one DaemonSet by the node they are bound to ('' if unbound)."""
    found: dict[str, list[Obj]] = {}
    for pod in pods(cluster, namespace).values():
        if pod["metadata"]["labels"].get("app") != app or pod["metadata"].get("deletionTimestamp"):
            continue
        found.setdefault(pod["spec"].get("nodeName") or "", []).append(pod)
    return found


def one_ready_pod_on(nodes: list[str], image: str | None = None) -> Any:
    """A check: exactly one pod on each of `nodes` and none elsewhere, all Ready (and all of
    `image`, when given)."""

    def check(layout: dict[str, list[Obj]]) -> bool:
        if sorted(layout) != sorted(nodes) or any(len(p) != 1 for p in layout.values()):
            return False
        found = [p for (p,) in layout.values()]
        if image is not None and any(p["spec"]["containers"][0]["image"] != image for p in found):
            return False
        return all(ready(p) for p in found)

    return check


def wait_layout(cluster: Cluster, namespace: str, app: str, check: Any, what: str) -> dict:
    def layout() -> dict[str, list[Obj]] | None:
        found = by_node(cluster, namespace, app)
        return found if check(found) else None

    return wait_until(layout, what, timeout=WAIT)


def ds_status(cluster: Cluster, namespace: str, name: str = "agent") -> Obj:
    out = cluster.kubectl("get", "daemonset", name, "-n", namespace, "-o", "json").stdout
    return json.loads(out).get("status") or {}


def wait_status(cluster: Cluster, namespace: str, wanted: Obj, name: str = "agent") -> Obj:
    def matches() -> Obj | None:
        status = ds_status(cluster, namespace, name)
        return status if all(status.get(k, 0) == v for k, v in wanted.items()) else None

    return wait_until(matches, f"status {wanted}", timeout=WAIT)


def pod_writes(cluster: Cluster, namespace: str, name: str = "agent") -> list[str]:
    """The reasons of the DaemonSet's SuccessfulCreate and SuccessfulDelete events in the
    order they were recorded (an Event's name ends in that nanosecond, in hex)."""
    out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json").stdout
    found = [
        (int(e["metadata"]["name"].rsplit(".", 1)[1], 16), e["reason"])
        for e in json.loads(out)["items"]
        if e["involvedObject"]["name"] == name
        and e["reason"] in ("SuccessfulCreate", "SuccessfulDelete")
    ]
    return [reason for _, reason in sorted(found)]


def rollout_status(cluster: Cluster, namespace: str) -> str:
    result = cluster.kubectl(
        "rollout", "status", "daemonset/agent", "-n", namespace, "--timeout=60s", timeout=90
    )
    return result.stdout


@contextlib.contextmanager
def joining_node(cluster: Cluster, index: int, *extra: str) -> Iterator[str]:
    """One more hollow node, `ds-node-<index>`, deleted again when the block ends."""
    args = ["--count", "1", "--first-index", str(index), "--name-prefix", PREFIX]
    with hollow_nodes(cluster, *args, "--delete-on-exit", *extra):
        yield f"{PREFIX}{index}"


def test_one_pod_per_node_joining_nodes_taints_and_a_rolling_update(
    cluster: Cluster, namespace: str
) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=daemon_set("registry.local/a:1"))
    first = [f"{PREFIX}0", f"{PREFIX}1"]
    layout = wait_layout(
        cluster, namespace, "agent", one_ready_pod_on(first), "one ready pod on each node"
    )

    # The pod as Kubernetes' controller makes it: pinned to its node by affinity (the scheduler
    # bound it), with the daemon tolerations and the revision labels.
    (pod,) = layout[f"{PREFIX}0"]
    terms = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert terms["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [f"{PREFIX}0"]}]}
    ]
    tolerated = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in tolerated
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerated
    assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    assert pod["metadata"]["generateName"] == "agent-"
    revision = pod["metadata"]["labels"][HASH_LABEL]
    created = sorted(messages(cluster, namespace, "SuccessfulCreate"))
    names = sorted(p["metadata"]["name"] for (p,) in layout.values())
    assert created == [f"Created pod: {n}" for n in names]
    status = wait_status(cluster, namespace, {"desiredNumberScheduled": 2, "numberAvailable": 2})
    assert status["currentNumberScheduled"] == status["updatedNumberScheduled"] == 2
    assert status.get("numberMisscheduled", 0) == 0
    assert status.get("numberUnavailable", 0) == 0
    row = cluster.kubectl("get", "controllerrevisions", "-n", namespace).stdout.splitlines()[1]
    assert row.split()[:3] == [f"agent-{revision}", "daemonset.apps/agent", "1"]

    with (
        joining_node(cluster, 2) as third,
        joining_node(cluster, 3, "--taint", "dedicated=gpu:NoSchedule") as tainted,
    ):
        # The third node gets a pod; the tainted one gets none of this DaemonSet's, though a
        # DaemonSet that tolerates the taint runs there.
        wait_layout(
            cluster, namespace, "agent", one_ready_pod_on([*first, third]), "a pod on the third"
        )
        gpu = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
        cluster.kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            stdin=daemon_set("r/gpu:1", tolerations=gpu, name="gpu"),
        )
        wait_layout(
            cluster,
            namespace,
            "gpu",
            one_ready_pod_on([*first, third, tainted]),
            "the tolerating DaemonSet everywhere",
        )
        wait_status(cluster, namespace, {"desiredNumberScheduled": 4}, name="gpu")

        # A new image rolls out, node by node, and `kubectl rollout status` sees it through.
        cluster.kubectl(
            "set", "image", "daemonset/agent", "agent=registry.local/a:2", "-n", namespace
        )
        assert 'daemon set "agent" successfully rolled out' in rollout_status(cluster, namespace)
        wait_layout(
            cluster,
            namespace,
            "agent",
            one_ready_pod_on([*first, third], "registry.local/a:2"),
            "the new image on the three untainted nodes",
        )
        status = ds_status(cluster, namespace)
        assert status["desiredNumberScheduled"] == 3
        assert status["updatedNumberScheduled"] == status["numberAvailable"] == 3
        assert status["observedGeneration"] == 2
        # maxUnavailable 1: each old pod is deleted only once the last replacement is up.
        writes = pod_writes(cluster, namespace)
        first_delete = writes.index("SuccessfulDelete")
        assert writes[first_delete:] == ["SuccessfulDelete", "SuccessfulCreate"] * 3

        # History and rollback with the real kubectl.
        history = cluster.kubectl("rollout", "history", "daemonset/agent", "-n", namespace)
        assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line] == ["1", "2"]
        cluster.kubectl("rollout", "undo", "daemonset/agent", "-n", namespace)
        rollout_status(cluster, namespace)
        wait_layout(
            cluster,
            namespace,
            "agent",
            one_ready_pod_on([*first, third], "registry.local/a:1"),
            "the old image back",
        )
        layout = by_node(cluster, namespace, "agent")
        assert {p["metadata"]["labels"][HASH_LABEL] for (p,) in layout.values()} == {revision}
        history = cluster.kubectl("rollout", "history", "daemonset/agent", "-n", namespace)
        assert [line.split()[0] for line in history.stdout.splitlines()[2:] if line] == ["2", "3"]

        # A NoSchedule taint keeps new pods off a node but lets the one there stay.
        cluster.kubectl("taint", "node", third, "maintenance=soon:NoSchedule")
        wait_status(
            cluster,
            namespace,
            {"desiredNumberScheduled": 2, "numberMisscheduled": 1, "currentNumberScheduled": 2},
        )
        assert len(by_node(cluster, namespace, "agent").get(third, [])) == 1
