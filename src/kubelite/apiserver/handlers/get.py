"""GET of one object, and LIST of a collection (Kubernetes' handlers/get.go).

A list is served from the store's bytes when the client wants plain JSON and no selector
filters it; a Table is made row by row as objects are read, without holding the objects.
"""

from __future__ import annotations

from aiohttp import web

from kubelite.api.types import Obj
from kubelite.apiserver import negotiation, responses
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import Getter
from kubelite.apiserver.scope import RequestScope


async def get(scope: RequestScope, storage: Getter) -> web.StreamResponse:
    """GET of a named object, through the resource's storage or a subresource's."""
    obj = await storage.get(scope.namespace, scope.info.name)
    if storage.kind is not None:
        # Another kind than the resource's (a Scale): no table of it, plain JSON.
        return scope.answer(obj)
    return scope.respond(obj)


async def list_(scope: RequestScope, storage: ResourceStore) -> web.StreamResponse:
    """LIST of a collection: JSON (raw when possible), a Table, or partial metadata."""
    opts = scope.list_options()
    resource = scope.resource
    target = negotiation.negotiate(scope.request.headers.get("Accept", ""), is_list=True)
    raw = target.form == negotiation.JSON
    to_row = None
    if target.form == negotiation.TABLE:
        to_row = negotiation.row_maker(
            resource,
            include_object=negotiation.check_include_object(scope.query.get("includeObject", "")),
            version=target.meta_version,
        )
    page = await storage.list(scope.namespace, opts, raw=raw, transform=to_row)
    list_meta: Obj = {"resourceVersion": str(page.revision)}
    if page.continue_token:
        list_meta["continue"] = page.continue_token
    if page.remaining is not None:
        list_meta["remainingItemCount"] = page.remaining
    if target.form == negotiation.TABLE:
        body: Obj = negotiation.table_of_rows(
            resource, page.items, list_meta=list_meta, version=target.meta_version
        )
    elif target.form == negotiation.PARTIAL_LIST:
        body = {
            "kind": "PartialObjectMetadataList",
            "apiVersion": f"meta.k8s.io/{target.meta_version}",
            "metadata": list_meta,
            "items": [negotiation.partial_metadata(o, target.meta_version) for o in page.items],
        }
    elif page.raw is not None:
        return responses.raw_list(
            resource.list_kind_name(), resource.api_version, list_meta, page.raw
        )
    else:
        body = {
            "kind": resource.list_kind_name(),
            "apiVersion": resource.api_version,
            "metadata": list_meta,
            "items": page.items,
        }
    return responses.body(body, target=target, warnings=scope.warnings)
