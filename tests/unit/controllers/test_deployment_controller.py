"""The Deployment controller's syncs, and the requests they make, against the real API server.

`sync` runs against the unit tests' API server (`testcluster`): the objects a test starts from
are created there, the controller's informer caches are filled with what the server answered,
as their watches would fill them, and what a sync changed is read back from the server; the
`Recorder` around the real client notes what each sync asked for (the creates, updates, status
updates and deletes), since the requests are what these tests are about. Each test shows what
one or two syncs asked of the API server, against what Kubernetes' Deployment controller
(`pkg/controller/deployment`: sync.go, rolling.go, recreate.go, progress.go) does.

One thing only the server may set is set in the caches by the tests: `creationTimestamp`, which
orders ReplicaSets, so that a test can say which of two objects it made in the same second is
the older (`Harness.created`). Updates carry it back to the server, which keeps its own.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from testcluster import Recorder, TestCluster

from kubelite.api import meta
from kubelite.client.api import Resource
from kubelite.client.errors import APIConflictError, APIForbiddenError
from kubelite.client.informer import Informer
from kubelite.client.workqueue import WorkQueue
from kubelite.controllers import deployment_util as du
from kubelite.controllers.deployment import DEPLOYMENTS, DeploymentController
from kubelite.controllers.podcontrol import PODS
from kubelite.controllers.replicaset import REPLICA_SETS

Obj = dict[str, Any]
# The Deployment's uid in the objects a test writes down; the harness puts the real one there.
D_UID = "d-uid"

# What the server's defaulting makes of each image's template (asked once, by a dry run).
_defaulted_templates: dict[str, Obj] = {}
_probe_names = itertools.count(1)


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
    """A Deployment to create; the harness brings it to `generation` and writes `status`."""
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
            "uid": D_UID,
            "generation": generation,
            "creationTimestamp": "2020-01-01T00:00:00Z",
        },
        "spec": spec,
        "status": status or {},
    }


def controller_ref(uid: str = D_UID) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_rs(
    tmpl: Obj,
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
    """A ReplicaSet the Deployment made earlier for the (defaulted) template `tmpl`."""
    tmpl = copy.deepcopy(tmpl)
    pod_hash = du.pod_template_hash(tmpl)
    tmpl["metadata"]["labels"][du.POD_TEMPLATE_HASH_LABEL] = pod_hash
    status_replicas = replicas if status_replicas is None else status_replicas
    available = status_replicas if available is None else available
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"web-{pod_hash}",
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


@dataclass
class Harness:
    """The test's cluster, the recording client the controller uses, and the controller."""

    kube: TestCluster
    api: Recorder
    dc: DeploymentController
    d_uid: str = ""
    # name -> the creationTimestamp the test gave the object (see the module's docstring).
    created: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kube.namespace}/web"

    async def template(self, image: str) -> Obj:
        """`template(image)` with the defaults the server fills in (what a Deployment's
        stored template, and so its pod-template-hash, is made of)."""
        if image not in _defaulted_templates:
            probe = deployment(image)
            del probe["metadata"]["uid"]
            probe["metadata"]["name"] = f"defaults-{next(_probe_names)}"
            made = await self.kube.client.create(
                DEPLOYMENTS, probe, namespace=self.kube.namespace, dry_run=True
            )
            _defaulted_templates[image] = made["spec"]["template"]
        return copy.deepcopy(_defaulted_templates[image])

    async def owned_rs(self, image: str, **kwargs: Any) -> Obj:
        return owned_rs(await self.template(image), **kwargs)

    def informer(self, resource: Resource) -> Informer:
        return {
            "deployments": self.dc.deployments,
            "replicasets": self.dc.replica_sets,
            "pods": self.dc.pods,
        }[resource.plural]

    def _as_cached(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        stamp = self.created.get(f"{obj.get('kind', '')}/{meta.name_of(obj)}")
        if stamp:
            obj["metadata"]["creationTimestamp"] = stamp
        return obj

    async def add(self, resource: Resource, obj: Obj) -> Obj:
        """`obj` created in the server as written down: at its generation, with its status,
        owned by the Deployment (which must have been added first) where it says so."""
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        status = obj.pop("status", None)
        generation = md.pop("generation", 1)
        md.pop("uid", None)
        if "creationTimestamp" in md:
            self.created[f"{resource.kind}/{md['name']}"] = md.pop("creationTimestamp")
        for ref in md.get("ownerReferences") or []:
            if ref["uid"] == D_UID:
                assert self.d_uid, "add the Deployment before what it owns"
                ref["uid"] = self.d_uid
        # Made with more replicas, then scaled down one per generation to reach.
        replicas = obj["spec"].get("replicas")
        if replicas is not None:
            obj["spec"]["replicas"] = replicas + generation - 1
        stored = await self.kube.create(resource, obj)
        while replicas is not None and stored["spec"]["replicas"] > replicas:
            stored["spec"]["replicas"] -= 1
            stored = await self.api.client.update(resource, stored)
        assert stored["metadata"].get("generation", 1) == generation
        if status:
            stored["status"] = status
            stored = await self.api.client.update(resource, stored, subresource="status")
        if resource is DEPLOYMENTS:
            self.d_uid = stored["metadata"]["uid"]
        return self._as_cached(stored)

    async def seed(self, resource: Resource, obj: Obj) -> Obj:
        """An object that exists and that the controller's informer has delivered."""
        stored = await self.add(resource, obj)
        self.informer(resource)._store(f"{self.kube.namespace}/{meta.name_of(stored)}", stored)
        return stored

    async def set_status(self, resource: Resource, name: str, status: Obj) -> Obj:
        """What the object's own controller (or the kubelet) writes to its status."""
        stored = await self.kube.get(resource, name)
        stored["status"] = status
        return await self.api.client.update(resource, stored, subresource="status")

    async def refresh(self) -> None:
        """Let the informers catch up with everything the API server has now."""
        for resource in (DEPLOYMENTS, REPLICA_SETS):
            informer = self.informer(resource)
            live = {
                f"{self.kube.namespace}/{meta.name_of(o)}": o
                for o in await self.kube.list(resource)
            }
            for key in [k for k in informer._cache if k not in live]:
                informer._remove(key)
            for key, obj in live.items():
                informer._store(key, self._as_cached({**obj, "kind": resource.kind}))

    async def stored(self, resource: Resource, name: str) -> Obj:
        return await self.kube.get(resource, name)

    async def all(self, resource: Resource) -> list[Obj]:
        return await self.kube.list(resource)

    def written(self, verb: str, resource: Resource) -> list[Obj]:
        """What the syncs sent: `update-status` is an update of the status subresource."""
        if verb == "update-status":
            return self.api.written("update", resource.plural, "status")
        return self.api.written(verb, resource.plural)

    async def events(self) -> list[Obj]:
        return await self.kube.events()


@pytest.fixture
def h(kube: TestCluster) -> Harness:
    api = Recorder(kube.client)
    return Harness(kube, api, DeploymentController(api))  # type: ignore[arg-type]


async def sync(h: Harness) -> float | None:
    """One sync, and the Events it sends in the background."""
    try:
        return await h.dc.sync(h.key)
    finally:
        await asyncio.gather(*h.dc.control.recorder._posting)


def condition(obj: Obj, type_: str) -> Obj:
    found = du.condition(obj.get("status") or {}, type_)
    assert found is not None, f"no {type_} condition in {obj.get('status')}"
    return found


# --- handlers ------------------------------------------------------------------------------------


def test_a_replica_set_change_queues_its_deployment(h: Harness) -> None:
    """addReplicaSet/updateReplicaSet: a change to a ReplicaSet queues the Deployment that
    controls it (matched on uid), and no other. (The handlers make no request.)"""
    dc, namespace = h.dc, h.kube.namespace
    d = deployment()
    d["metadata"]["namespace"] = namespace
    dc.deployments._store(h.key, d)
    ours = owned_rs(template("nginx:1"), replicas=1, revision=1)
    ours["metadata"]["namespace"] = namespace
    dc._on_replica_set("MODIFIED", ours, None)
    assert set(dc.queue._queued) == {h.key}

    dc.queue = WorkQueue()
    stranger = owned_rs(template("nginx:1"), replicas=1, revision=1)
    stranger["metadata"]["namespace"] = namespace
    stranger["metadata"]["ownerReferences"] = [{**controller_ref(), "uid": "another-uid"}]
    stranger["metadata"]["labels"] = {"app": "other"}
    dc._on_replica_set("MODIFIED", stranger, None)
    assert len(dc.queue) == 0


# --- the first sync ------------------------------------------------------------------------------


async def test_first_sync_creates_the_new_replica_set(h: Harness) -> None:
    """getNewReplicaSet: a Deployment without ReplicaSets gets one named
    <deployment>-<pod-template-hash>, the hash in its selector, labels and template, the
    Deployment as its controller, revision 1, and all 3 replicas at once (no other pods run,
    so replicas + maxSurge leaves room for all)."""
    d = await h.seed(DEPLOYMENTS, deployment("nginx:1"))
    await sync(h)

    (created,) = h.written("create", REPLICA_SETS)
    pod_hash = du.pod_template_hash(d["spec"]["template"])
    md, spec = created["metadata"], created["spec"]
    assert md["name"] == f"web-{pod_hash}"
    assert md["namespace"] == h.kube.namespace
    assert md["labels"] == {"app": "web", du.POD_TEMPLATE_HASH_LABEL: pod_hash}
    assert md["ownerReferences"] == [controller_ref(h.d_uid)]
    assert md["annotations"] == {
        du.REVISION_ANNOTATION: "1",
        du.DESIRED_REPLICAS_ANNOTATION: "3",
        du.MAX_REPLICAS_ANNOTATION: "4",
    }
    assert spec["replicas"] == 3
    assert spec["selector"] == {"matchLabels": {"app": "web", du.POD_TEMPLATE_HASH_LABEL: pod_hash}}
    assert spec["template"]["metadata"]["labels"] == md["labels"]
    assert spec["template"]["spec"] == d["spec"]["template"]["spec"]
    (stored,) = await h.all(REPLICA_SETS)
    assert stored["metadata"]["name"] == md["name"]
    assert stored["metadata"]["ownerReferences"] == md["ownerReferences"]
    messages = [(e["type"], e["reason"], e["message"]) for e in await h.events()]
    assert messages == [
        ("Normal", "ScalingReplicaSet", f"Scaled up replica set web-{pod_hash} from 0 to 3")
    ]


async def test_first_sync_writes_status_through_the_status_subresource(h: Harness) -> None:
    """getNewReplicaSet and syncRolloutStatus: the Deployment is only ever written through
    /status, with Progressing True NewReplicaSetCreated and the revision annotation."""
    await h.seed(DEPLOYMENTS, deployment("nginx:1"))
    await sync(h)

    assert h.written("update", DEPLOYMENTS) == []
    assert h.written("update-status", DEPLOYMENTS)
    stored = await h.stored(DEPLOYMENTS, "web")
    rs_name = (await h.all(REPLICA_SETS))[0]["metadata"]["name"]
    progressing = condition(stored, du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("True", du.NEW_RS_CREATED)
    assert progressing["message"] == f'Created new replica set "{rs_name}"'
    assert stored["metadata"]["annotations"][du.REVISION_ANNOTATION] == "1"
    available = condition(stored, du.AVAILABLE)
    assert (available["status"], available["reason"]) == ("False", du.MIN_UNAVAILABLE)
    assert stored["status"]["observedGeneration"] == 1


async def test_a_second_sync_with_nothing_new_writes_nothing(h: Harness) -> None:
    """The controller is level-triggered: syncing again against the state it wrote changes
    nothing (syncDeploymentStatus skips an equal status)."""
    await h.seed(DEPLOYMENTS, deployment("nginx:1"))
    await sync(h)
    await h.refresh()
    h.api.writes.clear()
    before = await h.kube.revision()
    await sync(h)
    assert h.api.writes == []
    assert await h.kube.revision() == before


# --- rolling update ---------------------------------------------------------------------------


async def rolling_from_old(h: Harness, *, max_surge: int | str, max_unavailable: int | str) -> Obj:
    """A Deployment whose template just changed, its old ReplicaSet of 3 all available."""
    d = deployment(
        "nginx:2",
        max_surge=max_surge,
        max_unavailable=max_unavailable,
        generation=2,
        status=complete_status(),
    )
    await h.seed(DEPLOYMENTS, d)
    return await h.seed(REPLICA_SETS, await h.owned_rs("nginx:1", replicas=3, revision=1))


async def test_a_template_change_surges_a_new_replica_set_and_keeps_the_old_one(
    h: Harness,
) -> None:
    """rolloutRolling: the new ReplicaSet starts at maxSurge (25% of 3 rounds up to 1), and
    the old one stays at 3 since maxUnavailable (25% of 3 rounds down to 0) allows no pod
    fewer than 3 available, and the new pod is not available yet."""
    old = await rolling_from_old(h, max_surge="25%", max_unavailable="25%")
    await sync(h)

    (created,) = h.written("create", REPLICA_SETS)
    assert created["spec"]["replicas"] == 1
    assert created["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"
    assert h.written("update", REPLICA_SETS) == []
    assert (await h.stored(REPLICA_SETS, old["metadata"]["name"]))["spec"]["replicas"] == 3
    assert (await h.stored(REPLICA_SETS, created["metadata"]["name"]))["spec"]["replicas"] == 1
    stored = await h.stored(DEPLOYMENTS, "web")
    assert stored["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"


async def test_the_old_replica_set_shrinks_as_new_pods_become_available(h: Harness) -> None:
    """reconcileOldReplicaSets: once the surge pod is available, 4 are available and 3 must
    be: the old ReplicaSet goes down by exactly one, and the new one cannot grow past 3 + 1."""
    old = await rolling_from_old(h, max_surge="25%", max_unavailable="25%")
    await sync(h)
    new_name = h.written("create", REPLICA_SETS)[0]["metadata"]["name"]
    await h.set_status(
        REPLICA_SETS, new_name, {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    )
    await h.refresh()
    h.api.writes.clear()

    await sync(h)
    (update,) = h.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)
    assert (await h.stored(REPLICA_SETS, old["metadata"]["name"]))["spec"]["replicas"] == 2
    assert (await h.stored(REPLICA_SETS, new_name))["spec"]["replicas"] == 1
    old_name = old["metadata"]["name"]
    assert [e["message"] for e in await h.events()][
        -1
    ] == f"Scaled down replica set {old_name} from 3 to 2"


async def test_max_unavailable_lets_old_pods_go_before_new_ones_exist(h: Harness) -> None:
    """rolloutRolling with maxSurge 0, maxUnavailable 1: no room for a new pod, so the new
    ReplicaSet starts empty and the old one gives up one pod (3 - 1 may be available)."""
    old = await rolling_from_old(h, max_surge=0, max_unavailable=1)
    await sync(h)

    (created,) = h.written("create", REPLICA_SETS)
    assert created["spec"]["replicas"] == 0
    (update,) = h.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)
    assert (await h.stored(REPLICA_SETS, old["metadata"]["name"]))["spec"]["replicas"] == 2


async def test_unhealthy_old_pods_go_first(h: Harness) -> None:
    """cleanupUnhealthyReplicas: an old ReplicaSet's unavailable pod costs no availability,
    so it is scaled away although maxUnavailable 0 lets no available pod go (2 old + 1 new
    available is exactly the 3 required)."""
    await h.seed(DEPLOYMENTS, deployment("nginx:2", max_surge=1, max_unavailable=0))
    old = await h.owned_rs("nginx:1", replicas=3, revision=1, available=2)
    new = await h.owned_rs("nginx:2", replicas=1, revision=2, created="2020-02-01T00:00:00Z")
    await h.seed(REPLICA_SETS, old)
    await h.seed(REPLICA_SETS, new)
    await sync(h)

    (update,) = h.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 2)
    assert (await h.stored(REPLICA_SETS, old["metadata"]["name"]))["spec"]["replicas"] == 2


# --- Recreate ----------------------------------------------------------------------------------


async def test_recreate_scales_old_replica_sets_to_zero_before_creating_the_new_one(
    h: Harness,
) -> None:
    """rolloutRecreate: old ReplicaSets go to 0 first; no new ReplicaSet while old pods run;
    then the new one is created at full size."""
    await h.seed(
        DEPLOYMENTS,
        deployment("nginx:2", strategy="Recreate", generation=2, status=complete_status()),
    )
    old = await h.seed(REPLICA_SETS, await h.owned_rs("nginx:1", replicas=3, revision=1))
    await sync(h)
    (update,) = h.written("update", REPLICA_SETS)
    assert (update["metadata"]["name"], update["spec"]["replicas"]) == (old["metadata"]["name"], 0)
    assert h.written("create", REPLICA_SETS) == []
    assert len(await h.all(REPLICA_SETS)) == 1

    # The ReplicaSet's status says its pods are gone, but one still runs: keep waiting.
    await h.set_status(REPLICA_SETS, old["metadata"]["name"], {"replicas": 0})
    await h.refresh()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-old-pod",
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
        "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
        "status": {"phase": "Running"},
    }
    running = await h.seed(PODS, pod)
    h.api.writes.clear()
    await sync(h)
    assert h.written("create", REPLICA_SETS) == []

    # The pod has finished (a Succeeded or Failed pod runs nothing): now the new ReplicaSet,
    # at all 3 replicas.
    finished = await h.set_status(PODS, "web-old-pod", {**running["status"], "phase": "Succeeded"})
    h.dc.pods._store(f"{h.kube.namespace}/web-old-pod", finished)
    await h.refresh()
    await sync(h)
    (created,) = h.written("create", REPLICA_SETS)
    assert created["spec"]["replicas"] == 3
    assert created["metadata"]["annotations"][du.REVISION_ANNOTATION] == "2"
    assert len(await h.all(REPLICA_SETS)) == 2


# --- revisionHistoryLimit ----------------------------------------------------------------------


async def test_revision_history_limit_deletes_the_oldest_empty_replica_sets(h: Harness) -> None:
    """cleanupDeployment: once the rollout is complete, old ReplicaSets beyond
    revisionHistoryLimit go, lowest revision first, but only those with no replicas whose
    latest spec their controller has seen."""
    await h.seed(DEPLOYMENTS, deployment("nginx:4", history=1, status=complete_status()))
    # Revision 1 is empty, but its scale-down is not observed yet: it is kept.
    unobserved = await h.owned_rs("nginx:1", replicas=0, revision=1, generation=2, observed=1)
    rev2 = await h.owned_rs("nginx:2", replicas=0, revision=2, created="2020-01-02T00:00:00Z")
    rev3 = await h.owned_rs("nginx:3", replicas=0, revision=3, created="2020-01-03T00:00:00Z")
    current = await h.owned_rs("nginx:4", replicas=3, revision=4, created="2020-01-04T00:00:00Z")
    seeded = [await h.seed(REPLICA_SETS, rs) for rs in (unobserved, rev2, rev3, current)]
    await sync(h)

    deletes = [(w.name, w.sent) for w in h.api.writes if w.verb == "delete"]
    assert deletes == [(rev2["metadata"]["name"], {"uid": seeded[1]["metadata"]["uid"]})]
    remaining = {o["metadata"]["name"] for o in await h.all(REPLICA_SETS)}
    assert remaining == {
        unobserved["metadata"]["name"],
        rev3["metadata"]["name"],
        current["metadata"]["name"],
    }


async def test_no_revision_history_limit_keeps_every_replica_set(h: Harness) -> None:
    """HasRevisionHistoryLimit: without one, no old ReplicaSet is deleted."""
    await h.seed(DEPLOYMENTS, deployment("nginx:2", history=None, status=complete_status()))
    await h.seed(REPLICA_SETS, await h.owned_rs("nginx:1", replicas=0, revision=1))
    await h.seed(REPLICA_SETS, await h.owned_rs("nginx:2", replicas=3, revision=2))
    await sync(h)
    assert [w for w in h.api.writes if w.verb == "delete"] == []
    assert len(await h.all(REPLICA_SETS)) == 2


async def test_a_deployment_being_deleted_only_updates_its_status(h: Harness) -> None:
    """syncDeployment: a Deployment with a deletionTimestamp gets syncStatusOnly, no new
    ReplicaSet."""
    d = deployment("nginx:1")
    d["metadata"]["finalizers"] = ["foregroundDeletion"]
    await h.add(DEPLOYMENTS, d)
    # Deleted in the foreground: the finalizer holds it, with its deletionTimestamp.
    await h.kube.client.delete(
        DEPLOYMENTS, "web", namespace=h.kube.namespace, propagation_policy="Foreground"
    )
    deleting = await h.stored(DEPLOYMENTS, "web")
    assert deleting["metadata"]["deletionTimestamp"]
    h.dc.deployments._store(h.key, deleting)
    await sync(h)
    assert h.written("create", REPLICA_SETS) == []
    assert await h.all(REPLICA_SETS) == []
    # The status is the deleting Deployment's: the server moved its generation on when it
    # stamped the deletionTimestamp, as Kubernetes does.
    stored = await h.stored(DEPLOYMENTS, "web")
    assert stored["status"]["observedGeneration"] == deleting["metadata"]["generation"] == 2


# --- paused --------------------------------------------------------------------------------------


async def test_a_paused_deployment_records_it_and_does_not_roll_out(h: Harness) -> None:
    """checkPausedConditions and sync: a paused Deployment gets Progressing Unknown
    DeploymentPaused, and its template change makes no new ReplicaSet nor moves old pods."""
    await h.seed(
        DEPLOYMENTS,
        deployment("nginx:2", paused=True, generation=2, status=complete_status()),
    )
    await h.seed(REPLICA_SETS, await h.owned_rs("nginx:1", replicas=3, revision=1))
    assert await sync(h) is None

    assert h.written("create", REPLICA_SETS) == []
    assert h.written("update", REPLICA_SETS) == []
    (rs,) = await h.all(REPLICA_SETS)
    assert rs["spec"]["replicas"] == 3
    stored = await h.stored(DEPLOYMENTS, "web")
    progressing = condition(stored, du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("Unknown", du.PAUSED)
    assert progressing["message"] == "Deployment is paused"
    assert stored["status"]["observedGeneration"] == 2
    assert stored["status"]["updatedReplicas"] == 0


async def test_a_paused_deployment_still_scales(h: Harness) -> None:
    """sync: scaling a paused Deployment resizes its one active ReplicaSet."""
    await h.seed(DEPLOYMENTS, deployment("nginx:1", replicas=5, paused=True))
    old = await h.seed(REPLICA_SETS, await h.owned_rs("nginx:1", replicas=3, revision=1))
    await sync(h)
    (update,) = h.written("update", REPLICA_SETS)
    assert update["spec"]["replicas"] == 5
    assert update["metadata"]["annotations"][du.DESIRED_REPLICAS_ANNOTATION] == "5"
    assert update["metadata"]["annotations"][du.MAX_REPLICAS_ANNOTATION] == "7"
    stored = await h.stored(REPLICA_SETS, old["metadata"]["name"])
    assert stored["spec"]["replicas"] == 5
    assert stored["metadata"]["annotations"][du.MAX_REPLICAS_ANNOTATION] == "7"


# --- scaling mid-rollout -----------------------------------------------------------------------


async def test_scaling_mid_rollout_is_proportional(h: Harness) -> None:
    """isScalingEvent and scale: 3 -> 6 (maxSurge 2) with an old and a new ReplicaSet of 2
    each, sized for 3 + 1, shares the 8 allowed pods 4 and 4, and records the new desired
    and max replicas on both."""
    await h.seed(DEPLOYMENTS, deployment("nginx:2", replicas=6, max_surge=2, max_unavailable=0))
    old = await h.owned_rs("nginx:1", replicas=2, revision=1)
    new = await h.owned_rs(
        "nginx:2", replicas=2, revision=2, available=0, created="2020-02-01T00:00:00Z"
    )
    await h.seed(REPLICA_SETS, old)
    await h.seed(REPLICA_SETS, new)
    await sync(h)

    updates = h.written("update", REPLICA_SETS)
    sizes = {u["metadata"]["name"]: u["spec"]["replicas"] for u in updates}
    assert sizes == {old["metadata"]["name"]: 4, new["metadata"]["name"]: 4}
    for update in updates:
        annotations = update["metadata"]["annotations"]
        assert annotations[du.DESIRED_REPLICAS_ANNOTATION] == "6"
        assert annotations[du.MAX_REPLICAS_ANNOTATION] == "8"
    assert {
        o["metadata"]["name"]: o["spec"]["replicas"] for o in await h.all(REPLICA_SETS)
    } == sizes
    assert h.written("create", REPLICA_SETS) == []


async def test_scaling_leftovers_go_to_the_newer_of_equals(h: Harness) -> None:
    """scale (ReplicaSetsBySizeNewer): 4 -> 5 over two ReplicaSets of 2 has one pod to give,
    and the newer ReplicaSet gets it; the older only has its annotations brought up to date."""
    await h.seed(DEPLOYMENTS, deployment("nginx:2", replicas=5, max_surge=0, max_unavailable=1))
    old = await h.owned_rs("nginx:1", replicas=2, revision=1, desired=4, max_replicas=4)
    new = await h.owned_rs(
        "nginx:2",
        replicas=2,
        revision=2,
        available=0,
        desired=4,
        max_replicas=4,
        created="2020-02-01T00:00:00Z",
    )
    await h.seed(REPLICA_SETS, old)
    await h.seed(REPLICA_SETS, new)
    await sync(h)

    sizes = {
        u["metadata"]["name"]: u["spec"]["replicas"] for u in h.written("update", REPLICA_SETS)
    }
    assert sizes == {old["metadata"]["name"]: 2, new["metadata"]["name"]: 3}
    assert {
        o["metadata"]["name"]: o["spec"]["replicas"] for o in await h.all(REPLICA_SETS)
    } == sizes


# --- progress ------------------------------------------------------------------------------------


async def stalled(h: Harness, reason: str, status: str, since: dt.datetime) -> Obj:
    """A Deployment whose new ReplicaSet has all 3 replicas, none available yet."""
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
    await h.seed(DEPLOYMENTS, deployment("nginx:2", status=d_status))
    return await h.seed(
        REPLICA_SETS, await h.owned_rs("nginx:2", replicas=3, revision=2, available=0)
    )


async def test_a_stalled_rollout_is_checked_again_at_its_deadline(h: Harness) -> None:
    """requeueStuckDeployment: no progress since 100 s, a deadline of 600 s: look again in
    about 500 s."""
    await stalled(h, du.RS_UPDATED, "True", meta.now() - dt.timedelta(seconds=100))
    delay = await sync(h)
    assert delay is not None
    assert 495 <= delay <= 501


async def test_a_rollout_past_its_deadline_times_out(h: Harness) -> None:
    """syncRolloutStatus: no progress for progressDeadlineSeconds makes Progressing False
    ProgressDeadlineExceeded, and a timed-out rollout is not checked again."""
    new = await stalled(h, du.RS_UPDATED, "True", meta.now() - dt.timedelta(hours=1))
    assert await sync(h) is None
    progressing = condition(await h.stored(DEPLOYMENTS, "web"), du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("False", du.TIMED_OUT)
    assert progressing["message"] == (
        f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'
    )


async def test_a_resumed_rollout_is_checked_again_at_its_deadline(h: Harness) -> None:
    """requeueStuckDeployment: any Progressing condition but a timed-out one bounds a rollout
    that is not complete; DeploymentResumed restarts the clock, it does not stop it."""
    await stalled(h, du.RESUMED, "Unknown", meta.now() - dt.timedelta(seconds=100))
    delay = await sync(h)
    assert delay is not None
    assert 495 <= delay <= 501


async def test_progress_without_a_new_replica_set_names_the_deployment(h: Harness) -> None:
    """syncRolloutStatus: Recreate's old pods going away is progress, reported as
    'Deployment "web" is progressing.' while there is no new ReplicaSet."""
    status = {**complete_status(), "updatedReplicas": 0}
    status["conditions"][1].update(reason=du.RS_UPDATED)
    await h.seed(
        DEPLOYMENTS,
        deployment("nginx:2", strategy="Recreate", generation=2, status=status),
    )
    old = await h.owned_rs("nginx:1", replicas=0, revision=1, status_replicas=1)
    await h.seed(REPLICA_SETS, old)
    await sync(h)
    progressing = condition(await h.stored(DEPLOYMENTS, "web"), du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("True", du.RS_UPDATED)
    assert progressing["message"] == 'Deployment "web" is progressing.'


# --- failing to create ---------------------------------------------------------------------------


def refuse_replica_sets(h: Harness) -> None:
    """The API server refuses every new ReplicaSet (a quota, say)."""

    def refusal(resource: Resource, body: Obj) -> Exception | None:
        if resource.plural != "replicasets":
            return None
        return APIForbiddenError(
            {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "exceeded quota"}
        )

    h.api.refuse["create"] = refusal


async def test_a_refused_replica_set_is_reported_in_progressing(h: Harness) -> None:
    """getNewReplicaSet: a create that fails sets Progressing False ReplicaSetCreateError with
    the error, and the sync fails so that it is retried."""
    refuse_replica_sets(h)
    await h.seed(DEPLOYMENTS, deployment("nginx:1"))
    with pytest.raises(APIForbiddenError):
        await sync(h)
    assert await h.all(REPLICA_SETS) == []
    progressing = condition(await h.stored(DEPLOYMENTS, "web"), du.PROGRESSING)
    assert (progressing["status"], progressing["reason"]) == ("False", du.RS_CREATE_ERROR)
    assert progressing["message"].startswith('Failed to create new replica set "web-')
    assert "exceeded quota" in progressing["message"]


async def test_a_refused_replica_set_is_reported_as_a_warning_event(h: Harness) -> None:
    """getNewReplicaSet: the failure is also a Warning event ReplicaSetCreateError on the
    Deployment (what `kubectl describe deployment` shows)."""
    refuse_replica_sets(h)
    await h.seed(DEPLOYMENTS, deployment("nginx:1"))
    with pytest.raises(APIForbiddenError):
        await sync(h)
    reasons = [(e["type"], e["reason"]) for e in await h.events()]
    assert ("Warning", du.RS_CREATE_ERROR) in reasons


# --- hash collisions -----------------------------------------------------------------------------


async def test_a_hash_collision_bumps_collision_count_and_retries(h: Harness) -> None:
    """getNewReplicaSet: a ReplicaSet of the new name that is not this Deployment's with its
    template is a hash collision: status.collisionCount goes up and the sync fails with a
    conflict, so that the key is retried with the next name."""
    d = await h.seed(DEPLOYMENTS, deployment("nginx:1"))
    pod_hash = du.pod_template_hash(d["spec"]["template"])
    stranger = await h.owned_rs("other:1", replicas=1, revision=1)
    stranger["metadata"]["name"] = f"web-{pod_hash}"
    stranger["metadata"]["ownerReferences"] = []
    await h.add(REPLICA_SETS, stranger)  # not in the cache: the name is taken behind its back
    with pytest.raises(APIConflictError):
        await sync(h)
    assert (await h.stored(DEPLOYMENTS, "web"))["status"]["collisionCount"] == 1
