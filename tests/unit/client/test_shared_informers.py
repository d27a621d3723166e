"""SharedInformerFactory: one informer per resource per process, as client-go's factory.

The factory's informers run against `FakeListWatch`, which answers lists and watches from memory
and, for the start tests, holds every list open until the test ends, so that a started informer
stays in its first list and the test sees exactly which informers were started.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kubelite.client.api import Resource, WatchEvent
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory, strip_managed_fields

Obj = dict[str, Any]
PODS = Resource("", "v1", "pods", kind="Pod")
NAMESPACES = Resource("", "v1", "namespaces", kind="Namespace", namespaced=False)
REPLICA_SETS = Resource("apps", "v1", "replicasets", kind="ReplicaSet")
MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]


class FakeListWatch:
    """List and watch from memory; with `hold`, every list waits until `release` is set and
    every watch stays open (a started informer's loop would otherwise spin on empty watches)."""

    def __init__(self, items: list[Obj] | None = None, *, hold: bool = False) -> None:
        self.items = items or []
        self.events: list[WatchEvent] = []
        self.hold = hold
        self.release = asyncio.Event()
        self.listed: list[str] = []
        self.listing = asyncio.Event()

    async def list(self, resource: Resource, **_: Any) -> Obj:
        self.listed.append(resource.plural)
        self.listing.set()
        if self.hold:
            await self.release.wait()
        return {"metadata": {"resourceVersion": "10"}, "items": copy.deepcopy(self.items)}

    async def watch(self, resource: Resource, **_: Any) -> AsyncIterator[WatchEvent]:
        for event in self.events:
            yield event
        if self.hold:
            await asyncio.Event().wait()  # a watch that stays open, as a real one does


def pod(name: str, rv: str = "1") -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "resourceVersion": rv,
            "labels": {"app": "web"},
            "managedFields": copy.deepcopy(MANAGED),
        },
        "spec": {"nodeName": "n1"},
    }


@pytest.fixture
def client() -> Iterator[FakeListWatch]:
    yield FakeListWatch([pod("a")])


def test_the_same_resource_gets_the_same_informer(client: FakeListWatch) -> None:
    """Asking twice for one resource returns one informer (one LIST and one WATCH for the
    process); other resources get their own."""
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    pods = factory.informer(PODS)
    assert factory.informer(PODS) is pods
    assert factory.informer(Resource("", "v1", "pods", kind="Pod")) is pods  # an equal Resource
    assert factory.informer(REPLICA_SETS) is not pods
    assert factory.informers() == [pods, factory.informer(REPLICA_SETS)]


def test_a_metadata_request_is_served_by_the_full_informer(client: FakeListWatch) -> None:
    """Metadata is part of the full object: a metadata-only request for a resource with a full
    informer gets that informer, not a second watch."""
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    full = factory.informer(PODS)
    served = factory.informer(PODS, metadata_only=True, metadata_transform=lambda o: o)
    assert served is full
    assert not served.metadata_only
    assert factory.informers() == [full]


def test_metadata_only_informers_are_shared_too(client: FakeListWatch) -> None:
    """Without a full informer, metadata-only requests share one metadata-only informer."""
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    first = factory.informer(NAMESPACES, metadata_only=True)
    assert first.metadata_only
    assert factory.informer(NAMESPACES, metadata_only=True) is first
    assert factory.informers() == [first]


async def test_cached_objects_have_no_managed_fields(client: FakeListWatch) -> None:
    """The factory's informers cache objects without metadata.managedFields, from the list and
    from the watch alike, and leave the objects they were given untouched."""
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    informer = factory.informer(PODS)
    await informer._relist()
    cached = informer.get("default/a")
    assert cached is not None
    assert "managedFields" not in cached["metadata"]
    assert cached["metadata"]["labels"] == {"app": "web"}  # the rest of metadata stays

    event = pod("b", "2")
    client.events = [WatchEvent("ADDED", event)]
    await informer._watch("10")
    cached = informer.get("default/b")
    assert cached is not None and "managedFields" not in cached["metadata"]
    assert event["metadata"]["managedFields"] == MANAGED


def test_strip_managed_fields_copies_only_when_needed() -> None:
    """An object without managedFields is cached as it came; one with them is copied, never
    changed in place."""
    bare: Obj = {"metadata": {"name": "a"}}
    assert strip_managed_fields(bare) is bare
    full = pod("a")
    stripped = strip_managed_fields(full)
    assert "managedFields" not in stripped["metadata"]
    assert full["metadata"]["managedFields"] == MANAGED


async def test_metadata_only_cached_objects_have_no_managed_fields(
    client: FakeListWatch,
) -> None:
    """PartialObjectMetadata carries managedFields too; the factory's promise covers it."""
    client.items = [
        {"metadata": {"name": "team", "resourceVersion": "1", "managedFields": MANAGED}}
    ]
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    informer = factory.informer(NAMESPACES, metadata_only=True)
    await informer._relist()
    cached = informer.get("team")
    assert cached is not None and "managedFields" not in cached["metadata"]


async def test_start_is_idempotent() -> None:
    """Start starts each informer once however often it is called, and a later call starts
    only the informers asked for since (a controller built after the others)."""
    client = FakeListWatch(hold=True)
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    pods = factory.informer(PODS)
    try:
        factory.start()
        first: asyncio.Task[None] | None = pods._task
        assert first is not None
        factory.start()
        assert pods._task is first
        await asyncio.wait_for(client.listing.wait(), 1)
        assert client.listed == ["pods"]

        client.listing.clear()
        replica_sets = factory.informer(REPLICA_SETS)
        factory.start()
        assert pods._task is first and not first.done()
        assert replica_sets._task is not None
        await asyncio.wait_for(client.listing.wait(), 1)
        assert client.listed == ["pods", "replicasets"]
    finally:
        await factory.stop()
    assert first.cancelled()


async def test_wait_synced_waits_for_the_first_list() -> None:
    """wait_synced returns once every informer has listed (cache.WaitForCacheSync)."""
    client = FakeListWatch([pod("a")], hold=True)
    factory = SharedInformerFactory(client)  # type: ignore[arg-type]
    pods: Informer = factory.informer(PODS)
    try:
        factory.start()
        await asyncio.wait_for(client.listing.wait(), 1)
        assert not pods.synced
        client.release.set()
        await asyncio.wait_for(factory.wait_synced(), 1)
        assert pods.synced and pods.get("default/a") is not None
    finally:
        await factory.stop()
