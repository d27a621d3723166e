"""The garbage collector's picture of ownership: every object it watches, owners to dependents.

Kubernetes' garbage collector keeps a graph of the objects its informers see, keyed by uid, with
an edge from each owner to each dependent that names it in `metadata.ownerReferences`
(`pkg/controller/garbagecollector/graph.go` and `graph_builder.go`). This is that graph, and
only that: it holds no API client and makes no requests. Feeding it an informer event
(`observe`, `remove`) answers which objects the collector should look at again, so the
controller's event handlers stay "update the cache, enqueue keys" (STYLE.md).

Owners are matched by uid, never by name: a dependent of a deleted and re-created owner is the
dependent of an owner that is gone. Where the graph cannot vouch for an owner (never seen, seen
under other coordinates, or in another namespace than a namespaced dependent) it says
`UNKNOWN`, and the collector asks the API server before it acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kubelite.api.propagation import FINALIZER_FOREGROUND, FINALIZER_ORPHAN
from kubelite.api.types import Obj


def group_of(api_version: str) -> str:
    """`apps` for `apps/v1`, "" for the core `v1`."""
    return api_version.rpartition("/")[0]


@dataclass(frozen=True)
class OwnerRef:
    """One entry of metadata.ownerReferences, as far as garbage collection cares."""

    api_version: str
    kind: str
    name: str
    uid: str
    block_owner_deletion: bool = False

    @classmethod
    def from_json(cls, ref: Obj) -> OwnerRef:
        return cls(
            api_version=str(ref.get("apiVersion") or ""),
            kind=str(ref.get("kind") or ""),
            name=str(ref.get("name") or ""),
            uid=str(ref.get("uid") or ""),
            block_owner_deletion=ref.get("blockOwnerDeletion") is True,
        )


@dataclass(frozen=True)
class Identity:
    """Which object a node is: its kind, where it lives, and the uid that makes it this one."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    @property
    def group(self) -> str:
        return group_of(self.api_version)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.uid})"


@dataclass(frozen=True)
class Node:
    """What the graph remembers of one object (never the object itself)."""

    identity: Identity
    owners: tuple[OwnerRef, ...] = ()
    finalizers: tuple[str, ...] = ()
    being_deleted: bool = False

    @classmethod
    def from_object(cls, obj: Obj, *, api_version: str, kind: str) -> Node:
        """The node of an object served as `kind` in `api_version` (list items may not say)."""
        md = obj.get("metadata") or {}
        return cls(
            identity=Identity(
                api_version=api_version,
                kind=kind,
                namespace=str(md.get("namespace") or ""),
                name=str(md.get("name") or ""),
                uid=str(md.get("uid") or ""),
            ),
            owners=tuple(
                OwnerRef.from_json(r) for r in md.get("ownerReferences") or () if r.get("uid")
            ),
            finalizers=tuple(md.get("finalizers") or ()),
            being_deleted=bool(md.get("deletionTimestamp")),
        )

    @property
    def uid(self) -> str:
        return self.identity.uid

    @property
    def deleting_dependents(self) -> bool:
        """Deleted in the foreground: it waits until its blocking dependents are gone."""
        return self.being_deleted and FINALIZER_FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        """Deleted with the orphan policy: its dependents are to be let go, not deleted."""
        return self.being_deleted and FINALIZER_ORPHAN in self.finalizers

    def blocks(self, owner_uid: str) -> bool:
        """Whether this node holds up the foreground deletion of that owner."""
        return any(r.uid == owner_uid and r.block_owner_deletion for r in self.owners)


class OwnerState(Enum):
    """How one owner reference of a dependent stands (classifyReferences' three, and one more).

    SOLID: the owner exists and is not waiting for its dependents. WAITING: the owner exists and
    is being deleted in the foreground. DANGLING: no such owner (gone, or another object with
    that name). UNKNOWN: the graph cannot tell; only the API server can.
    """

    SOLID = "solid"
    WAITING = "waiting"
    DANGLING = "dangling"
    UNKNOWN = "unknown"


def _name_key(identity: Identity) -> tuple[str, str, str, str]:
    return (identity.group, identity.kind, identity.namespace, identity.name)


class DependencyGraph:
    """Nodes by uid, and for every owner uid the uids of the observed dependents naming it.

    The dependents index is kept whether or not the owner itself was ever observed: that is
    how the dependents of an owner that is gone are found when the collector learns of it.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}
        self._by_name: dict[tuple[str, str, str, str], str] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def get(self, uid: str) -> Node | None:
        return self._nodes.get(uid)

    def dependents(self, owner_uid: str) -> list[Node]:
        """The observed objects that name this uid as an owner."""
        return [self._nodes[uid] for uid in self._dependents.get(owner_uid, ())]

    def blocking_dependents(self, owner_uid: str) -> list[Node]:
        """The dependents a foreground deletion of this owner has to wait for."""
        return [d for d in self.dependents(owner_uid) if d.blocks(owner_uid)]

    def owner_state(self, dependent: Node, ref: OwnerRef) -> OwnerState:
        """What the graph alone can say of one owner reference: SOLID, WAITING or UNKNOWN.

        Only an observed owner with the reference's group, kind and name counts, and a
        namespaced owner only for dependents in its own namespace (cluster-scoped owners may
        own anything). Everything else needs a look at the API server.
        """
        owner = self._nodes.get(ref.uid)
        if owner is None:
            return OwnerState.UNKNOWN
        seen = owner.identity
        if (seen.group, seen.kind, seen.name) != (group_of(ref.api_version), ref.kind, ref.name):
            return OwnerState.UNKNOWN
        if seen.namespace and seen.namespace != dependent.identity.namespace:
            return OwnerState.UNKNOWN
        return OwnerState.WAITING if owner.deleting_dependents else OwnerState.SOLID

    def all_owners_solid(self, node: Node) -> bool:
        """Whether the graph vouches for every owner: then there is nothing to collect."""
        return all(self.owner_state(node, ref) is OwnerState.SOLID for ref in node.owners)

    # --- informer events ----------------------------------------------------------------------

    def observe(self, node: Node) -> set[str]:
        """Record an object as added or changed; the uids the collector should sync now."""
        dirty: set[str] = set()
        key = _name_key(node.identity)
        stale = self._by_name.get(key)
        if stale is not None and stale != node.uid:
            # Deleted and created again while the watch was down: the old uid is gone.
            dirty |= self.remove(stale)
        old = self._nodes.get(node.uid)
        self._nodes[node.uid] = node
        self._by_name[key] = node.uid
        old_owners = old.owners if old is not None else ()
        for ref in old_owners:
            if ref.uid not in {r.uid for r in node.owners}:
                self._unlink(ref.uid, node.uid)
        for ref in node.owners:
            self._dependents.setdefault(ref.uid, set()).add(node.uid)
        # Owners waiting in the foreground may be released by a reference that went away or
        # stopped blocking (addUnblockedOwnersToDeleteQueue).
        for owner_uid in {r.uid for r in old_owners} | {r.uid for r in node.owners}:
            was = old is not None and old.blocks(owner_uid)
            if was and not node.blocks(owner_uid) and self._waiting(owner_uid):
                dirty.add(owner_uid)
        if node.orphaning or node.deleting_dependents:
            dirty.add(node.uid)
        if node.deleting_dependents:
            dirty.update(d.uid for d in self.dependents(node.uid) if not d.being_deleted)
        if node.owners and not node.being_deleted and not self.all_owners_solid(node):
            dirty.add(node.uid)
        return dirty

    def remove(self, uid: str) -> set[str]:
        """Forget a deleted object; the uids the collector should sync now.

        Its dependents may have lost their last owner, and an owner deleting in the foreground
        may have lost its last blocking dependent.
        """
        node = self._nodes.pop(uid, None)
        if node is None:
            return set()
        key = _name_key(node.identity)
        if self._by_name.get(key) == uid:
            del self._by_name[key]
        for ref in node.owners:
            self._unlink(ref.uid, uid)
        dirty = {d.uid for d in self.dependents(uid)}
        dirty.update(r.uid for r in node.owners if self._waiting(r.uid))
        return dirty

    def _unlink(self, owner_uid: str, dependent_uid: str) -> None:
        dependents = self._dependents.get(owner_uid)
        if dependents is not None:
            dependents.discard(dependent_uid)
            if not dependents:
                del self._dependents[owner_uid]

    def _waiting(self, uid: str) -> bool:
        node = self._nodes.get(uid)
        return node is not None and node.deleting_dependents
