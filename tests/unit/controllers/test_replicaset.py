"""The ReplicaSet controller's sync (pkg/controller/replicaset), against the real API server.

The controller's informers are never started: the tests create the objects in the unit tests'
API server (`testcluster`) and fill the caches by hand with what the server answered
(`Informer._store`, what a list or watch event does) and, where the controller must hear of a
change, deliver it to its handlers as the informer would (`Informer._notify`). The pods created
and deleted, the patches and status writes are the server's; what a sync sent (a delete's
preconditions, the bodies) is noted by the `Recorder` around the real client.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from testcluster import Recorder, TestCluster

from kubelite.api import meta
from kubelite.client.errors import APIForbiddenError
from kubelite.client.informer import key_of
from kubelite.controllers.podcontrol import PODS
from kubelite.controllers.podutil import DELETION_COST_ANNOTATION
from kubelite.controllers.replicaset import REPLICA_FAILURE, REPLICA_SETS, ReplicaSetController

Obj = dict[str, Any]
SELECTOR = {"matchLabels": {"app": "web"}}
TEMPLATE_LABELS = {"app": "web", "tier": "front"}
SPEC = {"containers": [{"name": "app", "image": "nginx"}]}


def _status(code: int, reason: str, message: str = "") -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": message or reason}


def replica_set(
    replicas: int = 3,
    *,
    name: str = "web",
    min_ready_seconds: int = 0,
    status: Obj | None = None,
    controller_uid: str = "",
) -> Obj:
    """A ReplicaSet to create (the server gives it its namespace, uid and resourceVersion)."""
    md: Obj = {"name": name}
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
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
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
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 3600.0,
    labels: dict[str, str] | None = None,
    cost: str | None = None,
    orphan: bool = False,
) -> Obj:
    """A pod of the ReplicaSet `owner` (its uid is filled in by `Harness.pods`); `ready_for`
    None: not ready, else ready for that many seconds."""
    now = meta.now()
    md: Obj = {"name": name, "labels": dict(TEMPLATE_LABELS if labels is None else labels)}
    if not orphan:
        md["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner,
                "uid": "",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
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
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": md,
        "spec": spec,
        "status": {"phase": phase, "conditions": [condition]},
    }


@dataclass
class Harness:
    """The test's cluster, the recording client the controller uses, and the controller."""

    kube: TestCluster
    api: Recorder
    controller: ReplicaSetController

    @property
    def key(self) -> str:
        return f"{self.kube.namespace}/web"

    async def replica_set(self, rs: Obj, *, generation: int = 1) -> Obj:
        """`rs` created in the server, its spec changed until it is at `generation`, and its
        status written through /status."""
        status = rs.pop("status", None)
        replicas = rs["spec"]["replicas"]
        # Made with more replicas, then scaled one down per generation to reach.
        rs["spec"]["replicas"] = replicas + generation - 1
        stored = await self.kube.create(REPLICA_SETS, rs)
        while stored["spec"]["replicas"] > replicas:
            stored["spec"]["replicas"] -= 1
            stored = await self.api.client.update(REPLICA_SETS, stored)
        assert stored["metadata"]["generation"] == generation
        if status:
            stored["status"] = status
            stored = await self.api.client.update(REPLICA_SETS, stored, subresource="status")
        return stored

    async def pods(self, *pods: Obj) -> list[Obj]:
        """The pods created in the server, each owned by the ReplicaSet it names, with its
        status; the ones marked terminating deleted gracefully (they are on a node)."""
        stored = []
        for pod in pods:
            pod = copy.deepcopy(pod)
            terminating = pod["metadata"].pop("deletionTimestamp", None)
            for ref in pod["metadata"].get("ownerReferences") or []:
                owner = await self.kube.get(REPLICA_SETS, ref["name"])
                ref["uid"] = owner["metadata"]["uid"]
            obj = await self.kube.create_with_status(PODS, pod)
            if terminating:
                await self.api.client.delete(PODS, meta.name_of(obj), namespace=self.kube.namespace)
                obj = await self.kube.get(PODS, meta.name_of(obj))
                assert obj["metadata"].get("deletionTimestamp")
            stored.append(obj)
        return stored

    async def cache(self, rs: Obj, *pods: Obj, generation: int = 1) -> tuple[Obj, list[Obj]]:
        """The objects created, and what the informers hold after their first list."""
        stored_rs = await self.replica_set(rs, generation=generation)
        stored_pods = await self.pods(*pods)
        self.controller.owners._store(key_of(stored_rs), stored_rs)
        for pod in stored_pods:
            self.controller.pods._store(key_of(pod), pod)
        return stored_rs, stored_pods

    async def server_pods(self) -> list[Obj]:
        return await self.kube.list(PODS)

    def created(self) -> list[Obj]:
        """The pods the controller asked the server to create, as it sent them."""
        return self.api.written("create", "pods")

    def deleted(self) -> list[tuple[str, Obj]]:
        """The pods the controller deleted, with the preconditions it sent."""
        return [
            (w.name, w.sent) for w in self.api.writes if (w.verb, w.plural) == ("delete", "pods")
        ]

    def status_writes(self) -> list[Obj]:
        return self.api.written("update", "replicasets", "status")

    async def event_reasons(self) -> list[str]:
        return [e["reason"] for e in await self.kube.events()]


@pytest.fixture
def h(kube: TestCluster) -> Harness:
    api = Recorder(kube.client)
    return Harness(kube, api, ReplicaSetController(api))  # type: ignore[arg-type]


def informer_delivers(controller: ReplicaSetController, event_type: str, pod: Obj) -> None:
    """The pod informer applies a watch event and tells the controller, as `_watch` does."""
    key = key_of(pod)
    if event_type == "DELETED":
        old = controller.pods._remove(key)
    else:
        old = controller.pods._store(key, pod)
    controller.pods._notify(event_type, pod, old)


async def sync(h: Harness, controller: ReplicaSetController | None = None) -> float | None:
    """One sync of the ReplicaSet, then the Events it sent in the background."""
    controller = controller or h.controller
    try:
        return await controller.sync(h.key)
    finally:
        await asyncio.gather(*list(controller.pod_control.recorder._posting))


# --- creating --------------------------------------------------------------------------------


async def test_a_sync_creates_the_missing_pods(h: Harness) -> None:
    """manageReplicas with too few pods: creates spec.replicas pods from the template, named
    `<rs>-` + a suffix, controlled by the ReplicaSet; a SuccessfulCreate Event for each."""
    rs, _ = await h.cache(replica_set(3))
    await sync(h)
    assert len(h.created()) == 3
    for pod in h.created():
        md = pod["metadata"]
        assert md["generateName"] == "web-"
        assert md["labels"] == TEMPLATE_LABELS
        assert md["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        # The template as the server stored it (with its defaults), copied as is.
        assert pod["spec"] == rs["spec"]["template"]["spec"]
        assert pod["spec"]["containers"][0]["image"] == "nginx"
    in_server = await h.server_pods()
    assert len(in_server) == 3
    assert all(p["metadata"]["name"].startswith("web-") for p in in_server)
    assert h.controller.expectations.pending(h.key) == (3, 0)
    assert sorted(await h.event_reasons()) == ["SuccessfulCreate"] * 3


async def test_no_second_creates_before_the_informer_saw_the_first(h: Harness) -> None:
    """Expectations: a sync before the pod informer delivered the pods just created creates
    nothing (its cache still shows none); once all are seen, syncs act again."""
    controller = h.controller
    await h.cache(replica_set(3))
    await sync(h)
    await sync(h)
    assert len(await h.server_pods()) == 3

    first, second, third = await h.server_pods()
    informer_delivers(controller, "ADDED", first)
    informer_delivers(controller, "ADDED", second)
    await sync(h)
    assert len(await h.server_pods()) == 3  # one still unseen
    assert not controller.expectations.satisfied(h.key)

    informer_delivers(controller, "ADDED", third)
    assert controller.expectations.satisfied(h.key)
    rs = await h.kube.get(REPLICA_SETS, "web")
    rs["spec"]["replicas"] = 5
    controller.owners._store(h.key, await h.api.client.update(REPLICA_SETS, rs))
    await sync(h)
    assert len(await h.server_pods()) == 5


async def test_creates_go_out_in_slow_start_batches_up_to_burst_replicas(h: Harness) -> None:
    """One sync creates at most burstReplicas pods and expects exactly those."""
    controller = ReplicaSetController(h.api, burst_replicas=4)  # type: ignore[arg-type]
    h.controller = controller
    await h.cache(replica_set(10))
    await sync(h)
    assert len(await h.server_pods()) == 4
    assert controller.expectations.pending(h.key) == (4, 0)


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
    h: Harness, pods: list[Obj], replicas: int, deleted: set[str]
) -> None:
    """getPodsToDelete: the surplus pods Kubernetes ranks first go, each deleted with its uid as
    precondition; their deletions are expected until the informer reports them."""
    _, stored = await h.cache(replica_set(replicas), *pods)
    uids = {meta.name_of(p): p["metadata"]["uid"] for p in stored}
    await sync(h)
    assert {name for name, _ in h.deleted()} == deleted
    assert all(pre == {"uid": uids[name]} for name, pre in h.deleted())
    # Gone from the server, or terminating there (a pod on a node ends gracefully).
    left = {meta.name_of(p): p for p in await h.server_pods()}
    for name in uids:
        if name in deleted:
            assert name not in left or left[name]["metadata"].get("deletionTimestamp")
        else:
            assert not left[name]["metadata"].get("deletionTimestamp")
    assert h.created() == []
    assert h.controller.expectations.pending(h.key) == (0, len(deleted))

    await sync(h)  # nothing seen yet: nothing more deleted
    assert len(h.deleted()) == len(deleted)
    for pod in stored:
        if pod["metadata"]["name"] in deleted:
            informer_delivers(h.controller, "DELETED", pod)
    assert h.controller.expectations.satisfied(h.key)


async def test_scale_down_spreads_over_nodes_with_sibling_replica_sets(h: Harness) -> None:
    """getIndirectlyRelatedPods: pods of the other ReplicaSets of the same Deployment count in
    the rank, so the pod doubled up on a node with them goes first."""
    sibling = await h.replica_set(replica_set(1, name="web-old", controller_uid="deploy-uid"))
    h.controller.owners._store(key_of(sibling), sibling)
    await h.cache(
        replica_set(1, controller_uid="deploy-uid"),
        owned_pod("on-n1", node="n1"),
        owned_pod("on-n2", node="n2"),
        owned_pod("old-on-n2", node="n2", owner="web-old"),
    )
    await sync(h)
    assert [name for name, _ in h.deleted()] == ["on-n2"]


# --- failures ----------------------------------------------------------------------------------


async def test_a_refused_create_sets_replica_failure(h: Harness) -> None:
    """A create the API refuses (quota): slow start stops after the first request, the
    expectations are counted off so the retry can act, the sync fails (for a rate-limited
    retry), and the status written carries ReplicaFailure=True, reason FailedCreate."""
    h.api.refuse["create"] = APIForbiddenError(
        _status(403, "Forbidden", 'pods "web-" is forbidden: exceeded quota')
    )
    await h.cache(replica_set(3), generation=2)
    with pytest.raises(APIForbiddenError):
        await sync(h)
    assert h.api.attempts["create"] == 1
    assert await h.server_pods() == []
    assert h.controller.expectations.satisfied(h.key)
    (written,) = h.status_writes()
    stored = await h.kube.get(REPLICA_SETS, "web")
    assert stored["status"] == written["status"]
    (condition,) = stored["status"]["conditions"]
    assert condition["type"] == REPLICA_FAILURE
    assert condition["status"] == "True"
    assert condition["reason"] == "FailedCreate"
    assert "exceeded quota" in condition["message"]
    assert meta.parse_time(condition["lastTransitionTime"]) is not None
    assert stored["status"]["replicas"] == 0
    assert stored["status"]["observedGeneration"] == 2
    assert await h.event_reasons() == ["FailedCreate"]


async def test_a_refused_delete_sets_replica_failure(h: Harness) -> None:
    """A delete the API refuses: the deletion is counted off (no wait for an event that will
    not come), and the status carries ReplicaFailure=True with reason FailedDelete."""
    h.api.refuse["delete"] = APIForbiddenError(_status(403, "Forbidden", "not allowed"))
    await h.cache(replica_set(1), owned_pod("a"), owned_pod("b"))
    with pytest.raises(APIForbiddenError):
        await sync(h)
    assert h.controller.expectations.satisfied(h.key)
    assert await h.kube.names(PODS) == ["a", "b"]
    (written,) = h.status_writes()
    stored = await h.kube.get(REPLICA_SETS, "web")
    assert stored["status"] == written["status"]
    (condition,) = stored["status"]["conditions"]
    assert (condition["type"], condition["status"]) == (REPLICA_FAILURE, "True")
    assert (condition["reason"], condition["message"]) == ("FailedDelete", "not allowed")
    assert stored["status"]["replicas"] == 2
    assert await h.event_reasons() == ["FailedDelete"]


async def test_replica_failure_is_removed_once_the_replica_set_is_whole(h: Harness) -> None:
    """calculateStatus drops ReplicaFailure when a sync needs no create or delete."""
    failure = {
        "type": REPLICA_FAILURE,
        "status": "True",
        "reason": "FailedCreate",
        "message": "quota",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    status = {"replicas": 1, "conditions": [failure]}
    await h.cache(replica_set(1, status=status), owned_pod("a"))
    await sync(h)
    (written,) = h.status_writes()
    assert "conditions" not in written["status"]
    assert "conditions" not in (await h.kube.get(REPLICA_SETS, "web"))["status"]


# --- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("min_ready_seconds", "available"),
    [(0, 3), (30, 2)],
    ids=["no-min-ready", "min-ready-30s"],
)
async def test_status_counts(h: Harness, min_ready_seconds: int, available: int) -> None:
    """calculateStatus: replicas (the active pods claimed), fullyLabeledReplicas (with all the
    template's labels), readyReplicas, availableReplicas (ready for minReadySeconds) and
    observedGeneration; finished and terminating pods are not replicas, the terminating one is
    counted in terminatingReplicas (DeploymentReplicaSetTerminatingReplicas, on in 1.37)."""
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
    rs = replica_set(4, min_ready_seconds=min_ready_seconds)
    await h.cache(rs, *pods, generation=3)
    requeue = await sync(h)
    assert h.created() == [] and h.deleted() == []
    assert len(await h.server_pods()) == 6
    (written,) = h.status_writes()
    expected = {
        "replicas": 4,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": available,
        "observedGeneration": 3,
        "terminatingReplicas": 1,
    }
    assert written["status"] == expected
    assert (await h.kube.get(REPLICA_SETS, "web"))["status"] == expected
    assert (written["apiVersion"], written["kind"]) == ("apps/v1", "ReplicaSet")
    if min_ready_seconds:
        # Synced again when "just-ready" has been ready for 30 s.
        assert requeue is not None and 20 <= requeue <= 26
    else:
        assert requeue is None


async def test_an_unchanged_status_is_not_written(h: Harness) -> None:
    """updateReplicaSetStatus: the steady state writes nothing."""
    status = {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 1,
        "terminatingReplicas": 0,
    }
    await h.cache(replica_set(1, status=status), owned_pod("a"))
    before = await h.kube.revision()
    await sync(h)
    assert h.status_writes() == []
    assert await h.kube.revision() == before


async def test_terminating_replicas_count_only_the_replica_sets_own_unfinished_pods(
    h: Harness,
) -> None:
    """FilterTerminatingPods + FilterClaimedPods: a pod being deleted counts while it is not
    Succeeded or Failed, is controlled by this ReplicaSet and still matches its selector; a
    terminating orphan is not adopted, so it is not counted."""

    def deleting(pod: Obj) -> Obj:
        pod["metadata"]["deletionTimestamp"] = meta.format_time(meta.now())
        return pod

    pods = [
        owned_pod("live"),
        deleting(owned_pod("going")),
        owned_pod("going-but-failed", phase="Failed", ready_for=None),
        deleting(owned_pod("going-relabelled", labels={"app": "other"})),
        deleting(owned_pod("going-orphan", orphan=True)),
    ]
    await h.cache(replica_set(1), *pods)
    # The server deletes a finished pod at once; the cache may still see it being deleted.
    failed = h.controller.pods.get(f"{h.kube.namespace}/going-but-failed")
    assert failed is not None
    deleting(failed)
    await sync(h)
    (written,) = h.status_writes()
    assert written["status"]["replicas"] == 1
    assert written["status"]["terminatingReplicas"] == 1


async def test_a_first_count_of_zero_terminating_replicas_is_written(h: Harness) -> None:
    """The field is a pointer: a status without it differs from one with 0."""
    status = {
        "replicas": 1,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "observedGeneration": 1,
    }
    await h.cache(replica_set(1, status=status), owned_pod("a"))
    await sync(h)
    (written,) = h.status_writes()
    assert written["status"] == {**status, "terminatingReplicas": 0}


async def test_a_matching_orphan_is_adopted_and_counted(h: Harness) -> None:
    """An orphan the selector matches is adopted (after re-reading the ReplicaSet) and counts
    as a replica, so no pod is created in its place."""
    rs, _ = await h.cache(replica_set(1), owned_pod("orphan", orphan=True))
    await sync(h)
    assert [w.name for w in h.api.writes if w.plural == "pods"] == ["orphan"]
    assert h.api.written("patch", "pods")
    adopted = await h.kube.get(PODS, "orphan")
    (ref,) = adopted["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["uid"], ref["controller"]) == (
        "ReplicaSet",
        rs["metadata"]["uid"],
        True,
    )
    assert await h.kube.names(PODS) == ["orphan"]
    assert h.status_writes()[0]["status"]["replicas"] == 1
