"""The DaemonSet controller's syncs and handlers, and the requests they make.

`sync` runs against `FakeAPI`, the few API client calls the controller makes, over objects in
memory; it records every write and checks resourceVersions as the API server does. The
informer caches are filled directly, as their watches would fill them (`refresh`), so a test
decides exactly what the controller has seen of its own writes.
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
    APIError,
    APIForbiddenError,
    APINotFoundError,
)
from kubelite.client.flowcontrol import Backoff
from kubelite.client.informer import key_of
from kubelite.controllers import daemonset_history as dh
from kubelite.controllers import daemonset_util as du
from kubelite.controllers.daemonset import (
    DAEMON_SETS,
    NODES,
    DaemonSetController,
    node_update_ignorable,
)
from kubelite.controllers.podcontrol import PODS

Obj = dict[str, Any]
KEY = "default/agent"
DS_UID = "ds-uid"
NOW = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
CRS = dh.CONTROLLER_REVISIONS


def _status(code: int, reason: str, message: str = "") -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": message or reason}


class FakeAPI:
    """The calls the DaemonSet controller makes, over objects in memory.

    `writes` records (verb, plural, name) of each create, update, status update, delete and
    patch but those of Events, which go to `events`. `refuse[(verb, plural)]` is raised instead
    of doing that write.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.writes: list[tuple[str, str, str]] = []
        self.events: list[Obj] = []
        self.refuse: dict[tuple[str, str], APIError] = {}
        self._version = itertools.count(100)
        self._uid = itertools.count(1)
        self._suffix = itertools.count(1)
        self._clock = itertools.count(0)

    def add(self, resource: Resource, obj: Obj) -> Obj:
        stored = copy.deepcopy(obj)
        md = stored["metadata"]
        md["resourceVersion"] = str(next(self._version))
        self.objects[(resource.plural, md.get("namespace", ""), md["name"])] = stored
        return copy.deepcopy(stored)

    def all(self, resource: Resource) -> list[Obj]:
        return [o for (plural, _, _), o in self.objects.items() if plural == resource.plural]

    def stored(self, resource: Resource, name: str, namespace: str = "default") -> Obj:
        return self.objects[(resource.plural, namespace, name)]

    def written(self, verb: str, resource: Resource) -> list[str]:
        return [name for v, plural, name in self.writes if (v, plural) == (verb, resource.plural)]

    def _find(self, resource: Resource, name: str, namespace: str | None) -> Obj:
        obj = self.objects.get((resource.plural, namespace or "", name))
        if obj is None:
            raise APINotFoundError(_status(404, "NotFound"))
        return obj

    def _check(self, verb: str, resource: Resource) -> None:
        refusal = self.refuse.get((verb, resource.plural))
        if refusal is not None:
            raise refusal

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        return copy.deepcopy(self._find(resource, name, namespace))

    async def create(self, resource: Resource, body: Obj, *, namespace: str | None = None) -> Obj:
        if resource.plural == "events":
            self.events.append(body)
            return body
        self._check("create", resource)
        obj = copy.deepcopy(body)
        md = obj["metadata"]
        if not md.get("name"):
            md["name"] = f"{md['generateName']}{next(self._suffix):05d}"
        md["namespace"] = namespace or ""
        if (resource.plural, namespace or "", md["name"]) in self.objects:
            raise APIAlreadyExistsError(_status(409, "AlreadyExists"))
        self.writes.append(("create", resource.plural, md["name"]))
        md.update(
            uid=f"uid-{next(self._uid)}",
            creationTimestamp=meta.format_time(NOW + dt.timedelta(seconds=next(self._clock))),
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
        self._check(verb, resource)
        self.writes.append((verb, resource.plural, md["name"]))
        new = copy.deepcopy(current)
        if subresource == "status":
            new["status"] = copy.deepcopy(body.get("status") or {})
        else:
            new = {**copy.deepcopy(body), "status": copy.deepcopy(current.get("status") or {})}
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
        self._check("delete", resource)
        for field, value in (preconditions or {}).items():
            if obj["metadata"].get(field) != value:
                raise APIConflictError(_status(409, "Conflict"))
        self.writes.append(("delete", resource.plural, name))
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
        if resource.plural == "events":
            return {"metadata": {"name": name, "namespace": namespace}, **patch}
        obj = copy.deepcopy(self._find(resource, name, namespace))
        self.writes.append(("patch", resource.plural, name))
        md = obj["metadata"]
        patch_md = patch.get("metadata") or {}
        md.setdefault("labels", {}).update(patch_md.get("labels") or {})
        for ref in patch_md.get("ownerReferences") or ():
            refs = [r for r in md.get("ownerReferences") or () if r.get("uid") != ref["uid"]]
            if ref.get("$patch") != "delete":
                refs.append(ref)
            md["ownerReferences"] = refs
        return self.add(resource, obj)


# --- objects -------------------------------------------------------------------------------------


def template(image: str = "agent:1", **spec: Any) -> Obj:
    return {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"containers": [{"name": "agent", "image": image}], **spec},
    }


def daemon_set(
    image: str = "agent:1",
    *,
    strategy: str = "RollingUpdate",
    max_unavailable: int | str = 1,
    max_surge: int | str = 0,
    generation: int = 1,
    history: int = 10,
    status: Obj | None = None,
    **spec: Any,
) -> Obj:
    update: Obj = {"type": strategy}
    if strategy == "RollingUpdate":
        update["rollingUpdate"] = {"maxUnavailable": max_unavailable, "maxSurge": max_surge}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "agent",
            "namespace": "default",
            "uid": DS_UID,
            "generation": generation,
            "annotations": {du.TEMPLATE_GENERATION_ANNOTATION: str(generation)},
        },
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": template(image, **spec),
            "updateStrategy": update,
            "revisionHistoryLimit": history,
        },
        "status": status or {},
    }


def node(name: str, *taints: Obj, **node_labels: str) -> Obj:
    spec: Obj = {"taints": list(taints)} if taints else {}
    return {"metadata": {"name": name, "labels": node_labels}, "spec": spec, "status": {}}


def controller_ref() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": "agent",
        "uid": DS_UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def daemon_pod(
    name: str,
    node_name: str,
    ds: Obj,
    *,
    phase: str = "Running",
    ready: bool = True,
    age: int = 3600,
    owned: bool = True,
) -> Obj:
    """A pod of `ds` (at its present revision) bound to `node_name`."""
    made = du.create_pod_template(
        ds["spec"]["template"], du.template_generation(ds), dh.template_hash(ds)
    )
    md: Obj = {
        "name": name,
        "namespace": "default",
        "uid": f"{name}-uid",
        "labels": made["metadata"]["labels"],
        "creationTimestamp": meta.format_time(NOW - dt.timedelta(seconds=age)),
    }
    if owned:
        md["ownerReferences"] = [controller_ref()]
    status: Obj = {"phase": phase}
    if phase == "Running":
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": meta.format_time(NOW - dt.timedelta(hours=1)),
            }
        ]
    spec = {**made["spec"], "nodeName": node_name}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def revision_of(ds: Obj, number: int) -> Obj:
    """The revision the controller would have recorded for `ds`, as stored."""
    revision = dh.new_revision(ds, number)
    revision["metadata"]["uid"] = f"cr-{number}"
    return revision


# --- harness -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dc(api: FakeAPI, clock: Clock) -> DaemonSetController:
    return DaemonSetController(api, clock=clock)  # type: ignore[arg-type]


def informer_of(dc: DaemonSetController, resource: Resource) -> Any:
    return {
        "daemonsets": dc.daemon_sets,
        "pods": dc.pods,
        "nodes": dc.nodes,
        "controllerrevisions": dc.revisions,
    }[resource.plural]


def seed(dc: DaemonSetController, api: FakeAPI, resource: Resource, *objs: Obj) -> None:
    """Objects that exist and that the controller's informers have delivered."""
    for obj in objs:
        stored = api.add(resource, obj)
        informer_of(dc, resource)._store(key_of(stored), stored)


def refresh(dc: DaemonSetController, api: FakeAPI, *resources: Resource) -> None:
    """Let the informers catch up with the API server, through the handlers, as a watch
    would (all resources when none are named)."""
    for resource in resources or (DAEMON_SETS, PODS, NODES, CRS):
        informer = informer_of(dc, resource)
        live = {key_of(o): copy.deepcopy(o) for o in api.all(resource)}
        for key in [k for k in informer._cache if k not in live]:
            old = informer._remove(key)
            informer._notify("DELETED", old, old)
        for key, obj in live.items():
            old = informer._cache.get(key)
            if (
                old is None
                or old["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]
            ):
                informer._store(key, obj)
                informer._notify("ADDED" if old is None else "MODIFIED", obj, old)


async def sync(dc: DaemonSetController, key: str = KEY) -> float | None:
    """One sync, and the Events it sends in the background."""
    try:
        return await dc.sync(key)
    finally:
        await asyncio.gather(*dc.pod_control.recorder._posting)


def replace(api: FakeAPI, resource: Resource, name: str, **fields: Any) -> None:
    """Change an object on the API server (a new resourceVersion), as someone else would."""
    obj = copy.deepcopy(api.stored(resource, name))
    obj.update(fields)
    api.add(resource, obj)


def pods_by_node(api: FakeAPI) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pod in api.all(PODS):
        found.setdefault(du.target_node_name(pod) or "", []).append(pod["metadata"]["name"])
    return {k: sorted(v) for k, v in sorted(found.items())}


def event_messages(api: FakeAPI, reason: str) -> list[str]:
    return [e["message"] for e in api.events if e["reason"] == reason]


def ds_status(api: FakeAPI) -> Obj:
    return api.stored(DAEMON_SETS, "agent").get("status") or {}


# --- making pods ---------------------------------------------------------------------------------


async def test_first_sync_records_a_revision_and_makes_a_pod_for_each_eligible_node(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set(nodeSelector={"role": "agent"})
    seed(dc, api, DAEMON_SETS, ds)
    gpu = {"key": "gpu", "value": "yes", "effect": "NoSchedule"}
    seed(
        dc,
        api,
        NODES,
        node("n0", role="agent"),
        node("n1", role="agent"),
        node("n2", gpu, role="agent"),  # untolerated taint
        node("n3"),  # no label
    )
    await sync(dc)

    hash_ = dh.template_hash(ds)
    (revision,) = api.all(CRS)
    assert revision["metadata"]["name"] == f"agent-{hash_}"
    assert revision["revision"] == 1
    assert revision["metadata"]["labels"] == {"app": "agent", du.HASH_LABEL: hash_}
    assert revision["metadata"]["ownerReferences"] == [controller_ref()]
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"

    assert pods_by_node(api) == {"n0": ["agent-00001"], "n1": ["agent-00002"]}
    pod = api.stored(PODS, "agent-00001")
    assert pod["metadata"]["labels"] == {
        "app": "agent",
        du.HASH_LABEL: hash_,
        du.TEMPLATE_GENERATION_LABEL: "1",
    }
    assert pod["metadata"]["ownerReferences"] == [controller_ref()]
    assert "nodeName" not in pod["spec"]  # The scheduler binds it.
    assert pod["spec"]["nodeSelector"] == {"role": "agent"}
    assert len(pod["spec"]["tolerations"]) == 6
    assert event_messages(api, "SuccessfulCreate") == [
        "Created pod: agent-00001",
        "Created pod: agent-00002",
    ]
    assert dc.expectations.pending(KEY) == (2, 0)
    status = ds_status(api)
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"]) == (2, 0)
    assert status["observedGeneration"] == 1


async def test_a_sync_before_its_pods_are_seen_makes_none_again(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, NODES, node("n0"), node("n1"))
    await sync(dc)
    refresh(dc, api, DAEMON_SETS, CRS)  # The pods' watch events have not come yet.
    await sync(dc)
    assert api.written("create", PODS) == ["agent-00001", "agent-00002"]


async def test_seen_pods_are_counted_in_the_status(dc: DaemonSetController, api: FakeAPI) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set(generation=2))
    seed(dc, api, NODES, node("n0"), node("n1"))
    await sync(dc)
    refresh(dc, api)
    assert dc.expectations.satisfied(KEY)
    await sync(dc)
    assert len(api.written("create", PODS)) == 2
    status = ds_status(api)
    assert status["currentNumberScheduled"] == status["updatedNumberScheduled"] == 2
    assert status["numberUnavailable"] == 2  # Not yet running.
    assert status["observedGeneration"] == 2


async def test_while_waiting_for_its_pods_the_status_does_not_claim_the_generation(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set(generation=3, status={"observedGeneration": 2}))
    seed(dc, api, NODES, node("n0"))
    dc.expectations.expect(KEY, 1, [])
    await sync(dc)
    assert api.written("create", PODS) == []
    status = ds_status(api)
    assert status["desiredNumberScheduled"] == 1
    assert status["observedGeneration"] == 2


async def test_creates_are_bounded_by_the_burst_and_go_in_slow_start_batches(
    api: FakeAPI, clock: Clock
) -> None:
    dc = DaemonSetController(api, clock=clock, burst_replicas=5)  # type: ignore[arg-type]
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, NODES, *(node(f"n{i}") for i in range(8)))
    await sync(dc)
    assert len(api.written("create", PODS)) == 5
    assert dc.expectations.pending(KEY) == (5, 0)


async def test_a_refused_create_stops_the_batch_and_is_not_expected(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    api.refuse[("create", "pods")] = APIForbiddenError(_status(403, "Forbidden", "quota"))
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, NODES, *(node(f"n{i}") for i in range(6)))
    with pytest.raises(APIForbiddenError):
        await sync(dc)
    assert len(event_messages(api, "FailedCreate")) == 1  # One request, not six.
    assert dc.expectations.satisfied(KEY)


# --- deleting pods --------------------------------------------------------------------------------


async def test_of_extra_pods_on_a_node_the_oldest_stays(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(
        dc,
        api,
        PODS,
        daemon_pod("young", "n0", ds, age=10),
        daemon_pod("old", "n0", ds, age=1000),
        daemon_pod("middle", "n0", ds, age=100),
    )
    await sync(dc)
    assert sorted(api.written("delete", PODS)) == ["middle", "young"]
    assert sorted(event_messages(api, "SuccessfulDelete")) == [
        "Deleted pod: middle",
        "Deleted pod: young",
    ]
    assert dc.expectations.pending(KEY) == (0, 2)


async def test_pods_leave_a_node_with_an_untolerated_no_execute_taint(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    evict = {"key": "maintenance", "effect": "NoExecute"}
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0", evict), node("n1"))
    seed(dc, api, PODS, daemon_pod("a", "n0", ds), daemon_pod("b", "n1", ds))
    await sync(dc)
    assert api.written("delete", PODS) == ["a"]


async def test_a_pod_stays_on_a_node_with_an_untolerated_no_schedule_taint(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0", {"key": "maintenance", "effect": "NoSchedule"}))
    seed(dc, api, PODS, daemon_pod("a", "n0", ds))
    await sync(dc)
    assert api.written("delete", PODS) == []
    status = ds_status(api)
    assert (status["desiredNumberScheduled"], status["numberMisscheduled"]) == (0, 1)


async def test_an_unbound_pod_meant_for_a_node_that_is_gone_is_deleted(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    unbound = daemon_pod("unbound", "gone", ds)
    del unbound["spec"]["nodeName"]
    du.pin_to_node(unbound["spec"], "gone")
    seed(dc, api, PODS, daemon_pod("a", "n0", ds), unbound, daemon_pod("bound", "gone", ds))
    await sync(dc)
    assert api.written("delete", PODS) == ["unbound"]


async def test_a_failed_pod_is_deleted_and_remade_with_back_off(
    dc: DaemonSetController, api: FakeAPI, clock: Clock
) -> None:
    # The back-off is per node and observed generation: a new generation may retry at once.
    ds = daemon_set(status={"observedGeneration": 1})
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("crashed", "n0", ds, phase="Failed"))
    await sync(dc)
    assert api.written("delete", PODS) == ["crashed"]
    (event,) = [e for e in api.events if e["reason"] == "FailedDaemonPod"]
    assert (
        event["message"]
        == "Found failed daemon pod default/crashed on node n0, will try to kill it"
    )
    assert event["type"] == "Warning"
    assert api.written("create", PODS) == []  # Made on the next sync, once the delete is seen.

    refresh(dc, api)
    await sync(dc)
    assert api.written("create", PODS) == ["agent-00001"]

    # The new pod fails at once: within the node's back-off (1 s) it is left alone.
    replace(api, PODS, "agent-00001", status={"phase": "Failed"})
    refresh(dc, api)
    assert await sync(dc) == 1.0
    assert api.written("delete", PODS) == ["crashed"]
    clock.advance(1.5)
    await sync(dc)
    assert api.written("delete", PODS) == ["crashed", "agent-00001"]
    assert len(event_messages(api, "FailedDaemonPod")) == 2
    # The wait doubles; a node not retried for long is forgotten.
    assert dc.failed_pods_backoff.get(f"{DS_UID}/1/n0") == 2.0
    dc.failed_pods_backoff.gc()
    assert len(dc.failed_pods_backoff) == 1
    clock.advance(2 * 15 * 60 + 1)
    dc.failed_pods_backoff.gc()
    assert len(dc.failed_pods_backoff) == 0


async def test_a_succeeded_pod_is_deleted_with_a_normal_event(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("done", "n0", ds, phase="Succeeded"))
    await sync(dc)
    assert api.written("delete", PODS) == ["done"]
    assert event_messages(api, "SucceededDaemonPod") == [
        "Found succeeded daemon pod default/done on node n0, will try to delete it"
    ]


async def test_an_orphan_that_matches_is_adopted_and_not_doubled(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("stray", "n0", ds, owned=False))
    await sync(dc)
    assert api.written("patch", PODS) == ["stray"]
    assert api.stored(PODS, "stray")["metadata"]["ownerReferences"] == [controller_ref()]
    assert api.written("create", PODS) == []


# --- rolling updates -----------------------------------------------------------------------------


async def test_a_new_template_replaces_one_pod_at_a_time(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    old = daemon_set("agent:1")
    seed(dc, api, CRS, revision_of(old, 1))
    seed(dc, api, NODES, node("n0"), node("n1"), node("n2"))
    seed(dc, api, PODS, *(daemon_pod(f"p{i}", f"n{i}", old) for i in range(3)))
    new = daemon_set("agent:2", generation=2)
    seed(dc, api, DAEMON_SETS, new)
    await sync(dc)
    assert api.written("delete", PODS) == ["p0"]
    assert [r["revision"] for r in sorted(api.all(CRS), key=lambda r: r["revision"])] == [1, 2]
    assert ds_status(api)["updatedNumberScheduled"] == 0

    refresh(dc, api)  # p0 is gone: n0 gets a pod of the new revision, nothing else goes.
    await sync(dc)
    assert api.written("create", PODS) == ["agent-00001"]
    made = api.stored(PODS, "agent-00001")
    assert made["metadata"]["labels"][du.HASH_LABEL] == dh.template_hash(new)
    assert made["spec"]["containers"][0]["image"] == "agent:2"
    assert api.written("delete", PODS) == ["p0"]

    refresh(dc, api)  # The new pod is not ready yet: still nothing more.
    await sync(dc)
    assert api.written("delete", PODS) == ["p0"]

    replace(api, PODS, "agent-00001", status=daemon_pod("agent-00001", "n0", new)["status"])
    refresh(dc, api)
    await sync(dc)
    assert api.written("delete", PODS) == ["p0", "p1"]


async def test_max_surge_makes_the_new_pod_before_the_old_one_goes(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    old = daemon_set("agent:1")
    seed(dc, api, CRS, revision_of(old, 1))
    seed(dc, api, NODES, node("n0"), node("n1"))
    seed(dc, api, PODS, daemon_pod("p0", "n0", old), daemon_pod("p1", "n1", old))
    seed(dc, api, DAEMON_SETS, daemon_set("agent:2", generation=2, max_unavailable=0, max_surge=1))
    await sync(dc)
    assert api.written("delete", PODS) == []
    assert pods_by_node(api) == {"n0": ["agent-00001", "p0"], "n1": ["p1"]}


async def test_on_delete_leaves_old_pods_for_someone_else_to_delete(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    old = daemon_set("agent:1")
    seed(dc, api, CRS, revision_of(old, 1))
    seed(dc, api, NODES, node("n0"), node("n1"))
    seed(dc, api, PODS, daemon_pod("p0", "n0", old), daemon_pod("p1", "n1", old))
    seed(dc, api, DAEMON_SETS, daemon_set("agent:2", generation=2, strategy="OnDelete"))
    await sync(dc)
    assert api.written("delete", PODS) == []
    assert ds_status(api)["updatedNumberScheduled"] == 0


# --- history -------------------------------------------------------------------------------------


async def test_going_back_to_an_old_template_renumbers_its_revision(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    first, second = daemon_set("agent:1"), daemon_set("agent:2")
    seed(dc, api, CRS, revision_of(first, 1), revision_of(second, 2))
    seed(dc, api, DAEMON_SETS, daemon_set("agent:1", generation=3))
    await sync(dc)
    assert api.written("create", CRS) == []
    numbers = {r["metadata"]["name"]: r["revision"] for r in api.all(CRS)}
    assert numbers == {
        f"agent-{dh.template_hash(first)}": 3,
        f"agent-{dh.template_hash(second)}": 2,
    }


async def test_old_revisions_beyond_the_limit_go_unless_a_pod_still_uses_them(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    olds = [daemon_set(f"agent:{i}") for i in range(1, 5)]
    seed(dc, api, CRS, *(revision_of(ds, i + 1) for i, ds in enumerate(olds)))
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("p0", "n0", olds[0]))  # Still on revision 1.
    seed(dc, api, DAEMON_SETS, daemon_set("agent:9", generation=5, history=2))
    await sync(dc)
    # Four old revisions, two kept: revision 1 is in use, so 2 and 3 go.
    deleted = api.written("delete", CRS)
    assert deleted == [f"agent-{dh.template_hash(olds[1])}", f"agent-{dh.template_hash(olds[2])}"]


async def test_a_hash_collision_bumps_the_collision_count_and_retries(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    squatter = revision_of(daemon_set("other:1"), 1)
    squatter["metadata"]["name"] = f"agent-{dh.template_hash(ds)}"
    api.add(CRS, squatter)  # Not in the informer: the controller only learns of it by creating.
    seed(dc, api, DAEMON_SETS, ds)
    with pytest.raises(APIAlreadyExistsError):
        await sync(dc)
    assert ds_status(api)["collisionCount"] == 1
    refresh(dc, api, DAEMON_SETS)
    await sync(dc)
    bumped = daemon_set(status={"collisionCount": 1})
    assert api.written("create", CRS) == [f"agent-{dh.template_hash(bumped)}"]
    assert dh.template_hash(bumped) != dh.template_hash(ds)


async def test_a_stale_collision_count_is_not_bumped_twice(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    squatter = revision_of(daemon_set("other:1"), 1)
    squatter["metadata"]["name"] = f"agent-{dh.template_hash(ds)}"
    api.add(CRS, squatter)
    seed(dc, api, DAEMON_SETS, ds)
    replace(api, DAEMON_SETS, "agent", status={"collisionCount": 1})
    with pytest.raises(APIConflictError, match="stale collision count"):
        await sync(dc)
    assert ds_status(api)["collisionCount"] == 1


async def test_equal_revisions_are_merged_and_their_pods_moved_to_the_kept_one(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    kept, duplicate = revision_of(ds, 3), revision_of(ds, 1)
    duplicate["metadata"]["name"] = "agent-dup"
    duplicate["metadata"]["labels"][du.HASH_LABEL] = "dup"
    older = revision_of(daemon_set("agent:0"), 2)
    seed(dc, api, CRS, kept, duplicate, older)
    seed(dc, api, NODES, node("n0"), node("n1"))
    on_dup = daemon_pod("p0", "n0", ds)
    on_dup["metadata"]["labels"][du.HASH_LABEL] = "dup"
    seed(dc, api, PODS, on_dup, daemon_pod("p1", "n1", daemon_set("agent:0")))
    seed(dc, api, DAEMON_SETS, ds)
    await sync(dc)
    assert api.written("delete", CRS) == ["agent-dup"]
    assert api.written("patch", PODS) == ["p0"]  # Not p1, of another revision.
    assert api.stored(PODS, "p0")["metadata"]["labels"][du.HASH_LABEL] == dh.template_hash(ds)


# --- status and odd DaemonSets ------------------------------------------------------------------


async def test_a_status_conflict_is_retried_on_the_fresh_object(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, CRS, revision_of(daemon_set(), 1))
    seed(dc, api, NODES, node("n0"))
    # Changed meanwhile: the cached version is stale.
    replace(api, DAEMON_SETS, "agent", status={"collisionCount": 0})
    await sync(dc)
    assert api.written("update-status", DAEMON_SETS) == ["agent"]
    assert ds_status(api)["collisionCount"] == 0
    assert ds_status(api)["desiredNumberScheduled"] == 1


async def test_a_daemon_set_selecting_everything_is_reported_and_left_alone(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    ds["spec"]["selector"] = {}
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    await sync(dc)
    assert api.writes == []
    assert event_messages(api, "SelectingAll") == [
        "This daemon set is selecting all pods. A non-empty selector is required."
    ]


async def test_a_daemon_set_being_deleted_is_left_alone(
    dc: DaemonSetController, api: FakeAPI
) -> None:
    ds = daemon_set()
    ds["metadata"]["deletionTimestamp"] = meta.format_time(NOW)
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    await sync(dc)
    assert api.writes == []


# --- handlers ------------------------------------------------------------------------------------


def queued(dc: DaemonSetController) -> list[str]:
    keys = []
    while len(dc.queue):
        keys.append(dc.queue._queue.popleft())
    dc.queue._queued.clear()
    return keys


def test_a_heartbeat_queues_nothing_but_a_new_taint_does(dc: DaemonSetController) -> None:
    dc.daemon_sets._store(KEY, daemon_set())
    ready = {"type": "Ready", "status": "True", "lastHeartbeatTime": "2030-01-01T00:00:00Z"}
    before = node("n0") | {"status": {"conditions": [ready]}}
    before["metadata"]["resourceVersion"] = "1"
    beat = copy.deepcopy(before)
    beat["metadata"]["resourceVersion"] = "2"
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2030-01-01T00:00:10Z"
    dc._on_node("MODIFIED", beat, before)
    assert queued(dc) == []
    tainted = copy.deepcopy(beat)
    tainted["spec"]["taints"] = [{"key": "k", "effect": "NoExecute"}]
    dc._on_node("MODIFIED", tainted, beat)
    assert queued(dc) == [KEY]
    relabelled = copy.deepcopy(beat)
    relabelled["metadata"]["labels"] = {"unrelated": "x"}
    dc._on_node("MODIFIED", relabelled, beat)
    assert queued(dc) == []  # Changed, but the placement did not.


def test_only_a_heartbeat_is_ignorable() -> None:
    def with_conditions(*conditions: tuple[str, str, str]) -> Obj:
        found = node("n0")
        found["status"]["conditions"] = [
            {"type": t, "status": s, "lastHeartbeatTime": when} for t, s, when in conditions
        ]
        return found

    before = with_conditions(("Ready", "True", "t1"), ("DiskPressure", "False", "t1"))
    beat = with_conditions(("Ready", "True", "t2"), ("DiskPressure", "False", "t2"))
    beat["metadata"]["resourceVersion"] = "9"
    assert node_update_ignorable(before, beat)
    pressed = with_conditions(("Ready", "True", "t2"), ("DiskPressure", "True", "t2"))
    assert not node_update_ignorable(before, pressed)
    relabelled = with_conditions(("Ready", "True", "t2"), ("DiskPressure", "False", "t2"))
    relabelled["metadata"]["labels"] = {"zone": "b"}
    assert not node_update_ignorable(before, relabelled)


def test_a_new_node_queues_the_daemon_sets_that_should_run_there(
    dc: DaemonSetController,
) -> None:
    dc.daemon_sets._store(KEY, daemon_set(nodeSelector={"role": "edge"}))
    dc._on_node("ADDED", node("n0", role="core"), None)
    assert queued(dc) == []
    dc._on_node("ADDED", node("n1", role="edge"), None)
    assert queued(dc) == [KEY]


def test_a_deleted_pod_counts_once_whatever_the_events(dc: DaemonSetController) -> None:
    ds = daemon_set()
    dc.daemon_sets._store(KEY, ds)
    pod = daemon_pod("p0", "n0", ds)
    pod["metadata"]["resourceVersion"] = "1"
    dc.expectations.expect(KEY, 0, ["default/p0", "default/p1"])
    going = copy.deepcopy(pod)
    going["metadata"]["deletionTimestamp"] = meta.format_time(NOW)
    going["metadata"]["resourceVersion"] = "2"
    dc._on_pod("MODIFIED", going, pod)
    dc._on_pod("DELETED", going, going)
    assert dc.expectations.pending(KEY) == (0, 1)
    assert queued(dc) == [KEY]


def test_an_orphan_queues_the_daemon_sets_that_select_it(dc: DaemonSetController) -> None:
    ds = daemon_set()
    dc.daemon_sets._store(KEY, ds)
    dc._on_pod("ADDED", daemon_pod("stray", "n0", ds, owned=False), None)
    assert queued(dc) == [KEY]
    other = daemon_pod("other", "n0", ds, owned=False)
    other["metadata"]["labels"] = {"app": "else"}
    dc._on_pod("ADDED", other, None)
    assert queued(dc) == []


async def test_a_pod_becoming_ready_is_looked_at_again_after_min_ready_seconds(
    dc: DaemonSetController,
) -> None:
    ds = daemon_set()
    ds["spec"]["minReadySeconds"] = 5
    dc.daemon_sets._store(KEY, ds)
    before = daemon_pod("p0", "n0", ds, ready=False)
    before["metadata"]["resourceVersion"] = "1"
    after = daemon_pod("p0", "n0", ds)
    after["metadata"]["resourceVersion"] = "2"
    dc._on_pod("MODIFIED", after, before)
    try:
        assert KEY in dc.queue._timers  # Ready for minReadySeconds and a second: available.
    finally:
        dc.queue.shut_down()


# --- back-off -------------------------------------------------------------------------------------


def test_backoff_doubles_to_its_maximum_and_starts_over_after_a_long_quiet() -> None:
    backoff = Backoff(initial=1, maximum=4, clock=lambda: 0.0)
    assert not backoff.in_backoff("k", 0)
    backoff.next("k", 0)
    assert backoff.in_backoff("k", 0.5) and not backoff.in_backoff("k", 1)
    waits = []
    for t in (1, 3, 7, 11):
        backoff.next("k", t)
        waits.append(backoff.get("k"))
    assert waits == [2, 4, 4, 4]
    backoff.next("k", 11 + 9)  # More than twice the maximum later: from the start.
    assert backoff.get("k") == 1
    backoff.gc(100)
    assert len(backoff) == 0
