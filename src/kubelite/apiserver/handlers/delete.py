"""DELETE of one object, and of a collection (handlers/delete.go).

A delete that removes the object at once answers with a Success Status, or with the object
itself for the kinds whose strategy says so (ReturnDeletedObject); one that only starts a
deletion (graceful, or held by finalizers) answers with the object as it now is.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kubelite.api import decoding, errors, meta
from kubelite.apiserver import options, responses
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.scope import RequestScope


async def delete(scope: RequestScope, storage: ResourceStore) -> web.StreamResponse:
    """DELETE of a named object, with DeleteOptions from the query and the body."""
    body = await _delete_body(scope)
    opts = options.delete_options(scope.query, body)
    obj, gone = await storage.delete(scope.namespace, scope.info.name, opts)
    resource = scope.resource
    if gone and not resource.strategy.returns_deleted_object:
        status = responses.success_status(
            meta.name_of(obj),
            resource.group,
            resource.plural,
            meta.get_path(obj, "metadata", "uid", default=""),
        )
        return scope.answer(status)
    return scope.respond(obj, allow_table=False)


async def delete_collection(scope: RequestScope, storage: ResourceStore) -> web.StreamResponse:
    """DELETE of a collection: each selected object deleted as a DELETE of it would be."""
    list_opts = scope.list_options()
    body = await _delete_body(scope)
    opts = options.delete_options(scope.query, body)
    namespace = scope.namespace
    page = await storage.list(namespace, list_opts)
    deleted = []
    for item in page.items:
        try:
            obj, _ = await storage.delete(namespace, meta.name_of(item), opts)
        except errors.StatusError as exc:
            if exc.code == 404:  # someone else deleted it meanwhile
                continue
            raise
        deleted.append(obj)
    listing = {
        "kind": scope.resource.list_kind_name(),
        "apiVersion": scope.resource.api_version,
        "metadata": {"resourceVersion": str(storage.store.revision)},
        "items": deleted,
    }
    return scope.answer(listing)


async def _delete_body(scope: RequestScope) -> Any:
    """The parsed body, None when there is none; `options.delete_options` checks that it
    decodes as DeleteOptions (a 400 otherwise, 1.35, #133358)."""
    raw = await scope.read_body()
    if not raw.strip():
        return None
    return decoding.parse_body(raw, scope.content_type)
