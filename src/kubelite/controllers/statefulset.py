"""The StatefulSet controller: pods with stable names, storage and order.

Kubernetes' `pkg/controller/statefulset` (1.37). Handlers put StatefulSet keys on the queue: a
set changed, or one of its pods was added, changed or deleted (found through the pod's
controller reference, or, for an orphan, every set in its namespace whose selector matches it).
`sync`:

1. adopts the orphaned ControllerRevisions its selector matches;
2. claims its pods: those it controls, and orphans whose labels match its selector and whose
   name makes them one of its own (`<set>-<ordinal>`); it releases controlled pods that no
   longer match;
3. hands the set, its pods and its revisions to `StatefulSetControl.update`
   (statefulset_control.py), which creates, repairs, deletes and updates pods in order and
   writes the status through the status subresource.

A set with minReadySeconds is looked at again just when its next ready pod becomes available
(kubernetes#135428, 1.36).
ControllerRevisions and PersistentVolumeClaims are read from informers, as Kubernetes' listers
do, but changes to them trigger no sync.
"""

from __future__ import annotations

import logging

from kubelite.api import labels, meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.resources import (
    CONTROLLER_REVISIONS,
    PERSISTENT_VOLUME_CLAIMS,
    PODS,
    STATEFUL_SETS,
)
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIAlreadyExistsError, APIConflictError, APINotFoundError
from kubelite.client.events import EventRecorder
from kubelite.client.informer import Informer, by_controller_uid, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import RetryLater
from kubelite.controllers import podutil
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers import statefulset_revisions as revs
from kubelite.controllers.owners import (
    controller_of,
    owners_selecting,
    put_status,
    recheck_owner,
    typed,
)
from kubelite.controllers.podcontrol import PodControl, adopt
from kubelite.controllers.queue_controller import QueueController
from kubelite.controllers.statefulset_control import StatefulSetControl
from kubelite.controllers.statefulset_podcontrol import (
    ApiObjectManager,
    ClaimError,
    StatefulPodControl,
)

log = logging.getLogger(__name__)


WORKERS = 5


class ApiHistory:
    """ControllerRevision writes through the API (history.realHistory)."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    async def create(self, sset: Obj, revision: Obj, collision_count: int) -> tuple[Obj, int]:
        body = meta.clone(revision)
        namespace = meta.namespace_of(sset)
        while True:
            hash_ = revs.hash_revision(body["data"], collision_count)
            body["metadata"]["name"] = revs.revision_name(meta.name_of(sset), hash_)
            body["metadata"]["labels"][revs.HASH_LABEL] = hash_
            try:
                created = await self.client.create(CONTROLLER_REVISIONS, body, namespace=namespace)
            except APIAlreadyExistsError:
                exists = await self.client.get(
                    CONTROLLER_REVISIONS, body["metadata"]["name"], namespace=namespace
                )
                if revs.go_json(exists.get("data")) == revs.go_json(body["data"]):
                    return exists, collision_count
                collision_count += 1
                continue
            return created, collision_count

    async def renumber(self, revision: Obj, number: int) -> Obj:
        body = typed(revision, CONTROLLER_REVISIONS)
        for attempt in range(2):
            if int(body.get("revision") or 0) == number:
                return body
            body = {**body, "revision": number}
            try:
                return await self.client.update(
                    CONTROLLER_REVISIONS, body, namespace=meta.namespace_of(revision)
                )
            except APIConflictError:
                if attempt:
                    raise
                body = await self.client.get(
                    CONTROLLER_REVISIONS,
                    meta.name_of(revision),
                    namespace=meta.namespace_of(revision),
                )
        return body

    async def delete(self, revision: Obj) -> None:
        await self.client.delete(
            CONTROLLER_REVISIONS, meta.name_of(revision), namespace=meta.namespace_of(revision)
        )

    async def adopt(self, sset: Obj, revision: Obj) -> Obj:
        return await adopt(self.client, CONTROLLER_REVISIONS, sset, revision)


class StatefulSetController(QueueController):
    """Watches StatefulSets and their pods and hands each StatefulSet to a sync that keeps its
    ordered, stably named pods and their claims."""

    resource = STATEFUL_SETS
    component = "statefulset-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
    ) -> None:
        super().__init__(client, informers, queue="statefulset", workers=workers)
        self.pod_control = PodControl(client, EventRecorder(client, self.component))
        self.sets = self.informers.informer(self.resource)
        self.sets.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.pods.add_indexer("controller", by_controller_uid)
        self.revisions = self.informers.informer(CONTROLLER_REVISIONS)
        self.revisions.add_indexer("namespace", by_namespace)
        self.claims = self.informers.informer(PERSISTENT_VOLUME_CLAIMS)
        self.history = ApiHistory(client)
        self.control = StatefulSetControl(
            StatefulPodControl(
                ApiObjectManager(client, self.pods, self.claims), self.pod_control.event
            ),
            self.history,
            self._write_status,
        )
        self.sets.add_handler(self._on_set, with_old=True)
        self.pods.add_handler(self._on_pod, with_old=True)

    # --- handlers -------------------------------------------------------------------------------

    def _on_set(self, event_type: str, sset: Obj, old: Obj | None) -> None:
        self.queue.add(key_of(sset))

    def _set_of(self, pod: Obj) -> Obj | None:
        """The cached StatefulSet that controls `pod`, matched by uid (resolveControllerRef)."""
        return controller_of(self.sets, pod, self.resource.kind)

    def _sets_selecting(self, pod: Obj) -> list[Obj]:
        """Sets in the pod's namespace whose selector matches it (GetPodStatefulSets)."""
        return owners_selecting(self.sets, pod) if meta.labels_of(pod) else []

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        sset = self._set_of(pod)
        if event_type == "DELETED" or (event_type == "ADDED" and podutil.is_terminating(pod)):
            if sset is not None:
                self.queue.add(key_of(sset))
            return
        if event_type == "MODIFIED" and old is not None:
            if old["metadata"].get("resourceVersion") == pod["metadata"].get("resourceVersion"):
                return
            old_set = self._set_of(old)
            if old_set is not None and old_set is not sset:
                self.queue.add(key_of(old_set))
        if sset is not None:
            self.queue.add(key_of(sset))
            min_ready = int(sp.spec_of(sset).get("minReadySeconds") or 0)
            if min_ready > 0 and old is not None and not is_pod_ready(old) and is_pod_ready(pod):
                # One second more, against clock skew (as Kubernetes waits).
                self.queue.add_after(key_of(sset), min_ready + 1)
            return
        if podutil.controller_ref(pod) is not None:
            return
        changed = old is None or (
            meta.labels_of(old) != meta.labels_of(pod)
            or podutil.controller_ref(old) != podutil.controller_ref(pod)
        )
        if changed:
            for candidate in self._sets_selecting(pod):
                self.queue.add(key_of(candidate))

    # --- running --------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (self.sets, self.pods, self.revisions, self.claims)

    # --- sync -----------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.sets.get(key)
        if cached is None:
            return None
        sset = typed(cached, self.resource)
        try:
            selector = labels.from_label_selector(sp.spec_of(sset).get("selector"))
        except labels.SelectorError as e:
            log.warning("StatefulSet %s: invalid selector: %s", key, e)
            return None  # Not transient: nothing to retry.
        await self._adopt_orphan_revisions(sset, selector)
        set_pods = await self._claim_pods(sset, selector)
        evaluated_at = self.control.clock()
        try:
            status = await self.control.update(
                sset, set_pods, self._revisions_of(sset, selector), evaluated_at
            )
        except ClaimError as e:
            # With back-off: a claim refused now (an invalid template) is refused again soon.
            raise RetryLater(str(e)) from e
        if status is None:
            return None
        # Look again just when the next ready pod has been ready for minReadySeconds
        # (kubernetes#135428, 1.36), not a whole minReadySeconds after this sync.
        min_ready = int(sp.spec_of(sset).get("minReadySeconds") or 0)
        return podutil.next_availability_check(
            set_pods, min_ready, evaluated_at, self.control.clock()
        )

    def _revisions_of(self, sset: Obj, selector: labels.Selector) -> list[Obj]:
        """Revisions in the namespace its selector matches, orphaned or its own
        (ListControllerRevisions)."""
        uid = sset["metadata"].get("uid")
        found = []
        for revision in self.revisions.by_index("namespace", meta.namespace_of(sset)):
            if not selector.matches(meta.labels_of(revision)):
                continue
            ref = podutil.controller_ref(revision)
            if ref is None or ref.get("uid") == uid:
                found.append(revision)
        return found

    async def _adopt_orphan_revisions(self, sset: Obj, selector: labels.Selector) -> None:
        orphans = [
            r for r in self._revisions_of(sset, selector) if podutil.controller_ref(r) is None
        ]
        if not orphans or sset["metadata"].get("deletionTimestamp"):
            return
        if not await self._can_adopt(sset):
            return
        for revision in orphans:
            try:
                await self.history.adopt(sset, revision)
            except APINotFoundError:
                continue

    async def _claim_pods(self, sset: Obj, selector: labels.Selector) -> list[Obj]:
        """Its pods and its namespace's orphans, claimed (getPodsForStatefulSet)."""
        uid = sset["metadata"]["uid"]
        namespace = meta.namespace_of(sset)
        candidates = list(self.pods.by_index("controller", uid))
        candidates += [
            p
            for p in self.pods.by_index("namespace", namespace)
            if podutil.controller_ref(p) is None
        ]
        return await self.pod_control.claim(
            sset,
            selector,
            candidates,
            lambda: self._can_adopt(sset),
            member=lambda pod: sp.is_member(sset, pod),
        )

    async def _can_adopt(self, sset: Obj) -> bool:
        return await recheck_owner(self.client, self.resource, sset)

    async def _write_status(self, sset: Obj, status: Obj) -> None:
        """UpdateStatefulSetStatus."""
        await put_status(self.client, self.resource, sset, status)
