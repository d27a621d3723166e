"""An informer: a local cache of one resource kept current by list and watch.

This is client-go's reflector and indexer in one small class. It lists the resource, then
watches from the list's resourceVersion, applying every event to its cache and telling its
handlers; when the watch ends it resumes from the last resourceVersion seen (bookmarks keep that
fresh), and when the server says that version is gone (410) it lists again and reports what
changed meanwhile, so that handlers never miss a change for long (ARCHITECTURE.md, rule 2).

Handlers receive `(event_type, obj)` with event types ADDED, MODIFIED, DELETED; they must not
mutate the object (it is the cached one) and should only enqueue keys. A handler that needs the
object as it was before (a pod's labels changed: the old owner's selector matched it) registers
with `add_handler(h, with_old=True)` and receives `(event_type, obj, old)`, old being None for
ADDED. A handler added after the informer synced is first told of every cached object as ADDED,
as client-go does for a late AddEventHandler.

Indexers (client-go's cache.Indexers) keep secondary keys: `add_indexer(name, fn)` with `fn`
giving the index values of an object, and `by_index(name, value)` returns the cached objects
with that value, without a scan. `by_namespace`, `by_controller_uid` and `by_node_name` are the
ones controllers use most.

A component that watches much and needs little of it (the garbage collector watches every kind
for metadata alone) can ask for `metadata_only` objects (PartialObjectMetadata, what client-go's
metadata informers receive) and trim them further with a `transform` (client-go's SetTransform)
before they are cached; a transform must keep metadata.name, namespace and resourceVersion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import cast

from kubelite.api.resources import Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConnectionError, APIError, APIGoneError

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj], None]
HandlerWithOld = Callable[[str, Obj, "Obj | None"], None]
Transform = Callable[[Obj], Obj]
IndexFunc = Callable[[Obj], "list[str]"]

# How long a watch request stays open before the informer renews it (client-go picks a
# random time between 5 and 10 minutes; the server may end it sooner).
WATCH_TIMEOUT_SECONDS = 300
# Back-off after a failed list or watch, doubling to the maximum.
RETRY_INITIAL = 0.5
RETRY_MAX = 10.0


def key_of(obj: Obj) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects: the work-queue key."""
    md = obj.get("metadata") or {}
    namespace = md.get("namespace")
    return f"{namespace}/{md.get('name', '')}" if namespace else md.get("name", "")


def by_namespace(obj: Obj) -> list[str]:
    """Index value: the object's namespace (client-go's MetaNamespaceIndexFunc)."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def by_controller_uid(obj: Obj) -> list[str]:
    """Index value: the uid of the object's managing controller (the ownerReference with
    `controller: true`), so that a ReplicaSet finds its pods without a scan."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("uid"):
            return [ref["uid"]]
    return []


def by_node_name(obj: Obj) -> list[str]:
    """Index value: the node a pod is bound to."""
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


class Informer:
    """A local, always current copy of one resource (optionally narrowed by namespace or selectors)
    that controllers read instead of asking the API server, with handlers called on every change."""

    def __init__(
        self,
        client: APIClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        transform: Transform | None = None,
        metadata_only: bool = False,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.transform = transform
        self.metadata_only = metadata_only
        self._cache: dict[str, Obj] = {}
        self._handlers: list[HandlerWithOld] = []
        self._index_funcs: dict[str, IndexFunc] = {}
        # index name -> index value -> keys of the cached objects with that value.
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add_handler(self, handler: Handler | HandlerWithOld, *, with_old: bool = False) -> None:
        """Tell `handler` of every change from now on (and of what is cached, as ADDED)."""
        # `with_old` says which of the two kinds of handler the caller passed.
        if with_old:
            full = cast(HandlerWithOld, handler)
        else:
            short = cast(Handler, handler)

            def full(event_type: str, obj: Obj, old: Obj | None) -> None:
                short(event_type, obj)

        self._handlers.append(full)
        for obj in list(self._cache.values()):
            self._call(full, "ADDED", obj, None)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Keep an index `name` of the cached objects by the values `func` gives each."""
        if name in self._index_funcs:
            return  # Shared informers: the same index asked for by several controllers.
        self._index_funcs[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._cache.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def by_index(self, name: str, value: str) -> list[Obj]:
        """The cached objects whose index `name` holds `value`; never mutate them."""
        keys = self._indices[name].get(value, ())
        return [self._cache[key] for key in keys]

    def get(self, key: str) -> Obj | None:
        """The cached object for a key; never mutate it."""
        return self._cache.get(key)

    def list(self) -> list[Obj]:
        return list(self._cache.values())

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"informer-{self.resource.plural}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @staticmethod
    def _call(handler: HandlerWithOld, event_type: str, obj: Obj, old: Obj | None) -> None:
        try:
            handler(event_type, obj, old)
        except Exception:
            log.exception("informer handler failed for %s", key_of(obj))

    def _notify(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        for handler in self._handlers:
            self._call(handler, event_type, obj, old)

    def _store(self, key: str, obj: Obj) -> Obj | None:
        """Cache `obj` under `key`, keeping the indices; the object it replaced."""
        old = self._cache.get(key)
        self._cache[key] = obj
        if self._index_funcs:
            self._unindex(key, old)
            for name, func in self._index_funcs.items():
                index = self._indices[name]
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
        return old

    def _remove(self, key: str) -> Obj | None:
        old = self._cache.pop(key, None)
        self._unindex(key, old)
        return old

    def _unindex(self, key: str, old: Obj | None) -> None:
        if old is None:
            return
        for name, func in self._index_funcs.items():
            index = self._indices[name]
            for value in func(old):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    async def _relist(self) -> str:
        """List everything, replace the cache, report the differences; the list's version."""
        listing = await self.client.list(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            metadata_only=self.metadata_only,
        )
        items = listing["items"]
        if self.transform is not None:
            items = [self.transform(o) for o in items]
        fresh = {key_of(o): o for o in items}
        for key, gone in list(self._cache.items()):
            if key not in fresh:
                self._remove(key)
                self._notify("DELETED", gone, gone)
        for key, obj in fresh.items():
            old = self._store(key, obj)
            if old is None:
                self._notify("ADDED", obj, None)
            elif old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._notify("MODIFIED", obj, old)
        self._synced.set()
        version: str = listing["metadata"]["resourceVersion"]
        return version

    async def _run(self) -> None:
        delay = RETRY_INITIAL
        version = ""
        while True:
            try:
                if not version:
                    version = await self._relist()
                version = await self._watch(version)
                delay = RETRY_INITIAL
            except APIGoneError:
                version = ""  # compacted away: list again
            except (APIError, APIConnectionError) as e:
                log.warning("informer for %s: %s; retrying", self.resource.plural, e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def _watch(self, version: str) -> str:
        """Follow one watch request; returns the last resourceVersion it saw."""
        events = self.client.watch(
            self.resource,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=version,
            allow_bookmarks=True,
            timeout_seconds=WATCH_TIMEOUT_SECONDS,
            metadata_only=self.metadata_only,
        )
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                obj = event.object
                version = obj.get("metadata", {}).get("resourceVersion") or version
                if event.type == "BOOKMARK":
                    continue
                if self.transform is not None:
                    obj = self.transform(obj)
                key = key_of(obj)
                old = self._remove(key) if event.type == "DELETED" else self._store(key, obj)
                self._notify(event.type, obj, old)
        return version
