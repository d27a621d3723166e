"""Shared informers: one list and one watch per resource for a whole process.

client-go's SharedInformerFactory. Every controller in `kubelite control-plane` and the
scheduler ask the factory for the informers they need; asking twice for the same resource
returns the same informer, so a dozen controllers interested in pods cost the API server one
LIST and one WATCH of pods, and the process one copy of each pod. Each controller adds its own
handlers and indexers to the shared informer.

A request for metadata only (the garbage collector watches every kind, and needs no more) is
served by the full informer of that resource when one exists, since metadata is part of it; the
factory makes a metadata-only informer just for resources nothing else watches.

Cached objects are stored without `metadata.managedFields`: no controller reads them, and
they are often half of an object's size. A controller that writes an object back from the
cache sends no managedFields, which the API server takes as "leave them as they are".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kubelite.api.resources import Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.informer import Informer

Transform = Callable[[Obj], Obj]


def strip_managed_fields(obj: Obj) -> Obj:
    """The object without metadata.managedFields (client-go users' usual transform)."""
    md = obj.get("metadata")
    if md and "managedFields" in md:
        md = {k: v for k, v in md.items() if k != "managedFields"}
        return {**obj, "metadata": md}
    return obj


def _key(resource: Resource) -> tuple[str, str, str]:
    return (resource.group, resource.version, resource.plural)


class SharedInformerFactory:
    """Hands out one informer per resource; `start` starts those not yet running."""

    def __init__(self, client: APIClient) -> None:
        self.client = client
        self._full: dict[tuple[str, str, str], Informer] = {}
        self._metadata: dict[tuple[str, str, str], Informer] = {}
        self._started: set[int] = set()

    def informer(
        self,
        resource: Resource,
        *,
        metadata_only: bool = False,
        metadata_transform: Transform | None = None,
    ) -> Informer:
        """The process' informer for `resource`.

        With `metadata_only`, the full informer if there is one, else a metadata-only one
        (trimmed by `metadata_transform` before caching). Ask for full informers first, as
        controllers do when they are built: a full informer asked for after a metadata-only one
        of the same resource is a second watch.
        """
        key = _key(resource)
        full = self._full.get(key)
        if full is not None:
            return full
        if metadata_only:
            informer = self._metadata.get(key)
            if informer is None:
                transform = strip_managed_fields
                if metadata_transform is not None:
                    trim = metadata_transform

                    def transform(obj: Obj) -> Obj:
                        return trim(strip_managed_fields(obj))

                informer = Informer(self.client, resource, metadata_only=True, transform=transform)
                self._metadata[key] = informer
            return informer
        informer = Informer(self.client, resource, transform=strip_managed_fields)
        self._full[key] = informer
        return informer

    def informers(self) -> list[Informer]:
        return [*self._full.values(), *self._metadata.values()]

    def start(self) -> None:
        """Start every informer asked for so far that is not running yet (safe to repeat)."""
        for informer in self.informers():
            if id(informer) not in self._started:
                self._started.add(id(informer))
                informer.start()

    async def wait_synced(self, *informers: Informer) -> None:
        """Wait until the given informers (all, if none given) have listed once."""
        await asyncio.gather(*(i.wait_synced() for i in informers or self.informers()))

    async def stop(self) -> None:
        for informer in self.informers():
            await informer.stop()
        self._started.clear()
