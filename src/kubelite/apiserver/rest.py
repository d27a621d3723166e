"""The REST verbs over HTTP: get, list, watch, create, update, patch, delete, deletecollection.

Handlers read the request (path, query, body), call the generic storage in `registry`, and
write the answer in the negotiated form. They are the same for every kind: what differs lives in
the kind's `Strategy`, printer and schema.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kubelite.api import decoding, errors, fields, meta, quantity, schema
from kubelite.api.kinds import REGISTRY, Registry, ResourceType
from kubelite.apiserver import negotiation, options, patching, responses, subresources, watch
from kubelite.apiserver.bodies import read_body
from kubelite.apiserver.pod_proxy import KubeletClient
from kubelite.apiserver.registry import ListOptions, ResourceStore
from kubelite.apiserver.request_info import RequestInfo

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Kinds whose delete answers with the object rather than a Status (ReturnDeletedObject).
_RETURNS_DELETED_OBJECT = {("", "pods"), ("", "services"), ("", "namespaces")}


@dataclass
class RequestContext:
    """What every handler needs to know about one request."""

    request: web.Request
    info: RequestInfo
    resource: ResourceType
    store: ResourceStore
    warnings: list[str]

    @property
    def query(self) -> Any:
        return self.request.query


class RestAPI:
    """Serves every resource of the registry from one store."""

    def __init__(
        self,
        stores: dict[ResourceType, ResourceStore],
        settings: watch.WatchSettings,
        registry: Registry = REGISTRY,
        kubelet: KubeletClient | None = None,
    ) -> None:
        self.stores = stores
        # How pods/log, exec, attach and portforward reach kubelets; None: those answer 503.
        self.kubelet = kubelet
        self.registry = registry
        self.schema = schema.load()
        self.watch_settings = settings

    # --- dispatch ---------------------------------------------------------------------------

    async def handle(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        resource = self.registry.lookup(info.group, info.version, info.resource)
        if resource is None:
            raise errors.StatusError(
                404, errors.REASON_NOT_FOUND, "the server could not find the requested resource"
            )
        if (
            info.namespace
            and not resource.namespaced
            and not (resource.plural == "namespaces" and info.name == info.namespace)
        ):
            # `/api/v1/namespaces/x/nodes` names no resource (only `namespaces/x` itself does).
            raise errors.StatusError(
                404, errors.REASON_NOT_FOUND, "the server could not find the requested resource"
            )
        if (
            resource.namespaced
            and not info.namespace
            and (info.name or info.verb not in ("list", "watch"))
        ):
            # Only lists and watches span namespaces; /api/v1/pods/<name> and
            # /api/v1/watch/pods/<name> name nothing.
            if info.name:
                raise errors.StatusError(
                    404, errors.REASON_NOT_FOUND, "the server could not find the requested resource"
                )
            raise errors.method_not_allowed()
        warnings = [resource.warning] if resource.warning else []
        ctx = RequestContext(request, info, resource, self.stores[resource], warnings)
        if info.subresource:
            return await subresources.handle(self, ctx)
        handler = _VERBS.get(info.verb)
        if handler is None:
            raise errors.method_not_allowed()
        # A watch may name its object: the legacy /watch/.../<name> paths.
        if info.name and info.verb in ("list", "deletecollection", "create"):
            raise errors.method_not_allowed()
        if not info.name and info.verb in ("update", "patch"):
            raise errors.method_not_allowed()
        return await handler(self, ctx)

    def namespace_of(self, ctx: RequestContext) -> str:
        if ctx.resource.namespaced:
            return ctx.info.namespace
        return ""

    def decode(self, ctx: RequestContext, value: Any, mode: str) -> Obj:
        """A parsed body as an object of the request's kind, under `fieldValidation`."""
        resource = ctx.resource
        if isinstance(value, dict):
            self._check_type_meta(resource, value)
        node = self.schema.for_kind(resource.group, resource.version, resource.kind)
        obj, problems = decoding.decode(
            value, node, resource.kind, resource.api_version, quantity.canonical_json
        )
        self.judge(ctx, problems, mode)
        return obj

    def judge(self, ctx: RequestContext, problems: list[str], mode: str) -> None:
        """Refuse, warn about or ignore strict-decoding problems, by `fieldValidation`."""
        if not problems or mode == decoding.IGNORE:
            return
        if mode == decoding.STRICT:
            raise decoding.strict_error(ctx.resource.kind, ctx.resource.api_version, problems)
        ctx.warnings.extend(decoding.as_warnings(problems))

    @staticmethod
    def _check_type_meta(resource: ResourceType, value: Obj) -> None:
        api_version = value.get("apiVersion")
        kind = value.get("kind")
        if api_version and api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({resource.api_version})"
            )
        if kind and kind != resource.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )

    async def parse_object(self, ctx: RequestContext) -> Obj:
        raw = await read_body(ctx.request)
        if not raw.strip():
            raise errors.bad_request("the request body is empty: an object is required")
        value = decoding.parse_body(raw, ctx.request.headers.get("Content-Type", ""))
        kind = options.options_kind(ctx.info.verb)
        return self.decode(ctx, value, options.field_validation(ctx.query, kind))

    def respond(
        self, ctx: RequestContext, obj: Obj, status: int = 200, *, allow_table: bool = True
    ) -> web.Response:
        target = negotiation.negotiate(ctx.request.headers.get("Accept", ""), is_list=False)
        body: Any = obj
        if target.form == negotiation.TABLE and allow_table:
            body = negotiation.table(
                ctx.resource,
                [obj],
                list_meta={"resourceVersion": meta.get_path(obj, "metadata", "resourceVersion")},
                include_object=negotiation.check_include_object(ctx.query.get("includeObject", "")),
                version=target.meta_version,
            )
        elif target.form == negotiation.PARTIAL:
            body = negotiation.partial_metadata(obj, target.meta_version)
        elif target.form in (negotiation.TABLE, negotiation.PARTIAL_LIST):
            target = negotiation.JSON_TARGET
        return responses.body(body, status=status, target=target, warnings=ctx.warnings)

    # --- reads ------------------------------------------------------------------------------

    async def get(self, ctx: RequestContext) -> web.StreamResponse:
        obj = await ctx.store.get(self.namespace_of(ctx), ctx.info.name)
        return self.respond(ctx, obj)

    def _list_options(self, ctx: RequestContext) -> ListOptions:
        opts = options.list_options(ctx.query, watch=ctx.info.verb == "watch")
        if opts.field_selector is not None:
            ctx.resource.strategy.check_field_selector(opts.field_selector)
        return opts

    async def list(self, ctx: RequestContext) -> web.StreamResponse:
        opts = self._list_options(ctx)
        target = negotiation.negotiate(ctx.request.headers.get("Accept", ""), is_list=True)
        raw = target.form == negotiation.JSON
        to_row = None
        if target.form == negotiation.TABLE:
            to_row = negotiation.row_maker(
                ctx.resource,
                include_object=negotiation.check_include_object(ctx.query.get("includeObject", "")),
                version=target.meta_version,
            )
        page = await ctx.store.list(self.namespace_of(ctx), opts, raw=raw, transform=to_row)
        list_meta: Obj = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            list_meta["continue"] = page.continue_token
        if page.remaining is not None:
            list_meta["remainingItemCount"] = page.remaining
        if target.form == negotiation.TABLE:
            body: Obj = negotiation.table_of_rows(
                ctx.resource, page.items, list_meta=list_meta, version=target.meta_version
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
                ctx.resource.list_kind_name(), ctx.resource.api_version, list_meta, page.raw
            )
        else:
            body = {
                "kind": ctx.resource.list_kind_name(),
                "apiVersion": ctx.resource.api_version,
                "metadata": list_meta,
                "items": page.items,
            }
        return responses.body(body, target=target, warnings=ctx.warnings)

    async def watch(self, ctx: RequestContext) -> web.StreamResponse:
        opts = self._list_options(ctx)
        if ctx.info.name:
            opts.field_selector = _select_name(opts.field_selector, ctx.info.name)
        target = negotiation.negotiate(ctx.request.headers.get("Accept", ""), is_list=False)
        return await watch.serve(ctx, opts, target, self.watch_settings)

    # --- writes -----------------------------------------------------------------------------

    def manager(self, ctx: RequestContext) -> str:
        return options.field_manager(
            ctx.query,
            ctx.request.headers.get("User-Agent", ""),
            kind=options.options_kind(ctx.info.verb),
        )

    async def create(self, ctx: RequestContext) -> web.StreamResponse:
        if ctx.info.name:
            raise errors.method_not_allowed()
        dry_run = options.dry_run(ctx.query)
        manager = self.manager(ctx)
        obj = await self.parse_object(ctx)
        created = await ctx.store.create(
            self.namespace_of(ctx),
            obj,
            dry_run=dry_run,
            on_prepared=lambda o: patching.track_update(ctx.resource, None, o, manager, ""),
        )
        return self.respond(ctx, created, 201)

    async def update(self, ctx: RequestContext, subresource: str = "") -> web.StreamResponse:
        dry_run = options.dry_run(ctx.query, "UpdateOptions")
        manager = self.manager(ctx)
        obj = await self.parse_object(ctx)

        async def mutate(_current: Obj | None) -> Obj:
            # A fresh copy each attempt: the registry stamps the copy it gets, and a retry
            # must not mistake the stored resourceVersion for the client's precondition.
            return meta.clone(obj)

        result, created = await ctx.store.update(
            self.namespace_of(ctx),
            ctx.info.name,
            mutate,
            subresource=subresource,
            dry_run=dry_run,
            on_prepared=lambda new, old: patching.track_update(
                ctx.resource, old, new, manager, subresource
            ),
        )
        return self.respond(ctx, result, 201 if created else 200)

    async def patch(self, ctx: RequestContext, subresource: str = "") -> web.StreamResponse:
        return await patching.handle(self, ctx, subresource)

    async def delete(self, ctx: RequestContext) -> web.StreamResponse:
        body = await self._delete_body(ctx)
        opts = options.delete_options(ctx.query, body)
        obj, gone = await ctx.store.delete(self.namespace_of(ctx), ctx.info.name, opts)
        return self._deleted(ctx, obj, gone)

    def _deleted(self, ctx: RequestContext, obj: Obj, gone: bool) -> web.Response:
        resource = ctx.resource
        if gone and (resource.group, resource.plural) not in _RETURNS_DELETED_OBJECT:
            status = responses.success_status(
                meta.name_of(obj),
                resource.group,
                resource.plural,
                meta.get_path(obj, "metadata", "uid", default=""),
            )
            return responses.body(status, warnings=ctx.warnings)
        return self.respond(ctx, obj, allow_table=False)

    async def _delete_body(self, ctx: RequestContext) -> Obj | None:
        raw = await read_body(ctx.request)
        if not raw.strip():
            return None
        value = decoding.parse_body(raw, ctx.request.headers.get("Content-Type", ""))
        if not isinstance(value, dict):
            raise errors.bad_request("the body of a delete must be a DeleteOptions object")
        return value

    async def deletecollection(self, ctx: RequestContext) -> web.StreamResponse:
        list_opts = self._list_options(ctx)
        body = await self._delete_body(ctx)
        opts = options.delete_options(ctx.query, body)
        namespace = self.namespace_of(ctx)
        page = await ctx.store.list(namespace, list_opts)
        deleted = []
        for item in page.items:
            try:
                obj, _ = await ctx.store.delete(namespace, meta.name_of(item), opts)
            except errors.StatusError as exc:
                if exc.code == 404:  # someone else deleted it meanwhile
                    continue
                raise
            deleted.append(obj)
        listing = {
            "kind": ctx.resource.list_kind_name(),
            "apiVersion": ctx.resource.api_version,
            "metadata": {"resourceVersion": str(ctx.store.store.revision)},
            "items": deleted,
        }
        return responses.body(listing, warnings=ctx.warnings)


def _select_name(selector: fields.FieldSelector | None, name: str) -> fields.FieldSelector:
    """The field selector of a watch of the object `name` (ListResource in Kubernetes'
    `endpoints/handlers/get.go`).

    A name in the path reads as `metadata.name=<name>`. A fieldSelector given as well must pin
    `metadata.name` to that same name, and is then kept whole (its other terms still filter);
    Kubernetes refuses any other selector with a 400, even one the object would match.
    """
    if selector is None or selector.empty():
        return fields.FieldSelector((fields.Requirement("metadata.name", fields.EQUALS, name),))
    if selector.requires_exact_match("metadata.name") != name:
        raise errors.bad_request("fieldSelector metadata.name doesn't match requested name")
    return selector


_VERBS: dict[str, Callable[[RestAPI, RequestContext], Awaitable[web.StreamResponse]]] = {
    "get": RestAPI.get,
    "list": RestAPI.list,
    "watch": RestAPI.watch,
    "create": RestAPI.create,
    "update": RestAPI.update,
    "patch": RestAPI.patch,
    "delete": RestAPI.delete,
    "deletecollection": RestAPI.deletecollection,
}
