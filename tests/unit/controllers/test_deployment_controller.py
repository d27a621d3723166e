"""The Deployment controller's syncs, and the requests they make.

`sync` runs against `FakeAPI`, the few API client calls the controller makes over objects in
memory, which records every write (and checks resourceVersions as the API server does); the
informer caches are filled directly, as their watches would fill them. Each test shows what
one or two syncs asked of the API server, against what Kubernetes' Deployment controller
(`pkg/controller/deployment`: sync.go, rolling.go, recreate.go, progress.go) does.
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
from kubelite.client.errors import (
    APIAlreadyExistsError,
    APIConflictError,
    APIForbiddenError,
    APINotFoundError,
)
from kubelite.client.workqueue import WorkQueue
from kubelite.controllers import deployment_util as du
from kubelite.controllers.deployment import DEPLOYMENTS, DeploymentController
from kubelite.controllers.podcontrol import PODS
from kubelite.controllers.replicaset import REPLICA_SETS

Obj = dict[str, Any]
KEY = "default/web"
D_UID = "d-uid"


def _status(code: int, reason: str) -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


class FakeAPI:
    """The calls the Deployment controller makes, over objects in memory.

    `writes` records each create, update, status update and delete as
    (verb, plural, name, body). Updates must carry the stored resourceVersion, as on the API
    server; a status update changes only the status and the annotations (what Kubernetes'
    status strategy lets through), any other update keeps the stored status.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.writes: list[tuple[str, str, str, Obj]] = []
        self.events: list[Obj] = []
        self._revision = itertools.count(100)
        self._uid = itertools.count(1)
        self._clock = itertools.count(0)

    def add(self, resource: Resource, obj: Obj) -> Obj:
        """Store `obj` as the API server has it (a copy, with a new resourceVersion)."""
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(next(self._revision))
        md = stored["metadata"]
        self.objects[(resource.plural, md.get("namespace", ""), md["name"])] = stored
        return copy.deepcopy(stored)

    def stored(self, resource: Resource, name: str) -> Obj:
        return self.objects[(resource.plural, "default", name)]

    def all(self, resource: Resource) -> list[Obj]:
        return [o for (plural, _, _), o in self.objects.items() if plural == resource.plural]

    def written(self, verb: str, resource: Resource) -> list[Obj]:
        return [
            body for v, plural, _, body in self.writes if (v, plural) == (verb, resource.plural)
        ]

    def _find(self, resource: Resource, name: str, namespace: str | None) -> Obj:
        obj = self.objects.get((resource.plural, namespace or "", name))
        if obj is None:
            raise APINotFoundError(_status(404, "NotFound"))
        return obj

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        return copy.deepcopy(self._find(resource, name, namespace))

    async def create(self, resource: Resource, body: Obj, *, namespace: str | None = None) -> Obj:
        if resource.plural == "events":
            self.events.append(body)
            return body
        md = body["metadata"]
        if (resource.plural, namespace or "", md["name"]) in self.objects:
            raise APIAlreadyExistsError(_status(409, "AlreadyExists"))
        self.writes.append(("create", resource.plural, md["name"], copy.deepcopy(body)))
        obj = copy.deepcopy(body)
        obj["metadata"].update(
            uid=f"uid-{next(self._uid)}",
            generation=1,
            creationTimestamp=f"2030-01-01T00:00:{next(self._clock):02d}Z",
        )
        return self.add(resource, obj)

    async def update(
        self,
        resource: Resource,
        body: Obj,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> Obj:
        md = body["metadata"]
        current = self._find(resource, md["name"], namespace)
        if md.get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise APIConflictError(_status(409, "Conflict"))
        verb = "update-status" if subresource == "status" else "update"
        assert subresource in (None, "status")
        self.writes.append((verb, resource.plural, md["name"], copy.deepcopy(body)))
        new = copy.deepcopy(current)
        if subresource == "status":
            new["status"] = copy.deepcopy(body.get("status") or {})
            new["metadata"]["annotations"] = copy.deepcopy(md.get("annotations") or {})
        else:
            new = {**copy.deepcopy(body), "status": copy.deepcopy(current.get("status") or {})}
            if body.get("spec") != current.get("spec"):
                new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        return self.add(resource, new)

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        preconditions: Obj | None = None,
    ) -> Obj:
        obj = self._find(resource, name, namespace)
        for field, value in (preconditions or {}).items():
            if obj["metadata"].get(field) != value:
                raise APIConflictError(_status(409, "Conflict"))
        self.writes.append(("delete", resource.plural, name, dict(preconditions or {})))
        del self.objects[(resource.plural, namespace or "", name)]
        return obj

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Obj,
        *,
        patch_type: PatchType,
        namespace: str | None = None,
    ) -> Obj:
        # Events being counted up; no test here adopts or releases a ReplicaSet.
        assert resource.plural == "events", f"unexpected patch of {resource.plural}/{name}"
        return {"metadata": {"name": name, "namespace": namespace}, **patch}


# --- objects -----------------------------------------------------------------------------------


def template(image: str) -> Obj:
    return {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }


def deployment(
    image: str = "nginx:2",
    *,
    replicas: int = 3,
    strategy: str = "RollingUpdate",
    max_surge: int | str = "25%",
    max_unavailable: int | str = "25%",
    paused: bool = False,
    history: int | None = 10,
    generation: int = 1,
    status: Obj | None = None,
) -> Obj:
    """A Deployment as the API server stores it, its defaults filled in."""
    strategy_spec: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        strategy_spec["rollingUpdate"] = {"maxSurge": max_surge, "maxUnavailable": max_unavailable}
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": template(image),
        "strategy": strategy_spec,
        "progressDeadlineSeconds": 600,
    }
    if history is not None:
        spec["revisionHistoryLimit"] = history
    if paused:
        spec["paused"] = True
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": D_UID,
            "generation": generation,
            "creationTimestamp": "2020-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": status or {},
    }


def controller_ref() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "uid": D_UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_rs(
    image: str,
    *,
    replicas: int,
    revision: int,
    available: int | None = None,
    status_replicas: int | None = None,
    created: str = "2020-01-01T00:00:00Z",
    desired: int = 3,
    max_replicas: int = 4,
    generation: int = 1,
    observed: int = 1,
) -> Obj:
    """A ReplicaSet the Deployment made earlier for `image`."""
    tmpl = template(image)
    pod_hash = du.pod_template_hash(tmpl)
    tmpl["metadata"]["labels"][du.POD_TEMPLATE_HASH_LABEL] = pod_hash
    status_replicas = replicas if status_replicas is None else status_replicas
    available = status_replicas if available is None else available
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{pod_hash}",
            "namespace": "default",
            "uid": f"rs-{revision}",
            "generation": generation,
            "creationTimestamp": created,
            "labels": dict(tmpl["metadata"]["labels"]),
            "annotations": {
                du.REVISION_ANNOTATION: str(revision),
                du.DESIRED_REPLICAS_ANNOTATION: str(desired),
                du.MAX_REPLICAS_ANNOTATION: str(max_replicas),
            },
            "ownerReferences": [controller_ref()],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web", du.POD_TEMPLATE_HASH_LABEL: pod_hash}},
            "template": tmpl,
        },
        "status": {
            "replicas": status_replicas,
            "readyReplicas": available,
            "availableReplicas": available,
            "observedGeneration": observed,
        },
    }


def complete_status(replicas: int = 3, *, observed: int = 1) -> Obj:
    """The status of a Deployment whose last rollout finished."""
    since = meta.format_time(meta.now() - dt.timedelta(days=1))
    return {
        "observedGeneration": observed,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "unavailableReplicas": 0,
        "conditions": [
            {
                "type": du.AVAILABLE,
                "status": "True",
                "reason": du.MIN_AVAILABLE,
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": since,
                "lastTransitionTime": since,
            },
            {
                "type": du.PROGRESSING,
                "status": "True",
                "reason": du.NEW_RS_AVAILABLE,
                "message": 'ReplicaSet "web-old" has successfully progressed.',
                "lastUpdateTime": since,
                "lastTransitionTime": since,
            },
        ],
    }


# --- harness -----------------------------------------------------------------------------------


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def dc(api: FakeAPI) -> DeploymentController:
    return DeploymentController(api)  # type: ignore[arg-type]


def seed(dc: DeploymentController, api: FakeAPI, resource: Resource, obj: Obj) -> Obj:
    """An object that exists and that the controller's informer has delivered."""
    stored = api.add(resource, obj)
    informer = {
        "deployments": dc.deployments,
        "replicasets": dc.replica_sets,
        "pods": dc.pods,
    }[resource.plural]
    informer._store(f"default/{obj['metadata']['name']}", stored)
    return stored


def refresh(dc: DeploymentController, api: FakeAPI) -> None:
    """Let the informers catch up with everything the API server has now."""
    for resource, informer in ((DEPLOYMENTS, dc.deployments), (REPLICA_SETS, dc.replica_sets)):
        live = {f"default/{o['metadata']['name']}": o for o in api.all(resource)}
        for key in [k for k in informer._cache if k not in live]:
            informer._remove(key)
        for key, obj in live.items():
            informer._store(key, copy.deepcopy(obj))


async def sync(dc: DeploymentController, key: str = KEY) -> float | None:
    """One sync, and the Events it sends in the background."""
    try:
        return await dc.sync(key)
    finally:
        await asyncio.gather(*dc.control.recorder._posting)


def condition(obj: Obj, type_: str) -> Obj:
    found = du.condition(obj.get("status") or {}, type_)
    assert found is not None, f"no {type_} condition in {obj.get('status')}"
    return found


# --- handlers ------------------------------------------------------------------------------------


def test_a_replica_set_change_queues_its_deployment(dc: DeploymentController) -> None:
    """addReplicaSet/updateReplicaSet: a change to a ReplicaSet queues the Deployment that
    controls it (matched on uid), and no other."""
    dc.deployments._store(KEY, deployment())
    ours = owned_rs("nginx:1", replicas=1, revision=1)
    dc._on_replica_set("MODIFIED", ours, None)
    assert set(dc.queue._queued) == {KEY}

    dc.queue = WorkQueue()
    stranger = owned_rs("nginx:1", replicas=1, revision=1)
    stranger["metadata"]["ownerReferences"] = [{**controller_ref(), "uid": "another-uid"}]
    stranger["metadata"]["labels"] = {"app": "other"}
    dc._on_replica_set("MODIFIED", stranger, None)
    assert len(dc.queue) == 0


# --- the first sync ------------------------------------------------------------------------------


async def test_first_sync_creates_the_new_replica_set(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """getNewReplicaSet: a Deployment without ReplicaSets gets one named
    <deployment>-<pod-template-hash>, the hash in its selector, labels and template, the
    Deployment as its controller, revision 1, and all 3 replicas at once (no other pods run,
    so replicas + maxSurge leaves room for all)."""
    d = seed(dc, api, DEPLOYMENTS, deployment("nginx:1"))
    await sync(dc)

    (created,) = api.written("create", REPLICA_SETS)
    pod_hash = du.pod_template_hash(d["spec"]["template"])
    md, spec = created["metadata"], created["spec"]
    assert md["name"] == f"web-{pod_hash}"
    assert md["namespace"] == "default"
    assert md["labels"] == {"app": "web", du.POD_TEMPLATE_HASH_LABEL: pod_hash}
    assert md["ownerReferences"] == [controller_ref()]
    assert md["annotations"] == {
        du.REVISION_ANNOTATION: "1",
        du.DESIRED_REPLICAS_ANNOTATION: "3",
        du.MAX_REPLICAS_ANNOTATION: "4",
    }
    assert spec["replicas"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "web", du.POD_TEMPLATE_HASH_LABEL: pod_hash}}
    assert spec["template"]["metadata"]["labels"] == md["labels"]
    assert spec["template"]["spec"] == d["spec"]["template"]["spec"]
    messages = [(e["type"], e["reason"], e["message"]) for e in api.events]
    assert messages == [
        ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} from 0 to 3")
    ]


async def test_first_sync_writes_status_through_the_status_subresource(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """getNewReplicaSet and syncRolloutStatus: the Deployment is only ever written through
    /status, with Progressing True NewReplicaSetCreated and the revision annotation."""
    seed(dc, api, DEPLOYMENTS, deployment("nginx:1"))
    await sync(dc)

    assert api.written("update", DEPLOYMENTS) == []
    assert api.written("update-status", DEPLOYMENTS)
    stored = api.stored(DEPLOYMENTS, "web")
    rs_name = api.all(REPLICA_SETS)[0]["metadata"]["name"]
    progressing = condition(stored, du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("True", du.NEW_RS_CREATED)
    assert progressing["message"] == f'Created new replica set "{rs_name}"'
    assert stored["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    available = condition(stored, du.AVAILABLE)
    assert (available["status"], available["reason"]) == ("False", du.MIN_UNAVAILABLE)
    assert stored["status"]["observedGeneration"] == 1


async def test_a_second_sync_with_nothing_new_writes_nothing(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """The controller is level-triggered: syncing again against the state it wrote changes
    nothing (syncDeploymentStatus skips an equal status)."""
    seed(dc, api, DEPLOYMENTS, deployment("nginx:1"))
    await sync(dc)
    refresh(dc, api)
    api.writes.clear()
    await sync(dc)
    assert api.writes == []


# --- rolling update ---------------------------------------------------------------------------


def rolling_from_old(
    dc: DeploymentController, api: FakeAPI, *, max_surge: int | str, max_unavailable: int | str
) -> Obj:
    """A Deployment whose template just changed, its old ReplicaSet of 3 all available."""
    old = owned_rs("nginx:1", replicas=3, revision=1)
    seed(dc, api, REPLICA_SETS, old)
    d = deployment(
        "nginx:2",
        max_surge=max_surge,
        max_unavailable=max_unavailable,
        generation=2,
        status=complete_status(),
    )
    seed(dc, api, DEPLOYMENTS, d)
    return old


async def test_a_template_change_surges_a_new_replica_set_and_keeps_the_old_one(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """rolloutRolling: the new ReplicaSet starts at maxSurge (25% of 3 rounds up to 1), and
    the old one stays at 3 since maxUnavailable (25% of 3 rounds down to 0) allows no pod
    fewer than 3 available, and the new pod is not available yet."""
    old = rolling_from_old(dc, api, max_surge="25%", max_unavailable="25%")
    await sync(dc)

    (created,) = api.written("create", REPLICA_SETS)
    assert created["spec"]["replicas"] == 1
    assert created["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"
    assert api.written("update", REPLICA_SETS) == []
    assert api.stored(REPLICA_SETS, old["metadata"]["name"])["spec"]["replicas"] == 3
    stored = api.stored(DEPLOYMENTS, "web")
    assert stored["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"


async def test_the_old_replica_set_shrinks_as_new_pods_become_available(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """reconcileOldReplicaSets: once the surge pod is available, 4 are available and 3 must
    be: the old ReplicaSet goes down by exactly one, and the new one cannot grow past 3 + 1."""
    old = rolling_from_old(dc, api, max_surge="25%", max_unavailable="25%")
    await sync(dc)
    new_name = api.written("create", REPLICA_SETS)[0]["metadata"]["name"]
    new = api.stored(REPLICA_SETS, new_name)
    new["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    refresh(dc, api)
    api.writes.clear()

    await sync(dc)
    (update,) = api.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)
    assert api.stored(REPLICA_SETS, new_name)["spec"]["replicas"] == 1
    old_name = old["metadata"]["name"]
    assert [e["message"] for e in api.events][
        -1
    ] == f"Scaled down replica set {old_name} from 3 to 2"


async def test_max_unavailable_lets_old_pods_go_before_new_ones_exist(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """rolloutRolling with maxSurge 0, maxUnavailable 1: no room for a new pod, so the new
    ReplicaSet starts empty and the old one gives up one pod (3 - 1 may be available)."""
    old = rolling_from_old(dc, api, max_surge=0, max_unavailable=1)
    await sync(dc)

    (created,) = api.written("create", REPLICA_SETS)
    assert created["spec"]["replicas"] == 0
    (update,) = api.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)


async def test_unhealthy_old_pods_go_first(dc: DeploymentController, api: FakeAPI) -> None:
    """cleanupUnhealthyReplicas: an old ReplicaSet's unavailable pod costs no availability,
    so it is scaled away although maxUnavailable 0 lets no available pod go (2 old + 1 new
    available is exactly the 3 required)."""
    old = owned_rs("nginx:1", replicas=3, revision=1, available=2)
    new = owned_rs("nginx:2", replicas=1, revision=2, created="2020-02-01T00:00:00Z")
    seed(dc, api, REPLICA_SETS, old)
    seed(dc, api, REPLICA_SETS, new)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:2", max_surge=1, max_unavailable=0))
    await sync(dc)

    (update,) = api.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)


# --- Recreate ----------------------------------------------------------------------------------


async def test_recreate_scales_old_replica_sets_to_zero_before_creating_the_new_one(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """rolloutRecreate: old ReplicaSets go to 0 first; no new ReplicaSet while old pods run;
    then the new one is created at full size."""
    old = owned_rs("nginx:1", replicas=3, revision=1)
    seed(dc, api, REPLICA_SETS, old)
    seed(
        dc,
        api,
        DEPLOYMENTS,
        deployment("nginx:2", strategy="Recreate", generation=2, status=complete_status()),
    )
    await sync(dc)
    (update,) = api.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 0)
    assert api.written("create", REPLICA_SETS) == []

    # The ReplicaSet's status says its pods are gone, but one still runs: keep waiting.
    api.stored(REPLICA_SETS, old["metadata"]["name"])["status"] = {"replicas": 0}
    refresh(dc, api)
    pod = {
        "metadata": {
            "name": "web-old-pod",
            "namespace": "default",
            "uid": "pod-1",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": old["metadata"]["name"],
                    "uid": old["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "status": {"phase": "Running"},
    }
    seed(dc, api, PODS, pod)
    api.writes.clear()
    await sync(dc)
    assert api.written("create", REPLICA_SETS) == []

    # The pod has finished (a Succeeded or Failed pod runs nothing): now the new ReplicaSet,
    # at all 3 replicas.
    seed(dc, api, PODS, {**pod, "status": {"phase": "Succeeded"}})
    refresh(dc, api)
    await sync(dc)
    (created,) = api.written("create", REPLICA_SETS)
    assert created["spec"]["replicas"] == 3
    assert created["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"


# --- revisionHistoryLimit ----------------------------------------------------------------------


async def test_revision_history_limit_deletes_the_oldest_empty_replica_sets(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """cleanupDeployment: once the rollout is complete, old ReplicaSets beyond
    revisionHistoryLimit go, lowest revision first, but only those with no replicas whose
    latest spec their controller has seen."""
    # Revision 1 is empty, but its scale-down is not observed yet: it is kept.
    unobserved = owned_rs("nginx:1", replicas=0, revision=1, generation=2, observed=1)
    rev2 = owned_rs("nginx:2", replicas=0, revision=2, created="2020-01-02T00:00:00Z")
    rev3 = owned_rs("nginx:3", replicas=0, revision=3, created="2020-01-03T00:00:00Z")
    current = owned_rs("nginx:4", replicas=3, revision=4, created="2020-01-04T00:00:00Z")
    for rs in (unobserved, rev2, rev3, current):
        seed(dc, api, REPLICA_SETS, rs)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:4", history=1, status=complete_status()))
    await sync(dc)

    deletes = [(name, body) for verb, _, name, body in api.writes if verb == "delete"]
    assert deletes == [(rev2["metadata"]["name"], {"uid": rev2["metadata"]["uid"]})]
    remaining = {o["metadata"]["name"] for o in api.all(REPLICA_SETS)}
    assert remaining == {
        unobserved["metadata"]["name"],
        rev3["metadata"]["name"],
        current["metadata"]["name"],
    }


async def test_no_revision_history_limit_keeps_every_replica_set(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """HasRevisionHistoryLimit: without one, no old ReplicaSet is deleted."""
    seed(dc, api, REPLICA_SETS, owned_rs("nginx:1", replicas=0, revision=1))
    seed(dc, api, REPLICA_SETS, owned_rs("nginx:2", replicas=3, revision=2))
    seed(dc, api, DEPLOYMENTS, deployment("nginx:2", history=None, status=complete_status()))
    await sync(dc)
    assert [w for w in api.writes if w[0] == "delete"] == []


async def test_a_deployment_being_deleted_only_updates_its_status(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """syncDeployment: a Deployment with a deletionTimestamp gets syncStatusOnly, no new
    ReplicaSet."""
    d = deployment("nginx:1")
    d["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    d["metadata"]["finalizers"] = ["foregroundDeletion"]
    seed(dc, api, DEPLOYMENTS, d)
    await sync(dc)
    assert api.written("create", REPLICA_SETS) == []
    assert api.stored(DEPLOYMENTS, "web")["status"]["observedGeneration"] == 1


# --- paused --------------------------------------------------------------------------------------


async def test_a_paused_deployment_records_it_and_does_not_roll_out(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """checkPausedConditions and sync: a paused Deployment gets Progressing Unknown
    DeploymentPaused, and its template change makes no new ReplicaSet nor moves old pods."""
    old = owned_rs("nginx:1", replicas=3, revision=1)
    seed(dc, api, REPLICA_SETS, old)
    seed(
        dc,
        api,
        DEPLOYMENTS,
        deployment("nginx:2", paused=True, generation=2, status=complete_status()),
    )
    assert await sync(dc) is None

    assert api.written("create", REPLICA_SETS) == []
    assert api.written("update", REPLICA_SETS) == []
    stored = api.stored(DEPLOYMENTS, "web")
    progressing = condition(stored, du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("Unknown", du.PAUSED)
    assert progressing["message"] == "Deployment is paused"
    assert stored["status"]["observedGeneration"] == 2
    assert stored["status"]["updatedReplicas"] == 0


async def test_a_paused_deployment_still_scales(dc: DeploymentController, api: FakeAPI) -> None:
    """sync: scaling a paused Deployment resizes its one active ReplicaSet."""
    old = owned_rs("nginx:1", replicas=3, revision=1)
    seed(dc, api, REPLICA_SETS, old)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:1", replicas=5, paused=True))
    await sync(dc)
    (update,) = api.written("update", REPLICA_SETS)
    assert update["spec"]["replicas"] == 5
    assert update["metadata"]["annotations"][du.DESIRED_REPLICAS_ANNOTATION] == "5"
    assert update["metadata"]["annotations"][du.MAX_REPLICAS_ANNOTATION] == "7"


# --- scaling mid-rollout -----------------------------------------------------------------------


async def test_scaling_mid_rollout_is_proportional(dc: DeploymentController, api: FakeAPI) -> None:
    """isScalingEvent and scale: 3 -> 6 (maxSurge 2) with an old and a new ReplicaSet of 2
    each, sized for 3 + 1, shares the 8 allowed pods 4 and 4, and records the new desired
    and max replicas on both."""
    old = owned_rs("nginx:1", replicas=2, revision=1)
    new = owned_rs("nginx:2", replicas=2, revision=2, available=0, created="2020-02-01T00:00:00Z")
    seed(dc, api, REPLICA_SETS, old)
    seed(dc, api, REPLICA_SETS, new)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:2", replicas=6, max_surge=2, max_unavailable=0))
    await sync(dc)

    updates = api.written("update", REPLICA_SETS)
    sizes = {u["metadata"]["name"]: u["spec"]["replicas"] for u in updates}
    assert sizes == {old["metadata"]["name"]: 4, new["metadata"]["name"]: 4}
    for update in updates:
        annotations = update["metadata"]["annotations"]
        assert annotations[du.DESIRED_REPLICAS_ANNOTATION] == "6"
        assert annotations[du.MAX_REPLICAS_ANNOTATION] == "8"
    assert api.written("create", REPLICA_SETS) == []


async def test_scaling_leftovers_go_to_the_newer_of_equals(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """scale (ReplicaSetsBySizeNewer): 4 -> 5 over two ReplicaSets of 2 has one pod to give,
    and the newer ReplicaSet gets it; the older only has its annotations brought up to date."""
    old = owned_rs("nginx:1", replicas=2, revision=1, desired=4, max_replicas=4)
    new = owned_rs(
        "nginx:2",
        replicas=2,
        revision=2,
        available=0,
        desired=4,
        max_replicas=4,
        created="2020-02-01T00:00:00Z",
    )
    seed(dc, api, REPLICA_SETS, old)
    seed(dc, api, REPLICA_SETS, new)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:2", replicas=5, max_surge=0, max_unavailable=1))
    await sync(dc)

    sizes = {
        u["metadata"]["name"]: u["spec"]["replicas"] for u in api.written("update", REPLICA_SETS)
    }
    assert sizes == {old["metadata"]["name"]: 2, new["metadata"]["name"]: 3}


# --- progress ------------------------------------------------------------------------------------


def stalled(
    dc: DeploymentController, api: FakeAPI, reason: str, status: str, since: dt.datetime
) -> Obj:
    """A Deployment whose new ReplicaSet has all 3 replicas, none available yet."""
    new = owned_rs("nginx:2", replicas=3, revision=2, available=0)
    seed(dc, api, REPLICA_SETS, new)
    stamp = meta.format_time(since)
    d_status = {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 0,
        "availableReplicas": 0,
        "unavailableReplicas": 3,
        "conditions": [
            {
                "type": du.PROGRESSING,
                "status": status,
                "reason": reason,
                "message": "",
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
            }
        ],
    }
    seed(dc, api, DEPLOYMENTS, deployment("nginx:2", status=d_status))
    return new


async def test_a_stalled_rollout_is_checked_again_at_its_deadline(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """requeueStuckDeployment: no progress since 100 s, a deadline of 600 s: look again in
    about 500 s."""
    stalled(dc, api, du.RS_UPDATED, "True", meta.now() - dt.timedelta(seconds=100))
    delay = await sync(dc)
    assert delay is not None
    assert 495 <= delay <= 501


async def test_a_rollout_past_its_deadline_times_out(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """syncRolloutStatus: no progress for progressDeadlineSeconds makes Progressing False
    ProgressDeadlineExceeded, and a timed-out rollout is not checked again."""
    new = stalled(dc, api, du.RS_UPDATED, "True", meta.now() - dt.timedelta(hours=1))
    assert await sync(dc) is None
    progressing = condition(api.stored(DEPLOYMENTS, "web"), du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("False", du.TIMED_OUT)
    assert progressing["message"] == (
        f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'
    )


async def test_a_resumed_rollout_is_checked_again_at_its_deadline(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """requeueStuckDeployment: any Progressing condition but a timed-out one bounds a rollout
    that is not complete; DeploymentResumed restarts the clock, it does not stop it."""
    stalled(dc, api, du.RESUMED, "Unknown", meta.now() - dt.timedelta(seconds=100))
    delay = await sync(dc)
    assert delay is not None
    assert 495 <= delay <= 501


async def test_progress_without_a_new_replica_set_names_the_deployment(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """syncRolloutStatus: Recreate's old pods going away is progress, reported as
    'Deployment "web" is progressing.' while there is no new ReplicaSet."""
    old = owned_rs("nginx:1", replicas=0, revision=1, status_replicas=1)
    seed(dc, api, REPLICA_SETS, old)
    status = {**complete_status(), "updatedReplicas": 0}
    status["conditions"][1].update(reason=du.RS_UPDATED)
    seed(
        dc,
        api,
        DEPLOYMENTS,
        deployment("nginx:2", strategy="Recreate", generation=2, status=status),
    )
    await sync(dc)
    progressing = condition(api.stored(DEPLOYMENTS, "web"), du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("True", du.RS_UPDATED)
    assert progressing["message"] == 'Deployment "web" is progressing.'


# --- failing to create ---------------------------------------------------------------------------


def refuse_replica_sets(api: FakeAPI) -> None:
    """The API server refuses every new ReplicaSet (a quota, say)."""
    create = api.create

    async def refusing(resource: Resource, body: Obj, *, namespace: str | None = None) -> Obj:
        if resource.plural == "replicasets":
            raise APIForbiddenError(
                {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "exceeded quota"}
            )
        return await create(resource, body, namespace=namespace)

    api.create = refusing  # type: ignore[method-assign]


async def test_a_refused_replica_set_is_reported_in_progressing(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """getNewReplicaSet: a create that fails sets Progressing False ReplicaSetCreateError with
    the error, and the sync fails so that it is retried."""
    refuse_replica_sets(api)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:1"))
    with pytest.raises(APIForbiddenError):
        await sync(dc)
    progressing = condition(api.stored(DEPLOYMENTS, "web"), du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("False", du.RS_CREATE_ERROR)
    assert progressing["message"].startswith('Failed to create new replica set "web-')
    assert "exceeded quota" in progressing["message"]


async def test_a_refused_replica_set_is_reported_as_a_warning_event(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """getNewReplicaSet: the failure is also a Warning event ReplicaSetCreateError on the
    Deployment (what `kubectl describe deployment` shows)."""
    refuse_replica_sets(api)
    seed(dc, api, DEPLOYMENTS, deployment("nginx:1"))
    with pytest.raises(APIForbiddenError):
        await sync(dc)
    reasons = [(e["type"], e["reason"]) for e in api.events]
    assert ("Warning", du.RS_CREATE_ERROR) in reasons


# --- hash collisions -----------------------------------------------------------------------------


async def test_a_hash_collision_bumps_collision_count_and_retries(
    dc: DeploymentController, api: FakeAPI
) -> None:
    """getNewReplicaSet: a ReplicaSet of the new name that is not this Deployment's with its
    template is a hash collision: status.collisionCount goes up and the sync fails with a
    conflict, so that the key is retried with the next name."""
    d = deployment("nginx:1")
    pod_hash = du.pod_template_hash(d["spec"]["template"])
    stranger = owned_rs("other:1", replicas=1, revision=1)
    stranger["metadata"]["name"] = f"web-{pod_hash}"
    stranger["metadata"]["ownerReferences"] = []
    api.add(REPLICA_SETS, stranger)  # not in the cache: the name is taken behind its back
    seed(dc, api, DEPLOYMENTS, d)
    with pytest.raises(APIConflictError):
        await sync(dc)
    assert api.stored(DEPLOYMENTS, "web")["status"]["collisionCount"] == 1
