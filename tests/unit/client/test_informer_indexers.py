"""The informer's indexers and handlers (client-go's cache.Indexer and ResourceEventHandler).

A `FakeListWatch` client answers the informer's list and watch from memory, and the tests drive
one relist (`_relist`) or one watch request (`_watch`) at a time, the two steps the informer's
run loop repeats; no server, no task, no waiting.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubelite.client.api import Resource, WatchEvent
from kubelite.client.informer import (
    IndexFunc,
    Informer,
    by_controller_uid,
    by_namespace,
    by_node_name,
)

Obj = dict[str, Any]
PODS = Resource("", "v1", "pods", kind="Pod")


class FakeListWatch:
    """The list and watch calls an informer makes: `items` for a list, `events` for a watch."""

    def __init__(self, items: list[Obj] | None = None, version: str = "10") -> None:
        self.items = items or []
        self.version = version
        self.events: list[WatchEvent] = []

    async def list(self, resource: Resource, **_: Any) -> Obj:
        return {
            "metadata": {"resourceVersion": self.version},
            "items": [copy.deepcopy(o) for o in self.items],
        }

    async def watch(self, resource: Resource, **_: Any) -> AsyncIterator[WatchEvent]:
        for event in self.events:
            yield event


def pod(
    name: str,
    rv: str = "1",
    *,
    namespace: str = "default",
    node: str = "",
    owner_uid: str = "",
    controller: bool = True,
) -> Obj:
    md: Obj = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": rv}
    if owner_uid:
        md["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "rs",
                "uid": owner_uid,
                "controller": controller,
            }
        ]
    spec: Obj = {"nodeName": node} if node else {}
    return {"metadata": md, "spec": spec}


def names(objs: list[Obj]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objs)


def informer_with(client: FakeListWatch, **indexers: IndexFunc) -> Informer:
    informer = Informer(client, PODS)  # type: ignore[arg-type]
    for name, func in indexers.items():
        informer.add_indexer(name, func)
    return informer


async def watch(informer: Informer, client: FakeListWatch, *events: tuple[str, Obj]) -> None:
    """Deliver `events` through one watch request, as the informer's loop would."""
    client.events = [WatchEvent(t, o) for t, o in events]
    await informer._watch("1")


# --- the index functions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("func", "obj", "expected"),
    [
        (by_namespace, pod("a", namespace="team"), ["team"]),
        (by_namespace, {"metadata": {"name": "node-1"}}, []),  # cluster-scoped
        (by_controller_uid, pod("a", owner_uid="rs-1"), ["rs-1"]),
        (by_controller_uid, pod("a", owner_uid="rs-1", controller=False), []),  # owner only
        (by_controller_uid, pod("a"), []),
        (by_node_name, pod("a", node="n1"), ["n1"]),
        (by_node_name, pod("a"), []),  # not scheduled yet
    ],
    ids=[
        "namespace",
        "namespace-cluster-scoped",
        "controller",
        "controller-not-controller-ref",
        "controller-orphan",
        "node",
        "node-unscheduled",
    ],
)
def test_index_functions(func: IndexFunc, obj: Obj, expected: list[str]) -> None:
    """MetaNamespaceIndexFunc, the controller-uid and node-name indexes: the values an object
    is filed under (none when it has no such value)."""
    assert func(obj) == expected


# --- keeping the indexes current ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "func", "events", "expected"),
    [
        (
            "node",
            by_node_name,
            [("ADDED", pod("a", node="n1")), ("ADDED", pod("b", node="n1"))],
            {"n1": ["a", "b"], "n2": []},
        ),
        (
            "node",
            by_node_name,
            [("ADDED", pod("a")), ("MODIFIED", pod("a", "2", node="n2"))],  # scheduled
            {"n2": ["a"]},
        ),
        (
            "node",
            by_node_name,
            [
                ("ADDED", pod("a", node="n1")),
                ("ADDED", pod("b", node="n1")),
                ("MODIFIED", pod("a", "2", node="n2")),
            ],
            {"n1": ["b"], "n2": ["a"]},
        ),
        (
            "node",
            by_node_name,
            [
                ("ADDED", pod("a", node="n1")),
                ("MODIFIED", pod("a", "2", node="n1")),  # same value: still filed once
            ],
            {"n1": ["a"]},
        ),
        (
            "node",
            by_node_name,
            [("ADDED", pod("a", node="n1")), ("DELETED", pod("a", "2", node="n1"))],
            {"n1": []},
        ),
        (
            "controller",
            by_controller_uid,
            [
                ("ADDED", pod("a", owner_uid="rs-1")),
                ("MODIFIED", pod("a", "2")),  # released by its owner
            ],
            {"rs-1": []},
        ),
        (
            "controller",
            by_controller_uid,
            [("ADDED", pod("a")), ("MODIFIED", pod("a", "2", owner_uid="rs-2"))],  # adopted
            {"rs-2": ["a"]},
        ),
        (
            "namespace",
            by_namespace,
            [
                ("ADDED", pod("a", namespace="x")),
                ("ADDED", pod("a", namespace="y")),
                ("DELETED", pod("a", "2", namespace="x")),
            ],
            {"x": [], "y": ["a"]},
        ),
    ],
    ids=[
        "added",
        "modified-gains-value",
        "modified-value-changes",
        "modified-value-unchanged",
        "deleted",
        "released",
        "adopted",
        "same-name-other-namespace",
    ],
)
async def test_watch_events_keep_the_index_current(
    index: str,
    func: IndexFunc,
    events: list[tuple[str, Obj]],
    expected: dict[str, list[str]],
) -> None:
    """client-go's indexer updates an object's index entries on every add, update and delete:
    an object is found under its current values only."""
    client = FakeListWatch()
    informer = informer_with(client, **{index: func})
    await watch(informer, client, *events)
    assert {value: names(informer.by_index(index, value)) for value in expected} == expected


async def test_a_relist_keeps_the_index_current() -> None:
    """After a relist (410 Gone) the index matches the new listing: objects gone from it are
    unfiled, moved ones refiled under their new value, new ones filed."""
    client = FakeListWatch([pod("a", node="n1"), pod("b", node="n1"), pod("c", node="n2")])
    informer = informer_with(client, node=by_node_name)
    await informer._relist()
    assert names(informer.by_index("node", "n1")) == ["a", "b"]

    client.items = [pod("a", "5", node="n2"), pod("c", node="n2"), pod("d", node="n1")]
    await informer._relist()
    assert names(informer.by_index("node", "n1")) == ["d"]
    assert names(informer.by_index("node", "n2")) == ["a", "c"]
    assert informer.get("default/b") is None


async def test_an_indexer_added_late_indexes_what_is_cached() -> None:
    """AddIndexers on an informer that already holds objects indexes them at once (shared
    informers: a controller built after another one started the informer)."""
    client = FakeListWatch([pod("a", owner_uid="rs-1"), pod("b", owner_uid="rs-1"), pod("c")])
    informer = informer_with(client)
    await informer._relist()
    informer.add_indexer("controller", by_controller_uid)
    assert names(informer.by_index("controller", "rs-1")) == ["a", "b"]
    await watch(informer, client, ("ADDED", pod("d", owner_uid="rs-1")))
    assert names(informer.by_index("controller", "rs-1")) == ["a", "b", "d"]


async def test_an_index_asked_for_twice_keeps_the_first_function() -> None:
    """Two controllers asking a shared informer for the same index name get one index."""
    client = FakeListWatch([pod("a", node="n1")])
    informer = informer_with(client, node=by_node_name)
    informer.add_indexer("node", by_namespace)
    await informer._relist()
    assert names(informer.by_index("node", "n1")) == ["a"]
    assert informer.by_index("node", "default") == []


async def test_an_object_with_several_index_values_is_found_under_each() -> None:
    """An index function may give several values (client-go's []string); the object is filed
    under each, and unfiled from each when it changes."""

    def by_label_keys(obj: Obj) -> list[str]:
        return sorted((obj["metadata"].get("labels") or {}).keys())

    client = FakeListWatch()
    informer = informer_with(client, keys=by_label_keys)
    labelled = pod("a")
    labelled["metadata"]["labels"] = {"app": "web", "tier": "front"}
    relabelled = pod("a", "2")
    relabelled["metadata"]["labels"] = {"tier": "back"}
    await watch(informer, client, ("ADDED", labelled))
    assert names(informer.by_index("keys", "app")) == names(informer.by_index("keys", "tier"))
    await watch(informer, client, ("MODIFIED", relabelled))
    assert informer.by_index("keys", "app") == []
    assert names(informer.by_index("keys", "tier")) == ["a"]


# --- handlers ----------------------------------------------------------------------------------


def rv(obj: Obj | None) -> str | None:
    return None if obj is None else obj["metadata"]["resourceVersion"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("ADDED", pod("a", "1"))], [("ADDED", "1", None)]),
        (
            [("ADDED", pod("a", "1")), ("MODIFIED", pod("a", "2"))],
            [("ADDED", "1", None), ("MODIFIED", "2", "1")],
        ),
        (
            [("ADDED", pod("a", "1")), ("MODIFIED", pod("a", "2")), ("DELETED", pod("a", "3"))],
            [("ADDED", "1", None), ("MODIFIED", "2", "1"), ("DELETED", "3", "2")],
        ),
    ],
    ids=["added", "modified", "deleted"],
)
async def test_a_handler_with_old_gets_the_object_it_replaced(
    events: list[tuple[str, Obj]], expected: list[tuple[str, str, str | None]]
) -> None:
    """A handler registered with_old receives (type, obj, old): old is None for ADDED and the
    previously cached object for MODIFIED and DELETED (client-go's OnUpdate(old, new))."""
    client = FakeListWatch()
    informer = informer_with(client)
    seen: list[tuple[str, str, str | None]] = []
    informer.add_handler(lambda t, o, old: seen.append((t, rv(o), rv(old))), with_old=True)
    await watch(informer, client, *events)
    assert seen == expected


async def test_a_relist_tells_with_old_handlers_what_changed_meanwhile() -> None:
    """A relist reports the differences from the cache: DELETED for the missing, MODIFIED (with
    the old object) for a new resourceVersion, ADDED for the new, nothing for the unchanged."""
    client = FakeListWatch([pod("gone", "1"), pod("changed", "1"), pod("same", "1")])
    informer = informer_with(client)
    await informer._relist()
    seen: list[tuple[str, str, str | None, str | None]] = []
    informer.add_handler(
        lambda t, o, old: seen.append((t, o["metadata"]["name"], rv(o), rv(old))), with_old=True
    )
    seen.clear()  # what the late handler was told of the cache

    client.items = [pod("changed", "7"), pod("same", "1"), pod("new", "8")]
    await informer._relist()
    assert sorted(seen) == [
        ("ADDED", "new", "8", None),
        ("DELETED", "gone", "1", "1"),
        ("MODIFIED", "changed", "7", "1"),
    ]


async def test_a_plain_handler_gets_type_and_object() -> None:
    """Without with_old, handlers keep the two-argument form."""
    client = FakeListWatch()
    informer = informer_with(client)
    seen: list[tuple[str, str]] = []
    informer.add_handler(lambda t, o: seen.append((t, rv(o))))
    await watch(informer, client, ("ADDED", pod("a", "1")), ("MODIFIED", pod("a", "2")))
    assert seen == [("ADDED", "1"), ("MODIFIED", "2")]


@pytest.mark.parametrize("with_old", [False, True], ids=["plain", "with-old"])
async def test_a_handler_added_late_is_told_of_the_cache_as_added(with_old: bool) -> None:
    """client-go's AddEventHandler on a running informer replays every cached object as an
    add, then delivers later events as usual."""
    client = FakeListWatch([pod("a", "1"), pod("b", "2")])
    informer = informer_with(client)
    await informer._relist()
    seen: list[tuple[Any, ...]] = []
    if with_old:
        informer.add_handler(lambda t, o, old: seen.append((t, rv(o), old)), with_old=True)
        replay = [("ADDED", "1", None), ("ADDED", "2", None)]
    else:
        informer.add_handler(lambda t, o: seen.append((t, rv(o))))
        replay = [("ADDED", "1"), ("ADDED", "2")]
    assert sorted(seen) == replay
    seen.clear()
    await watch(informer, client, ("DELETED", pod("a", "3")))
    assert [s[:2] for s in seen] == [("DELETED", "3")]


async def test_a_failing_handler_does_not_keep_the_others_from_hearing() -> None:
    """A handler that raises is logged; the cache and the other handlers still see the event."""
    client = FakeListWatch()
    informer = informer_with(client, node=by_node_name)

    def broken(event_type: str, obj: Obj) -> None:
        raise RuntimeError("boom")

    seen: list[str] = []
    informer.add_handler(broken)
    informer.add_handler(lambda t, o: seen.append(t))
    await watch(informer, client, ("ADDED", pod("a", node="n1")))
    assert seen == ["ADDED"]
    assert names(informer.by_index("node", "n1")) == ["a"]
