"""A controller shape for objects that must exist in every namespace.

Kubernetes' controller manager keeps two such: the service account controller makes the
`default` ServiceAccount of each namespace (`pkg/controller/serviceaccount`), and the root CA
publisher the `kube-root-ca.crt` ConfigMap that every pod's API access volume reads
(`pkg/controller/certificates/rootcacertpublisher`). Both watch namespaces and their own
object, and put the namespace's name on a work queue whenever either changes: a namespace
added, or the object deleted or changed by someone else. The sync makes the object again, or
puts its content back; a namespace being deleted is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kubelite.api.resources import NAMESPACES, Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIAlreadyExistsError, APIConflictError, APINotFoundError
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process

log = logging.getLogger(__name__)


class PerNamespaceObject:
    """Keeps one object of `resource` named `name` in every active namespace."""

    resource: Resource
    name: str
    # The work queue's name in the metrics (Kubernetes' names for these two).
    queue_name: str = ""
    workers = 2

    def __init__(self, client: APIClient, informers: SharedInformerFactory | None = None) -> None:
        self.client = client
        self.queue = WorkQueue(self.queue_name)
        self.informers = informers or SharedInformerFactory(client)
        self.namespaces = self.informers.informer(NAMESPACES)
        self.objects = self.informers.informer(self.resource)
        self.namespaces.add_handler(self._on_namespace)
        self.objects.add_handler(self._on_object)

    # --- what a subclass says ---------------------------------------------------------------------

    def wanted(self, namespace: str) -> Obj:
        """The object as it must be in `namespace`."""
        raise NotImplementedError

    def differs(self, current: Obj, wanted: Obj) -> bool:
        """Whether `current` must be brought back to `wanted` (by default: never)."""
        return False

    # --- events -----------------------------------------------------------------------------------

    def _on_namespace(self, event_type: str, namespace: Obj) -> None:
        if event_type != "DELETED":
            self.queue.add(namespace["metadata"]["name"])

    def _on_object(self, event_type: str, obj: Obj) -> None:
        if obj["metadata"].get("name") == self.name:
            self.queue.add(obj["metadata"].get("namespace", ""))

    # --- syncing ----------------------------------------------------------------------------------

    async def sync(self, namespace: str) -> float | None:
        ns = self.namespaces.get(namespace)
        if ns is None or (ns.get("status") or {}).get("phase") == "Terminating":
            return None
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            return None
        wanted = self.wanted(namespace)
        current = self.objects.get(f"{namespace}/{self.name}")
        if current is None:
            # Made meanwhile, or the namespace went: either way nothing to do.
            with contextlib.suppress(APIAlreadyExistsError, APINotFoundError):
                await self.client.create(self.resource, wanted, namespace=namespace)
            return None
        if self.differs(current, wanted):
            body = {**current, **{k: v for k, v in wanted.items() if k != "metadata"}}
            with contextlib.suppress(APIConflictError, APINotFoundError):
                await self.client.update(self.resource, body, namespace=namespace)
        return None

    async def run(self) -> None:
        self.informers.start()
        try:
            await self.informers.wait_synced(self.namespaces, self.objects)
            what = type(self).__name__
            await asyncio.gather(
                *(process(self.queue, self.sync, what=what) for _ in range(self.workers))
            )
        finally:
            self.queue.shut_down()
