"""The DaemonSet controller's syncs and handlers, and the requests they make.

`sync` runs against the unit tests' real API server (`testcluster`), through `Cluster`: the
objects a test starts from are created there (the DaemonSet first, then what it owns, with its
real uid), the controller's writes are noted by a `Recorder` around the real client, and the
informer caches are filled directly, as their watches would fill them (`refresh`), so a test
decides exactly what the controller has seen of its own writes. The cluster's clock is the
test's (`TestCluster.freeze_time`), so the server stamps objects with the times the tests give.

Names the server generates are shown as the controller's requests numbered them in order
(`agent-00001`, `agent-00002`, ...), so that a test can name the pods a sync made.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from testcluster import Clock, Recorder, TestCluster

from kubelite.api import meta
from kubelite.client.api import Resource
from kubelite.client.errors import (
    APIAlreadyExistsError,
    APIConflictError,
    APIError,
    APIForbiddenError,
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
# The key of the handler tests' DaemonSet, which no server sees.
KEY = "default/agent"
# The DaemonSet's uid in the objects a test writes down; `Cluster` puts the real one there.
DS_UID = "ds-uid"
NOW = dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
CRS = dh.CONTROLLER_REVISIONS
_probes = itertools.count(1)


def _status(code: int, reason: str, message: str = "") -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": message or reason}


# --- objects -------------------------------------------------------------------------------------

# The server's defaults, asked for by a dry run: raw template (as JSON) -> defaulted template.
_defaulted: dict[str, Obj] = {}
# How the templates of the running test are defaulted (None: a handler test, no server).
_defaulter: list[Any] = [None]


def template(image: str = "agent:1", **spec: Any) -> Obj:
    """The pod template, with the defaults the API server fills in when a test has a server
    (what a stored DaemonSet's template, and so its hash, is made of)."""
    raw = {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"containers": [{"name": "agent", "image": image}], **spec},
    }
    default = _defaulter[0]
    if default is None:
        return raw
    key = repr(raw)
    if key not in _defaulted:
        _defaulted[key] = default(raw)
    return copy.deepcopy(_defaulted[key])


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


def controller_ref(uid: str = DS_UID) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": "agent",
        "uid": uid,
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


def _owned_by_the_daemon_set(obj: Obj) -> bool:
    return any(r.get("uid") == DS_UID for r in obj["metadata"].get("ownerReferences") or ())


class Cluster:
    """The test's side of the cluster (requests that block; see `testcluster.BlockingClient`).

    `recorder` is the client the controller is given; `writes` lists its writes as
    (verb, plural, name), a status update's verb being `update-status`, Events left out;
    `refuse[(verb, plural)]` is raised instead of doing that write.
    """

    def __init__(self, kube: TestCluster) -> None:
        self.kube = kube
        self.namespace = kube.namespace
        self.key = f"{kube.namespace}/agent"
        self.clock = kube.freeze_time(NOW)
        self.recorder = Recorder(kube.client)
        self.refuse: dict[tuple[str, str], APIError] = {}
        for verb in ("create", "update", "patch", "delete"):
            self.recorder.refuse[verb] = self._refusal(verb)
        self._blocking = kube.blocking
        self.ds_uid = ""
        # What refers to the DaemonSet, waiting for it to be created: (resource, obj, cached).
        self._waiting: list[tuple[Resource, Obj, Any]] = []
        self.nodes: list[str] = []

    def _refusal(self, verb: str) -> Any:
        def refusal(resource: Resource, what: Any) -> Exception | None:
            return self.refuse.get((verb, resource.plural))

        return refusal

    # --- names ------------------------------------------------------------------------------

    def _generated(self) -> dict[str, str]:
        """Generated name -> the name the fake of old would have given (its counter)."""
        names: dict[str, str] = {}
        number = 0
        for w in self.recorder.writes:
            generate = (
                (w.sent.get("metadata") or {}).get("generateName") if w.verb == "create" else None
            )
            if generate and not (w.sent.get("metadata") or {}).get("name"):
                number += 1
                names[w.name] = f"{generate}{number:05d}"
        return names

    def shown(self, name: str) -> str:
        return self._generated().get(name, name)

    def real(self, name: str) -> str:
        return {v: k for k, v in self._generated().items()}.get(name, name)

    def show_names(self, text: str) -> str:
        for real, shown in self._generated().items():
            text = re.sub(rf"\b{re.escape(real)}\b", shown, text)
        return text

    # --- reading ----------------------------------------------------------------------------

    def _ns(self, resource: Resource) -> str | None:
        return self.namespace if resource.namespaced else None

    def all(self, resource: Resource) -> list[Obj]:
        listed = self._blocking.list(resource, namespace=self._ns(resource))
        return list(listed.get("items") or [])

    def stored(self, resource: Resource, name: str) -> Obj:
        return self._blocking.get(resource, self.real(name), namespace=self._ns(resource))

    def written(self, verb: str, resource: Resource) -> list[str]:
        return [name for v, plural, name in self.writes if (v, plural) == (verb, resource.plural)]

    @property
    def writes(self) -> list[tuple[str, str, str]]:
        found = []
        for w in self.recorder.writes:
            verb = "update-status" if (w.verb, w.subresource) == ("update", "status") else w.verb
            found.append((verb, w.plural, self.shown(w.name)))
        return found

    @property
    def events(self) -> list[Obj]:
        """The namespace's Events, oldest first (their names end in the time they were made),
        with generated names shown as `shown` shows them."""
        listed = self._blocking.list(
            Resource("", "v1", "events", kind="Event"), namespace=self.namespace
        )
        events = sorted(
            listed.get("items") or [],
            key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16),
        )
        for event in events:
            event["message"] = self.show_names(event.get("message", ""))
        return events

    # --- writing ----------------------------------------------------------------------------

    def add(self, resource: Resource, obj: Obj, cached: Any = None) -> Obj | None:
        """Create `obj` as written down (at its generation, with its status, at its
        creationTimestamp); what the DaemonSet owns waits for the DaemonSet. `cached(stored)`
        is told of the object once it exists."""
        if _owned_by_the_daemon_set(obj) and not self.ds_uid:
            self._waiting.append((resource, obj, cached))
            return None
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        status = obj.pop("status", None)
        generation = md.pop("generation", 1)
        for system in ("uid", "resourceVersion"):
            md.pop(system, None)
        for ref in md.get("ownerReferences") or ():
            if ref["uid"] == DS_UID:
                ref["uid"] = self.ds_uid
        if resource.namespaced:
            md["namespace"] = self.namespace
        created_at = md.pop("creationTimestamp", None)
        deleting = md.pop("deletionTimestamp", None)
        if deleting:
            # Held by a finalizer of the test's, then deleted: it stays, being deleted.
            md.setdefault("finalizers", []).append("kubelite.test/hold")
        final_template = copy.deepcopy(obj["spec"]["template"]) if generation > 1 else None
        if final_template is not None:
            # Changed generation - 1 times, to be at `generation` (and template generation).
            obj["spec"]["template"]["metadata"].setdefault("annotations", {})["step"] = "1"
        now = self.clock.now
        if created_at:
            self.clock.now = meta.parse_time(created_at)
        try:
            stored = self._blocking.create(resource, obj, namespace=self._ns(resource))
        finally:
            self.clock.now = now
        if final_template is not None:
            for step in range(2, generation + 1):
                stored["spec"]["template"] = copy.deepcopy(final_template)
                if step < generation:
                    stored["spec"]["template"]["metadata"]["annotations"] = {"step": str(step)}
                stored = self._blocking.update(resource, stored, namespace=self._ns(resource))
            assert stored["metadata"]["generation"] == generation
        if resource is NODES:
            self.nodes.append(md["name"])
        if deleting:
            self._blocking.delete(resource, md["name"], namespace=self._ns(resource))
            stored = self._blocking.get(resource, md["name"], namespace=self._ns(resource))
        if status:
            stored["status"] = status
            stored = self._blocking.update(
                resource, stored, namespace=self._ns(resource), subresource="status"
            )
        if cached is not None:
            cached(stored)
        if resource is DAEMON_SETS:
            self.ds_uid = stored["metadata"]["uid"]
            waiting, self._waiting = self._waiting, []
            for resource_, obj_, cached_ in waiting:
                self.add(resource_, obj_, cached_)
        return stored

    def replace(self, resource: Resource, name: str, **fields: Any) -> None:
        """Change an object on the API server (a new resourceVersion), as someone else would."""
        obj = self.stored(resource, name)
        obj.update(fields)
        subresource = "status" if set(fields) == {"status"} else None
        self._blocking.update(resource, obj, namespace=self._ns(resource), subresource=subresource)

    def kubelets_finish_deletions(self) -> None:
        """What a pod's kubelet does once it is deleted (its containers stopped): delete it
        for good. (A pod on a node is deleted gracefully, and stays until then.)"""
        for pod in self.all(PODS):
            if pod["metadata"].get("deletionTimestamp"):
                self._blocking.delete(
                    PODS, pod["metadata"]["name"], namespace=self.namespace, grace_period_seconds=0
                )

    def clean_up(self) -> None:
        """Nodes are cluster-wide: the test's go with it."""
        for name in self.nodes:
            self._blocking.delete(NODES, name)


@pytest.fixture
def api(kube: TestCluster) -> Iterator[Cluster]:
    cluster = Cluster(kube)

    def default(raw: Obj) -> Obj:
        probe = {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": f"defaults-{next(_probes)}"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": raw},
        }
        made = kube.blocking.create(DAEMON_SETS, probe, namespace=kube.namespace, dry_run=True)
        return made["spec"]["template"]

    _defaulter[0] = default
    try:
        yield cluster
    finally:
        _defaulter[0] = None
        cluster.clean_up()


@pytest.fixture
def clock(api: Cluster) -> Clock:
    return api.clock


@pytest.fixture
def dc(api: Cluster, clock: Clock) -> DaemonSetController:
    return DaemonSetController(api.recorder, clock=clock)  # type: ignore[arg-type]


def informer_of(dc: DaemonSetController, resource: Resource) -> Any:
    return {
        "daemonsets": dc.daemon_sets,
        "pods": dc.pods,
        "nodes": dc.nodes,
        "controllerrevisions": dc.revisions,
    }[resource.plural]


def seed(dc: DaemonSetController, api: Cluster, resource: Resource, *objs: Obj) -> None:
    """Objects that exist and that the controller's informers have delivered."""
    for obj in objs:

        def cache(stored: Obj, resource: Resource = resource) -> None:
            informer_of(dc, resource)._store(key_of(stored), stored)

        api.add(resource, obj, cache)


def refresh(dc: DaemonSetController, api: Cluster, *resources: Resource) -> None:
    """Let the informers catch up with the API server, through the handlers, as a watch
    would (all resources when none are named), once the kubelets have ended the pods the
    controller deleted."""
    api.kubelets_finish_deletions()
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


async def sync(dc: DaemonSetController, api: Cluster) -> float | None:
    """One sync, and the Events it sends in the background."""
    try:
        return await dc.sync(api.key)
    finally:
        await asyncio.gather(*dc.pod_control.recorder._posting)


def replace(api: Cluster, resource: Resource, name: str, **fields: Any) -> None:
    """Change an object on the API server (a new resourceVersion), as someone else would."""
    api.replace(resource, name, **fields)


def pods_by_node(api: Cluster) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pod in api.all(PODS):
        found.setdefault(du.target_node_name(pod) or "", []).append(
            api.shown(pod["metadata"]["name"])
        )
    return {k: sorted(v) for k, v in sorted(found.items())}


def event_messages(api: Cluster, reason: str) -> list[str]:
    return [e["message"] for e in api.events if e["reason"] == reason]


def ds_status(api: Cluster) -> Obj:
    return api.stored(DAEMON_SETS, "agent").get("status") or {}


# --- making pods ---------------------------------------------------------------------------------


async def test_first_sync_records_a_revision_and_makes_a_pod_for_each_eligible_node(
    dc: DaemonSetController, api: Cluster
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
    await sync(dc, api)

    hash_ = dh.template_hash(ds)
    (revision,) = api.all(CRS)
    assert revision["metadata"]["name"] == f"agent-{hash_}"
    assert revision["revision"] == 1
    assert revision["metadata"]["labels"] == {"app": "agent", du.HASH_LABEL: hash_}
    assert revision["metadata"]["ownerReferences"] == [controller_ref(api.ds_uid)]
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"

    assert pods_by_node(api) == {"n0": ["agent-00001"], "n1": ["agent-00002"]}
    pod = api.stored(PODS, "agent-00001")
    assert pod["metadata"]["labels"] == {
        "app": "agent",
        du.HASH_LABEL: hash_,
        du.TEMPLATE_GENERATION_LABEL: "1",
    }
    assert pod["metadata"]["ownerReferences"] == [controller_ref(api.ds_uid)]
    assert "nodeName" not in pod["spec"]  # The scheduler binds it.
    assert pod["spec"]["nodeSelector"] == {"role": "agent"}
    assert len(pod["spec"]["tolerations"]) == 6
    assert event_messages(api, "SuccessfulCreate") == [
        "Created pod: agent-00001",
        "Created pod: agent-00002",
    ]
    assert dc.expectations.pending(api.key) == (2, 0)
    status = ds_status(api)
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"]) == (2, 0)
    assert status["observedGeneration"] == 1


async def test_a_sync_before_its_pods_are_seen_makes_none_again(
    dc: DaemonSetController, api: Cluster
) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, NODES, node("n0"), node("n1"))
    await sync(dc, api)
    refresh(dc, api, DAEMON_SETS, CRS)  # The pods' watch events have not come yet.
    await sync(dc, api)
    assert api.written("create", PODS) == ["agent-00001", "agent-00002"]


async def test_seen_pods_are_counted_in_the_status(dc: DaemonSetController, api: Cluster) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set(generation=2))
    seed(dc, api, NODES, node("n0"), node("n1"))
    await sync(dc, api)
    refresh(dc, api)
    assert dc.expectations.satisfied(api.key)
    await sync(dc, api)
    assert len(api.written("create", PODS)) == 2
    status = ds_status(api)
    assert status["currentNumberScheduled"] == status["updatedNumberScheduled"] == 2
    assert status["numberUnavailable"] == 2  # Not yet running.
    assert status["observedGeneration"] == 2


async def test_while_waiting_for_its_pods_the_status_does_not_claim_the_generation(
    dc: DaemonSetController, api: Cluster
) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set(generation=3, status={"observedGeneration": 2}))
    seed(dc, api, NODES, node("n0"))
    dc.expectations.expect(api.key, 1, [])
    await sync(dc, api)
    assert api.written("create", PODS) == []
    status = ds_status(api)
    assert status["desiredNumberScheduled"] == 1
    assert status["observedGeneration"] == 2


async def test_creates_are_bounded_by_the_burst_and_go_in_slow_start_batches(
    api: Cluster, clock: Clock
) -> None:
    dc = DaemonSetController(api.recorder, clock=clock, burst_replicas=5)  # type: ignore[arg-type]
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, NODES, *(node(f"n{i}") for i in range(8)))
    await sync(dc, api)
    assert len(api.written("create", PODS)) == 5
    assert dc.expectations.pending(api.key) == (5, 0)


async def test_a_refused_create_stops_the_batch_and_is_not_expected(
    dc: DaemonSetController, api: Cluster
) -> None:
    api.refuse[("create", "pods")] = APIForbiddenError(_status(403, "Forbidden", "quota"))
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, NODES, *(node(f"n{i}") for i in range(6)))
    with pytest.raises(APIForbiddenError):
        await sync(dc, api)
    assert len(event_messages(api, "FailedCreate")) == 1  # One request, not six.
    assert dc.expectations.satisfied(api.key)


# --- deleting pods --------------------------------------------------------------------------------


async def test_of_extra_pods_on_a_node_the_oldest_stays(
    dc: DaemonSetController, api: Cluster
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
    await sync(dc, api)
    assert sorted(api.written("delete", PODS)) == ["middle", "young"]
    assert sorted(event_messages(api, "SuccessfulDelete")) == [
        "Deleted pod: middle",
        "Deleted pod: young",
    ]
    assert dc.expectations.pending(api.key) == (0, 2)


async def test_pods_leave_a_node_with_an_untolerated_no_execute_taint(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    evict = {"key": "maintenance", "effect": "NoExecute"}
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0", evict), node("n1"))
    seed(dc, api, PODS, daemon_pod("a", "n0", ds), daemon_pod("b", "n1", ds))
    await sync(dc, api)
    assert api.written("delete", PODS) == ["a"]


async def test_a_pod_stays_on_a_node_with_an_untolerated_no_schedule_taint(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0", {"key": "maintenance", "effect": "NoSchedule"}))
    seed(dc, api, PODS, daemon_pod("a", "n0", ds))
    await sync(dc, api)
    assert api.written("delete", PODS) == []
    status = ds_status(api)
    assert (status["desiredNumberScheduled"], status["numberMisscheduled"]) == (0, 1)


async def test_an_unbound_pod_meant_for_a_node_that_is_gone_is_deleted(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    unbound = daemon_pod("unbound", "gone", ds)
    del unbound["spec"]["nodeName"]
    du.pin_to_node(unbound["spec"], "gone")
    seed(dc, api, PODS, daemon_pod("a", "n0", ds), unbound, daemon_pod("bound", "gone", ds))
    await sync(dc, api)
    assert api.written("delete", PODS) == ["unbound"]


async def test_a_failed_pod_is_deleted_and_remade_with_back_off(
    dc: DaemonSetController, api: Cluster, clock: Clock
) -> None:
    # The back-off is per node and observed generation: a new generation may retry at once.
    ds = daemon_set(status={"observedGeneration": 1})
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("crashed", "n0", ds, phase="Failed"))
    await sync(dc, api)
    assert api.written("delete", PODS) == ["crashed"]
    (event,) = [e for e in api.events if e["reason"] == "FailedDaemonPod"]
    assert (
        event["message"]
        == f"Found failed daemon pod {api.namespace}/crashed on node n0, will try to kill it"
    )
    assert event["type"] == "Warning"
    assert api.written("create", PODS) == []  # Made on the next sync, once the delete is seen.

    refresh(dc, api)
    await sync(dc, api)
    assert api.written("create", PODS) == ["agent-00001"]

    # The new pod fails at once: within the node's back-off (1 s) it is left alone.
    replace(api, PODS, "agent-00001", status={"phase": "Failed"})
    refresh(dc, api)
    assert await sync(dc, api) == 1.0
    assert api.written("delete", PODS) == ["crashed"]
    clock.advance(1.5)
    await sync(dc, api)
    assert api.written("delete", PODS) == ["crashed", "agent-00001"]
    assert len(event_messages(api, "FailedDaemonPod")) == 2
    # The wait doubles; a node not retried for long is forgotten.
    assert dc.failed_pods_backoff.get(f"{api.ds_uid}/1/n0") == 2.0
    dc.failed_pods_backoff.gc()
    assert len(dc.failed_pods_backoff) == 1
    clock.advance(2 * 15 * 60 + 1)
    dc.failed_pods_backoff.gc()
    assert len(dc.failed_pods_backoff) == 0


async def test_a_succeeded_pod_is_deleted_with_a_normal_event(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("done", "n0", ds, phase="Succeeded"))
    await sync(dc, api)
    assert api.written("delete", PODS) == ["done"]
    assert event_messages(api, "SucceededDaemonPod") == [
        f"Found succeeded daemon pod {api.namespace}/done on node n0, will try to delete it"
    ]


async def test_an_orphan_that_matches_is_adopted_and_not_doubled(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("stray", "n0", ds, owned=False))
    await sync(dc, api)
    assert api.written("patch", PODS) == ["stray"]
    assert api.stored(PODS, "stray")["metadata"]["ownerReferences"] == [controller_ref(api.ds_uid)]
    assert api.written("create", PODS) == []


# --- rolling updates -----------------------------------------------------------------------------


async def test_a_new_template_replaces_one_pod_at_a_time(
    dc: DaemonSetController, api: Cluster
) -> None:
    old = daemon_set("agent:1")
    seed(dc, api, CRS, revision_of(old, 1))
    seed(dc, api, NODES, node("n0"), node("n1"), node("n2"))
    seed(dc, api, PODS, *(daemon_pod(f"p{i}", f"n{i}", old) for i in range(3)))
    new = daemon_set("agent:2", generation=2)
    seed(dc, api, DAEMON_SETS, new)
    await sync(dc, api)
    assert api.written("delete", PODS) == ["p0"]
    assert [r["revision"] for r in sorted(api.all(CRS), key=lambda r: r["revision"])] == [1, 2]
    assert ds_status(api)["updatedNumberScheduled"] == 0

    refresh(dc, api)  # p0 is gone: n0 gets a pod of the new revision, nothing else goes.
    await sync(dc, api)
    assert api.written("create", PODS) == ["agent-00001"]
    made = api.stored(PODS, "agent-00001")
    assert made["metadata"]["labels"][du.HASH_LABEL] == dh.template_hash(new)
    assert made["spec"]["containers"][0]["image"] == "agent:2"
    assert api.written("delete", PODS) == ["p0"]

    refresh(dc, api)  # The new pod is not ready yet: still nothing more.
    await sync(dc, api)
    assert api.written("delete", PODS) == ["p0"]

    replace(api, PODS, "agent-00001", status=daemon_pod("agent-00001", "n0", new)["status"])
    refresh(dc, api)
    await sync(dc, api)
    assert api.written("delete", PODS) == ["p0", "p1"]


async def test_max_surge_makes_the_new_pod_before_the_old_one_goes(
    dc: DaemonSetController, api: Cluster
) -> None:
    old = daemon_set("agent:1")
    seed(dc, api, CRS, revision_of(old, 1))
    seed(dc, api, NODES, node("n0"), node("n1"))
    seed(dc, api, PODS, daemon_pod("p0", "n0", old), daemon_pod("p1", "n1", old))
    seed(dc, api, DAEMON_SETS, daemon_set("agent:2", generation=2, max_unavailable=0, max_surge=1))
    await sync(dc, api)
    assert api.written("delete", PODS) == []
    assert pods_by_node(api) == {"n0": ["agent-00001", "p0"], "n1": ["p1"]}


async def test_on_delete_leaves_old_pods_for_someone_else_to_delete(
    dc: DaemonSetController, api: Cluster
) -> None:
    old = daemon_set("agent:1")
    seed(dc, api, CRS, revision_of(old, 1))
    seed(dc, api, NODES, node("n0"), node("n1"))
    seed(dc, api, PODS, daemon_pod("p0", "n0", old), daemon_pod("p1", "n1", old))
    seed(dc, api, DAEMON_SETS, daemon_set("agent:2", generation=2, strategy="OnDelete"))
    await sync(dc, api)
    assert api.written("delete", PODS) == []
    assert ds_status(api)["updatedNumberScheduled"] == 0


# --- history -------------------------------------------------------------------------------------


async def test_going_back_to_an_old_template_renumbers_its_revision(
    dc: DaemonSetController, api: Cluster
) -> None:
    first, second = daemon_set("agent:1"), daemon_set("agent:2")
    seed(dc, api, CRS, revision_of(first, 1), revision_of(second, 2))
    seed(dc, api, DAEMON_SETS, daemon_set("agent:1", generation=3))
    await sync(dc, api)
    assert api.written("create", CRS) == []
    numbers = {r["metadata"]["name"]: r["revision"] for r in api.all(CRS)}
    assert numbers == {
        f"agent-{dh.template_hash(first)}": 3,
        f"agent-{dh.template_hash(second)}": 2,
    }


async def test_old_revisions_beyond_the_limit_go_unless_a_pod_still_uses_them(
    dc: DaemonSetController, api: Cluster
) -> None:
    olds = [daemon_set(f"agent:{i}") for i in range(1, 5)]
    seed(dc, api, CRS, *(revision_of(ds, i + 1) for i, ds in enumerate(olds)))
    seed(dc, api, NODES, node("n0"))
    seed(dc, api, PODS, daemon_pod("p0", "n0", olds[0]))  # Still on revision 1.
    seed(dc, api, DAEMON_SETS, daemon_set("agent:9", generation=5, history=2))
    await sync(dc, api)
    # Four old revisions, two kept: revision 1 is in use, so 2 and 3 go.
    deleted = api.written("delete", CRS)
    assert deleted == [f"agent-{dh.template_hash(olds[1])}", f"agent-{dh.template_hash(olds[2])}"]


async def test_a_hash_collision_bumps_the_collision_count_and_retries(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    squatter = revision_of(daemon_set("other:1"), 1)
    squatter["metadata"]["name"] = f"agent-{dh.template_hash(ds)}"
    api.add(CRS, squatter)  # Not in the informer: the controller only learns of it by creating.
    seed(dc, api, DAEMON_SETS, ds)
    with pytest.raises(APIAlreadyExistsError):
        await sync(dc, api)
    assert ds_status(api)["collisionCount"] == 1
    refresh(dc, api, DAEMON_SETS)
    await sync(dc, api)
    bumped = daemon_set(status={"collisionCount": 1})
    assert api.written("create", CRS) == [f"agent-{dh.template_hash(bumped)}"]
    assert dh.template_hash(bumped) != dh.template_hash(ds)


async def test_a_stale_collision_count_is_not_bumped_twice(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    squatter = revision_of(daemon_set("other:1"), 1)
    squatter["metadata"]["name"] = f"agent-{dh.template_hash(ds)}"
    api.add(CRS, squatter)
    seed(dc, api, DAEMON_SETS, ds)
    replace(api, DAEMON_SETS, "agent", status={"collisionCount": 1})
    with pytest.raises(APIConflictError, match="stale collision count"):
        await sync(dc, api)
    assert ds_status(api)["collisionCount"] == 1


async def test_equal_revisions_are_merged_and_their_pods_moved_to_the_kept_one(
    dc: DaemonSetController, api: Cluster
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
    await sync(dc, api)
    assert api.written("delete", CRS) == ["agent-dup"]
    assert api.written("patch", PODS) == ["p0"]  # Not p1, of another revision.
    assert api.stored(PODS, "p0")["metadata"]["labels"][du.HASH_LABEL] == dh.template_hash(ds)


# --- status and odd DaemonSets ------------------------------------------------------------------


async def test_a_status_conflict_is_retried_on_the_fresh_object(
    dc: DaemonSetController, api: Cluster
) -> None:
    seed(dc, api, DAEMON_SETS, daemon_set())
    seed(dc, api, CRS, revision_of(daemon_set(), 1))
    seed(dc, api, NODES, node("n0"))
    # Changed meanwhile: the cached version is stale.
    replace(api, DAEMON_SETS, "agent", status={"collisionCount": 0})
    await sync(dc, api)
    assert api.written("update-status", DAEMON_SETS) == ["agent"]
    assert ds_status(api)["collisionCount"] == 0
    assert ds_status(api)["desiredNumberScheduled"] == 1


async def test_a_daemon_set_selecting_everything_is_reported_and_left_alone(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    ds["spec"]["selector"] = {}
    # The API server refuses such a DaemonSet (apps/v1): the controller's check is for one
    # stored before that rule, which only the cache can show here.
    ds["metadata"]["namespace"] = api.namespace
    dc.daemon_sets._store(api.key, ds)
    seed(dc, api, NODES, node("n0"))
    await sync(dc, api)
    assert api.writes == []
    assert event_messages(api, "SelectingAll") == [
        "This daemon set is selecting all pods. A non-empty selector is required."
    ]


async def test_a_daemon_set_being_deleted_is_left_alone(
    dc: DaemonSetController, api: Cluster
) -> None:
    ds = daemon_set()
    ds["metadata"]["deletionTimestamp"] = meta.format_time(NOW)
    seed(dc, api, DAEMON_SETS, ds)
    seed(dc, api, NODES, node("n0"))
    await sync(dc, api)
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
