"""An asyncio client of the Kubernetes API, for any resource, over one shared aiohttp session.

Every kubelite component that is not the API server talks to it through `APIClient`: the CLI,
and later the controllers, the scheduler and the kubelet (ARCHITECTURE.md, rule 1). It is
deliberately untyped about objects (they are plain dicts of Kubernetes JSON) and typed about
everything else:

    async with APIClient(load_config()) as client:
        pods = await client.resource_for("po")            # discovery: po, pods, Pod, pod.v1
        pod = await client.get(pods, "web", namespace="default")
        async with contextlib.aclosing(client.watch(pods, namespace="default")) as events:
            async for event in events:                     # WatchEvent("ADDED", {...})
                ...

A `Resource` (`kubelite.api.resources`) names what a request is about (group, version, plural,
scope). It comes from discovery (`/api`, `/apis`) or, when the caller knows it, is one of the
constants of that module (`PODS`, `NODES`, ...), which costs no request.

Errors are the classes of `kubelite.client.errors`: an answer with an error code raises the
`APIError` subclass for its code, with the server's `Status`; a watch that the server ends with an
ERROR event (410 Gone when its resourceVersion is compacted away) raises the same way, so an
informer relists. Warnings the server sends (`Warning: 299 - "..."` headers) go to a callback.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import logging
import re
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import aiohttp
import orjson

from kubelite.api.resources import Resource
from kubelite.api.types import Obj
from kubelite.client.errors import (
    APIConnectionError,
    APIError,
    UnknownResourceError,
    error_from_status,
    status_for,
)
from kubelite.client.kubeconfig import ClientConfig, ConfigError

if TYPE_CHECKING:
    # Only for the annotation of `_object` (typing.Unpack is Python 3.12's).
    from typing_extensions import Unpack

JSON = "application/json"
# What kubectl asks for when it prints a table; a server without Table support answers JSON.
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
# What client-go's metadata client asks for: objects reduced to their metadata
# (PartialObjectMetadata), for components that only need that (the garbage collector).
METADATA = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
DEFAULT_USER_AGENT = "kubelite/0.1.0 (linux/amd64) kubelite"
# Seconds a request may take before the client gives up (watches have no such limit).
DEFAULT_REQUEST_TIMEOUT = 60.0
CONNECT_TIMEOUT = 30.0

log = logging.getLogger("kubelite.client")


class PatchType(StrEnum):
    """The four patch formats the API server accepts, by their Content-Type."""

    JSON = "application/json-patch+json"
    MERGE = "application/merge-patch+json"
    STRATEGIC = "application/strategic-merge-patch+json"
    APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True)
class WatchEvent:
    """One line of a watch stream: ADDED, MODIFIED, DELETED or BOOKMARK, and the object."""

    type: str
    object: Obj


_WARNING = re.compile(r'^\d{3} \S+ "((?:[^"\\]|\\.)*)"')


def _warning_text(header: str) -> str:
    """The message of a `Warning: 299 - "..."` header (RFC 7234 section 5.5)."""
    found = _WARNING.match(header)
    if not found:
        return header
    return re.sub(r"\\(.)", r"\1", found.group(1))


class _RequestOptions(TypedDict, total=False):
    """The keyword arguments of `APIClient.request` after the method and path."""

    params: dict[str, str] | None
    body: Any
    content_type: str
    accept: str


def _params(**values: Any) -> dict[str, str]:
    """Query parameters as the API server spells them, leaving out those not given."""
    params: dict[str, str] = {}
    for key, value in values.items():
        if value is None or value is False:
            continue
        params[key] = "true" if value is True else str(value)
    return params


def _write_params(
    dry_run: bool, field_manager: str | None, field_validation: str | None
) -> dict[str, str]:
    """The query parameters every write (create, update, patch) takes."""
    return _params(
        dryRun="All" if dry_run else None,
        fieldManager=field_manager,
        fieldValidation=field_validation,
    )


def _log_warning(message: str) -> None:
    log.warning("%s", message)


class APIClient:
    """One connection pool to one API server; close it (or use `async with`) when done."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        warning_handler: Callable[[str], None] = _log_warning,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        token_source: Callable[[], str] | None = None,
    ) -> None:
        self.config = config
        # A bearer token read at every request (one that is renewed while the client lives: a
        # controller's service account token); it takes the kubeconfig's credentials' place.
        self._token_source = token_source
        self._user_agent = user_agent
        self._warning_handler = warning_handler
        self._request_timeout = request_timeout
        try:
            self._ssl = config.ssl_context()
        except (ssl.SSLError, ValueError) as e:
            raise ConfigError(f"invalid TLS settings in the kubeconfig: {e}") from e
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._resources: list[Resource] | None = None
        self._discovery_lock = asyncio.Lock()

    @property
    def namespace(self) -> str:
        """The namespace of the kubeconfig's context: the default for namespaced requests."""
        return self.config.namespace

    async def __aenter__(self) -> APIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close the connections for good: a request after this fails rather than opening a
        session nobody will close (an Event still being posted while its component stops)."""
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise APIConnectionError(self.config.server, "the client has been closed")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False)
            headers = {"User-Agent": self._user_agent}
            if self.config.token:
                headers["Authorization"] = f"Bearer {self.config.token}"
            self._session = aiohttp.ClientSession(connector=connector, headers=headers)
        return self._session

    # --- requests -------------------------------------------------------------------------

    def _connection_error(self, e: BaseException) -> APIConnectionError:
        """kubectl's wording for a server that did not answer."""
        address = urlsplit(self.config.server).netloc
        os_error = getattr(e, "os_error", None)
        if isinstance(os_error, OSError) and os_error.errno == errno.ECONNREFUSED:
            return APIConnectionError(
                self.config.server,
                f"The connection to the server {address} was refused - "
                "did you specify the right host or port?",
                refused=True,
            )
        detail = str(e) or type(e).__name__
        return APIConnectionError(self.config.server, f"Unable to connect to the server: {detail}")

    def _report_warnings(self, response: aiohttp.ClientResponse) -> None:
        for header in response.headers.getall("Warning", ()):
            self._warning_handler(_warning_text(header))

    def _with_auth(self, headers: dict[str, str]) -> dict[str, str]:
        if self._token_source is not None:
            headers["Authorization"] = f"Bearer {self._token_source()}"
        return headers

    def _request_kwargs(self, timeout: aiohttp.ClientTimeout) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"timeout": timeout}
        if self.config.tls_server_name:
            kwargs["server_hostname"] = self.config.tls_server_name
        return kwargs

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
        accept: str = JSON,
    ) -> Any:
        """One request; the decoded JSON answer, or its text when it is not JSON."""
        headers = {"Accept": accept}
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(total=self._request_timeout, sock_connect=CONNECT_TIMEOUT)
        try:
            async with self._get_session().request(
                method,
                self.config.server + path,
                params=params,
                data=data,
                headers=self._with_auth(headers),
                **self._request_kwargs(timeout),
            ) as response:
                raw = await response.read()
                self._report_warnings(response)
                is_json = response.content_type == JSON
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as e:
            raise self._connection_error(e) from e
        decoded: Any = raw
        if is_json and raw:
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                decoded = raw
        if response.status >= 400:
            raise error_from_status(status_for(response.status, decoded))
        if isinstance(decoded, bytes):
            return decoded.decode(errors="replace")
        return decoded

    async def _object(self, method: str, path: str, **options: Unpack[_RequestOptions]) -> Obj:
        """`request` for the calls whose successful answer is one JSON object (the object, a
        Table, a Status or the version), typed as such for their callers."""
        answer: Obj = await self.request(method, path, **options)
        return answer

    @contextlib.asynccontextmanager
    async def _open_stream(
        self, path: str, params: dict[str, str] | None, accept: str
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET whose body is read as it arrives (a followed log, a watch): no limit on its
        length, and a server that does not answer, or stops answering, raises as `request`
        does, whether before the answer or in the middle of reading it."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
        try:
            async with self._get_session().get(
                self.config.server + path,
                params=params,
                headers=self._with_auth({"Accept": accept}),
                **self._request_kwargs(timeout),
            ) as response:
                yield response
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as e:
            raise self._connection_error(e) from e

    async def stream(
        self, path: str, *, params: dict[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """A plain-text body as it arrives (pods/log with `follow`), for as long as the server
        sends it; an error answer raises as `request` does."""
        async with self._open_stream(path, params, "*/*") as response:
            if response.status >= 400:
                raw = await response.read()
                try:
                    decoded: Any = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    decoded = raw.decode(errors="replace")
                raise error_from_status(status_for(response.status, decoded))
            async for chunk in response.content.iter_any():
                yield chunk

    async def websocket(
        self, path: str, *, params: list[tuple[str, str]], protocols: tuple[str, ...]
    ) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket to the server (pods/exec), speaking one of `protocols`."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
        try:
            # ws_connect's overloads turn on `decode_text`, which the `**` below hides from a type
            # checker: the answer is the default's, a socket that decodes text frames.
            websocket: aiohttp.ClientWebSocketResponse = await self._get_session().ws_connect(
                self.config.server + path,
                params=params,
                protocols=protocols,
                headers=self._with_auth({}),
                **self._request_kwargs(timeout),
            )
            return websocket
        except aiohttp.WSServerHandshakeError as e:
            raise error_from_status(status_for(e.status, e.message)) from e
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as e:
            raise self._connection_error(e) from e

    async def version(self) -> Obj:
        """`/version`: the server's build information."""
        return await self._object("GET", "/version")

    async def get(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        table: bool = False,
    ) -> Obj:
        """One object; with `table=True`, its `meta.k8s.io/v1 Table` (one row)."""
        path = self._object_path(resource, namespace, name, subresource)
        return await self._object("GET", path, accept=TABLE if table else JSON)

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        limit: int | None = None,
        table: bool = False,
        metadata_only: bool = False,
    ) -> Obj:
        """All objects (or Table rows) of a namespace, or of all namespaces when none is given.

        With `limit`, the list is read in pages of that size and joined, as `kubectl get`
        does with `--chunk-size`; the result carries the resourceVersion of the first page,
        which is the revision every page was read at. With `metadata_only`, items are
        PartialObjectMetadata (their apiVersion and kind are meta.k8s.io's, not the object's).
        """
        path = resource.path(namespace=namespace)
        params = _params(
            labelSelector=label_selector or None,
            fieldSelector=field_selector or None,
            resourceVersion=resource_version,
            limit=limit,
        )
        result: Obj | None = None
        while True:
            accept = TABLE if table else METADATA_LIST if metadata_only else JSON
            page = await self.request("GET", path, params=params, accept=accept)
            key = "rows" if page.get("kind") == "Table" else "items"
            if result is None:
                result = page
                result[key] = list(page.get(key) or [])
            else:
                result[key].extend(page.get(key) or [])
            token = (page.get("metadata") or {}).get("continue")
            if not limit or not token:
                break
            params["continue"] = token
        metadata = result.setdefault("metadata", {})
        metadata.pop("continue", None)
        metadata.pop("remainingItemCount", None)
        return result

    async def create(
        self,
        resource: Resource,
        body: Obj,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> Obj:
        """POST an object (or a subresource such as `pods/<name>/binding`)."""
        namespace = namespace or (body.get("metadata") or {}).get("namespace")
        path = self._object_path(resource, namespace, name, subresource)
        params = _write_params(dry_run, field_manager, field_validation)
        return await self._object("POST", path, params=params, body=body)

    async def update(
        self,
        resource: Resource,
        body: Obj,
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
    ) -> Obj:
        """PUT an object; its metadata.resourceVersion makes the write conditional."""
        metadata = body.get("metadata") or {}
        path = self._object_path(
            resource, namespace or metadata.get("namespace"), metadata.get("name", ""), subresource
        )
        params = _write_params(dry_run, field_manager, field_validation)
        return await self._object("PUT", path, params=params, body=body)

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = PatchType.STRATEGIC,
        namespace: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
        field_manager: str | None = None,
        field_validation: str | None = None,
        force: bool | None = None,
    ) -> Obj:
        """PATCH in one of the four formats; `force` only means something to server-side apply."""
        path = self._object_path(resource, namespace, name, subresource)
        params = _write_params(dry_run, field_manager, field_validation)
        if force is not None:
            params["force"] = "true" if force else "false"
        return await self._object(
            "PATCH", path, params=params, body=patch, content_type=str(patch_type)
        )

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: Obj | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """DELETE; the answer is the object (still there while it terminates) or a Status."""
        options: Obj = {}
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if preconditions:
            options["preconditions"] = preconditions
        path = self._object_path(resource, namespace, name)
        params = _params(dryRun="All" if dry_run else None)
        return await self._object("DELETE", path, params=params, body=options or None)

    async def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        allow_bookmarks: bool = False,
        timeout_seconds: int | None = None,
        table: bool = False,
        metadata_only: bool = False,
    ) -> AsyncGenerator[WatchEvent, None]:
        """The changes after `resource_version`, one `WatchEvent` at a time, until the server
        ends the stream. Close the iterator (`contextlib.aclosing`) to stop early. With
        `metadata_only`, event objects are PartialObjectMetadata."""
        path = resource.path(namespace=namespace)
        params = _params(
            watch=True,
            labelSelector=label_selector or None,
            fieldSelector=field_selector or None,
            resourceVersion=resource_version,
            allowWatchBookmarks=allow_bookmarks,
            timeoutSeconds=timeout_seconds,
        )
        accept = TABLE if table else METADATA if metadata_only else JSON
        async with self._open_stream(path, params, accept) as response:
            self._report_warnings(response)
            if response.status >= 400:
                raw = await response.read()
                body: Any = raw
                if response.content_type == JSON and raw:
                    body = orjson.loads(raw)
                raise error_from_status(status_for(response.status, body))
            buffer = bytearray()
            async for chunk in response.content.iter_any():
                buffer.extend(chunk)
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    if line.strip():
                        yield _watch_event(line)
            if buffer.strip():
                yield _watch_event(bytes(buffer))

    def _namespace(self, resource: Resource, namespace: str | None) -> str | None:
        if resource.namespaced and not namespace:
            raise ValueError(f"a namespace is required for {resource.group_resource}")
        return namespace if resource.namespaced else None

    def _object_path(
        self,
        resource: Resource,
        namespace: str | None,
        name: str | None,
        subresource: str | None = None,
    ) -> str:
        """The URL path of one object (or its subresource); a namespaced one needs a namespace."""
        return resource.path(
            namespace=self._namespace(resource, namespace), name=name, subresource=subresource
        )

    # --- discovery ------------------------------------------------------------------------

    async def api_resources(self) -> builtins.list[Resource]:
        """Every resource the server serves (no subresources), core group first, then the
        groups in the order `/apis` lists them, each group's preferred version first."""
        async with self._discovery_lock:
            if self._resources is None:
                self._resources = await self._discover()
            return self._resources

    async def _discover(self) -> builtins.list[Resource]:
        core, groups = await asyncio.gather(
            self.request("GET", "/api"), self.request("GET", "/apis")
        )
        group_versions = [("", version) for version in core.get("versions", ())]
        for group in groups.get("groups", ()):
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [v["version"] for v in group.get("versions", ())]
            if preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
            group_versions.extend((group["name"], version) for version in versions)
        lists = await asyncio.gather(
            *(
                self.request("GET", f"/apis/{g}/{v}" if g else f"/api/{v}")
                for g, v in group_versions
            ),
            return_exceptions=True,
        )
        resources: list[Resource] = []
        for (group, version), listing in zip(group_versions, lists, strict=True):
            if isinstance(listing, APIError):
                # Like kubectl, carry on without a group version that fails to answer.
                log.warning("discovery of %s/%s failed: %s", group, version, listing)
                continue
            if isinstance(listing, BaseException):
                raise listing
            for entry in listing.get("resources", ()):
                if "/" in entry["name"]:
                    continue
                resources.append(
                    Resource(
                        group=group,
                        version=version,
                        plural=entry["name"],
                        kind=entry.get("kind", ""),
                        namespaced=bool(entry.get("namespaced")),
                        singular=entry.get("singularName") or entry.get("kind", "").lower(),
                        short_names=tuple(entry.get("shortNames") or ()),
                        verbs=tuple(entry.get("verbs") or ()),
                        categories=tuple(entry.get("categories") or ()),
                    )
                )
        return resources

    async def resource_for(self, name: str) -> Resource:
        """The resource a user means by `pods`, `pod`, `po`, `Pod`, `pod.v1`, `deploy.apps` or
        `deployments.v1.apps`; the first match in discovery order wins, as in kubectl."""
        resources = await self.api_resources()
        wanted = name.lower()
        head, _, rest = wanted.partition(".")
        candidates: list[Resource] = []
        if rest:
            version, _, group = rest.partition(".")
            if group:
                candidates += [r for r in resources if (r.version, r.group) == (version, group)]
            candidates += [r for r in resources if r.group == rest]
            candidates += [r for r in resources if not r.group and r.version == rest]
        else:
            candidates = resources
        for resource in candidates:
            if resource.matches(head):
                return resource
        raise UnknownResourceError(f'the server doesn\'t have a resource type "{name}"')

    async def resource_for_kind(self, api_version: str, kind: str) -> Resource:
        """The resource that serves objects of `kind` in `api_version` (`apps/v1`, `v1`)."""
        group, _, version = api_version.rpartition("/")
        for resource in await self.api_resources():
            if (resource.group, resource.version, resource.kind) == (group, version, kind):
                return resource
        raise UnknownResourceError(f'no matches for kind "{kind}" in version "{api_version}"')

    async def resources_in_category(self, category: str) -> builtins.list[Resource]:
        """The resources of a category (`all`), one version each, in discovery order."""
        seen: set[tuple[str, str]] = set()
        found: list[Resource] = []
        for resource in await self.api_resources():
            key = (resource.group, resource.plural)
            if category in resource.categories and key not in seen:
                seen.add(key)
                found.append(resource)
        return found


def _watch_event(line: bytes) -> WatchEvent:
    event = orjson.loads(line)
    kind = event.get("type", "")
    obj = event.get("object") or {}
    if kind == "ERROR":
        raise error_from_status(status_for(int(obj.get("code") or 500), obj))
    return WatchEvent(kind, obj)
