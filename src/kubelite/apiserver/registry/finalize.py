"""namespaces/<name>/finalize: the namespace controller's door to a namespace's spec.finalizers.

Only spec.finalizers change through it (`NamespaceStrategy.prepare_for_finalize` keeps the
rest); once a deleting namespace has none left it is gone (the generic store removes an object
whose deletion nothing holds any more, in the write that lets it go).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

from kubelite.api.strategies.core import NamespaceStrategy
from kubelite.api.types import Obj
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import KindRef


class NamespaceFinalizeStore:
    """PUT of `namespaces/<name>/finalize` (Kubernetes' FinalizeREST)."""

    kind: KindRef | None = None
    subresource = "finalize"

    def __init__(self, namespaces: ResourceStore) -> None:
        self.namespaces = namespaces
        self.resource = namespaces.resource

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Callable[[Obj | None], Awaitable[Obj | None]],
        *,
        dry_run: bool = False,
        on_prepared: Callable[[Obj, Obj | None], None] | None = None,
    ) -> tuple[Obj, bool]:
        """Set spec.finalizers from the namespace `mutate` returns; the result, never created.

        `on_prepared` is not called: a finalize records no field manager (as before the
        storage had a module of its own).
        """
        store = self.namespaces
        strategy = store.strategy
        assert isinstance(strategy, NamespaceStrategy)

        async def change(ns: Obj | None) -> Obj:
            if ns is None:
                raise store.not_found(name)
            body = await mutate(ns) or {}
            desired = copy.deepcopy(ns)
            desired["spec"] = dict(body.get("spec") or {})
            strategy.prepare_for_finalize(desired, ns)
            problems = strategy.validate_finalize(desired, ns)
            if problems:
                raise store.invalid(desired, problems)
            desired["metadata"].pop("resourceVersion", None)
            return desired

        return await store.update("", name, change, subresource=self.subresource, dry_run=dry_run)
