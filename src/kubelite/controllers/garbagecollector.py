"""The garbage collector: deletes what nothing owns any more, and carries out cascading deletes.

An object names its owners in `metadata.ownerReferences`. Kubernetes' garbage collector
(`pkg/controller/garbagecollector`) watches every kind that can be deleted, keeps an owner ->
dependents graph by uid (`dependencygraph.py`), and:

- deletes a dependent once all its owners are gone (the background cascade, and what is left
  behind by any delete). Absence is confirmed with a live GET, owners are matched by uid, and
  the delete carries a precondition on the dependent's uid (and resourceVersion) so that an
  object re-created or re-owned meanwhile is never removed by mistake;
- for an owner deleted in the foreground (deletionTimestamp and the `foregroundDeletion`
  finalizer), deletes its dependents and removes the finalizer once the dependents with
  `blockOwnerDeletion: true` are gone, after which the API server removes the owner;
- for an owner deleted with the orphan policy (the `orphan` finalizer), removes the owner's
  reference from each dependent and then the finalizer.

The API server only turns a DELETE's propagationPolicy into those finalizers
(`kubelite.api.propagation`). The controller has kubelite's one shape: informer events update
the graph, which names the uids to look at; workers take uids off a rate-limited work queue and
`sync(uid)` is idempotent. Nothing polls: a dependent is looked at again when it, one of its
owners or one of its dependents changes, and failed requests retry with the queue's back-off.
Kubernetes keeps two queues (attemptToDelete, attemptToOrphan); one sync per uid does both
here, since what to do follows from the node itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kubelite.api.propagation import (
    BACKGROUND,
    FINALIZER_FOREGROUND,
    FINALIZER_ORPHAN,
    FOREGROUND,
    ORPHAN,
)
from kubelite.api.resources import Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import (
    APIConflictError,
    APIConnectionError,
    APIError,
    APINotFoundError,
)
from kubelite.client.events import WARNING, EventRecorder
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process
from kubelite.controllers.dependencygraph import (
    DependencyGraph,
    Identity,
    Node,
    OwnerRef,
    OwnerState,
    group_of,
)

log = logging.getLogger(__name__)


# The event source Kubernetes' collector reports as.
COMPONENT = "garbage-collector-controller"
# Resources never collected nor watched (garbagecollector.DefaultIgnoredResources).
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
# Workers syncing uids side by side (kube-controller-manager's --concurrent-gc-syncs is 20 for
# a whole cluster; each worker here mostly waits on loopback requests).
WORKERS = 5
# Read-modify-write attempts before a conflict goes back to the queue (client-go's
# retry.DefaultRetry makes 5).
CONFLICT_ATTEMPTS = 5
# Back-off while discovery fails at start.
DISCOVERY_RETRY_INITIAL = 0.5
DISCOVERY_RETRY_MAX = 10.0
# What the collector keeps of each watched object: its informers cache only this.
_KEPT_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "ownerReferences",
    "finalizers",
    "deletionTimestamp",
)


def metadata_only(obj: Obj) -> Obj:
    """The part of an object the collector needs, so that its caches stay small."""
    md = obj.get("metadata") or {}
    return {"metadata": {k: md[k] for k in _KEPT_METADATA if k in md}}


class Unverifiable(Exception):
    """An owner reference the API cannot check: the dependent is left alone, not retried.

    Kubernetes gives up on these too (a cluster-scoped object naming a namespaced owner), or
    retries until discovery learns the kind, which in kubelite never changes while it runs.
    """


@dataclass(frozen=True)
class Decision:
    """What to do with a dependent once its owners are classified (attemptToDeleteItem).

    `remove_owners`: owner uids to drop from its ownerReferences; `delete`: the propagation
    policy to delete it with ("" keeps it); `unblock`: first stop its references from blocking
    owners, to break a cycle of foreground deletions.
    """

    remove_owners: tuple[str, ...] = ()
    delete: str = ""
    unblock: bool = False


KEEP = Decision()


def decide(
    classified: Sequence[tuple[OwnerRef, OwnerState]],
    *,
    finalizers: Sequence[str],
    has_dependents: bool,
    dependent_deleting_dependents: bool,
) -> Decision:
    """The collector's verdict on one dependent from the state of each of its owners.

    >>> decide([(OwnerRef("v1", "ConfigMap", "a", "u1"), OwnerState.DANGLING)],
    ...        finalizers=[], has_dependents=False, dependent_deleting_dependents=False)
    Decision(remove_owners=(), delete='Background', unblock=False)
    """
    solid = [r for r, s in classified if s is OwnerState.SOLID]
    dangling = [r.uid for r, s in classified if s is OwnerState.DANGLING]
    waiting = [r.uid for r, s in classified if s is OwnerState.WAITING]
    if solid:
        # An owner remains: keep the object, but drop the references that are gone and those
        # of owners waiting on it, which would otherwise wait forever.
        return Decision(remove_owners=tuple(dangling + waiting)) if dangling or waiting else KEEP
    if waiting and has_dependents:
        # An owner waits for it, and it has dependents of its own: delete it in the
        # foreground too, so the wait covers the whole tree.
        return Decision(delete=FOREGROUND, unblock=dependent_deleting_dependents)
    # Nothing owns it any more. A cascade an earlier delete chose is kept.
    if FINALIZER_ORPHAN in finalizers:
        return Decision(delete=ORPHAN)
    if FINALIZER_FOREGROUND in finalizers:
        return Decision(delete=FOREGROUND)
    return Decision(delete=BACKGROUND)


class GarbageCollector:
    """Watches every collectable kind (metadata only), keeps the graph, syncs uids."""

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.client = client
        self.factory = informers or SharedInformerFactory(client)
        self.workers = workers
        self.graph = DependencyGraph()
        self.queue = WorkQueue("garbage_collector_attempt_to_delete")
        self.recorder = EventRecorder(client, COMPONENT)
        self.informers: list[Informer] = []
        # The watched resources by (group, kind): where each node's object is served.
        self._resources: dict[tuple[str, str], Resource] = {}

    # --- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            for resource in await self._collectable_resources():
                # The controllers' full informers where they exist; metadata alone elsewhere.
                informer = self.factory.informer(
                    resource, metadata_only=True, metadata_transform=metadata_only
                )
                informer.add_handler(functools.partial(self.handle, resource))
                self.informers.append(informer)
            self.factory.start()
            # Acting on half a graph would take owners that are merely not listed yet for gone.
            await asyncio.gather(*(i.wait_synced() for i in self.informers))
            log.info("garbage collector synced %d resources", len(self.informers))
            await asyncio.gather(
                *(
                    process(
                        self.queue, self.sync, what="garbage collector:", describe=self._describe
                    )
                    for _ in range(self.workers)
                )
            )
        finally:
            self.queue.shut_down()

    async def _collectable_resources(self) -> list[Resource]:
        """Every served resource that can be listed, watched and deleted, one version each."""
        delay = DISCOVERY_RETRY_INITIAL
        while True:
            try:
                resources = await self.client.api_resources()
                break
            except (APIError, APIConnectionError) as e:
                log.warning("garbage collector: discovery failed: %s; retrying", e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, DISCOVERY_RETRY_MAX)
        chosen: dict[tuple[str, str], Resource] = {}
        for resource in resources:
            key = (resource.group, resource.plural)
            if key in IGNORED_RESOURCES or key in chosen:
                continue
            if {"delete", "list", "watch"} <= set(resource.verbs):
                chosen[key] = resource
        return list(chosen.values())

    def handle(self, resource: Resource, event_type: str, obj: Obj) -> None:
        """The informers' handler: update the graph and enqueue the uids it names."""
        # Objects of a kind are read and written where the kind's events come from.
        self._resources.setdefault((resource.group, resource.kind), resource)
        node = Node.from_object(obj, api_version=resource.api_version, kind=resource.kind)
        if not node.uid:
            return
        deleted = event_type == "DELETED"
        dirty = self.graph.remove(node.uid) if deleted else self.graph.observe(node)
        for uid in dirty:
            self.queue.add(uid)

    def _describe(self, uid: str) -> str:
        node = self.graph.get(uid)
        return str(node.identity) if node is not None else uid

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, uid: str) -> None:
        """Do what the object with this uid needs: orphan or wait for its dependents while it
        is being deleted, or collect it if its owners are gone. Safe to repeat."""
        node = self.graph.get(uid)
        if node is None:
            return
        if node.orphaning:
            await self._orphan_dependents(node)
        elif node.deleting_dependents:
            await self._finish_foreground_deletion(node)
        elif node.being_deleted:
            return  # on its way out: its dependents are looked at once it is gone
        elif node.owners and not self.graph.all_owners_solid(node):
            await self._collect(node)

    async def _collect(self, node: Node) -> None:
        """Delete or trim a dependent whose owners the graph cannot vouch for."""
        resource = self._resource_of(node.identity)
        latest = await self._get_live(resource, node.identity)
        if latest is None or latest["metadata"].get("deletionTimestamp"):
            return  # gone, replaced or on its way out: its informer will say so
        md = latest["metadata"]
        refs = [OwnerRef.from_json(r) for r in md.get("ownerReferences") or () if r.get("uid")]
        if not refs:
            return
        try:
            classified = [(ref, await self._classify(node, ref)) for ref in refs]
        except Unverifiable as e:
            log.info("garbage collector leaves %s alone: %s", node.identity, e)
            return
        dependents = self.graph.dependents(node.uid)
        decision = decide(
            classified,
            finalizers=md.get("finalizers") or (),
            has_dependents=bool(dependents),
            dependent_deleting_dependents=any(d.deleting_dependents for d in dependents),
        )
        if decision.remove_owners:
            gone = set(decision.remove_owners)
            log.info("removing owner references %s from %s", sorted(gone), node.identity)
            await self._rewrite(resource, node.identity, _drop_owner_refs(gone))
        if decision.unblock:
            await self._rewrite(resource, node.identity, _unblock_owner_refs)
            latest = await self._get_live(resource, node.identity)
            if latest is None:
                return
        if decision.delete:
            log.info(
                "deleting %s, whose owners are gone or waiting (propagationPolicy=%s)",
                node.identity,
                decision.delete,
            )
            await self._delete(resource, node.identity, latest, decision.delete)

    async def _classify(self, node: Node, ref: OwnerRef) -> OwnerState:
        """SOLID, WAITING or DANGLING: from the graph when it knows, else from the API."""
        state = self.graph.owner_state(node, ref)
        if state is not OwnerState.UNKNOWN:
            return state
        resource = await self._resource_for(ref)
        namespace = node.identity.namespace
        if resource.namespaced and not namespace:
            raise Unverifiable(f"it is cluster-scoped but names a namespaced owner ({ref.kind})")
        seen = self.graph.get(ref.uid)
        if resource.namespaced and seen is not None and seen.identity.namespace != namespace:
            await self._report_invalid_namespace(node, ref)
        try:
            owner = await self.client.get(
                resource, ref.name, namespace=namespace if resource.namespaced else None
            )
        except APINotFoundError:
            return OwnerState.DANGLING
        omd = owner.get("metadata") or {}
        if omd.get("uid") != ref.uid:
            return OwnerState.DANGLING  # another object under the owner's name
        if omd.get("deletionTimestamp") and FINALIZER_FOREGROUND in (omd.get("finalizers") or ()):
            return OwnerState.WAITING
        return OwnerState.SOLID

    async def _finish_foreground_deletion(self, owner: Node) -> None:
        """processDeletingDependentsItem: release the owner, or get its blockers deleted."""
        blocking = self.graph.blocking_dependents(owner.uid)
        if not blocking:
            log.info("all blocking dependents of %s are gone", owner.identity)
            await self._remove_finalizer(owner, FINALIZER_FOREGROUND)
            return
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self.queue.add(dependent.uid)

    async def _orphan_dependents(self, owner: Node) -> None:
        """Let the dependents go (their reference to the owner removed), then the owner."""
        dependents = self.graph.dependents(owner.uid)
        results = await asyncio.gather(
            *(
                self._rewrite(
                    self._resource_of(d.identity), d.identity, _drop_owner_refs({owner.uid})
                )
                for d in dependents
            ),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        log.info("orphaned %d dependents of %s", len(dependents), owner.identity)
        await self._remove_finalizer(owner, FINALIZER_ORPHAN)

    # --- requests -----------------------------------------------------------------------------

    def _resource_of(self, identity: Identity) -> Resource:
        return self._resources[(identity.group, identity.kind)]

    async def _resource_for(self, ref: OwnerRef) -> Resource:
        """Where an owner of this kind is served: the reference's version if served, else
        the group's (the object is the same whatever version names it)."""
        group = group_of(ref.api_version)
        same_kind = [
            r for r in await self.client.api_resources() if (r.group, r.kind) == (group, ref.kind)
        ]
        for resource in same_kind:
            if resource.api_version == ref.api_version:
                return resource
        if same_kind:
            return same_kind[0]
        raise Unverifiable(f'no kind "{ref.kind}" is served in "{ref.api_version}"')

    async def _get_live(self, resource: Resource, identity: Identity) -> Obj | None:
        """The object as the API server has it now; None if it is gone or was replaced."""
        try:
            obj = await self.client.get(resource, identity.name, namespace=identity.namespace)
        except APINotFoundError:
            return None
        if (obj.get("metadata") or {}).get("uid") != identity.uid:
            return None
        return obj

    async def _delete(
        self, resource: Resource, identity: Identity, latest: Obj, policy: str
    ) -> None:
        """Delete the object read as `latest`, only if it is still that object (deleteObject).

        The resourceVersion precondition catches an owner added since the read; if the object
        changed otherwise (a status write), it is deleted on its uid alone.
        """
        md = latest["metadata"]
        preconditions = {"uid": identity.uid, "resourceVersion": md.get("resourceVersion")}
        try:
            await self._delete_request(resource, identity, policy, preconditions)
            return
        except APIConflictError:
            current = await self._get_live(resource, identity)
            if current is None:
                return
            if current["metadata"].get("ownerReferences") != md.get("ownerReferences"):
                raise  # its owners changed: look at it again
        await self._delete_request(resource, identity, policy, {"uid": identity.uid})

    async def _delete_request(
        self, resource: Resource, identity: Identity, policy: str, preconditions: Obj
    ) -> None:
        with contextlib.suppress(APINotFoundError):
            await self.client.delete(
                resource,
                identity.name,
                namespace=identity.namespace,
                propagation_policy=policy,
                preconditions=preconditions,
            )

    async def _remove_finalizer(self, node: Node, finalizer: str) -> None:
        def without(md: Obj) -> Obj | None:
            finalizers = md.get("finalizers") or []
            if finalizer not in finalizers:
                return None
            return {"finalizers": [f for f in finalizers if f != finalizer] or None}

        await self._rewrite(self._resource_of(node.identity), node.identity, without)

    async def _rewrite(
        self, resource: Resource, identity: Identity, change: Callable[[Obj], Obj | None]
    ) -> None:
        """Read the object and merge-patch the metadata `change` computes from its metadata
        (None: nothing to change), on the condition that nobody wrote it in between."""
        for attempt in range(CONFLICT_ATTEMPTS):
            current = await self._get_live(resource, identity)
            if current is None:
                return
            patch = change(current["metadata"])
            if patch is None:
                return
            patch["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                await self.client.patch(
                    resource,
                    identity.name,
                    {"metadata": patch},
                    patch_type=PatchType.MERGE,
                    namespace=identity.namespace,
                )
                return
            except APINotFoundError:
                return
            except APIConflictError:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise

    async def _report_invalid_namespace(self, node: Node, ref: OwnerRef) -> None:
        """The warning Kubernetes records on a dependent whose owner lives elsewhere."""
        ident = node.identity
        obj = {
            "apiVersion": ident.api_version,
            "kind": ident.kind,
            "metadata": {"namespace": ident.namespace, "name": ident.name, "uid": ident.uid},
        }
        owner = (
            f"[{ref.api_version}/{ref.kind}, namespace: {ident.namespace}, name: {ref.name}, "
            f"uid: {ref.uid}]"
        )
        await self.recorder.event(
            obj,
            WARNING,
            "OwnerRefInvalidNamespace",
            f'ownerRef {owner} does not exist in namespace "{ident.namespace}"',
        )


def _drop_owner_refs(uids: set[str]) -> Callable[[Obj], Obj | None]:
    """A metadata change that removes the references to these owners."""

    def change(md: Obj) -> Obj | None:
        refs = md.get("ownerReferences") or []
        kept = [r for r in refs if r.get("uid") not in uids]
        if len(kept) == len(refs):
            return None
        return {"ownerReferences": kept or None}

    return change


def _unblock_owner_refs(md: Obj) -> Obj | None:
    """A metadata change that makes none of the object's references block its owner."""
    refs = md.get("ownerReferences") or []
    if not any(r.get("blockOwnerDeletion") for r in refs):
        return None
    return {
        "ownerReferences": [
            dict(r, blockOwnerDeletion=False) if r.get("blockOwnerDeletion") else r for r in refs
        ]
    }
