"""The status write and the owner re-check that the workload controllers share, against the
real API server (`testcluster`): its conflicts and 404s are the real ones."""

from __future__ import annotations

from typing import Any

import pytest
from testcluster import Recorder, TestCluster

from kubelite.api.resources import REPLICA_SETS
from kubelite.client.errors import APIConflictError
from kubelite.controllers.owners import put_status, recheck_owner

Obj = dict[str, Any]


def _error(cls: type, code: int, reason: str) -> Exception:
    return cls({"code": code, "reason": reason, "message": reason})


def rs(**status: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
        "status": status,
    }


async def test_a_conflict_is_written_once_more_onto_the_fresh_object(kube: TestCluster) -> None:
    stale = await kube.create(REPLICA_SETS, rs())
    # Someone else writes the status meanwhile: `stale` is out of date.
    fresh = {
        **stale,
        "status": {
            "replicas": 1,
            "readyReplicas": 1,
            "conditions": [{"type": "ReplicaFailure", "status": "True"}],
        },
    }
    await kube.client.update(REPLICA_SETS, fresh, subresource="status")
    client = Recorder(kube.client)
    was = {**stale, "status": {"replicas": 0}}
    await put_status(client, REPLICA_SETS, was, {"replicas": 3}, drop=("conditions",))  # type: ignore[arg-type]
    assert client.attempts["update"] == 2
    (written,) = client.written("update", "replicasets", "status")
    # The fresh status's other fields kept, the dropped ones gone, the new ones over them.
    assert written["status"] == {"replicas": 3, "readyReplicas": 1}
    assert (written["apiVersion"], written["kind"]) == ("apps/v1", "ReplicaSet")
    assert (await kube.get(REPLICA_SETS, "web"))["status"] == {"replicas": 3, "readyReplicas": 1}


async def test_a_second_conflict_is_left_to_the_queue_and_a_deleted_object_needs_nothing(
    kube: TestCluster,
) -> None:
    stored = await kube.create(REPLICA_SETS, rs())
    client = Recorder(kube.client)
    # Written over by someone else each time, between the read and the write.
    client.refuse["update"] = _error(APIConflictError, 409, "Conflict")
    with pytest.raises(APIConflictError):
        await put_status(client, REPLICA_SETS, stored, {"replicas": 1})  # type: ignore[arg-type]
    assert client.attempts["update"] == 2
    await kube.client.delete(REPLICA_SETS, "web", namespace=kube.namespace)
    gone = Recorder(kube.client)
    await put_status(gone, REPLICA_SETS, stored, {"replicas": 1})  # type: ignore[arg-type]
    assert gone.attempts["update"] == 1
    assert gone.writes == []


async def _owner(kube: TestCluster, state: str) -> Obj:
    """The owner as a cache last saw it, and the server's object in the given state."""
    if state == "deleting":
        held = rs()
        held["metadata"]["finalizers"] = ["kubelite.test/hold"]
        seen = await kube.create(REPLICA_SETS, held)
        await kube.client.delete(REPLICA_SETS, "web", namespace=kube.namespace)
        return seen
    seen = await kube.create(REPLICA_SETS, rs())
    if state in ("gone", "recreated"):
        await kube.client.delete(REPLICA_SETS, "web", namespace=kube.namespace)
    if state == "recreated":  # deleted and made again under the same name
        await kube.create(REPLICA_SETS, rs())
    return seen


@pytest.mark.parametrize(
    ("state", "may_adopt"),
    [("same", True), ("recreated", False), ("deleting", False), ("gone", False)],
)
async def test_only_the_same_live_owner_may_adopt(
    kube: TestCluster, state: str, may_adopt: bool
) -> None:
    owner = await _owner(kube, state)
    assert await recheck_owner(kube.client, REPLICA_SETS, owner) is may_adopt
