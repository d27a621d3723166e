"""A DaemonSet's history: ControllerRevisions of its pod template.

Kubernetes' constructHistory, snapshot, dedupCurHistories and cleanupHistory (`update.go`,
1.33). A revision holds the same patch a StatefulSet's does (statefulset_revisions.revision_data:
`{"spec":{"template":{...,"$patch":"replace"}}}`, which `kubectl rollout undo` applies to the
DaemonSet as it is), is named `<daemonset>-<hash>`, labelled with the template's labels and the
hash under `controller-revision-hash`, annotated with the DaemonSet's annotations (so `kubectl
rollout history` shows a change-cause) and controlled by the DaemonSet. Unlike a StatefulSet's,
the hash is that of the template and the collision count, as a Deployment hashes its
ReplicaSets (controller.ComputeHash), and new pods carry it as their revision label.

Each sync:

1. claims the revisions of its namespace: adopts orphans its selector matches, releases its own
   that no longer match;
2. gives a hash label to a revision that lacks one (its name stands in for the hash);
3. finds the revisions whose data is the DaemonSet's present template. None: it records one,
   numbered one past the other revisions. Several (made under different collision counts): it
   keeps the highest-numbered, moves the pods labelled with the others' hashes onto its hash
   and deletes the others. The one it keeps is renumbered past the old ones if need be, so a
   rollback to an old template makes that revision the newest again;
4. after the pods are managed, deletes the oldest old revisions beyond `revisionHistoryLimit`
   that no pod is still labelled with.

A name taken by a revision with other data is a hash collision: `status.collisionCount` goes up
(read fresh from the API server, so that a stale cache never bumps it twice) and the sync is
retried, now with a new hash.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.resources import CONTROLLER_REVISIONS, PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIAlreadyExistsError, APIConflictError, APINotFoundError
from kubelite.client.informer import Informer
from kubelite.controllers import podutil
from kubelite.controllers import statefulset_revisions as revs
from kubelite.controllers.daemonset_util import HASH_LABEL
from kubelite.controllers.deployment_util import pod_template_hash
from kubelite.controllers.owners import typed
from kubelite.controllers.podcontrol import PodControl, owner_reference

log = logging.getLogger(__name__)

DEFAULT_REVISION_HISTORY_LIMIT = revs.DEFAULT_REVISION_HISTORY_LIMIT


def collision_count(ds: Obj) -> int | None:
    value = (ds.get("status") or {}).get("collisionCount")
    return None if value is None else int(value)


def template_hash(ds: Obj) -> str:
    """controller.ComputeHash of the template and the collision count."""
    template = (ds.get("spec") or {}).get("template") or {}
    return pod_template_hash(template, collision_count(ds))


def matches(ds: Obj, revision: Obj) -> bool:
    """Match: the revision records the DaemonSet's present template."""
    return revs.go_json(revs.revision_data(ds)) == revs.go_json(revision.get("data"))


def revision_number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def new_revision(ds: Obj, number: int) -> Obj:
    """The ControllerRevision of the DaemonSet's present template, numbered `number`."""
    hash_ = template_hash(ds)
    template_labels = meta.get_path(ds, "spec", "template", "metadata", "labels") or {}
    md: Obj = {
        "name": revs.revision_name(meta.name_of(ds), hash_),
        "namespace": meta.namespace_of(ds),
        "labels": {**template_labels, HASH_LABEL: hash_},
        "ownerReferences": [owner_reference(ds)],
    }
    annotations = (ds.get("metadata") or {}).get("annotations")
    if annotations:
        md["annotations"] = dict(annotations)
    return {
        "apiVersion": CONTROLLER_REVISIONS.api_version,
        "kind": CONTROLLER_REVISIONS.kind,
        "metadata": md,
        "data": revs.revision_data(ds),
        "revision": number,
    }


def history_to_prune(ds: Obj, old: list[Obj], live_hashes: set[str]) -> list[Obj]:
    """cleanupHistory: the oldest of `old` beyond revisionHistoryLimit, skipping any whose
    hash a pod still carries (it may be rolled back to, or still be running)."""
    limit = (ds.get("spec") or {}).get("revisionHistoryLimit")
    limit = DEFAULT_REVISION_HISTORY_LIMIT if limit is None else int(limit)
    to_kill = len(old) - limit
    doomed: list[Obj] = []
    for revision in sorted(old, key=revision_number):
        if to_kill <= 0:
            break
        if meta.labels_of(revision).get(HASH_LABEL) in live_hashes:
            continue
        doomed.append(revision)
        to_kill -= 1
    return doomed


def _stale_collision_count(ds: Obj, fresh: Obj) -> APIConflictError:
    message = (
        f"found a stale collision count ({collision_count(ds)}, expected "
        f"{collision_count(fresh)}) of DaemonSet {meta.name_of(ds)!r} while processing; "
        "will retry until it is updated"
    )
    return APIConflictError(
        {"kind": "Status", "code": 409, "reason": "Conflict", "message": message}
    )


class DaemonSetHistory:
    """The ControllerRevision reads and writes of the DaemonSet controller."""

    def __init__(
        self,
        client: APIClient,
        revisions: Informer,
        pod_control: PodControl,
        resource: Any,
    ) -> None:
        self.client = client
        self.revisions = revisions
        self.pod_control = pod_control
        self.resource = resource  # The DaemonSets' resource, for collision-count writes.

    async def controlled(
        self, ds: Obj, selector: labels.Selector, can_adopt: Callable[[], Awaitable[bool]]
    ) -> list[Obj]:
        """controlledHistories: its own revisions and its namespace's orphans, claimed."""
        uid = ds["metadata"]["uid"]
        candidates = []
        for revision in self.revisions.by_index("namespace", meta.namespace_of(ds)):
            ref = podutil.controller_ref(revision)
            if ref is None or ref.get("uid") == uid:
                candidates.append(revision)
        return await self.pod_control.claim(
            ds, selector, candidates, can_adopt, resource=CONTROLLER_REVISIONS
        )

    async def construct(
        self,
        ds: Obj,
        selector: labels.Selector,
        can_adopt: Callable[[], Awaitable[bool]],
        pods: Callable[[], Awaitable[list[Obj]]],
    ) -> tuple[Obj, list[Obj]]:
        """constructHistory: (the current revision, the old ones). `pods` gives the
        DaemonSet's pods, wanted only to relabel them when duplicates are merged."""
        current: list[Obj] = []
        old: list[Obj] = []
        for revision in await self.controlled(ds, selector, can_adopt):
            if HASH_LABEL not in meta.labels_of(revision):
                revision = await self._label_with_name(revision)
            (current if matches(ds, revision) else old).append(revision)
        number = max((revision_number(r) for r in old), default=0) + 1
        if not current:
            return await self.snapshot(ds, number), old
        cur = await self._dedup(ds, current, pods)
        if revision_number(cur) < number:
            body = {**typed(cur, CONTROLLER_REVISIONS), "revision": number}
            cur = await self.client.update(
                CONTROLLER_REVISIONS, body, namespace=meta.namespace_of(ds)
            )
        return cur, old

    async def _label_with_name(self, revision: Obj) -> Obj:
        body = typed(meta.clone(revision), CONTROLLER_REVISIONS)
        body["metadata"].setdefault("labels", {})[HASH_LABEL] = meta.name_of(revision)
        return await self.client.update(
            CONTROLLER_REVISIONS, body, namespace=meta.namespace_of(revision)
        )

    async def snapshot(self, ds: Obj, number: int) -> Obj:
        """Record the present template as revision `number`; on a name taken by other data,
        bump the collision count and raise, so that the sync is retried with a new hash."""
        revision = new_revision(ds, number)
        namespace = meta.namespace_of(ds)
        try:
            return await self.client.create(CONTROLLER_REVISIONS, revision, namespace=namespace)
        except APIAlreadyExistsError:
            name = meta.name_of(revision)
            existing = await self.client.get(CONTROLLER_REVISIONS, name, namespace=namespace)
            ref = podutil.controller_ref(existing)
            if (
                matches(ds, existing)
                and ref is not None
                and ref.get("uid") == ds["metadata"]["uid"]
            ):
                return existing
            fresh = typed(
                await self.client.get(self.resource, meta.name_of(ds), namespace=namespace),
                self.resource,
            )
            if collision_count(fresh) != collision_count(ds):
                raise _stale_collision_count(ds, fresh) from None
            status = dict(fresh.get("status") or {})
            status["collisionCount"] = (collision_count(fresh) or 0) + 1
            await self.client.update(
                self.resource,
                {**fresh, "status": status},
                namespace=namespace,
                subresource="status",
            )
            log.info(
                "DaemonSet %s/%s: hash collision on %s; collisionCount now %d",
                namespace,
                meta.name_of(ds),
                name,
                status["collisionCount"],
            )
            raise

    async def _dedup(
        self, ds: Obj, current: list[Obj], pods: Callable[[], Awaitable[list[Obj]]]
    ) -> Obj:
        """dedupCurHistories: keep the highest-numbered of equal revisions.

        Kubernetes relabels every pod whose hash differs from the kept one's, old revisions'
        pods included, which would pass them off as up to date; only the pods of the
        duplicates being deleted are moved here.
        """
        if len(current) == 1:
            return current[0]
        keep = max(current, key=revision_number)
        keep_hash = meta.labels_of(keep).get(HASH_LABEL, "")
        for duplicate in current:
            if duplicate is keep:
                continue
            duplicate_hash = meta.labels_of(duplicate).get(HASH_LABEL)
            for pod in await pods():
                if meta.labels_of(pod).get(HASH_LABEL) == duplicate_hash:
                    try:
                        await self.client.patch(
                            PODS,
                            meta.name_of(pod),
                            {"metadata": {"labels": {HASH_LABEL: keep_hash}}},
                            patch_type=PatchType.STRATEGIC,
                            namespace=meta.namespace_of(pod),
                        )
                    except APINotFoundError:
                        continue
            with contextlib.suppress(APINotFoundError):
                await self.client.delete(
                    CONTROLLER_REVISIONS,
                    meta.name_of(duplicate),
                    namespace=meta.namespace_of(duplicate),
                )
        return keep

    async def cleanup(self, ds: Obj, old: list[Obj], pods: list[Obj]) -> None:
        """cleanupHistory, with `pods` all of the DaemonSet's pods, deleted terminal ones
        included."""
        live = {meta.labels_of(p).get(HASH_LABEL) or "" for p in pods} - {""}
        for revision in history_to_prune(ds, old, live):
            try:
                await self.client.delete(
                    CONTROLLER_REVISIONS,
                    meta.name_of(revision),
                    namespace=meta.namespace_of(revision),
                )
            except APINotFoundError:
                continue
