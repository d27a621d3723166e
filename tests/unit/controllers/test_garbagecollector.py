"""The garbage collector's decisions, and the requests it makes for them.

`decide` is a table; the controller's `sync` runs against `FakeAPI`, a few API client calls over
objects in memory that records every write, so each test shows what the collector asked the
API server to do. The whole loop against a real server is in
tests/integration/test_garbage_collection.py.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from kubelite.client.api import PatchType, Resource
from kubelite.client.errors import APIConflictError, APINotFoundError
from kubelite.controllers.dependencygraph import OwnerRef, OwnerState
from kubelite.controllers.garbagecollector import (
    KEEP,
    Decision,
    GarbageCollector,
    decide,
    metadata_only,
)

Obj = dict[str, Any]

CONFIGMAPS = Resource("", "v1", "configmaps", kind="ConfigMap", verbs=("delete", "list", "watch"))
DEPLOYMENTS = Resource(
    "apps", "v1", "deployments", kind="Deployment", verbs=("delete", "list", "watch")
)
NAMESPACES = Resource(
    "", "v1", "namespaces", kind="Namespace", namespaced=False, verbs=("delete", "list", "watch")
)
NODES = Resource("", "v1", "nodes", kind="Node", namespaced=False, verbs=("list", "watch"))
EVENTS = Resource("", "v1", "events", kind="Event", verbs=("create", "delete", "list", "watch"))
RESOURCES = [CONFIGMAPS, DEPLOYMENTS, NAMESPACES, NODES, EVENTS]


def _status(code: int, reason: str) -> Obj:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


class FakeAPI:
    """The calls the collector makes, over objects in memory; `writes` records each write.

    Deletes and patches check preconditions (uid, resourceVersion) the way the API server does,
    and bump a global resourceVersion.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.writes: list[tuple[Any, ...]] = []
        self.events: list[Obj] = []
        self._revision = itertools.count(100)

    def add(self, resource: Resource, obj: Obj) -> Obj:
        md = obj["metadata"]
        md["resourceVersion"] = str(next(self._revision))
        key = (resource.plural, md.get("namespace", ""), md["name"])
        self.objects[key] = obj
        return obj

    def _find(self, resource: Resource, name: str, namespace: str | None) -> Obj:
        obj = self.objects.get((resource.plural, namespace or "", name))
        if obj is None:
            raise APINotFoundError(_status(404, "NotFound"))
        return obj

    async def api_resources(self) -> list[Resource]:
        return RESOURCES

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> Obj:
        return copy.deepcopy(self._find(resource, name, namespace))

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: str | None = None,
        preconditions: Obj | None = None,
    ) -> Obj:
        obj = self._find(resource, name, namespace)
        md = obj["metadata"]
        for field, value in (preconditions or {}).items():
            if md.get(field) != value:
                raise APIConflictError(_status(409, "Conflict"))
        self.writes.append(("delete", name, propagation_policy, dict(preconditions or {})))
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
        assert patch_type is PatchType.MERGE
        obj = self._find(resource, name, namespace)
        md = obj["metadata"]
        changes = dict(patch["metadata"])
        if changes.pop("resourceVersion") != md["resourceVersion"]:
            raise APIConflictError(_status(409, "Conflict"))
        self.writes.append(("patch", name, changes))
        for key, value in changes.items():
            if value is None:
                md.pop(key, None)
            else:
                md[key] = value
        md["resourceVersion"] = str(next(self._revision))
        return obj

    async def create(self, resource: Resource, body: Obj, **_: Any) -> Obj:
        assert resource.plural == "events"
        self.events.append(body)
        return body


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
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def gc(api: FakeAPI) -> GarbageCollector:
    return GarbageCollector(api)  # type: ignore[arg-type]


def seen(gc: GarbageCollector, api: FakeAPI, resource: Resource, obj: Obj) -> Obj:
    """An object that exists and that the collector's informers delivered."""
    api.add(resource, obj)
    gc.handle(resource, "ADDED", metadata_only(obj))
    return obj


def queued(gc: GarbageCollector) -> set[str]:
    return set(gc.queue._queued)


async def drain(gc: GarbageCollector) -> list[str]:
    """Sync what is queued, as the workers would; the uids in the order synced."""
    synced = []
    while len(gc.queue):
        uid = await gc.queue.get()
        try:
            await gc.sync(uid)
        finally:
            gc.queue.done(uid)
        synced.append(uid)
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
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    assert queued(gc) == {"uc"}
    await gc.sync("uc")
    rv = "100"
    assert api.writes == [("delete", "child", "Background", {"uid": "uc", "resourceVersion": rv})]


async def test_an_owner_that_exists_keeps_its_dependent(gc: GarbageCollector, api: FakeAPI) -> None:
    # Not yet seen by the informers, but the API server has it: a live GET tells.
    api.add(CONFIGMAPS, configmap("owner", "uo"))
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    await gc.sync("uc")
    assert api.writes == []


async def test_an_owner_replaced_under_its_name_does_not_keep_the_dependent(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    api.add(CONFIGMAPS, configmap("owner", "new-uid"))
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "old-uid")))
    await gc.sync("uc")
    assert [w[:3] for w in api.writes] == [("delete", "child", "Background")]


async def test_only_the_gone_owners_are_dropped_while_one_remains(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("keeper", "uk"))
    child = configmap("child", "uc", ref("gone", "ug"), ref("keeper", "uk"))
    seen(gc, api, CONFIGMAPS, child)
    await gc.sync("uc")
    assert api.writes == [("patch", "child", {"ownerReferences": [ref("keeper", "uk")]})]


async def test_a_namespaced_owner_in_another_namespace_is_no_owner(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("owner", "uo", namespace="elsewhere"))
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    assert queued(gc) == {"uc"}
    await gc.sync("uc")
    assert [w[:3] for w in api.writes] == [("delete", "child", "Background")]
    (event,) = api.events
    assert (event["reason"], event["type"]) == ("OwnerRefInvalidNamespace", "Warning")
    assert event["message"] == (
        "ownerRef [v1/ConfigMap, namespace: default, name: owner, uid: uo] does not exist in "
        'namespace "default"'
    )
    assert event["source"] == {"component": "garbage-collector-controller"}


async def test_a_cluster_scoped_owner_keeps_a_namespaced_dependent(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    api.add(NAMESPACES, {"metadata": {"name": "team", "uid": "un"}})
    owner = {"apiVersion": "v1", "kind": "Namespace", "name": "team", "uid": "un"}
    seen(gc, api, CONFIGMAPS, configmap("child", "uc", owner, namespace="other"))
    await gc.sync("uc")
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
    gc: GarbageCollector, api: FakeAPI, owner: Obj
) -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace"}
    ns["metadata"] = {"name": "team", "uid": "un", "ownerReferences": [owner]}
    seen(gc, api, NAMESPACES, ns)
    await gc.sync("un")
    assert api.writes == []


async def test_an_object_being_deleted_is_left_to_finish(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    child = configmap(
        "child",
        "uc",
        ref("owner", "uo"),
        deletionTimestamp="2026-01-01T00:00:00Z",
        finalizers=["x.io/y"],
    )
    seen(gc, api, CONFIGMAPS, child)
    await gc.sync("uc")
    assert api.writes == []


async def test_a_dependent_that_gained_an_owner_since_it_was_read_is_looked_at_again(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    child = seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    original = api.get

    async def get_then_adopt(resource: Resource, name: str, **kw: Any) -> Obj:
        found = await original(resource, name, **kw)
        if name == "child":
            # Someone adopts the child between the collector's read and its delete.
            child["metadata"]["ownerReferences"].append(ref("new", "un"))
            api.add(CONFIGMAPS, child)
        return found

    api.get = get_then_adopt  # type: ignore[method-assign]
    with pytest.raises(APIConflictError):
        await gc.sync("uc")
    assert api.writes == []


async def test_a_dependent_changed_otherwise_since_it_was_read_is_deleted_on_its_uid(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    child = seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    original = api.get
    reads = 0

    async def get_then_touch(resource: Resource, name: str, **kw: Any) -> Obj:
        nonlocal reads
        found = await original(resource, name, **kw)
        reads += 1
        if name == "child" and reads == 1:
            api.add(CONFIGMAPS, child)  # a write that leaves the owners as they are
        return found

    api.get = get_then_touch  # type: ignore[method-assign]
    await gc.sync("uc")
    assert api.writes == [("delete", "child", "Background", {"uid": "uc"})]


# --- sync: foreground deletion --------------------------------------------------------------


def deleting(name: str, uid: str, finalizer: str) -> Obj:
    obj = configmap(name, uid, deletionTimestamp="2026-01-01T00:00:00Z", finalizers=[finalizer])
    return obj


async def test_foreground_deletion_deletes_the_dependents_then_releases_the_owner(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("owner", "uo"))
    seen(gc, api, CONFIGMAPS, configmap("blocker", "ub", ref("owner", "uo", block=True)))
    seen(gc, api, CONFIGMAPS, configmap("loose", "ul", ref("owner", "uo")))
    assert queued(gc) == set()
    owner = deleting("owner", "uo", "foregroundDeletion")
    api.add(CONFIGMAPS, owner)
    gc.handle(CONFIGMAPS, "MODIFIED", owner)
    assert queued(gc) == {"uo", "ub", "ul"}

    # The owner waits for its blocking dependent; the dependents go, each in the background.
    await drain(gc)
    assert sorted(w[:3] for w in api.writes) == [
        ("delete", "blocker", "Background"),
        ("delete", "loose", "Background"),
    ]
    api.writes.clear()
    gc.handle(CONFIGMAPS, "DELETED", configmap("loose", "ul", ref("owner", "uo")))
    await drain(gc)
    assert api.writes == []  # the blocking one is still there
    gc.handle(CONFIGMAPS, "DELETED", configmap("blocker", "ub", ref("owner", "uo", block=True)))
    assert await drain(gc) == ["uo"]
    assert api.writes == [("patch", "owner", {"finalizers": None})]


async def test_a_dependent_with_dependents_of_its_own_is_deleted_in_the_foreground(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, deleting("owner", "uo", "foregroundDeletion"))
    seen(gc, api, CONFIGMAPS, configmap("middle", "um", ref("owner", "uo", block=True)))
    seen(gc, api, CONFIGMAPS, configmap("leaf", "ul", ref("middle", "um", block=True)))
    await gc.sync("um")
    assert [w[:3] for w in api.writes] == [("delete", "middle", "Foreground")]


async def test_a_cycle_of_foreground_deletions_is_unblocked_first(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, deleting("owner", "uo", "foregroundDeletion"))
    seen(gc, api, CONFIGMAPS, configmap("middle", "um", ref("owner", "uo", block=True)))
    # The middle's own dependent is already deleting in the foreground, waiting on the middle.
    leaf = deleting("leaf", "ul", "foregroundDeletion")
    leaf["metadata"]["ownerReferences"] = [ref("middle", "um", block=True)]
    seen(gc, api, CONFIGMAPS, leaf)
    await gc.sync("um")
    unblocked = dict(ref("owner", "uo"), blockOwnerDeletion=False)
    assert api.writes[0] == ("patch", "middle", {"ownerReferences": [unblocked]})
    # Deleted as it is after that write (its resourceVersion precondition would fail else).
    assert api.writes[1][:3] == ("delete", "middle", "Foreground")
    assert len(api.writes) == 2


async def test_an_object_found_being_deleted_is_not_deleted_again(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    child = seen(gc, api, CONFIGMAPS, configmap("child", "uc", ref("owner", "uo")))
    # Its informer has not told yet: the live object is the one that counts.
    child["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    await gc.sync("uc")
    assert api.writes == []


async def test_the_foreground_finalizer_goes_and_other_finalizers_stay(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    owner = deleting("owner", "uo", "foregroundDeletion")
    owner["metadata"]["finalizers"].insert(0, "x.io/y")
    seen(gc, api, CONFIGMAPS, owner)
    await gc.sync("uo")
    assert api.writes == [("patch", "owner", {"finalizers": ["x.io/y"]})]


# --- sync: orphaning ------------------------------------------------------------------------


async def test_orphaning_removes_the_reference_from_each_dependent_then_the_finalizer(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("other", "ux"))
    seen(gc, api, CONFIGMAPS, configmap("a", "ua", ref("owner", "uo", block=True)))
    seen(gc, api, CONFIGMAPS, configmap("b", "ub", ref("owner", "uo"), ref("other", "ux")))
    seen(gc, api, CONFIGMAPS, deleting("owner", "uo", "orphan"))
    assert queued(gc) >= {"uo"}
    await gc.sync("uo")
    assert sorted(api.writes[:2]) == [
        ("patch", "a", {"ownerReferences": None}),
        ("patch", "b", {"ownerReferences": [ref("other", "ux")]}),
    ]
    assert api.writes[2:] == [("patch", "owner", {"finalizers": None})]
    # Done once is done: a repeated sync writes nothing.
    api.writes.clear()
    await gc.sync("uo")
    assert api.writes == []


async def test_orphaning_a_dependent_that_is_gone_meanwhile_is_no_error(
    gc: GarbageCollector, api: FakeAPI
) -> None:
    seen(gc, api, CONFIGMAPS, configmap("a", "ua", ref("owner", "uo")))
    seen(gc, api, CONFIGMAPS, deleting("owner", "uo", "orphan"))
    del api.objects[("configmaps", "default", "a")]
    await gc.sync("uo")
    assert api.writes == [("patch", "owner", {"finalizers": None})]


async def test_the_collector_watches_what_can_be_deleted_but_events(gc: GarbageCollector) -> None:
    watched = await gc._collectable_resources()
    assert [r.plural for r in watched] == ["configmaps", "deployments", "namespaces"]
