"""The installer: which handler and which storage serve each (group, version, resource,
subresource, verb), and the dispatch of a request to them.

Kubernetes' `endpoints/installer.go` walks each resource's storage and registers a route per
verb it supports. Here one table does the same from the kinds registry (`kubelite.api.kinds`:
a resource's verbs, and its subresources with theirs) and two rows of this module: `VERBS`, the
handler of each verb of a resource itself, and `SUBRESOURCES`, what serves each subresource (the
storage it is made of and the handler of each verb). Dispatch looks requests up in that table,
and discovery and the OpenAPI documents are generated from it, so that a served verb, a
discovered one and a documented one cannot disagree.

Adding a subresource is a row in `SUBRESOURCES` (its storage, in `registry/`, and the generic
handlers of its verbs) and the `Subresource` line of its kind in `kubelite.api.kinds`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubelite.api import errors
from kubelite.api.kinds import REGISTRY, Registry, ResourceType, Subresource
from kubelite.apiserver import serviceaccount_token
from kubelite.apiserver.auth import Authenticator, current_warnings
from kubelite.apiserver.handlers import connect, create, delete, get, patch, update, watch
from kubelite.apiserver.noderestriction import NodeRestriction
from kubelite.apiserver.rbac.authorizer import AlwaysAllow, Authorizer
from kubelite.apiserver.registry import reviews
from kubelite.apiserver.registry.approval import ApprovalStore
from kubelite.apiserver.registry.binding import BindingStore
from kubelite.apiserver.registry.eviction import EvictionStore
from kubelite.apiserver.registry.finalize import NamespaceFinalizeStore
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.interfaces import NamedCreater, Patcher, Updater
from kubelite.apiserver.registry.pod_connect import PodConnectStore
from kubelite.apiserver.registry.resize import PodResizeStore
from kubelite.apiserver.registry.scale import ScaleStore
from kubelite.apiserver.registry.status import StatusStore
from kubelite.apiserver.registry.token import TokenRequestStore
from kubelite.apiserver.request_info import RequestInfo
from kubelite.apiserver.scope import HandlerConfig, RequestScope

# A handler: the request's scope and the storage the table pairs it with.
Handler = Callable[[RequestScope, Any], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Stores:
    """What subresource storages are made from: the main storage of every resource, and the
    server's service-account token issuer (None: serviceaccounts/token answers 503)."""

    by_resource: Mapping[ResourceType, ResourceStore]
    token_issuer: serviceaccount_token.TokenIssuer | None = None
    registry: Registry = REGISTRY
    # Answers the access reviews (None: authorization is off, and they answer "allowed"), and
    # the TokenReviews (None: those answer 503).
    authorizer: Authorizer | None = None
    authenticator: Authenticator | None = None

    def of(self, group: str, version: str, plural: str) -> ResourceStore:
        resource = self.registry.lookup(group, version, plural)
        assert resource is not None, plural
        return self.by_resource[resource]


# Makes a subresource's storage for one resource.
StorageFactory = Callable[[Stores, ResourceType], object]


@dataclass(frozen=True)
class SubresourceRow:
    """How one subresource is served: the storage it is made of, and each verb's handler."""

    storage: StorageFactory
    handlers: Mapping[str, Handler]
    # Described in the /openapi documents, with the kind's own schema. Only status and resize
    # (both a Pod in and out) are so far: Kubernetes documents every subresource, but kubectl
    # reads none of the others.
    documented: bool = False


# The verbs of a resource itself.
VERBS: Mapping[str, Handler] = {
    "get": get.get,
    "list": get.list_,
    "watch": watch.watch,
    "create": create.create,
    "update": update.update,
    "patch": patch.patch,
    "delete": delete.delete,
    "deletecollection": delete.delete_collection,
}

_GET_UPDATE_PATCH: Mapping[str, Handler] = {
    "get": get.get,
    "update": update.update,
    "patch": patch.patch,
}
_SCALE: Mapping[str, Handler] = {
    "get": get.get,
    "update": update.update_scale,
    "patch": patch.patch_scale,
}


# The storage factories, typed by what their handlers need of them (so that a type checker
# holds each storage to its interface).


def _status(stores: Stores, resource: ResourceType) -> Patcher:
    return StatusStore(stores.by_resource[resource])


def _resize(stores: Stores, resource: ResourceType) -> Patcher:
    return PodResizeStore(stores.by_resource[resource])


def _approval(stores: Stores, resource: ResourceType) -> Patcher:
    return ApprovalStore(stores.by_resource[resource])


def _scale(stores: Stores, resource: ResourceType) -> ScaleStore:
    return ScaleStore(stores.by_resource[resource])


def _binding(stores: Stores, resource: ResourceType) -> NamedCreater:
    return BindingStore(stores.by_resource[resource])


def _eviction(stores: Stores, resource: ResourceType) -> NamedCreater:
    budgets = stores.of("policy", "v1", "poddisruptionbudgets")
    return EvictionStore(stores.by_resource[resource], budgets)


def _finalize(stores: Stores, resource: ResourceType) -> Updater:
    return NamespaceFinalizeStore(stores.by_resource[resource])


def _token(stores: Stores, resource: ResourceType) -> NamedCreater:
    lookup = serviceaccount_token.object_lookup(stores.by_resource)
    pods = stores.of("", "v1", "pods")
    # With authorization off every grant holds, the audience a node asks for included.
    restriction = NodeRestriction(pods.store, pods.resource, stores.authorizer or AlwaysAllow())
    return TokenRequestStore(stores.token_issuer, lookup, restrict=restriction.token)


def _pod_connect(stores: Stores, resource: ResourceType) -> PodConnectStore:
    return PodConnectStore(stores.by_resource[resource], stores.of("", "v1", "nodes"))


def _main(stores: Stores, resource: ResourceType) -> Patcher:
    return stores.by_resource[resource]


# The resources that are questions rather than objects: POSTed, answered, never stored.
REVIEWS: Mapping[tuple[str, str], StorageFactory] = {
    ("authorization.k8s.io", "selfsubjectaccessreviews"): lambda s, r: (
        reviews.SelfSubjectAccessReviews(s.authorizer or AlwaysAllow())
    ),
    ("authorization.k8s.io", "subjectaccessreviews"): lambda s, r: reviews.SubjectAccessReviews(
        s.authorizer or AlwaysAllow()
    ),
    ("authorization.k8s.io", "localsubjectaccessreviews"): lambda s, r: (
        reviews.SubjectAccessReviews(s.authorizer or AlwaysAllow(), local=True)
    ),
    ("authorization.k8s.io", "selfsubjectrulesreviews"): lambda s, r: (
        reviews.SelfSubjectRulesReviews(s.authorizer or AlwaysAllow())
    ),
    ("authentication.k8s.io", "selfsubjectreviews"): lambda s, r: reviews.SelfSubjectReviews(),
    ("authentication.k8s.io", "tokenreviews"): lambda s, r: reviews.TokenReviews(s.authenticator),
}


# The subresources, by name; which resources have which (and with which verbs) is the kinds
# registry's `Subresource` lines.
SUBRESOURCES: Mapping[str, SubresourceRow] = {
    "status": SubresourceRow(_status, _GET_UPDATE_PATCH, documented=True),
    "resize": SubresourceRow(_resize, _GET_UPDATE_PATCH, documented=True),
    "approval": SubresourceRow(_approval, _GET_UPDATE_PATCH),
    "scale": SubresourceRow(_scale, _SCALE),
    "binding": SubresourceRow(_binding, {"create": create.create_named}),
    "eviction": SubresourceRow(_eviction, {"create": create.create_named}),
    "finalize": SubresourceRow(_finalize, {"update": update.update}),
    "token": SubresourceRow(_token, {"create": create.create_named}),
    "log": SubresourceRow(_pod_connect, {"get": connect.log}),
    "exec": SubresourceRow(_pod_connect, {"get": connect.exec_, "create": connect.exec_}),
    "attach": SubresourceRow(_pod_connect, {"get": connect.attach, "create": connect.attach}),
    "portforward": SubresourceRow(
        _pod_connect, {"get": connect.portforward, "create": connect.portforward}
    ),
}


@dataclass(frozen=True)
class Endpoint:
    """One row of the table: a verb of a resource or of one of its subresources."""

    resource: ResourceType
    subresource: str
    verb: str
    handler: Handler


def endpoints(registry: Registry = REGISTRY) -> list[Endpoint]:
    """The table: every served (resource, subresource, verb), in the registry's order."""
    table = []
    for resource in registry.resources:
        is_review = (resource.group, resource.plural) in REVIEWS
        for verb in resource.verbs:
            handler = create.review if is_review else VERBS[verb]
            table.append(Endpoint(resource, "", verb, handler))
        for sub in resource.subresources:
            row = SUBRESOURCES[sub.name]
            for verb in sub.verbs:
                table.append(Endpoint(resource, sub.name, verb, row.handlers[verb]))
    return table


@dataclass(frozen=True)
class Served:
    """A resource or one of its subresources, with the verbs the table serves it with: what
    discovery lists and the OpenAPI documents describe."""

    resource: ResourceType
    # None for the resource itself.
    subresource: Subresource | None
    verbs: tuple[str, ...]

    @property
    def documented(self) -> bool:
        """Whether the OpenAPI documents describe it (the resource itself always)."""
        return self.subresource is None or SUBRESOURCES[self.subresource.name].documented


def served(registry: Registry, group: str, version: str) -> list[Served]:
    """What the table serves in one group version, each resource before its subresources."""
    verbs: dict[tuple[ResourceType, str], list[str]] = {}
    for e in endpoints(registry):
        if e.resource.group == group and e.resource.version == version:
            verbs.setdefault((e.resource, e.subresource), []).append(e.verb)
    out = []
    for (resource, name), found in verbs.items():
        out.append(Served(resource, resource.subresource(name) if name else None, tuple(found)))
    return out


def _not_found() -> errors.StatusError:
    return errors.StatusError(
        404, errors.REASON_NOT_FOUND, "the server could not find the requested resource"
    )


class Installer:
    """Serves every resource of the registry: the table with its storages, and dispatch."""

    def __init__(
        self,
        stores: Stores,
        config: HandlerConfig | None = None,
    ) -> None:
        self.stores = stores
        self.registry = stores.registry
        self.config = config or HandlerConfig()
        # (resource, subresource, verb) -> (handler, storage); one storage per subresource.
        self.routes: dict[tuple[ResourceType, str, str], tuple[Handler, object]] = {}
        storages: dict[tuple[ResourceType, str], object] = {}
        for e in endpoints(self.registry):
            key = (e.resource, e.subresource)
            storage = storages.get(key)
            if storage is None:
                if e.subresource:
                    factory = SUBRESOURCES[e.subresource].storage
                else:
                    factory = REVIEWS.get((e.resource.group, e.resource.plural), _main)
                storage = factory(stores, e.resource)
                storages[key] = storage
            self.routes[(e.resource, e.subresource, e.verb)] = (e.handler, storage)

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        """Serve a resource request: find its resource, check its path's shape, dispatch."""
        resource = self.registry.lookup(info.group, info.version, info.resource)
        if resource is None:
            raise _not_found()
        if (
            info.namespace
            and not resource.namespaced
            and not (resource.plural == "namespaces" and info.name == info.namespace)
        ):
            # `/api/v1/namespaces/x/nodes` names no resource (only `namespaces/x` itself does).
            raise _not_found()
        verb = info.verb
        if resource.namespaced and not info.namespace and (info.name or verb not in _SPANNING):
            # Only lists and watches span namespaces; /api/v1/pods/<name> and
            # /api/v1/watch/pods/<name> name nothing.
            if info.name:
                raise _not_found()
            raise errors.method_not_allowed()
        sub = info.subresource
        if sub:
            if resource.subresource(sub) is None or len(info.parts) > 3:
                raise _not_found()
        # A watch may name its object: the legacy /watch/.../<name> paths.
        elif (info.name and verb in _UNNAMED) or (not info.name and verb in _NAMED):
            raise errors.method_not_allowed()
        route = self.routes.get((resource, sub, verb))
        if route is None:
            raise errors.method_not_allowed()
        handler, storage = route
        scope = RequestScope(request, info, resource, self.config)
        current_warnings.set(scope.warnings)
        return await handler(scope, storage)


_SPANNING = frozenset({"list", "watch"})
_UNNAMED = frozenset({"list", "deletecollection", "create"})
_NAMED = frozenset({"update", "patch"})
