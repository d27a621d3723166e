"""The namespace controller: empties a terminating namespace, then lets it go.

Deleting a namespace only marks it: the API server sets deletionTimestamp and the phase
Terminating, and keeps it while `spec.finalizers` holds `kubernetes`. This controller, as
Kubernetes' (`pkg/controller/namespace`), deletes everything of every namespaced resource in it,
waits until nothing is left (pods may take their grace period), records its progress in the
namespace's status conditions, and then removes its finalizer through `namespaces/<name>/
finalize`, after which the API server deletes the namespace.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from kubelite.api.conditions import transition_time
from kubelite.api.resources import NAMESPACES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConflictError, APINotFoundError
from kubelite.client.informer import Informer
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


FINALIZER = "kubernetes"
# How soon to look again while content remains (Kubernetes estimates from grace periods;
# kubelite looks again after this, or after the longest grace period it saw).
CONTENT_RECHECK = 2.0

# The conditions Kubernetes keeps on a terminating namespace, with their "all clear" reasons.
_CONDITIONS = (
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NamespaceController(QueueController):
    """Deletes the content of a terminating namespace, reports what remains in its conditions, and
    removes its finalizer once it is empty."""

    component = "namespace"

    def __init__(
        self, client: APIClient, informers: SharedInformerFactory | None = None, workers: int = 2
    ) -> None:
        super().__init__(client, informers, queue="namespace", workers=workers)
        self.informer = self.informers.informer(NAMESPACES)
        self.informer.add_handler(self._on_event)

    def _on_event(self, event_type: str, ns: Obj) -> None:
        if event_type != "DELETED" and (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.queue.add(ns["metadata"]["name"])

    def caches(self) -> tuple[Informer, ...]:
        return (self.informer,)

    async def sync(self, name: str) -> float | None:
        """Move one terminating namespace along; seconds until it should be looked at again."""
        cached = self.informer.get(name)
        if cached is None or not cached["metadata"].get("deletionTimestamp"):
            return None
        if FINALIZER not in (cached.get("spec") or {}).get("finalizers", []):
            return None
        remaining, finalizers, wait = await self._delete_content(name)
        await self._set_conditions(name, remaining, finalizers)
        if remaining:
            return max(wait, CONTENT_RECHECK)
        await self._finalize(name)
        return None

    async def _delete_content(self, namespace: str) -> tuple[dict[str, int], set[str], float]:
        """Delete every namespaced object; what remains by resource, their finalizers, a wait."""
        remaining: dict[str, int] = {}
        finalizers: set[str] = set()
        wait = 0.0
        for resource in await self.client.api_resources():
            if not resource.namespaced or not {"list", "deletecollection"} <= set(resource.verbs):
                continue
            if resource.group == "events.k8s.io":
                continue  # the same objects as core events
            try:
                await self.client.request("DELETE", resource.path(namespace=namespace), body=None)
                left = (await self.client.list(resource, namespace=namespace))["items"]
            except APINotFoundError:
                continue
            if left:
                remaining[resource.group_resource] = len(left)
                for obj in left:
                    md = obj.get("metadata") or {}
                    finalizers.update(md.get("finalizers") or [])
                    wait = max(wait, float(md.get("deletionGracePeriodSeconds") or 0))
        return remaining, finalizers, wait

    async def _set_conditions(
        self, name: str, remaining: dict[str, int], finalizers: set[str]
    ) -> None:
        try:
            ns = await self.client.get(NAMESPACES, name)
        except APINotFoundError:
            return
        now = _now()
        # A client may have written conditions of any shape through the status subresource.
        existing = {
            c.get("type"): c
            for c in (ns.get("status") or {}).get("conditions") or []
            if isinstance(c, dict)
        }
        conditions = []
        for type_, reason, message in _CONDITIONS:
            status = "False"
            if type_ == "NamespaceContentRemaining" and remaining:
                status = "True"
                reason = "SomeResourcesRemain"
                message = "Some resources are remaining: " + ", ".join(
                    f"{r} has {n} resource instances" for r, n in sorted(remaining.items())
                )
            if type_ == "NamespaceFinalizersRemaining" and finalizers:
                status = "True"
                reason = "SomeFinalizersRemain"
                message = "Some content in the namespace has finalizers remaining: " + ", ".join(
                    sorted(finalizers)
                )
            conditions.append(
                {
                    "type": type_,
                    "status": status,
                    "lastTransitionTime": transition_time(existing.get(type_), status, now),
                    "reason": reason,
                    "message": message,
                }
            )
        if conditions == (ns.get("status") or {}).get("conditions"):
            return
        ns.setdefault("status", {})["conditions"] = conditions
        # A conflict means someone wrote meanwhile: the next sync writes the conditions.
        with contextlib.suppress(APIConflictError):
            await self.client.update(NAMESPACES, ns, subresource="status")

    async def _finalize(self, name: str) -> None:
        ns = await self.client.get(NAMESPACES, name)
        spec = ns.setdefault("spec", {})
        spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
        await self.client.update(NAMESPACES, ns, subresource="finalize")
