"""Scheduler plugins benchmark: what one pod's Filter and Score cost with the default profile.

The workload is issue 3's: 5,000 nodes, of which a cycle filters 10% (kube-scheduler's adaptive
percentageOfNodesToScore at that size stops after 500 feasible nodes) and scores those 500. Each
kind of pod is placed in turn on the best node, so the nodes fill up as in a real run. The
figures are per pod, for the framework and the plugins only (no queue, no cache, no binding);
`pods/s` is the ceiling they alone would allow on one core.

Run: `.venv/bin/python bench/plugins_bench.py`.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from typing import Any

from kubelite.scheduler.framework.runtime import Framework
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.plugins import default_plugins

NODES = 5000
FEASIBLE = 500
PODS = 300


class Snapshot:
    def __init__(self, nodes: list[NodeInfo]) -> None:
        self.nodes = nodes
        self.by_name = {n.name: n for n in nodes}

    def list(self) -> list[NodeInfo]:
        return self.nodes

    def get(self, name: str) -> NodeInfo | None:
        return self.by_name.get(name)

    def with_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_affinity]

    def with_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_required_anti_affinity]


# The ReplicaSet "web" selects the pods of the "ReplicaSet" kind below (and no other kind: they
# have no owner), so that PodTopologySpread's default constraints apply to them alone.
WEB_REPLICA_SET = {
    "apiVersion": "apps/v1",
    "kind": "ReplicaSet",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"selector": {"matchLabels": {"app": "web"}}},
}


class Listers:
    """No Services, one ReplicaSet."""

    def services(self, namespace: str) -> list[dict[str, Any]]:
        return []

    def replication_controller(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def replica_set(self, namespace: str, name: str) -> dict[str, Any] | None:
        return WEB_REPLICA_SET if (namespace, name) == ("default", "web") else None

    def stateful_set(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    def persistent_volume_claim(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None


class Handle:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.listers = Listers()


def make_nodes() -> list[NodeInfo]:
    nodes = []
    for i in range(NODES):
        info = NodeInfo(f"node-{i}")
        info.set_node(
            {
                "metadata": {
                    "name": info.name,
                    "labels": {
                        "kubernetes.io/hostname": info.name,
                        "topology.kubernetes.io/zone": f"zone-{i % 3}",
                    },
                },
                "spec": {},
                "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
            }
        )
        nodes.append(info)
    return nodes


def make_pod(i: int, **spec: Any) -> PodInfo:
    container = {"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
    return PodInfo(
        {
            "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [container], **spec},
        }
    )


def replica_set_pod(i: int) -> PodInfo:
    """A pod of the ReplicaSet "web": spread by the default constraints."""
    info = make_pod(i)
    info.pod["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "controller": True}
    ]
    return info


POD_KINDS: dict[str, Callable[[int], PodInfo]] = {
    "plain (requests only)": lambda i: make_pod(i),
    "ReplicaSet (default spread)": replica_set_pod,
    "nodeSelector": lambda i: make_pod(i, nodeSelector={"topology.kubernetes.io/zone": "zone-1"}),
    "tolerations": lambda i: make_pod(
        i, tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]
    ),
    "preferred anti-affinity": lambda i: make_pod(
        i,
        affinity={
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        },
    ),
}


def run(kind: str, make: Callable[[int], PodInfo]) -> None:
    nodes = make_nodes()
    framework = Framework(default_plugins(Handle(Snapshot(nodes))), scheduler_name="bench")
    filtering = scoring = 0.0
    start = 0
    for i in range(PODS):
        pod = make(i)
        t0 = time.perf_counter()
        state = CycleState()
        framework.run_pre_filter(state, pod, nodes)
        filters = framework.filters_for(state)
        feasible = []
        for k in range(NODES):
            node = nodes[(start + k) % NODES]
            if framework.run_filters(filters, state, pod, node).ok:
                feasible.append(node)
                if len(feasible) >= FEASIBLE:
                    break
        start = (start + FEASIBLE) % NODES
        t1 = time.perf_counter()
        framework.run_pre_score(state, pod, feasible)
        totals, _ = framework.run_score(state, pod, feasible)
        t2 = time.perf_counter()
        filtering += t1 - t0
        scoring += t2 - t1
        feasible[max(range(len(feasible)), key=totals.__getitem__)].add_pod(pod)
    per_pod = (filtering + scoring) / PODS
    print(
        f"{kind:26} filter {filtering / PODS * 1e3:6.3f} ms  score {scoring / PODS * 1e3:6.3f} ms"
        f"  = {per_pod * 1e3:6.3f} ms/pod  ({1 / per_pod:,.0f} pods/s)"
    )


def main() -> None:
    print(f"{NODES} nodes, {FEASIBLE} feasible nodes sought and scored per pod, {PODS} pods")
    for kind, make in POD_KINDS.items():
        run(kind, make)


if __name__ == "__main__":
    main()
