"""POST: creating an object, or posting to a named object's subresource (handlers/create.go).

A create decodes the body as the resource's kind and hands it to the generic store, which
records the manager's fields once defaults are in. A POST to a subresource (a Binding, an
Eviction, a TokenRequest) decodes the body as the kind its storage takes and lets the storage
act on the named object; what it answers (a Status, a TokenRequest) goes back as JSON.
"""

from __future__ import annotations

from aiohttp import web

from kubelite.api import errors
from kubelite.apiserver import fieldmanager, options
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import NamedCreater
from kubelite.apiserver.registry.reviews import Reviewer
from kubelite.apiserver.scope import RequestScope


async def create(scope: RequestScope, storage: ResourceStore) -> web.StreamResponse:
    """POST to a collection: a new object, answered with 201."""
    if scope.info.name:
        raise errors.method_not_allowed()
    dry_run = options.dry_run(scope.query)
    manager = scope.field_manager()
    obj = await scope.read_object()
    resource = scope.resource
    created = await storage.create(
        scope.namespace,
        obj,
        dry_run=dry_run,
        on_prepared=lambda o: fieldmanager.track_update(resource, None, o, manager, ""),
    )
    return scope.respond(created, 201)


async def create_named(scope: RequestScope, storage: NamedCreater) -> web.StreamResponse:
    """POST to a named object's subresource (pods/binding, pods/eviction, .../token)."""
    body = await scope.read_as(storage.kind)
    answer, status = await storage.create(scope.info.namespace, scope.info.name, body, scope.query)
    return scope.answer(answer, status)


async def review(scope: RequestScope, storage: Reviewer) -> web.StreamResponse:
    """POST of a review (an access review, a TokenReview): the object answered, not stored."""
    if scope.info.name:
        raise errors.method_not_allowed()
    obj = await scope.read_object()
    answered = await storage.review(scope.namespace, obj)
    return scope.respond(answered, 201, allow_table=False)
