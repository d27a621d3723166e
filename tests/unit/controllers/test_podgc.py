"""The pod garbage collector's decisions, as tables over pods and nodes, and its quarantine of
missing nodes. The collector against a real server and a deleted node is in
tests/integration/test_disruption.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.controllers.podgc import (
    Quarantine,
    failed_status_patch,
    orphaned,
    terminated_beyond_threshold,
    terminating_out_of_service,
    unknown_nodes,
    unscheduled_terminating,
)

Obj = dict[str, Any]

NOW = dt.datetime(2025, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def pod(
    name: str,
    phase: str = "Running",
    *,
    node: str = "n1",
    created: int = 0,
    deleting: bool = False,
    reason: str = "",
) -> Obj:
    md: Obj = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "creationTimestamp": f"2025-05-01T10:{created:02d}:00Z",
    }
    if deleting:
        md["deletionTimestamp"] = "2025-05-01T11:00:00Z"
    status: Obj = {"phase": phase}
    if reason:
        status["reason"] = reason
    return {"metadata": md, "spec": {"nodeName": node}, "status": status}


def node(name: str, *, ready: bool = True, out_of_service: bool = False) -> Obj:
    spec: Obj = {}
    if out_of_service:
        spec["taints"] = [
            {
                "key": "node.kubernetes.io/out-of-service",
                "value": "nodeshutdown",
                "effect": "NoExecute",
            }
        ]
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": {"name": name}, "spec": spec, "status": {"conditions": conditions}}


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize(
    ("threshold", "doomed"),
    [
        (10, []),  # fewer terminated pods than the threshold: all kept
        (4, []),
        # Evicted first, then the oldest, names breaking ties.
        (3, ["evicted"]),
        (2, ["evicted", "old-a"]),
        (1, ["evicted", "old-a", "old-b"]),
        (0, []),  # 0 turns the collection off
    ],
)
def test_terminated_pods_beyond_the_threshold_go_evicted_and_oldest_first(
    threshold: int, doomed: list[str]
) -> None:
    pods = [
        pod("running", "Running", created=0),
        pod("pending", "Pending", created=0),
        pod("new", "Succeeded", created=30),
        pod("old-b", "Failed", created=1),
        pod("old-a", "Succeeded", created=1),
        pod("evicted", "Failed", created=50, reason="Evicted"),
    ]
    assert names(terminated_beyond_threshold(pods, threshold)) == doomed


def test_terminating_pods_go_only_from_not_ready_out_of_service_nodes() -> None:
    nodes = {
        "dead": node("dead", ready=False, out_of_service=True),
        "down": node("down", ready=False),
        "tainted-but-ready": node("tainted-but-ready", out_of_service=True),
    }
    pods = [
        pod("on-dead", node="dead", deleting=True),
        pod("on-dead-running", node="dead"),
        pod("on-down", node="down", deleting=True),
        pod("on-ready", node="tainted-but-ready", deleting=True),
        pod("on-unknown", node="unknown", deleting=True),
    ]
    assert names(terminating_out_of_service(pods, nodes)) == ["on-dead"]


def test_orphans_are_pods_bound_to_nodes_confirmed_gone() -> None:
    pods = [pod("a", node="n1"), pod("b", node="gone"), pod("c", node=""), pod("d", node="gone")]
    assert unknown_nodes(pods, ["n1"]) == {"gone"}
    assert names(orphaned(pods, {"gone"})) == ["b", "d"]
    assert orphaned(pods, set()) == []


def test_terminating_pods_never_scheduled_go() -> None:
    pods = [
        pod("unscheduled-deleting", node="", deleting=True),
        pod("unscheduled", node=""),
        pod("scheduled-deleting", node="n1", deleting=True),
    ]
    assert names(unscheduled_terminating(pods)) == ["unscheduled-deleting"]


def test_a_missing_node_is_checked_only_after_its_quarantine() -> None:
    quarantine = Quarantine(40.0)
    quarantine.add("gone", now=100.0)
    quarantine.add("gone", now=130.0)  # seen again: still ready 40 s after it was first seen
    assert quarantine.take_ready(139.0) == []
    assert quarantine.take_ready(140.0) == ["gone"]
    assert quarantine.take_ready(500.0) == []  # taken: quarantined anew only if seen again


def test_orphans_are_marked_failed_with_the_pod_gc_condition() -> None:
    condition = {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "DeletionByPodGC",
        "message": "PodGC: node no longer exists",
    }
    patch = failed_status_patch(pod("p"), condition, NOW)
    assert patch == {
        "metadata": {"uid": "uid-p"},
        "status": {
            "phase": "Failed",
            "conditions": [
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2025-05-01T12:00:00Z",
                    "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                }
            ],
        },
    }
    assert failed_status_patch(pod("p"), None, NOW) == {
        "metadata": {"uid": "uid-p"},
        "status": {"phase": "Failed"},
    }
    assert failed_status_patch(pod("done", "Succeeded"), condition, NOW) is None
