"""StatefulSet rolling updates within `rollingUpdate.maxUnavailable` (MaxUnavailableStatefulSet,
beta and on in 1.37): the budget, how many old pods one sync deletes, and the Parallel fix of
#137666 (an old pod that is broken anyway does not hold the update back)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from statefulset_objects import NOW, running, stateful_set
from test_statefulset_control import Harness
from testcluster import TestCluster

from kubelite.controllers.statefulset_control import max_unavailable, update_within_budget

Obj = dict[str, Any]


def rolling(**rolling_update: Any) -> Obj:
    return {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling_update}}


@pytest.mark.parametrize(
    ("replicas", "strategy", "expected"),
    [
        (5, {"updateStrategy": {"type": "RollingUpdate"}}, 1),  # unset: one at a time
        (5, rolling(partition=0, maxUnavailable=3), 3),
        (5, rolling(partition=0, maxUnavailable="50%"), 2),  # a percentage rounds down
        (5, rolling(partition=0, maxUnavailable="10%"), 1),  # ... but never below 1
        (4, rolling(partition=0, maxUnavailable="100%"), 4),
    ],
)
def test_max_unavailable(replicas: int, strategy: Obj, expected: int) -> None:
    """getStatefulSetMaxUnavailable."""
    assert max_unavailable(stateful_set(replicas, **strategy)) == expected


def pod(ordinal: int, revision: str, *, ready: bool = True) -> Obj:
    body: Obj = {
        "metadata": {
            "name": f"redis-{ordinal}",
            "labels": {"controller-revision-hash": revision},
        }
    }
    if ready:
        return running(body)
    body["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
    return body


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


@pytest.mark.parametrize(
    ("policy", "ready", "expected"),
    [
        # All ready: the budget of 2 goes to the two highest old pods.
        ("OrderedReady", {}, ["redis-3", "redis-2"]),
        ("Parallel", {}, ["redis-3", "redis-2"]),
        # One unready pod uses half the budget, wherever it is (even below the partition).
        ("OrderedReady", {0: False}, ["redis-3"]),
        # Two unready pods use all of it: nothing more goes.
        ("OrderedReady", {0: False, 3: False}, []),
        # Parallel (#137666): the unready old pods are replaced first; no budget is left for
        # the healthy ones.
        ("Parallel", {0: False, 3: False}, ["redis-3", "redis-0"]),
        ("Parallel", {1: False}, ["redis-1", "redis-3"]),
    ],
)
def test_which_old_pods_one_sync_deletes(
    policy: str, ready: dict[int, bool], expected: list[str]
) -> None:
    sset = stateful_set(4, podManagementPolicy=policy, **rolling(partition=0, maxUnavailable=2))
    replicas = [pod(i, "old", ready=ready.get(i, True)) for i in range(4)]
    assert names(update_within_budget(sset, replicas, "new", NOW)) == expected


def test_updated_and_terminating_pods_are_not_deleted_again() -> None:
    sset = stateful_set(3, **rolling(partition=0, maxUnavailable=3))
    replicas = [pod(0, "old"), pod(1, "new"), pod(2, "old")]
    replicas[0]["metadata"]["deletionTimestamp"] = "2025-06-01T11:59:00Z"
    # redis-0 is terminating (unavailable): the budget of 3 leaves 2, and only redis-2 is old.
    assert names(update_within_budget(sset, replicas, "new", NOW)) == ["redis-2"]


def test_the_partition_keeps_lower_ordinals_but_they_count_as_unavailable() -> None:
    sset = stateful_set(4, **rolling(partition=2, maxUnavailable=2))
    replicas = [pod(i, "old", ready=i != 1) for i in range(4)]
    assert names(update_within_budget(sset, replicas, "new", NOW)) == ["redis-3"]


def test_a_pod_ready_for_less_than_min_ready_seconds_is_unavailable() -> None:
    sset = stateful_set(3, minReadySeconds=60, **rolling(partition=0, maxUnavailable=2))
    fresh = running(
        {"metadata": {"name": "redis-0", "labels": {"controller-revision-hash": "new"}}},
        ready_since=NOW - dt.timedelta(seconds=10),
    )
    replicas = [fresh, pod(1, "old"), pod(2, "old")]
    assert names(update_within_budget(sset, replicas, "new", NOW)) == ["redis-2"]


# --- through the controller's sync, against the API server ------------------------------------


@pytest.fixture
def h(kube: TestCluster) -> Harness:
    return Harness(kube)


async def test_a_sync_replaces_max_unavailable_pods_at_once(h: Harness) -> None:
    sset = stateful_set(4, **rolling(partition=0, maxUnavailable=2))
    await h.settle(sset)
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-3"), ("delete", "pod", "redis-2")]
    # OrderedReady makes them again one at a time; meanwhile the budget stays spent.
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-2")]
    await h.sync(sset)
    assert h.objects.actions == []
    h.make_running("redis-2")
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-3")]
    h.make_running("redis-3")
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-1"), ("delete", "pod", "redis-0")]


async def test_parallel_replaces_a_broken_old_pod_past_the_budget(h: Harness) -> None:
    """The 1.35 regression (#137409): with Parallel management a pod that can never become
    ready at the old revision held every update back; 1.37 replaces it."""
    sset = stateful_set(2, podManagementPolicy="Parallel", **rolling(partition=0))
    await h.settle(sset)
    h.set_status(
        "redis-0", {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
    )
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-0")]
