"""PUT: replacing an object, or writing it through a subresource (handlers/update.go).

The body is decoded as the resource's kind and handed to the storage's read-modify-write loop;
the storage decides what of it applies (all but status for the main resource, only status for
/status, only the finalizers for a namespace's /finalize). A Scale's storage takes a Scale and
answers with one.
"""

from __future__ import annotations

from aiohttp import web

from kubelite.api import meta
from kubelite.api.types import Obj
from kubelite.apiserver import fieldmanager, options
from kubelite.apiserver.registry.interfaces import Updater
from kubelite.apiserver.registry.scale import ScaleStore
from kubelite.apiserver.scope import RequestScope


async def update(scope: RequestScope, storage: Updater) -> web.StreamResponse:
    """PUT of a named object (or of its status, or its finalizers); 201 when it was created."""
    dry_run = options.dry_run(scope.query, "UpdateOptions")
    manager = scope.field_manager()
    obj = await scope.read_object()
    resource = scope.resource
    subresource = storage.subresource

    async def mutate(_current: Obj | None) -> Obj:
        # A fresh copy each attempt: the registry stamps the copy it gets, and a retry
        # must not mistake the stored resourceVersion for the client's precondition.
        return meta.clone(obj)

    result, created = await storage.update(
        scope.namespace,
        scope.info.name,
        mutate,
        dry_run=dry_run,
        on_prepared=lambda new, old: fieldmanager.track_update(
            resource, old, new, manager, subresource
        ),
    )
    return scope.respond(result, 201 if created else 200)


async def update_scale(scope: RequestScope, storage: ScaleStore) -> web.StreamResponse:
    """PUT of a Scale: its replicas go to the workload; its resourceVersion is a precondition.

    The body is read as plain JSON, not decoded against the Scale schema (as before the Scale
    had a storage of its own; Kubernetes decodes it strictly)."""
    body = await scope.read_plain()
    manager = options.field_manager(scope.query, scope.request.headers.get("User-Agent", ""))
    result = await storage.update(
        scope.info.namespace,
        scope.info.name,
        lambda _current: body,
        manager=manager,
        keep_resource_version=True,
    )
    return scope.answer(result)
