"""The garbage collector's decisions, and the requests it makes for them.

`decide` is a table; the controller's `sync` runs against the unit tests' real API server
(`testcluster`), through `Graph`: the objects are made there, the collector is told of them as
its informers would tell it, and a `Recorder` around the real client notes its writes, so each
test shows what the collector asked the API server to do. The whole loop (informers, watches)
is in tests/integration/test_garbage_collection.py.

The tests write uids down by name (`uc`, `uo`): `Graph` puts the uid the server gave the object
made with that name in its place, and shows the server's uids by those names again.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from testcluster import Recorder, TestCluster

from kubelite.client.api import Resource
from kubelite.client.errors import APIConflictError
from kubelite.controllers.dependencygraph import OwnerRef, OwnerState
from kubelite.controllers.garbagecollector import (
    IGNORED_RESOURCES,
    KEEP,
    Decision,
    GarbageCollector,
    decide,
    metadata_only,
)

Obj = dict[str, Any]

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap", verbs=("delete", "list", "watch"))
NAMESPACES = Resource(
    "", "v1", "namespaces", kind="Namespace", namespaced=False, verbs=("delete", "list", "watch")
)


class Graph:
    """The test's objects in the server, by the names of their uids in the test."""

    def __init__(self, kube: TestCluster) -> None:
        self.kube = kube
        self.recorder = Recorder(kube.client)
        self.real: dict[str, str] = {}  # test uid -> server uid
        self.last: dict[str, Obj] = {}  # test uid -> the object as last made or changed
        self._namespaces: set[str] = set()
        self._blocking = kube.blocking

    # --- names ------------------------------------------------------------------------------

    def uid(self, name: str) -> str:
        return self.real.get(name, name)

    def named(self, uid: str) -> str:
        return {v: k for k, v in self.real.items()}.get(uid, uid)

    def namespace(self, name: str) -> str:
        """The test's namespace for "default"; another namespace's name, made the test's own."""
        return self.kube.namespace if name == "default" else f"{self.kube.namespace}-{name}"

    def _shown(self, value: Any) -> Any:
        """`value` with the server's uids and namespaces named as the test names them."""
        if isinstance(value, dict):
            return {k: (self.named(v) if k == "uid" else self._shown(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._shown(v) for v in value]
        return value

    @property
    def writes(self) -> list[tuple[Any, ...]]:
        """("delete", name, propagation policy, preconditions) and ("patch", name, metadata
        changes but the resourceVersion precondition), as the test names uids."""
        found: list[tuple[Any, ...]] = []
        for w in self.recorder.writes:
            if w.verb == "delete":
                policy = w.options.get("propagation_policy")
                found.append(("delete", w.name, policy, self._shown(w.sent)))
            else:
                changes = {k: v for k, v in w.sent["metadata"].items() if k != "resourceVersion"}
                found.append(("patch", w.name, self._shown(changes)))
        return found

    # --- making and changing ------------------------------------------------------------------

    def _resource_namespace(self, resource: Resource, md: Obj) -> str | None:
        return md.get("namespace") if resource.namespaced else None

    def add(self, resource: Resource, obj: Obj) -> Obj:
        """Make `obj` (written down by the test) in the server; one being deleted is made with
        its finalizers, then deleted (held by them)."""
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        name = md.pop("uid")
        deleting = md.pop("deletionTimestamp", None)
        if resource.namespaced:
            md["namespace"] = self.namespace(md.get("namespace", "default"))
        else:
            md["name"] = self.namespace(md["name"])
            self.kube.clean_up_later(resource, md["name"])
        for ref in md.get("ownerReferences") or ():
            ref["uid"] = self.uid(ref["uid"])
            if ref.get("kind") == "Namespace":
                ref["name"] = self.namespace(ref["name"])
        if resource.namespaced and md["namespace"] != self.kube.namespace:
            self._namespace_exists(md["namespace"])
        stored = self._blocking.create(
            resource, obj, namespace=self._resource_namespace(resource, md)
        )
        self.real[name] = stored["metadata"]["uid"]
        if deleting:
            stored = self.start_deleting(resource, stored)
        self.last[name] = stored
        return stored

    def _namespace_exists(self, name: str) -> None:
        if name not in self._namespaces:
            self._blocking.create(NAMESPACES, {"metadata": {"name": name}})
            self.kube.clean_up_later(NAMESPACES, name)
            self._namespaces.add(name)

    def start_deleting(self, resource: Resource, stored: Obj, policy: str = "") -> Obj:
        """Delete `stored` with the propagation `policy`, by default the one its finalizers
        say, which hold it."""
        finalizers = stored["metadata"].get("finalizers") or []
        if not policy:
            policy = (
                "Orphan"
                if "orphan" in finalizers
                else "Foreground"
                if "foregroundDeletion" in finalizers
                else "Background"
            )
        md = stored["metadata"]
        namespace = self._resource_namespace(resource, md)
        self._blocking.delete(resource, md["name"], namespace=namespace, propagation_policy=policy)
        deleting = self._blocking.get(resource, md["name"], namespace=namespace)
        assert deleting["metadata"].get("deletionTimestamp"), deleting
        return deleting

    def change(self, name: str, **metadata: Any) -> Obj:
        """Someone else writes the object (a new resourceVersion): `metadata` changed."""
        obj = self._blocking.get(
            CONFIGMAPS, self.last[name]["metadata"]["name"], namespace=self.kube.namespace
        )
        obj["metadata"].update(metadata)
        self.last[name] = self._blocking.update(CONFIGMAPS, obj, namespace=self.kube.namespace)
        return self.last[name]

    def delete(self, name: str) -> None:
        md = self.last[name]["metadata"]
        self._blocking.delete(CONFIGMAPS, md["name"], namespace=md["namespace"])


@pytest.fixture
def api(kube: TestCluster) -> Iterator[Graph]:
    yield Graph(kube)


def configmap(name: str, uid: str, *owners: Obj, namespace: str = "default", **md: Any) -> Obj:
    metadata: Obj = {"name": name, "namespace": namespace, "uid": uid, **md}
    if owners:
        metadata["ownerReferences"] = list(owners)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def ref(name: str, uid: str, *, kind: str = "ConfigMap", block: bool = False) -> Obj:
    api_version = {"Deployment": "apps/v1"}.get(kind, "v1")
    r: Obj = {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid}
    if block:
        r["blockOwnerDeletion"] = True
    return r


@pytest.fixture
def gc(api: Graph) -> GarbageCollector:
    return GarbageCollector(api.recorder)  # type: ignore[arg-type]


def seen(gc: GarbageCollector, api: Graph, resource: Resource, obj: Obj) -> Obj:
    """An object that exists and that the collector's informers delivered."""
    stored = api.add(resource, obj)
    gc.handle(resource, "ADDED", metadata_only(stored))
    return stored


def queued(gc: GarbageCollector, api: Graph) -> set[str]:
    return {api.named(uid) for uid in gc.queue._queued}


async def drain(gc: GarbageCollector, api: Graph) -> list[str]:
    """Sync what is queued, as the workers would; the uids in the order synced."""
    synced = []
    while len(gc.queue):
        uid = await gc.queue.get()
        try:
            await gc.sync(uid)
        finally:
            gc.queue.done(uid)
        synced.append(api.named(uid))
    return synced


# --- decide -----------------------------------------------------------------------------------

A = OwnerRef("v1", "ConfigMap", "a", "ua")
B = OwnerRef("v1", "ConfigMap", "b", "ub")
SOLID, WAITING, DANGLING = OwnerState.SOLID, OwnerState.WAITING, OwnerState.DANGLING


@pytest.mark.parametrize(
    ("owners", "finalizers", "has_dependents", "blocked_cycle", "expected"),
    [
        ([(A, SOLID)], [], False, False, KEEP),
        ([(A, SOLID), (B, DANGLING)], [], False, False, Decision(remove_owners=("ub",))),
        # A waiting owner would wait forever on an object another owner keeps.
        ([(A, SOLID), (B, WAITING)], [], True, False, Decision(remove_owners=("ub",))),
        ([(A, DANGLING), (B, DANGLING)], [], False, False, Decision(delete="Background")),
        ([(A, WAITING)], [], False, False, Decision(delete="Background")),
        # With dependents of its own, it goes in the foreground so the owner waits for them too.
        ([(A, WAITING)], [], True, False, Decision(delete="Foreground")),
        ([(A, WAITING)], [], True, True, Decision(delete="Foreground", unblock=True)),
        ([(A, DANGLING)], ["orphan"], False, False, Decision(delete="Orphan")),
        ([(A, DANGLING)], ["foregroundDeletion"], True, False, Decision(delete="Foreground")),
    ],
)
def test_decide(
    owners: list[tuple[OwnerRef, OwnerState]],
    finalizers: list[str],
    has_dependents: bool,
    blocked_cycle: bool,
    expected: Decision,
) -> None:
    assert (
        decide(
            owners,
            finalizers=finalizers,
            has_dependents=has_dependents,
            dependent_deleting_dependents=blocked_cycle,
        )
        == expected
    )


def test_metadata_only_keeps_what_collection_needs() -> None:
    obj = configmap("a", "u", ref("o", "uo"), labels={"x": "y"}, resourceVersion="5")
    obj["data"] = {"big": "x" * 1000}
    assert metadata_only(obj) == {
        "metadata": {
            "name": "a",
            "namespace": "default",
            "uid": "u",
            "resourceVersion": "5",
            "ownerReferences": [ref("o", "uo")],
        }
    }


# --- sync: collecting dependents ------------------------------------------------------------


async def test_a_dependent_of_a_missing_owner_is_deleted_on_its_uid(
    gc: GarbageCollector, api: Graph
) -> None:
    child = seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    assert queued(gc, api) == {"uc"}
    await gc.sync(api.uid("uc"))
    rv = child["metadata"]["resourceVersion"]
    assert api.writes == [("delete", "child", "Background", {"uid": "uc", "resourceVersion": rv})]
    assert await api.kube.names(CONFIGMAPS) == []


async def test_an_owner_that_exists_keeps_its_dependent(gc: GarbageCollector, api: Graph) -> None:
    # Not yet seen by the informers, but the API server has it: a live GET tells.
    api.add(CONFIGMAPS, configmap("owner", "uo"))
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    await gc.sync(api.uid("uc"))
    assert api.writes == []


async def test_an_owner_replaced_under_its_name_does_not_keep_the_dependent(
    gc: GarbageCollector, api: Graph
) -> None:
    api.add(CONFIGMAPS, configmap("owner", "new-uid"))
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "old-uid")))
    await gc.sync(api.uid("uc"))
    assert [w[:3] for w in api.writes] == [("delete", "child", "Background")]


async def test_only_the_gone_owners_are_dropped_while_one_remains(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("keeper", "uk"))
    child = configmap("child", "uc", ref("gone", "ug"), ref("keeper", "uk"))
    seen(gc, api, CONFIGMAPS, child)
    await gc.sync(api.uid("uc"))
    assert api.writes == [("patch", "child", {"ownerReferences": [ref("keeper", "uk")]})]


async def test_a_namespaced_owner_in_another_namespace_is_no_owner(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("owner", "uo", namespace="elsewhere"))
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    assert queued(gc, api) == {"uc"}
    await gc.sync(api.uid("uc"))
    assert [w[:3] for w in api.writes] == [("delete", "child", "Background")]
    await asyncio.gather(*gc.recorder._posting)
    (event,) = await api.kube.events()
    assert (event["reason"], event["type"]) == ("OwnerRefInvalidNamespace", "Warning")
    ns, uo = api.kube.namespace, api.uid("uo")
    assert event["message"] == (
        f"ownerRef [v1/ConfigMap, namespace: {ns}, name: owner, uid: {uo}] does not exist in "
        f'namespace "{ns}"'
    )
    assert event["source"] == {"component": "garbage-collector-controller"}


async def test_a_cluster_scoped_owner_keeps_a_namespaced_dependent(
    gc: GarbageCollector, api: Graph
) -> None:
    api.add(NAMESPACES, {"metadata": {"name": "team", "uid": "un"}})
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": "team", "uid": "un"}
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", owner, namespace="other"))
    await gc.sync(api.uid("uc"))
    assert api.writes == []


@pytest.mark.parametrize(
    "owner",
    [
        # A cluster-scoped object cannot have a namespaced owner: Kubernetes gives up on it.
        ref("cm", "ux"),
        # A kind nobody serves cannot be checked.
        {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w", "uid": "ux"},
    ],
)
async def test_owners_that_cannot_be_checked_leave_the_dependent_alone(
    gc: GarbageCollector, api: Graph, owner: Obj
) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace"}
    ns["metadata"] = {"name": "team", "uid": "un", "ownerReferences": [owner]}
    seen(gc, api, NAMESPACES, ns)
    await gc.sync(api.uid("un"))
    assert api.writes == []


async def test_an_object_being_deleted_is_left_to_finish(gc: GarbageCollector, api: Graph) -> None:
    child = configmap(
        "child",
        "uc",
        ref("owner", "uo"),
        deletionTimestamp="2026-01-01T00:00:00Z",
        finalizers=["x.io/y"],
    )
    seen(gc, api, CONFIGMAPS, child)
    await gc.sync(api.uid("uc"))
    assert api.writes == []


async def test_a_dependent_that_gained_an_owner_since_it_was_read_is_looked_at_again(
    gc: GarbageCollector, api: Graph
) -> None:
    child = seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    original = api.kube.client.get

    async def get_then_adopt(resource: Resource, name: str, **kw: Any) -> Obj:
        found = await original(resource, name, **kw)
        if name == "child":
            # Someone adopts the child between the collector's read and its delete.
            refs = [*child["metadata"]["ownerReferences"], ref("new", "un")]
            await api.kube.client.update(
                CONFIGMAPS, {**found, "metadata": {**found["metadata"], "ownerReferences": refs}}
            )
        return found

    api.recorder.get = get_then_adopt  # type: ignore[method-assign]
    with pytest.raises(APIConflictError):
        await gc.sync(api.uid("uc"))
    assert api.writes == []


async def test_a_dependent_changed_otherwise_since_it_was_read_is_deleted_on_its_uid(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    original = api.kube.client.get
    reads = 0

    async def get_then_touch(resource: Resource, name: str, **kw: Any) -> Obj:
        nonlocal reads
        found = await original(resource, name, **kw)
        reads += 1
        if name == "child" and reads == 1:
            # A write that leaves the owners as they are.
            touched = {**found, "metadata": {**found["metadata"], "labels": {"touched": "yes"}}}
            await api.kube.client.update(CONFIGMAPS, touched)
        return found

    api.recorder.get = get_then_touch  # type: ignore[method-assign]
    await gc.sync(api.uid("uc"))
    assert api.writes == [("delete", "child", "Background", {"uid": "uc"})]


# --- sync: foreground deletion --------------------------------------------------------------


def deleting(name: str, uid: str, finalizer: str) -> Obj:
    obj = configmap(name, uid, deletionTimestamp="2026-01-01T00:00:00Z", finalizers=[finalizer])
    return obj


async def test_foreground_deletion_deletes_the_dependents_then_releases_the_owner(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("owner", "uo"))
    seen(gc, api, CONFIGMAPS, configmap("blocker", "ub", ref("owner", "uo", block=True)))
    seen(gc, api, CONFIGMAPS, configmap("loose", "ul", ref("owner", "uo")))
    assert queued(gc, api) == set()
    # Deleted in the foreground: the server holds it with its foregroundDeletion finalizer.
    owner = api.start_deleting(CONFIGMAPS, api.last["uo"], "Foreground")
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]
    gc.handle(CONFIGMAPS, "MODIFIED", metadata_only(owner))
    assert queued(gc, api) == {"uo", "ub", "ul"}

    # The owner waits for its blocking dependent; the dependents go, each in the background.
    await drain(gc, api)
    assert sorted(w[:3] for w in api.writes) == [
        ("delete", "blocker", "Background"),
        ("delete", "loose", "Background"),
    ]
    assert await api.kube.names(CONFIGMAPS) == ["owner"]
    api.recorder.writes.clear()
    gc.handle(CONFIGMAPS, "DELETED", metadata_only(api.last["ul"]))
    await drain(gc, api)
    assert api.writes == []  # the blocking one is still there (as far as the graph knows)
    gc.handle(CONFIGMAPS, "DELETED", metadata_only(api.last["ub"]))
    assert await drain(gc, api) == ["uo"]
    assert api.writes == [("patch", "owner", {"finalizers": None})]
    assert await api.kube.names(CONFIGMAPS) == []  # released, the owner went


async def test_a_dependent_with_dependents_of_its_own_is_deleted_in_the_foreground(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, deleting("owner", "uo", "foregroundDeletion"))
    seen(gc, api, CONFIGMAPS, configmap("middle", "um", ref("owner", "uo", block=True)))
    seen(gc, api, CONFIGMAPS, configmap("leaf", "ul", ref("middle", "um", block=True)))
    await gc.sync(api.uid("um"))
    assert [w[:3] for w in api.writes] == [("delete", "middle", "Foreground")]


async def test_a_cycle_of_foreground_deletions_is_unblocked_first(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, deleting("owner", "uo", "foregroundDeletion"))
    seen(gc, api, CONFIGMAPS, configmap("middle", "um", ref("owner", "uo", block=True)))
    # The middle's own dependent is already deleting in the foreground, waiting on the middle.
    leaf = deleting("leaf", "ul", "foregroundDeletion")
    leaf["metadata"]["ownerReferences"] = [ref("middle", "um", block=True)]
    seen(gc, api, CONFIGMAPS, leaf)
    await gc.sync(api.uid("um"))
    unblocked = dict(ref("owner", "uo"), blockOwnerDeletion=False)
    assert api.writes[0] == ("patch", "middle", {"ownerReferences": [unblocked]})
    # Deleted as it is after that write (its resourceVersion precondition would fail else).
    assert api.writes[1][:3] == ("delete", "middle", "Foreground")
    assert len(api.writes) == 2


async def test_an_object_found_being_deleted_is_not_deleted_again(
    gc: GarbageCollector, api: Graph
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    # Its informer has not told yet: the live object is the one that counts.
    held = api.change("uc", finalizers=["x.io/y"])
    api.start_deleting(CONFIGMAPS, held)
    await gc.sync(api.uid("uc"))
    assert api.writes == []


async def test_the_foreground_finalizer_goes_and_other_finalizers_stay(
    gc: GarbageCollector, api: Graph
) -> None:
    owner = deleting("owner", "uo", "foregroundDeletion")
    owner["metadata"]["finalizers"].insert(0, "x.io/y")
    seen(gc, api, CONFIGMAPS, owner)
    await gc.sync(api.uid("uo"))
    assert api.writes == [("patch", "owner", {"finalizers": ["x.io/y"]})]


# --- sync: orphaning ------------------------------------------------------------------------


async def test_orphaning_removes_the_reference_from_each_dependent_then_the_finalizer(
    gc: GarbageCollector, api: Graph
) -> None:
    # The owner is made first (its dependents refer to its uid), and deleted after them.
    api.add(CONFIGMAPS, configmap("owner", "uo", finalizers=["orphan"]))
    seen(gc, api, CONFIGMAPS, configmap("other", "ux"))
    seen(gc, api, CONFIGMAPS, configmap("a", "ua", ref("owner", "uo", block=True)))
    seen(gc, api, CONFIGMAPS, configmap("b", "ub", ref("owner", "uo"), ref("other", "ux")))
    owner = api.start_deleting(CONFIGMAPS, api.last["uo"])
    gc.handle(CONFIGMAPS, "ADDED", metadata_only(owner))
    assert queued(gc, api) >= {"uo"}
    await gc.sync(api.uid("uo"))
    assert sorted(api.writes[:2]) == [
        ("patch", "a", {"ownerReferences": None}),
        ("patch", "b", {"ownerReferences": [ref("other", "ux")]}),
    ]
    assert api.writes[2:] == [("patch", "owner", {"finalizers": None})]
    assert await api.kube.names(CONFIGMAPS) == ["a", "b", "other"]
    # Done once is done: a repeated sync writes nothing.
    api.recorder.writes.clear()
    await gc.sync(api.uid("uo"))
    assert api.writes == []


async def test_orphaning_a_dependent_that_is_gone_meanwhile_is_no_error(
    gc: GarbageCollector, api: Graph
) -> None:
    api.add(CONFIGMAPS, configmap("owner", "uo", finalizers=["orphan"]))
    seen(gc, api, CONFIGMAPS, configmap("a", "ua", ref("owner", "uo")))
    owner = api.start_deleting(CONFIGMAPS, api.last["uo"])
    gc.handle(CONFIGMAPS, "ADDED", metadata_only(owner))
    api.delete("ua")
    await gc.sync(api.uid("uo"))
    assert api.writes == [("patch", "owner", {"finalizers": None})]


async def test_the_collector_watches_what_can_be_deleted_but_events(
    gc: GarbageCollector, api: Graph
) -> None:
    """What the server's discovery lists that can be listed, watched and deleted; not Events
    (Kubernetes' ignoredResources)."""
    watched = {(r.group, r.plural) for r in await gc._collectable_resources()}
    assert {("", "configmaps"), ("apps", "deployments"), ("", "namespaces")} <= watched
    assert ("", "events") not in watched and ("events.k8s.io", "events") not in watched
    served = await api.kube.client.api_resources()
    expected = {
        (r.group, r.plural)
        for r in served
        if {"delete", "list", "watch"} <= set(r.verbs)
        and (r.group, r.plural) not in IGNORED_RESOURCES
    }
    assert watched == expected
