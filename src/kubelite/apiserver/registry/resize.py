"""pods/<name>/resize: the door to a pod's container resources (Kubernetes' ResizeREST).

Kubernetes serves it from a copy of the pod store whose update strategy is the resize one;
this does the same: a `ResourceStore` over the pods' storage and admission, with
`PodResizeStrategy` in place of the pod strategy. GET answers the pod, PUT and PATCH (every
patch type, server-side apply included) go through the resize strategy, and nothing is ever
created through it. Admission sees the write as an UPDATE of pods with subresource `resize`
(from the request), and RBAC authorizes it as `pods/resize`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubelite.api import errors
from kubelite.api.strategies.pod_resize import PodResizeStrategy
from kubelite.api.types import Obj
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import KindRef


class PodResizeStore:
    """GET, PUT and PATCH of `pods/<name>/resize`."""

    kind: KindRef | None = None
    subresource = "resize"

    def __init__(self, pods: ResourceStore) -> None:
        self.resource = pods.resource
        # The same objects, admission and encoding; only the update rules differ.
        self.store = ResourceStore(pods.store, pods.resource, pods.mutating, pods.validating)
        self.store.strategy = PodResizeStrategy()

    async def get(self, namespace: str, name: str) -> Obj:
        return await self.store.get(namespace, name)

    def not_found(self, name: str) -> errors.StatusError:
        return self.store.not_found(name)

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Callable[[Obj | None], Awaitable[Obj | None]],
        *,
        dry_run: bool = False,
        create_missing: bool = False,
        on_prepared: Callable[[Obj, Obj | None], None] | None = None,
    ) -> tuple[Obj, bool]:
        """Update the pod through the resize strategy; a missing pod is 404, never created
        (an apply through /resize does not create, as no subresource does)."""
        return await self.store.update(
            namespace,
            name,
            mutate,
            dry_run=dry_run,
            create_missing=False,
            on_prepared=on_prepared,
        )
