"""What a storage says about itself, so that the generic handlers can serve it.

Kubernetes' handlers ask a storage what it can do (`rest.Getter`, `rest.Updater`,
`rest.NamedCreater`, ...) and what it takes (`New()`: the object a body decodes into). Here a
storage that serves a kind other than its resource's own (a Binding posted to a pod, a Scale of
a Deployment) names it with a `KindRef`; one that serves its resource's own kind has none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from kubelite.api import errors
from kubelite.api.types import Obj


@dataclass(frozen=True)
class KindRef:
    """The kind a storage takes and returns, when it is not its resource's own."""

    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def success(code: int) -> Obj:
    """The Status a successful POST to a subresource answers with."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}


# Changes the stored object (None: missing) into the desired one, in a read-modify-write loop.
Mutation = Callable[[Obj | None], Awaitable[Obj | None]]
# Sees (new, old) once the strategy prepared a write, before validation: managedFields.
OnPrepared = Callable[[Obj, Obj | None], None]


class Getter(Protocol):
    """A storage that reads a named object (rest.Getter)."""

    @property
    def kind(self) -> KindRef | None: ...

    async def get(self, namespace: str, name: str) -> Obj: ...


class Updater(Protocol):
    """A storage that writes a named object of its resource's kind (rest.Updater)."""

    @property
    def subresource(self) -> str:
        """The subresource the write goes through ("" for the resource itself), for
        managedFields."""
        ...

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Mutation,
        *,
        dry_run: bool = False,
        on_prepared: OnPrepared | None = None,
    ) -> tuple[Obj, bool]:
        """The object as written, and whether it was created."""
        ...


class Patcher(Updater, Protocol):
    """An updater that may also create (server-side apply) and names what it cannot find."""

    def not_found(self, name: str) -> errors.StatusError: ...

    async def update(
        self,
        namespace: str,
        name: str,
        mutate: Mutation,
        *,
        dry_run: bool = False,
        create_missing: bool = False,
        on_prepared: OnPrepared | None = None,
    ) -> tuple[Obj, bool]: ...


class NamedCreater(Protocol):
    """A storage that takes a POST to a named object's subresource (rest.NamedCreater)."""

    @property
    def kind(self) -> KindRef: ...

    async def create(
        self, namespace: str, name: str, body: Obj, query: Mapping[str, str]
    ) -> tuple[Obj, int]:
        """Act on `body`; the answer and its HTTP status. `query` carries the request's options
        (dryRun, gracePeriodSeconds, ...), read with `kubelite.apiserver.options`."""
        ...
