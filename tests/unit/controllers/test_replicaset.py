"""The ReplicaSet controller's sync (pkg/controller/replicaset), against an API in memory.

The controller's informers are never started: the tests fill their caches by hand
(`Informer._store`, what a list or watch event does) and, where the controller must hear of a
change, deliver it to its handlers as the informer would (`Informer._notify`). `FakeAPI` records
the pods created and deleted, the patches and the status writes, so each test shows what a sync
asked of the API server.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
from typing import Any

import pytest

from kubelite.api import meta
from kubelite.client.api import PatchType, Resource
from kubelite.client.errors import APIError, APIForbiddenError, APINotFoundError
from kubelite.client.informer import key_of
from kubelite.controllers.podutil import DELETION_COST_ANNOTATION
from kubelite.controllers.replicaset import REPLICA_FAILURE, ReplicaSetController

Obj = dict[str, Any]
KEY = "default/web"
RS_UID = "rs-uid"
SELECTOR = {"matchLabels": {"app": "web"}}
TEMPLATE_LABELS = {"app": "web", "tier": "front"}
SPEC = {"containers": [{"name": "app", "image": "nginx"}]}


def _status(code: int, reason: str, message: str = "") -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": message or reason}


class FakeAPI:
    """The calls a ReplicaSet sync makes, over objects in memory."""

    def __init__(self) -> None:
        self.replica_sets: dict[str, Obj] = {}
        self.created: list[Obj] = []
        self.create_attempts = 0
        self.deleted: list[tuple[str, Obj]] = []
        self.patches: list[tuple[str, Obj]] = []
        self.status_writes: list[Obj] = []
        self.events: list[Obj] = []
        self.refuse_creates: APIError | None = None
        self.refuse_deletes: APIError | None = None
        self._names = itertools.count(1)

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        obj = self.replica_sets.get(f"{namespace}/{name}")
        if resource.plural != "replicasets" or obj is None:
            raise APINotFoundError(_status(404, "NotFound"))
        return copy.deepcopy(obj)

    async def create(self, resource: Resource, body: Obj, *, namespace: str | None = None) -> Obj:
        if resource.plural == "events":
            self.events.append(body)
            return body
        assert resource.plural == "pods"
        self.create_attempts += 1
        if self.refuse_creates is not None:
            raise self.refuse_creates
        pod = copy.deepcopy(body)
        md = pod["metadata"]
        number = next(self._names)
        md.update(
            name=f"{md['generateName']}{number:05d}",
            namespace=namespace,
            uid=f"pod-uid-{number}",
            resourceVersion=str(100 + number),
            creationTimestamp=meta.format_time(meta.now()),
        )
        pod["status"] = {"phase": "Pending"}
        self.created.append(pod)
        return copy.deepcopy(pod)

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        preconditions: Obj | None = None,
    ) -> Obj:
        assert resource.plural == "pods" and namespace == "default"
        if self.refuse_deletes is not None:
            raise self.refuse_deletes
        self.deleted.append((name, dict(preconditions or {})))
        return {}

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Obj,
        *,
        patch_type: PatchType,
        namespace: str | None = None,
    ) -> Obj:
        self.patches.append((name, patch))
        return {"metadata": {"name": name, "namespace": namespace, **patch["metadata"]}}

    async def update(
        self,
        resource: Resource,
        body: Obj,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> Obj:
        assert resource.plural == "replicasets" and subresource == "status"
        self.status_writes.append(copy.deepcopy(body))
        return body


def replica_set(
    replicas: int = 3,
    *,
    name: str = "web",
    uid: str = RS_UID,
    generation: int = 1,
    min_ready_seconds: int = 0,
    status: Obj | None = None,
    controller_uid: str = "",
) -> Obj:
    """A ReplicaSet as a list or watch delivers it (no apiVersion or kind on list items)."""
    md: Obj = {
        "name": name,
        "namespace": "default",
        "uid": uid,
        "generation": generation,
        "resourceVersion": "7",
    }
    if controller_uid:
        md["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "web",
                "uid": controller_uid,
                "controller": True,
            }
        ]
    return {
        "metadata": md,
        "spec": {
            "replicas": replicas,
            "minReadySeconds": min_ready_seconds,
            "selector": SELECTOR,
            "template": {"metadata": {"labels": TEMPLATE_LABELS}, "spec": SPEC},
        },
        "status": status or {},
    }


def owned_pod(
    name: str,
    *,
    owner: str = "web",
    owner_uid: str = RS_UID,
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 3600.0,
    labels: dict[str, str] | None = None,
    cost: str | None = None,
) -> Obj:
    """A pod of the ReplicaSet; `ready_for` None: not ready, else ready for that many seconds."""
    now = meta.now()
    md: Obj = {
        "name": name,
        "namespace": "default",
        "uid": f"uid-{name}",
        "resourceVersion": "50",
        "labels": dict(TEMPLATE_LABELS if labels is None else labels),
        "creationTimestamp": meta.format_time(now - dt.timedelta(days=1)),
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if cost is not None:
        md["annotations"] = {DELETION_COST_ANNOTATION: cost}
    condition: Obj = {"type": "Ready", "status": "False"}
    if ready_for is not None:
        since = now - dt.timedelta(seconds=ready_for)
        condition = {
            "type": "Ready",
            "status": "True",
            "lastTransitionTime": meta.format_time(since),
        }
    spec = {**copy.deepcopy(SPEC), **({"nodeName": node} if node else {})}
    return {"metadata": md, "spec": spec, "status": {"phase": phase, "conditions": [condition]}}


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def controller(api: FakeAPI) -> ReplicaSetController:
    return ReplicaSetController(api)  # type: ignore[arg-type]


def cache(controller: ReplicaSetController, rs: Obj, *pods: Obj) -> None:
    """What the informers hold after their first list."""
    controller.owners._store(key_of(rs), rs)
    for pod in pods:
        controller.pods._store(key_of(pod), pod)


def informer_delivers(controller: ReplicaSetController, event_type: str, pod: Obj) -> None:
    """The pod informer applies a watch event and tells the controller, as `_watch` does."""
    key = key_of(pod)
    if event_type == "DELETED":
        old = controller.pods._remove(key)
    else:
        old = controller.pods._store(key, pod)
    controller.pods._notify(event_type, pod, old)


async def sync(controller: ReplicaSetController) -> float | None:
    """One sync of the ReplicaSet, then the Events it sent in the background."""
    try:
        return await controller.sync(KEY)
    finally:
        await asyncio.gather(*list(controller.pod_control.recorder._posting))


# --- creating --------------------------------------------------------------------------------


async def test_a_sync_creates_the_missing_pods(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """manageReplicas with too few pods: creates spec.replicas pods from the template, named
    `<rs>-` + a suffix, controlled by the ReplicaSet; a SuccessfulCreate Event for each."""
    cache(controller, replica_set(3))
    await sync(controller)
    assert len(api.created) == 3
    for pod in api.created:
        md = pod["metadata"]
        assert md["generateName"] == "web-"
        assert md["labels"] == TEMPLATE_LABELS
        assert md["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": RS_UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert pod["spec"] == SPEC
    assert controller.expectations.pending(KEY) == (3, 0)
    assert sorted(e["reason"] for e in api.events) == ["SuccessfulCreate"] * 3


async def test_no_second_creates_before_the_informer_saw_the_first(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """Expectations: a sync before the pod informer delivered the pods just created creates
    nothing (its cache still shows none); once all are seen, syncs act again."""
    cache(controller, replica_set(3))
    await sync(controller)
    await sync(controller)
    assert len(api.created) == 3

    first, second, third = api.created
    informer_delivers(controller, "ADDED", first)
    informer_delivers(controller, "ADDED", second)
    await sync(controller)
    assert len(api.created) == 3  # one still unseen
    assert not controller.expectations.satisfied(KEY)

    informer_delivers(controller, "ADDED", third)
    assert controller.expectations.satisfied(KEY)
    controller.owners._store(KEY, replica_set(5))
    await sync(controller)
    assert len(api.created) == 5


async def test_creates_go_out_in_slow_start_batches_up_to_burst_replicas(
    api: FakeAPI,
) -> None:
    """One sync creates at most burstReplicas pods and expects exactly those."""
    controller = ReplicaSetController(api, burst_replicas=4)  # type: ignore[arg-type]
    cache(controller, replica_set(10))
    await sync(controller)
    assert len(api.created) == 4
    assert controller.expectations.pending(KEY) == (4, 0)


# --- deleting ----------------------------------------------------------------------------------


SCALE_DOWN = {
    "unscheduled-and-pending-first": (
        [
            owned_pod("ready"),
            owned_pod("unscheduled", node="", phase="Pending", ready_for=None),
            owned_pod("pending", phase="Pending", ready_for=None),
            owned_pod("running"),
        ],
        2,
        {"unscheduled", "pending"},
    ),
    "not-ready-first": (
        [owned_pod("ready-1"), owned_pod("not-ready", ready_for=None), owned_pod("ready-2")],
        2,
        {"not-ready"},
    ),
    "lowest-deletion-cost-first": (
        [owned_pod("a", cost="10"), owned_pod("b", cost="-5"), owned_pod("c")],
        2,
        {"b"},
    ),
    "ready-for-less-time-first": (
        [owned_pod("old", ready_for=86400), owned_pod("new", ready_for=20), owned_pod("mid")],
        1,
        {"new", "mid"},
    ),
}


@pytest.mark.parametrize(("pods", "replicas", "deleted"), SCALE_DOWN.values(), ids=SCALE_DOWN)
async def test_scale_down_deletes_the_pods_ranked_first(
    api: FakeAPI,
    controller: ReplicaSetController,
    pods: list[Obj],
    replicas: int,
    deleted: set[str],
) -> None:
    """getPodsToDelete: the surplus pods Kubernetes ranks first go, each deleted with its uid as
    precondition; their deletions are expected until the informer reports them."""
    cache(controller, replica_set(replicas), *pods)
    await sync(controller)
    assert {name for name, _ in api.deleted} == deleted
    assert all(pre == {"uid": f"uid-{name}"} for name, pre in api.deleted)
    assert api.created == []
    assert controller.expectations.pending(KEY) == (0, len(deleted))

    await sync(controller)  # nothing seen yet: nothing more deleted
    assert len(api.deleted) == len(deleted)
    for pod in pods:
        if pod["metadata"]["name"] in deleted:
            informer_delivers(controller, "DELETED", pod)
    assert controller.expectations.satisfied(KEY)


async def test_scale_down_spreads_over_nodes_with_sibling_replica_sets(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """getIndirectlyRelatedPods: pods of the other ReplicaSets of the same Deployment count in
    the rank, so the pod doubled up on a node with them goes first."""
    ours = replica_set(1, controller_uid="deploy-uid")
    sibling = replica_set(1, name="web-old", uid="old-uid", controller_uid="deploy-uid")
    controller.owners._store("default/web-old", sibling)
    cache(
        controller,
        ours,
        owned_pod("on-n1", node="n1"),
        owned_pod("on-n2", node="n2"),
        owned_pod("old-on-n2", node="n2", owner="web-old", owner_uid="old-uid"),
    )
    await sync(controller)
    assert [name for name, _ in api.deleted] == ["on-n2"]


# --- failures ----------------------------------------------------------------------------------


async def test_a_refused_create_sets_replica_failure(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """A create the API refuses (quota): slow start stops after the first request, the
    expectations are counted off so the retry can act, the sync fails (for a rate-limited
    retry), and the status written carries ReplicaFailure=True, reason FailedCreate."""
    api.refuse_creates = APIForbiddenError(
        _status(403, "Forbidden", 'pods "web-" is forbidden: exceeded quota')
    )
    cache(controller, replica_set(3, generation=2))
    with pytest.raises(APIForbiddenError):
        await sync(controller)
    assert api.create_attempts == 1
    assert controller.expectations.satisfied(KEY)
    (written,) = api.status_writes
    (condition,) = written["status"]["conditions"]
    assert condition["type"] == REPLICA_FAILURE
    assert condition["status"] == "True"
    assert condition["reason"] == "FailedCreate"
    assert "exceeded quota" in condition["message"]
    assert meta.parse_time(condition["lastTransitionTime"]) is not None
    assert written["status"]["replicas"] == 0
    assert written["status"]["observedGeneration"] == 2
    assert [e["reason"] for e in api.events] == ["FailedCreate"]


async def test_a_refused_delete_sets_replica_failure(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """A delete the API refuses: the deletion is counted off (no wait for an event that will
    not come), and the status carries ReplicaFailure=True with reason FailedDelete."""
    api.refuse_deletes = APIForbiddenError(_status(403, "Forbidden", "not allowed"))
    cache(controller, replica_set(1), owned_pod("a"), owned_pod("b"))
    with pytest.raises(APIForbiddenError):
        await sync(controller)
    assert controller.expectations.satisfied(KEY)
    (written,) = api.status_writes
    (condition,) = written["status"]["conditions"]
    assert (condition["type"], condition["status"]) == (REPLICA_FAILURE, "True")
    assert (condition["reason"], condition["message"]) == ("FailedDelete", "not allowed")
    assert written["status"]["replicas"] == 2
    assert [e["reason"] for e in api.events] == ["FailedDelete"]


async def test_replica_failure_is_removed_once_the_replica_set_is_whole(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """calculateStatus drops ReplicaFailure when a sync needs no create or delete."""
    failure = {
        "type": REPLICA_FAILURE,
        "status": "True",
        "reason": "FailedCreate",
        "message": "quota",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    status = {"replicas": 1, "conditions": [failure]}
    cache(controller, replica_set(1, status=status), owned_pod("a"))
    await sync(controller)
    (written,) = api.status_writes
    assert "conditions" not in written["status"]


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("min_ready_seconds", "available"),
    [(0, 3), (30, 2)],
    ids=["no-min-ready", "min-ready-30s"],
)
async def test_status_counts(
    api: FakeAPI, controller: ReplicaSetController, min_ready_seconds: int, available: int
) -> None:
    """calculateStatus: replicas (the active pods claimed), fullyLabeledReplicas (with all the
    template's labels), readyReplicas, availableReplicas (ready for minReadySeconds) and
    observedGeneration; finished and terminating pods are not counted."""
    finished = owned_pod("finished", phase="Succeeded", ready_for=None)
    terminating = owned_pod("terminating")
    terminating["metadata"]["deletionTimestamp"] = meta.format_time(meta.now())
    pods = [
        owned_pod("long-ready", ready_for=3600),
        owned_pod("long-ready-2", ready_for=600, labels={"app": "web"}),  # not fully labelled
        owned_pod("just-ready", ready_for=5),
        owned_pod("not-ready", ready_for=None),
        finished,
        terminating,
    ]
    rs = replica_set(4, generation=3, min_ready_seconds=min_ready_seconds)
    cache(controller, rs, *pods)
    requeue = await sync(controller)
    assert api.created == [] and api.deleted == []
    (written,) = api.status_writes
    assert written["status"] == {
        "replicas": 4,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": available,
        "observedGeneration": 3,
    }
    assert (written["apiVersion"], written["kind"]) == ("apps/v1", "ReplicaSet")
    if min_ready_seconds:
        # Synced again when "just-ready" has been ready for 30 s.
        assert requeue is not None and 20 <= requeue <= 26
    else:
        assert requeue is None


async def test_an_unchanged_status_is_not_written(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """updateReplicaSetStatus: the steady state writes nothing."""
    status = {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 1,
    }
    cache(controller, replica_set(1, status=status), owned_pod("a"))
    await sync(controller)
    assert api.status_writes == []


async def test_a_matching_orphan_is_adopted_and_counted(
    api: FakeAPI, controller: ReplicaSetController
) -> None:
    """An orphan the selector matches is adopted (after re-reading the ReplicaSet) and counts
    as a replica, so no pod is created in its place."""
    rs = replica_set(1)
    api.replica_sets[KEY] = copy.deepcopy(rs)
    orphan = owned_pod("orphan")
    del orphan["metadata"]["ownerReferences"]
    cache(controller, rs, orphan)
    await sync(controller)
    assert [name for name, _ in api.patches] == ["orphan"]
    assert api.created == []
    assert api.status_writes[0]["status"]["replicas"] == 1
