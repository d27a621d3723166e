"""The status subresource's storage: the object's own storage, writing through /status.

What a /status write may change is the kind's strategy's (`prepare_for_status_update`,
`validate_status_update`); this storage only tells the generic store that the write is one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubelite.api import errors
from kubelite.api.types import Obj
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import KindRef


class StatusStore:
    """GET, PUT and PATCH of `<resource>/<name>/status` (Kubernetes' StatusREST)."""

    kind: KindRef | None = None
    subresource = "status"

    def __init__(self, main: ResourceStore) -> None:
        self.main = main
        self.resource = main.resource

    async def get(self, namespace: str, name: str) -> Obj:
        return await self.main.get(namespace, name)

    def not_found(self, name: str) -> errors.StatusError:
        return self.main.not_found(name)

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
        return await self.main.update(
            namespace,
            name,
            mutate,
            subresource=self.subresource,
            dry_run=dry_run,
            create_missing=create_missing,
            on_prepared=on_prepared,
        )
