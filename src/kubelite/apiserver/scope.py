"""The request scope: what every handler knows about the request it serves.

Kubernetes' handlers get a `RequestScope` (the server's serializers, namer, field manager) and
the request's `RequestInfo`; here one `RequestScope` carries both: the aiohttp request, what its
path asks for, the resource it names, the warnings the answer will carry, and the server-wide
settings handlers share (`HandlerConfig`). Its helpers are the steps every verb repeats: reading
and decoding a body under `fieldValidation`, the options in the query, content negotiation and
the answer.

This module is a leaf of the handlers: it imports no handler and no storage but the generic
store's option types, so that every handler and `installer` may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from kubelite.api import decoding, errors, meta, quantity, schema
from kubelite.api.kinds import ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver import negotiation, options, responses
from kubelite.apiserver.bodies import read_body
from kubelite.apiserver.kubelet_client import KubeletClient
from kubelite.apiserver.registry.generic import ListOptions
from kubelite.apiserver.registry.interfaces import KindRef
from kubelite.apiserver.request_info import RequestInfo

# Kubernetes' --min-request-timeout: a watch without timeoutSeconds lasts a random time
# between this and twice this.
DEFAULT_MIN_REQUEST_TIMEOUT = 1800.0
# The cacher sends a bookmark about once a minute to watchers that allow them.
BOOKMARK_INTERVAL = 60.0


@dataclass
class WatchSettings:
    """How watches are timed, and the open ones a shutdown must end."""

    min_request_timeout: float = DEFAULT_MIN_REQUEST_TIMEOUT
    bookmark_interval: float = BOOKMARK_INTERVAL
    # Called with +1 when a watch opens and -1 when it closes (the watchers gauge).
    on_count: Callable[[int], None] | None = None
    # The store watches of the open streams, so that a shutdown can end them at once.
    open_streams: set[Any] = field(default_factory=set)

    def close_all(self) -> None:
        for stream in list(self.open_streams):
            stream.close()


@dataclass
class HandlerConfig:
    """What the handlers of one server share, set once when the server is assembled."""

    watch: WatchSettings = field(default_factory=WatchSettings)
    # How pods/log, exec, attach and portforward reach kubelets; None: those answer 503.
    kubelet: KubeletClient | None = None


class RequestScope:
    """One request as the handlers see it; made once per request, by `installer`."""

    __slots__ = ("config", "info", "request", "resource", "warnings")

    def __init__(
        self,
        request: web.Request,
        info: RequestInfo,
        resource: ResourceType,
        config: HandlerConfig,
    ) -> None:
        self.request = request
        self.info = info
        self.resource = resource
        self.config = config
        self.warnings: list[str] = [resource.warning] if resource.warning else []

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query

    @property
    def namespace(self) -> str:
        """The request's namespace, or "" for a cluster-scoped resource."""
        return self.info.namespace if self.resource.namespaced else ""

    # --- options --------------------------------------------------------------------------

    def list_options(self) -> ListOptions:
        """The list or watch options of the query, its field selector checked by the kind."""
        opts = options.list_options(self.query, watch=self.info.verb == "watch")
        if opts.field_selector is not None:
            self.resource.strategy.check_field_selector(opts.field_selector)
        return opts

    def field_manager(self, kind: str | None = None, *, required: bool = False) -> str:
        """The manager of this write: the query's fieldManager, or the User-Agent's prefix."""
        return options.field_manager(
            self.query,
            self.request.headers.get("User-Agent", ""),
            required=required,
            kind=kind or options.options_kind(self.info.verb),
        )

    # --- bodies ---------------------------------------------------------------------------

    async def read_body(self) -> bytes:
        return await read_body(self.request)

    @property
    def content_type(self) -> str:
        return self.request.headers.get("Content-Type", "")

    async def read_object(self) -> Obj:
        """The body as an object of the request's kind, under the query's fieldValidation."""
        raw = await self.read_body()
        if not raw.strip():
            raise errors.bad_request("the request body is empty: an object is required")
        value = decoding.parse_body(raw, self.content_type)
        kind = options.options_kind(self.info.verb)
        return self.decode(value, options.field_validation(self.query, kind))

    async def read_as(self, kind: KindRef, options_kind: str = "CreateOptions") -> Obj:
        """The body as an object of a storage's own kind (a Binding, an Eviction, ...)."""
        raw = await self.read_body()
        value = decoding.parse_body(raw, self.content_type)
        node = schema.load().for_kind(kind.group, kind.version, kind.kind)
        obj, problems = decoding.decode(value, node, kind.kind, kind.api_version)
        self.judge(problems, options.field_validation(self.query, options_kind))
        return obj

    async def read_plain(self) -> Any:
        """The body as plain JSON (or YAML), neither decoded against a schema nor judged."""
        raw = await self.read_body()
        media = decoding.media_type(self.content_type)
        return decoding.plain(decoding.parse_body(raw, media or "application/json"))

    def decode(self, value: Any, mode: str) -> Obj:
        """A parsed body as an object of the request's kind, under `fieldValidation`."""
        resource = self.resource
        if isinstance(value, dict):
            _check_type_meta(resource, value)
        node = schema.load().for_kind(resource.group, resource.version, resource.kind)
        obj, problems = decoding.decode(
            value, node, resource.kind, resource.api_version, quantity.canonical_json
        )
        self.judge(problems, mode)
        return obj

    def judge(self, problems: list[str], mode: str) -> None:
        """Refuse, warn about or ignore strict-decoding problems, by `fieldValidation`."""
        if not problems or mode == decoding.IGNORE:
            return
        if mode == decoding.STRICT:
            raise decoding.strict_error(self.resource.kind, self.resource.api_version, problems)
        self.warnings.extend(decoding.as_warnings(problems))

    # --- answers --------------------------------------------------------------------------

    def respond(self, obj: Obj, status: int = 200, *, allow_table: bool = True) -> web.Response:
        """`obj` in the form the client accepts: JSON, YAML, a Table or partial metadata."""
        target = negotiation.negotiate(self.request.headers.get("Accept", ""), is_list=False)
        body: Any = obj
        if target.form == negotiation.TABLE and allow_table:
            body = negotiation.table(
                self.resource,
                [obj],
                list_meta={"resourceVersion": meta.get_path(obj, "metadata", "resourceVersion")},
                include_object=negotiation.check_include_object(
                    self.query.get("includeObject", "")
                ),
                version=target.meta_version,
            )
        elif target.form == negotiation.PARTIAL:
            body = negotiation.partial_metadata(obj, target.meta_version)
        elif target.form in (negotiation.TABLE, negotiation.PARTIAL_LIST):
            target = negotiation.JSON_TARGET
        return responses.body(body, status=status, target=target, warnings=self.warnings)

    def answer(self, obj: Obj, status: int = 200) -> web.Response:
        """`obj` as JSON, whatever the client accepts: a Status, or a kind with no table."""
        return responses.body(obj, status=status, warnings=self.warnings)


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
