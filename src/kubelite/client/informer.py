"""An informer: a local cache of one resource kept current by list and watch.

This is client-go's reflector and indexer in one small class. It lists the resource, then
watches from the list's resourceVersion, applying every event to its cache and telling its
handlers; when the watch ends it resumes from the last resourceVersion seen (bookmarks keep that
fresh), and when the server says that version is gone (410) it lists again and reports what
changed meanwhile, so that handlers never miss a change for long (ARCHITECTURE.md, rule 2).

Handlers receive `(event_type, obj)` with event types ADDED, MODIFIED, DELETED; they must not
mutate the object (it is the cached one) and should only enqueue keys.

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
from typing import Any

from kubelite.client.api import APIClient, Resource
from kubelite.client.errors import APIConnectionError, APIError, APIGoneError

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]
Transform = Callable[[Obj], Obj]

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


class Informer:
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
        self._handlers: list[Handler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

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

    def _notify(self, event_type: str, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(event_type, obj)
            except Exception:
                log.exception("informer handler failed for %s", key_of(obj))

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
        for key, old in list(self._cache.items()):
            if key not in fresh:
                del self._cache[key]
                self._notify("DELETED", old)
        for key, obj in fresh.items():
            old = self._cache.get(key)
            self._cache[key] = obj
            if old is None:
                self._notify("ADDED", obj)
            elif old.get("metadata", {}).get("resourceVersion") != obj["metadata"].get(
                "resourceVersion"
            ):
                self._notify("MODIFIED", obj)
        self._synced.set()
        return listing["metadata"]["resourceVersion"]

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
                if event.type == "DELETED":
                    self._cache.pop(key, None)
                else:
                    self._cache[key] = obj
                self._notify(event.type, obj)
        return version
