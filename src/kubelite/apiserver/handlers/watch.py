"""WATCH: a chunked stream of `{"type": ..., "object": ...}` lines (handlers/watch.go).

The semantics are Kubernetes': without a resourceVersion (or with "0") the stream starts with
the current objects as ADDED events; with one it carries every change after it, or a single
ERROR event with a 410 `Expired` Status once that revision is compacted (so that clients
relist). BOOKMARK events, when the client allows them, carry just a resourceVersion that a
client may resume from; one is sent shortly before the server ends the watch at its timeout, as
Kubernetes' cacher does. One change seen by many watchers is decoded and encoded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import orjson
from aiohttp import web

from kubelite.api import errors, fields
from kubelite.api.types import Obj
from kubelite.apiserver import negotiation, options
from kubelite.apiserver.negotiation import Target
from kubelite.apiserver.registry.generic import ListOptions, ResourceStore, WatchEvent
from kubelite.apiserver.scope import RequestScope, WatchSettings
from kubelite.storage.interface import Watch, WatchClosedError

# ... a bookmark this long before a watch's deadline, so the client can resume without a relist.
BOOKMARK_BEFORE_DEADLINE = 2.0
# How often a watch with nothing to send looks whether its client is still connected.
LIVENESS_CHECK = 5.0
# The events of one batch are written once this many bytes of them are encoded: a batch is
# everything queued since the last one (a replayed history, say), and encoding all of it before
# writing any held every decoded object and line of it at once.
WRITE_BYTES = 1 << 20
_TRUE = ("true", "1")


async def watch(scope: RequestScope, storage: ResourceStore) -> web.StreamResponse:
    """WATCH of a collection, or of one object by the legacy /watch/.../<name> paths."""
    opts = scope.list_options()
    if scope.info.name:
        opts.field_selector = select_name(opts.field_selector, scope.info.name)
    target = negotiation.negotiate(scope.request.headers.get("Accept", ""), is_list=False)
    return await serve(scope, storage, opts, target, scope.config.watch)


def select_name(selector: fields.FieldSelector | None, name: str) -> fields.FieldSelector:
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


class _Encoder:
    """Turns watch events into lines for one watcher's negotiated form."""

    def __init__(self, scope: RequestScope, target: Target) -> None:
        self.scope = scope
        self.target = target
        self.headers_sent = False
        self.include_object = negotiation.check_include_object(scope.query.get("includeObject", ""))

    def line(self, event: WatchEvent) -> bytes:
        form = self.target.form
        if form == negotiation.TABLE:
            return self._table_line(event)
        source = event.source
        key = f"{self.scope.resource.api_version}:{form}:{self.target.meta_version}:{event.type}"
        if source is not None:
            cached: bytes | None = source.memo.get(key)
            if cached is not None:
                return cached
        obj: Any = event.obj
        if form == negotiation.PARTIAL:
            obj = negotiation.partial_metadata(event.obj, self.target.meta_version)
        encoded = orjson.dumps({"type": event.type, "object": obj}) + b"\n"
        if source is not None:
            source.memo[key] = encoded
        return encoded

    def _table_line(self, event: WatchEvent) -> bytes:
        headers = not self.headers_sent
        self.headers_sent = True
        table = negotiation.table(
            self.scope.resource,
            [event.obj],
            list_meta={"resourceVersion": str(event.revision)},
            include_object=self.include_object,
            headers=headers,
            version=self.target.meta_version,
        )
        return orjson.dumps({"type": event.type, "object": table}) + b"\n"

    def bookmark(self, revision: int, initial_end: bool = False) -> bytes:
        # A zero creationTimestamp is left out, not written as null (1.34, #130989).
        md: Obj = {"resourceVersion": str(revision)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {
            "kind": self.scope.resource.kind,
            "apiVersion": self.scope.resource.api_version,
            "metadata": md,
        }
        return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"

    @staticmethod
    def error(exc: errors.StatusError) -> bytes:
        return orjson.dumps({"type": "ERROR", "object": exc.to_status()}) + b"\n"


def _timeout(scope: RequestScope, settings: WatchSettings) -> float:
    raw = scope.query.get("timeoutSeconds", "")
    if raw:
        try:
            value = int(raw)
        except ValueError:
            raise errors.bad_request(f'invalid value for timeoutSeconds: "{raw}"') from None
        if value > 0:
            return float(value)
    low = settings.min_request_timeout
    return low * (1 + random.random())


async def serve(
    scope: RequestScope,
    storage: ResourceStore,
    opts: ListOptions,
    target: Target,
    settings: WatchSettings,
) -> web.StreamResponse:
    """Stream the events of `storage` that `opts` select, in the `target` form."""
    timeout = _timeout(scope, settings)
    bookmarks = scope.query.get("allowWatchBookmarks", "").lower() in _TRUE
    send_initial_param = scope.query.get("sendInitialEvents", "").lower()
    rv = opts.resource_version
    send_initial = rv in ("", "0")
    if send_initial_param:
        # The streaming list (KEP-3157): initial events only when asked, and only together
        # with resourceVersionMatch=NotOlderThan, as validateWatchOptions requires.
        send_initial = send_initial_param in _TRUE
        if opts.resource_version_match != "NotOlderThan":
            raise options.invalid_options(
                "ListOptions",
                errors.forbidden_field(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for watch unless resourceVersionMatch is "
                    "set to NotOlderThan",
                ),
            )
    encoder = _Encoder(scope, target)

    response = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
    )
    response.enable_chunked_encoding()
    try:
        initial, stream, revision = await storage.watch(
            scope.namespace, opts, send_initial=send_initial
        )
    except errors.StatusError as exc:
        if exc.code != 410:
            raise
        # Past authentication and parsing, Kubernetes reports an expired revision in the
        # stream itself, as one ERROR event.
        await response.prepare(scope.request)
        await response.write(encoder.error(exc))
        await response.write_eof()
        return response

    await response.prepare(scope.request)
    settings.open_streams.add(stream)
    if settings.on_count:
        settings.on_count(1)
    try:
        await _pump(
            scope,
            storage,
            opts,
            encoder,
            response,
            initial,
            stream,
            revision,
            timeout,
            bookmarks,
            settings,
            initial_end=send_initial and bool(send_initial_param),
        )
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        stream.close()
        settings.open_streams.discard(stream)
        if settings.on_count:
            settings.on_count(-1)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def _pump(
    scope: RequestScope,
    storage: ResourceStore,
    opts: ListOptions,
    encoder: _Encoder,
    response: web.StreamResponse,
    initial: list[WatchEvent],
    stream: Watch,
    revision: int,
    timeout: float,
    bookmarks: bool,
    settings: WatchSettings,
    *,
    initial_end: bool,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if initial:
        await response.write(b"".join(encoder.line(e) for e in initial))
    if initial_end:
        await response.write(encoder.bookmark(revision, initial_end=True))
    last_revision = revision
    next_bookmark = loop.time() + settings.bookmark_interval
    final_bookmark_sent = False
    transport = scope.request.transport
    while True:
        now = loop.time()
        if now >= deadline:
            return
        # Wake now and then to see whether the client is still there: aiohttp does not cancel a
        # handler whose client hung up, and a watch with nothing to send would otherwise hold
        # its stream, its request and its place among the store's watchers until the deadline
        # (up to an hour), as Go's server would not (the request's context ends with it).
        wake = min(deadline, now + LIVENESS_CHECK)
        if bookmarks:
            before_deadline = deadline - BOOKMARK_BEFORE_DEADLINE
            if not final_bookmark_sent and before_deadline > now:
                wake = min(wake, before_deadline)
            wake = min(wake, next_bookmark)
        try:
            async with asyncio.timeout(max(wake - now, 0.0)):
                batch = await stream.next()
        except TimeoutError:
            if transport is None or transport.is_closing():
                return
            now = loop.time()
            closing = not final_bookmark_sent and now >= deadline - BOOKMARK_BEFORE_DEADLINE
            if bookmarks and (now >= next_bookmark or closing):
                last_revision = max(last_revision, stream.progress())
                await response.write(encoder.bookmark(last_revision))
                next_bookmark = now + settings.bookmark_interval
                final_bookmark_sent = final_bookmark_sent or closing
            continue
        except WatchClosedError:
            return
        chunks = []
        pending = 0
        for event in batch:
            translated = storage.translate(event, opts)
            last_revision = event.revision
            if translated is not None:
                line = encoder.line(translated)
                chunks.append(line)
                pending += len(line)
                if pending >= WRITE_BYTES:
                    await response.write(b"".join(chunks))
                    chunks, pending = [], 0
        if chunks:
            await response.write(b"".join(chunks))
