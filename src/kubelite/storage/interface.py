"""The store every backend implements: a revisioned key-value store with watch, as etcd is.

The API server keeps each object under one key (`/registry/pods/default/web`) and needs exactly
what Kubernetes asks of etcd: a global revision that grows with every write and becomes the
objects' `resourceVersion`; compare-and-swap on that revision for optimistic concurrency; lists
at the newest or at a past revision, in pages; a watch that replays every change after a
revision, in order and without gaps; and compaction of old history, after which reads and watches
of compacted revisions fail so that clients relist.

Values are opaque bytes here. Only the API server imports this package (ARCHITECTURE.md).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CREATE = "create"
UPDATE = "update"
DELETE = "delete"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """A key's value at one revision."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(slots=True, eq=False)
class Event:
    """One change to one key. For a delete, `kv` holds the last value at the delete's revision."""

    type: str
    kv: KeyValue
    prev: KeyValue | None
    # Derived forms of this event (decoded object, encodings) that readers share, so that one
    # change sent to many watchers is decoded and encoded once.
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(slots=True)
class ListResult:
    """A page of keys read at one revision: the list's resourceVersion, and whether (and how many)
    keys remain for the continue token."""

    items: list[KeyValue]
    # The revision the list was read at: the resourceVersion of the list.
    revision: int
    # Whether keys remain after the last item (a limit cut the list short).
    more: bool = False
    # How many keys remain after the last item, when `more` is set.
    remaining: int = 0


class StoreError(Exception):
    """Base of the store's failures."""


class KeyExistsError(StoreError):
    """A create found the key already there (the API's AlreadyExists)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StoreError):
    """The key is not there, or no longer (the API's NotFound)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflictError(StoreError):
    """A compare-and-swap found the key at another revision."""

    def __init__(self, key: str, current: KeyValue) -> None:
        super().__init__(f"revision conflict on {key}: now at {current.mod_revision}")
        self.key = key
        self.current = current


class CompactedError(StoreError):
    """The asked revision is older than the compacted history."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (at {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevisionError(StoreError):
    """The asked revision is newer than anything written yet."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current


class StoreUnavailableError(StoreError):
    """The datastore cannot be reached (refused, timed out): the API's 503 ServiceUnavailable.

    The store keeps trying to reconnect; the same call may succeed later.
    """

    def __init__(self, endpoint: str, reason: str = "") -> None:
        message = f"the datastore at {endpoint} can't be reached"
        super().__init__(f"{message}: {reason}" if reason else message)
        self.endpoint = endpoint
        self.reason = reason


class WatchClosedError(StoreError):
    """The store ended a watch (shut down, or the watcher fell too far behind)."""


class Watch(abc.ABC):
    """A stream of events under a prefix, in revision order."""

    @abc.abstractmethod
    async def next(self) -> list[Event]:
        """Wait for the next events (at least one); raises WatchClosedError when it ends."""

    @abc.abstractmethod
    def progress(self) -> int:
        """A revision this watch has delivered everything up to (etcd's progress notify).

        A bookmark may carry it: a client resuming from there misses nothing.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the watch and release what it holds; safe to call twice."""

    def follow(self, receive: Callable[[list[Event]], None]) -> bool:
        """Hand every event to `receive` as the store produces it, from now on, instead of
        queueing it for `next()`, which then only waits for the end (WatchClosedError).

        For a reader that does little with each event and must not wait for a turn of the
        event loop to do it (the watch cache: every client's watch waits behind it). An error
        `receive` raises ends the watch with it. False where the watch cannot: read it with
        `next()`.
        """
        return False


class Store(abc.ABC):
    """A revisioned key-value store with watch. Every method is safe to call concurrently."""

    @property
    @abc.abstractmethod
    def revision(self) -> int:
        """The newest committed revision, the resourceVersion of a list read now."""

    @property
    @abc.abstractmethod
    def compacted_revision(self) -> int:
        """Revisions at or below this one can no longer be read or watched from."""

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None:
        """The newest value of a key, or None."""

    @abc.abstractmethod
    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        start: str = "",
        limit: int = 0,
    ) -> ListResult:
        """Keys under a prefix in key order, from `start` (inclusive), at most `limit` of them.

        `revision` 0 reads the newest state; a past revision reads the state as it was then.
        """

    async def get_stale(self, key: str) -> KeyValue | None:
        """A key's value as a recent state has it: what Kubernetes' admission plugins read from
        their informers' caches. A store without such a cache reads the newest value."""
        return await self.get(key)

    async def list_stale(self, prefix: str, *, start: str = "", limit: int = 0) -> ListResult:
        """Keys under a prefix at whatever recent revision is at hand: a list with
        resourceVersion "0", which Kubernetes answers from its watch cache however far behind it
        is. A store without such a cache reads the newest state."""
        return await self.list(prefix, start=start, limit=limit)

    @abc.abstractmethod
    async def count(self, prefix: str) -> int:
        """How many keys live under a prefix now."""

    @abc.abstractmethod
    async def create(self, key: str, value: bytes) -> KeyValue:
        """Write a new key; KeyExistsError if it is there."""

    @abc.abstractmethod
    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Replace a key's value if it is still at `expected_revision` (0: unconditionally)."""

    @abc.abstractmethod
    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Remove a key (if at `expected_revision`, when given); returns its last value."""

    @abc.abstractmethod
    async def watch(self, prefix: str, revision: int) -> Watch:
        """Every change under a prefix after `revision`, then every new change, in order."""

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget history at and below `revision`; the newest state of every key stays."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes, end every watch, release files."""
