"""The garbage collector's graph: which uids an informer event makes worth a look."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.controllers.dependencygraph import DependencyGraph, Node, OwnerRef, OwnerState

Obj = dict[str, Any]


def obj(
    name: str,
    uid: str,
    *owners: Obj,
    namespace: str = "default",
    finalizers: tuple[str, ...] = (),
    deleting: bool = False,
) -> Obj:
    md: Obj = {"name": name, "uid": uid, "ownerReferences": list(owners)}
    if namespace:
        md["namespace"] = namespace
    if finalizers:
        md["finalizers"] = list(finalizers)
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md}


def ref(name: str, uid: str, *, kind: str = "ConfigMap", block: bool = False) -> Obj:
    api_version = "apps/v1" if kind == "Deployment" else "v1"
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "blockOwnerDeletion": block,
    }


def node(o: Obj, kind: str = "ConfigMap") -> Node:
    api_version = {"Deployment": "apps/v1"}.get(kind, "v1")
    return Node.from_object(o, api_version=api_version, kind=kind)


def test_a_node_remembers_what_collection_needs() -> None:
    n = node(obj("a", "u-a", ref("o", "u-o", block=True), finalizers=("orphan",), deleting=True))
    assert str(n.identity) == "ConfigMap default/a (u-a)"
    assert n.owners == (OwnerRef("v1", "ConfigMap", "o", "u-o", block_owner_deletion=True),)
    assert n.orphaning and not n.deleting_dependents
    assert n.blocks("u-o") and not n.blocks("other")
    assert node(obj("a", "u", finalizers=("foregroundDeletion",))).deleting_dependents is False


def test_a_dependent_whose_owner_was_never_seen_needs_a_look() -> None:
    graph = DependencyGraph()
    assert graph.observe(node(obj("child", "u-c", ref("owner", "u-o")))) == {"u-c"}
    # Once the owner is seen, the graph vouches for it: nothing to do.
    assert graph.observe(node(obj("owner", "u-o"))) == set()
    assert graph.observe(node(obj("child", "u-c", ref("owner", "u-o")))) == set()
    assert [d.uid for d in graph.dependents("u-o")] == ["u-c"]


def test_deleting_an_owner_names_its_dependents() -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("owner", "u-o")))
    graph.observe(node(obj("a", "u-a", ref("owner", "u-o"))))
    graph.observe(node(obj("b", "u-b", ref("owner", "u-o"))))
    assert graph.remove("u-o") == {"u-a", "u-b"}
    assert graph.get("u-o") is None
    # The dependents are still known by the owner uid they name.
    assert {d.uid for d in graph.dependents("u-o")} == {"u-a", "u-b"}
    assert graph.remove("u-o") == set()


@pytest.mark.parametrize(
    ("reference", "dependent_namespace", "expected"),
    [
        (ref("owner", "u-o"), "default", OwnerState.SOLID),
        # Matched by uid: the same uid under another name is not this owner.
        (ref("renamed", "u-o"), "default", OwnerState.UNKNOWN),
        (ref("owner", "u-o", kind="Secret"), "default", OwnerState.UNKNOWN),
        # A namespaced owner owns only objects of its own namespace.
        (ref("owner", "u-o"), "other", OwnerState.UNKNOWN),
        (ref("owner", "never-seen"), "default", OwnerState.UNKNOWN),
    ],
)
def test_the_graph_vouches_only_for_owners_it_saw_where_they_belong(
    reference: Obj, dependent_namespace: str, expected: OwnerState
) -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("owner", "u-o")))
    dependent = node(obj("child", "u-c", reference, namespace=dependent_namespace))
    assert graph.owner_state(dependent, OwnerRef.from_json(reference)) is expected


def test_cluster_scoped_owners_own_objects_in_any_namespace() -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("n1", "u-n", namespace=""), kind="Namespace"))
    reference = {"apiVersion": "v1", "kind": "Namespace", "name": "n1", "uid": "u-n"}
    dependent = node(obj("child", "u-c", reference, namespace="elsewhere"))
    assert graph.owner_state(dependent, OwnerRef.from_json(reference)) is OwnerState.SOLID


def test_a_foreground_deletion_names_the_owner_and_its_live_dependents() -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("owner", "u-o")))
    graph.observe(node(obj("a", "u-a", ref("owner", "u-o", block=True))))
    graph.observe(node(obj("b", "u-b", ref("owner", "u-o"), deleting=True)))
    deleting = node(obj("owner", "u-o", finalizers=("foregroundDeletion",), deleting=True))
    assert graph.observe(deleting) == {"u-o", "u-a"}
    # Its dependents now have an owner waiting for them.
    assert graph.observe(node(obj("a", "u-a", ref("owner", "u-o", block=True)))) == {"u-a"}
    assert [d.uid for d in graph.blocking_dependents("u-o")] == ["u-a"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda: node(obj("a", "u-a")), id="reference-removed"),
        pytest.param(lambda: node(obj("a", "u-a", ref("owner", "u-o"))), id="no-longer-blocking"),
    ],
)
def test_a_waiting_owner_is_named_when_a_dependent_stops_blocking_it(change: Any) -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("owner", "u-o", finalizers=("foregroundDeletion",), deleting=True)))
    graph.observe(node(obj("a", "u-a", ref("owner", "u-o", block=True))))
    assert "u-o" in graph.observe(change())
    assert graph.blocking_dependents("u-o") == []


def test_a_waiting_owner_is_named_when_a_dependent_is_gone() -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("owner", "u-o", finalizers=("foregroundDeletion",), deleting=True)))
    graph.observe(node(obj("a", "u-a", ref("owner", "u-o", block=True))))
    assert graph.remove("u-a") == {"u-o"}


def test_an_orphaning_owner_is_named() -> None:
    graph = DependencyGraph()
    assert graph.observe(node(obj("o", "u-o", finalizers=("orphan",), deleting=True))) == {"u-o"}
    # Held by some other finalizer only: nothing for the collector.
    assert graph.observe(node(obj("p", "u-p", finalizers=("x.io/y",), deleting=True))) == set()


def test_an_object_recreated_while_unwatched_replaces_the_old_uid() -> None:
    graph = DependencyGraph()
    graph.observe(node(obj("owner", "old")))
    graph.observe(node(obj("child", "u-c", ref("owner", "old"))))
    # A relist shows the name with a new uid: the old owner is gone, its dependent named.
    assert graph.observe(node(obj("owner", "new"))) == {"u-c"}
    assert graph.get("old") is None
