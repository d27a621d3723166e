"""The decisions of one StatefulSet sync (StatefulSetControl), against the real API server.

Each case sets up pods in the unit tests' API server (`testcluster`), which the caches then
hold, runs one sync with the real pod and history managers over a `Recorder` around the real
client, and looks at what was written, in order: which pods and claims were created, updated
or deleted.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from statefulset_objects import NOW, running, stateful_set
from testcluster import Recorder, TestCluster

from kubelite.api import meta
from kubelite.api.resources import PERSISTENT_VOLUME_CLAIMS as CLAIMS
from kubelite.api.resources import PODS, STATEFUL_SETS
from kubelite.client.api import Resource
from kubelite.client.errors import APIForbiddenError
from kubelite.client.informer import key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers import statefulset_revisions as revs
from kubelite.controllers.statefulset import ApiHistory
from kubelite.controllers.statefulset_control import StatefulSetControl
from kubelite.controllers.statefulset_podcontrol import ApiObjectManager, StatefulPodControl

Obj = dict[str, Any]
KINDS = {"pods": "pod", "persistentvolumeclaims": "claim"}


class Objects:
    """The test's view of the pods and claims in the server, and of the writes made to them
    (as (verb, "pod" | "claim", name), in order); `refuse` holds (verb, name) to refuse."""

    def __init__(self, kube: TestCluster, recorder: Recorder) -> None:
        self._kube = kube
        self._recorder = recorder
        self.refuse: set[tuple[str, str]] = set()
        for verb in ("create", "delete"):
            recorder.refuse[verb] = self._refusal(verb)

    def _refusal(self, verb: str) -> Any:
        def refusal(resource: Resource, what: Any) -> Exception | None:
            name = what if isinstance(what, str) else meta.name_of(what)
            if (verb, name) in self.refuse:
                return APIForbiddenError({"code": 403, "reason": "Forbidden", "message": "refused"})
            return None

        return refusal

    def _by_name(self, resource: Resource) -> dict[str, Obj]:
        listed = self._kube.blocking.list(resource, namespace=self._kube.namespace)
        return {meta.name_of(o): o for o in listed.get("items") or ()}

    @property
    def pods(self) -> dict[str, Obj]:
        return self._by_name(PODS)

    @property
    def claims(self) -> dict[str, Obj]:
        return self._by_name(CLAIMS)

    @property
    def actions(self) -> list[tuple[str, str, str]]:
        return [
            (w.verb, KINDS[w.plural], w.name) for w in self._recorder.writes if w.plural in KINDS
        ]


class History:
    """The test's view of the ControllerRevisions in the server."""

    def __init__(self, kube: TestCluster, recorder: Recorder) -> None:
        self._kube = kube
        self._recorder = recorder

    @property
    def revisions(self) -> dict[str, Obj]:
        listed = self._kube.blocking.list(revs.CONTROLLER_REVISIONS, namespace=self._kube.namespace)
        return {meta.name_of(o): o for o in listed.get("items") or ()}

    @property
    def deleted(self) -> list[str]:
        return [
            w.name
            for w in self._recorder.writes
            if (w.verb, w.plural) == ("delete", "controllerrevisions")
        ]

    def listed(self) -> list[Obj]:
        return list(self.revisions.values())


class Harness:
    def __init__(self, kube: TestCluster) -> None:
        self.kube = kube
        kube.freeze_time(NOW)
        self.recorder = Recorder(kube.client)
        self.objects = Objects(kube, self.recorder)
        self.history = History(kube, self.recorder)
        self.events: list[tuple[str, str, str]] = []
        self.statuses: list[Obj] = []
        informers = SharedInformerFactory(self.recorder)  # type: ignore[arg-type]
        self._pods = informers.informer(PODS)
        self._claims = informers.informer(CLAIMS)
        self.control = StatefulSetControl(
            StatefulPodControl(
                ApiObjectManager(self.recorder, self._pods, self._claims),  # type: ignore[arg-type]
                self._record,
            ),
            ApiHistory(self.recorder),  # type: ignore[arg-type]
            self._write_status,
            clock=lambda: NOW,
        )
        self._spec: Obj | None = None

    def _record(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))

    async def _write_status(self, sset: Obj, status: Obj) -> None:
        self.statuses.append(dict(status))
        sset["status"] = {**sset.get("status", {}), **status}
        await self.kube.client.update(STATEFUL_SETS, sset, subresource="status")

    def _stored_set(self, sset: Obj) -> Obj:
        """The set as the server has it: made at the first sync, its spec changed since by the
        test written there (the server counts generations); the test's dict follows."""
        blocking = self.kube.blocking
        if self._spec is None:
            body = copy.deepcopy(sset)
            body["metadata"] = {"name": meta.name_of(sset)}
            body.pop("status", None)
            stored = blocking.create(STATEFUL_SETS, body, namespace=self.kube.namespace)
            sset["metadata"].update(uid=stored["metadata"]["uid"], namespace=self.kube.namespace)
        else:
            stored = blocking.get(STATEFUL_SETS, meta.name_of(sset), namespace=self.kube.namespace)
            if sset["spec"] != self._spec:
                stored["spec"] = copy.deepcopy(sset["spec"])
                stored = blocking.update(STATEFUL_SETS, stored, namespace=self.kube.namespace)
        self._spec = copy.deepcopy(sset["spec"])
        return {**stored, "apiVersion": "apps/v1", "kind": "StatefulSet"}

    def _refresh(self) -> None:
        """The caches hold what the server has, as their watches would have them."""
        for informer, objects in (
            (self._pods, self.objects.pods),
            (self._claims, self.objects.claims),
        ):
            for key in list(informer._cache):
                informer._remove(key)
            for obj in objects.values():
                informer._store(key_of(obj), obj)

    async def sync(self, sset: Obj) -> Obj | None:
        stored = self._stored_set(sset)
        self._refresh()
        self.recorder.writes.clear()
        pods = [p for p in self.objects.pods.values() if sp.is_member(stored, p)]
        try:
            return await self.control.update(stored, pods, self.history.listed())
        finally:
            sset["status"] = stored.get("status") or {}
            sset["metadata"]["generation"] = stored["metadata"]["generation"]

    # --- what kubelets and users do ---------------------------------------------------------

    def set_status(self, name: str, status: Obj) -> None:
        pod = self.kube.blocking.get(PODS, name, namespace=self.kube.namespace)
        pod["status"] = status
        self.kube.blocking.update(PODS, pod, namespace=self.kube.namespace, subresource="status")

    def make_running(self, *names: str, ready_since: dt.datetime | None = None) -> None:
        """What the pods' kubelets report once their containers run and are ready (a pod that
        says so already is not written again)."""
        since = ready_since or NOW - dt.timedelta(hours=1)
        status = running({}, ready_since=since)["status"]
        pods = self.objects.pods
        for name in names:
            pod = pods[name]
            if pod.get("status") != status:
                pod["status"] = status
                self.kube.blocking.update(
                    PODS, pod, namespace=self.kube.namespace, subresource="status"
                )

    def delete(self, name: str) -> None:
        self.kube.blocking.delete(PODS, name, namespace=self.kube.namespace)

    def start_deleting(self, name: str) -> None:
        """The pod is being deleted (held, as a kubelet would, until it stopped)."""
        pod = self.kube.blocking.get(PODS, name, namespace=self.kube.namespace)
        pod["metadata"]["finalizers"] = ["kubelite.test/hold"]
        self.kube.blocking.update(PODS, pod, namespace=self.kube.namespace)
        self.delete(name)

    async def settle(self, sset: Obj, rounds: int = 10) -> None:
        """Sync until nothing is written, every pod made Running and Ready as it appears."""
        for _ in range(rounds):
            await self.sync(sset)
            self.make_running(*self.objects.pods)
            if not self.objects.actions:
                return
        raise AssertionError("the set did not settle")


@pytest.fixture
def h(kube: TestCluster) -> Harness:
    return Harness(kube)


# --- creating in order --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "existing", "created"),
    [
        # OrderedReady: one at a time, each only once all before it are Running and Ready.
        ("OrderedReady", {}, ["redis-0"]),
        ("OrderedReady", {"redis-0": "Pending"}, []),
        ("OrderedReady", {"redis-0": "Running"}, ["redis-1"]),
        ("OrderedReady", {"redis-0": "Running", "redis-1": "Pending"}, []),
        ("OrderedReady", {"redis-0": "Running", "redis-1": "Running"}, ["redis-2"]),
        # A missing lower ordinal is made again before anything above it.
        ("OrderedReady", {"redis-1": "Running"}, ["redis-0"]),
        # Parallel: all at once, whatever state the others are in.
        ("Parallel", {}, ["redis-0", "redis-1", "redis-2"]),
        ("Parallel", {"redis-0": "Pending"}, ["redis-1", "redis-2"]),
    ],
)
async def test_pods_are_created_by_ordinal(
    h: Harness, policy: str, existing: dict[str, str], created: list[str]
) -> None:
    sset = stateful_set(3, podManagementPolicy=policy)
    await h.sync(sset)  # records the first revision
    for name in list(h.objects.pods):
        if name not in existing:
            h.delete(name)
    for name, phase in existing.items():
        if name not in h.objects.pods:
            pod = sp.new_pod(sset, sp.ordinal_of({"metadata": {"name": name}}))
            h.kube.blocking.create(PODS, pod, namespace=h.kube.namespace)
        h.set_status(name, {"phase": "Pending"})
        if phase == "Running":
            h.make_running(name)
    await h.sync(sset)
    assert sorted(n for verb, kind, n in h.objects.actions if verb == "create") == created


async def test_a_ready_pod_is_not_enough_until_min_ready_seconds_have_passed(h: Harness) -> None:
    sset = stateful_set(2, minReadySeconds=30)
    await h.sync(sset)
    h.make_running("redis-0", ready_since=NOW - dt.timedelta(seconds=10))
    await h.sync(sset)
    assert h.objects.actions == []
    h.make_running("redis-0", ready_since=NOW - dt.timedelta(seconds=31))
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-1")]


async def test_a_new_pod_has_its_identity_revision_and_owner(h: Harness) -> None:
    sset = stateful_set(1, ordinals={"start": 5})
    await h.sync(sset)
    (pod,) = h.objects.pods.values()
    revision = next(iter(h.history.revisions))
    assert meta.name_of(pod) == "redis-5"
    assert meta.labels_of(pod) == {
        "app": "redis",
        "statefulset.kubernetes.io/pod-name": "redis-5",
        "apps.kubernetes.io/pod-index": "5",
        "controller-revision-hash": revision,
    }
    assert pod["spec"]["hostname"] == "redis-5"
    assert pod["spec"]["subdomain"] == "redis-svc"
    (ref,) = pod["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "StatefulSet",
        "redis",
        sset["metadata"]["uid"],
        True,
    )
    assert h.events == [
        ("Normal", "SuccessfulCreate", "create Pod redis-5 in StatefulSet redis successful")
    ]


async def test_claims_are_created_before_their_pod_and_mounted_by_it(h: Harness) -> None:
    template = {
        "metadata": {"name": "data", "labels": {"tier": "cache"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    sset = stateful_set(1, volumeClaimTemplates=[template])
    sset["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    await h.sync(sset)
    assert h.objects.actions == [("create", "claim", "data-redis-0"), ("create", "pod", "redis-0")]
    claim = h.objects.claims["data-redis-0"]
    assert meta.labels_of(claim) == {"tier": "cache", "app": "redis"}
    assert "ownerReferences" not in claim["metadata"]  # Retain: nobody owns it
    # The template's volume of the claim's name is replaced by the claim (the server adds the
    # service account token's volume to the pod it stores).
    mounted = {"name": "data", "persistentVolumeClaim": {"claimName": "data-redis-0"}}
    (sent,) = h.recorder.written("create", "pods")
    assert sent["spec"]["volumes"] == [mounted]
    assert mounted in h.objects.pods["redis-0"]["spec"]["volumes"]
    assert h.events[0] == (
        "Normal",
        "SuccessfulCreate",
        "create Claim data-redis-0 Pod redis-0 in StatefulSet redis success",
    )


async def test_a_refused_create_is_reported_and_raised(h: Harness) -> None:
    sset = stateful_set(1)
    h.objects.refuse.add(("create", "redis-0"))
    with pytest.raises(APIForbiddenError):
        await h.sync(sset)
    assert h.events == [
        ("Warning", "FailedCreate", "create Pod redis-0 in StatefulSet redis failed error: refused")
    ]
    # The status is still written: the revisions are known even though no pod was made.
    assert h.statuses[-1]["updateRevision"] == next(iter(h.history.revisions))


# --- failed pods, scaling down ------------------------------------------------------------------


async def test_a_failed_pod_is_deleted_to_be_made_again(h: Harness) -> None:
    sset = stateful_set(2)
    await h.settle(sset)
    h.set_status("redis-0", {"phase": "Failed"})
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-0")]
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-0")]


@pytest.mark.parametrize(
    ("policy", "terminating", "deleted"),
    [
        # Highest ordinal first, one at a time, each only after the last one is gone.
        ("OrderedReady", set(), ["redis-3"]),
        ("OrderedReady", {"redis-3"}, []),
        # Parallel deletes every surplus pod at once.
        ("Parallel", set(), ["redis-1", "redis-2", "redis-3"]),
        ("Parallel", {"redis-3"}, ["redis-1", "redis-2"]),
    ],
)
async def test_scaling_down_removes_the_highest_ordinals(
    h: Harness, policy: str, terminating: set[str], deleted: list[str]
) -> None:
    sset = stateful_set(4, podManagementPolicy=policy)
    await h.settle(sset)
    for name in terminating:
        h.start_deleting(name)
    sset["spec"]["replicas"] = 1
    await h.sync(sset)
    assert sorted(n for verb, _, n in h.objects.actions if verb == "delete") == deleted


async def test_scaling_down_waits_for_the_remaining_pods_to_be_healthy(h: Harness) -> None:
    sset = stateful_set(3)
    await h.settle(sset)
    h.set_status("redis-0", {"phase": "Pending"})
    sset["spec"]["replicas"] = 1
    await h.sync(sset)
    assert h.objects.actions == []
    # An unhealthy surplus pod, though, goes at once: it is the first unhealthy one.
    h.make_running("redis-0")
    h.set_status("redis-2", {"phase": "Pending"})
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-2")]


# --- updates ------------------------------------------------------------------------------------


async def updated(h: Harness, **strategy: Any) -> tuple[Obj, str]:
    """A settled set of three whose template then changed; (set, its old revision)."""
    sset = stateful_set(3, **strategy)
    await h.settle(sset)
    old = sset["status"]["currentRevision"]
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:8"
    return sset, old


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        # Highest ordinal first, one at a time.
        ({}, ["redis-2", "redis-1", "redis-0"]),
        # Only ordinals at or above the partition.
        (
            {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}},
            [
                "redis-2",
                "redis-1",
            ],
        ),
        # OnDelete: the user deletes; the controller only makes new pods at the new revision.
        ({"updateStrategy": {"type": "OnDelete"}}, []),
    ],
)
async def test_rolling_update_replaces_pods_from_the_highest_ordinal(
    h: Harness, strategy: Obj, expected: list[str]
) -> None:
    sset, old = await updated(h, **strategy)
    order = []
    for _ in range(12):
        await h.sync(sset)
        order += [n for verb, _, n in h.objects.actions if verb == "delete"]
        h.make_running(*h.objects.pods)
    assert order == expected
    new = sset["status"]["updateRevision"]
    assert new != old
    revisions = {n: sp.pod_revision(p) for n, p in h.objects.pods.items()}
    assert sorted(n for n, r in revisions.items() if r == new) == sorted(expected)
    if expected == ["redis-2", "redis-1", "redis-0"]:
        # The update is complete: the update revision became the current one.
        assert sset["status"]["currentRevision"] == new
        assert sset["status"]["currentReplicas"] == 3
    else:
        assert sset["status"]["currentRevision"] == old


async def test_an_update_waits_for_the_replaced_pod_to_be_ready(h: Harness) -> None:
    sset, _ = await updated(h)
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-2")]
    await h.sync(sset)
    assert h.objects.actions == [("create", "pod", "redis-2")]
    await h.sync(sset)  # redis-2 is Pending at the new revision
    assert h.objects.actions == []
    h.make_running("redis-2")
    await h.sync(sset)
    assert h.objects.actions == [("delete", "pod", "redis-1")]


async def test_status_counts_current_and_updated_pods(h: Harness) -> None:
    sset, old = await updated(h)
    await h.sync(sset)  # deletes redis-2
    await h.sync(sset)  # makes redis-2 at the new revision
    h.make_running("redis-2")
    await h.sync(sset)  # deletes redis-1
    status = sset["status"]
    assert status["observedGeneration"] == 2
    assert status["currentRevision"] == old
    assert status["updateRevision"] != old
    assert (status["replicas"], status["readyReplicas"], status["availableReplicas"]) == (3, 3, 3)
    assert (status["currentReplicas"], status["updatedReplicas"]) == (1, 1)
    assert status["collisionCount"] == 0


async def test_going_back_to_an_old_template_renumbers_its_revision(h: Harness) -> None:
    sset, old = await updated(h)
    await h.settle(sset)
    sset["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:7"
    await h.settle(sset)
    assert sset["status"]["updateRevision"] == old
    assert h.history.revisions[old]["revision"] == 3
    assert len(h.history.revisions) == 2


async def test_history_beyond_the_limit_is_pruned_oldest_first(h: Harness) -> None:
    sset = stateful_set(1, revisionHistoryLimit=1)
    await h.settle(sset)
    first = sset["status"]["currentRevision"]
    for image in ("redis:8", "redis:9"):
        sset["spec"]["template"]["spec"]["containers"][0]["image"] = image
        await h.settle(sset)
    # The status write that completed the update brings one more sync, as its watch event would.
    await h.sync(sset)
    # Live: the current and update revision (one now) and the pods'; one more is kept.
    assert h.history.deleted == [first]
    assert len(h.history.revisions) == 2
