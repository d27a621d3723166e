"""A Store that encrypts the values of some resources on their way to another Store.

kube-apiserver transforms values between its codec and etcd (`storage/etcd3/store.go`): what
it writes goes through the resource's transformer, what it reads (gets, lists, watch events and
their previous values) comes back through it. `EncryptingStore` does the same around kubelite's
store, by key: `/registry/<resource>/...` names the resource, and `KeyTransformers` says which
resources have a chain of providers. Other resources pass through untouched: a get costs one
`str.startswith` against a tuple, a list or a watch batch of one resource one dictionary
lookup, whatever their size. A get of a value of theirs that is encrypted anyway (the
configuration stopped covering a resource whose values were encrypted) fails, as identity's
check makes it fail in Kubernetes; lists and watches of them are not looked into.

A value that cannot be read is a `TransformError`: a StoreError that is also the API's
InternalError, `Internal error occurred: unable to transform key "/registry/secrets/ns/x": ...`,
as kube-apiserver answers. A watch leaves such an event out and logs it (a watch must go on
for the other objects it carries); a previous value that cannot be read is replaced by the
new one.

Watch events are shared by every watcher of a prefix, and so are their decoded forms
(`Event.memo`): the readable copy of an event is kept in the shared event's memo, so that
a hundred watchers of Secrets decrypt each change once.

The transformers can be replaced while the store runs (a reloaded configuration): every read
and write takes the current ones. `reencrypt` writes again every value its chain marks stale
(not written by the first provider and key), which is what a key rotation ends with.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kubelite.api import errors
from kubelite.api.goformat import go_quote
from kubelite.storage.encryption.transformers import (
    ENCRYPTED_PREFIX,
    PrefixTransformers,
    TransformFailure,
)
from kubelite.storage.interface import (
    Event,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    Store,
    StoreError,
    Watch,
)

log = logging.getLogger(__name__)

# Where every key lives; the segment after it names the resource.
_ROOT = "/registry/"
# The memo entry of a shared event that holds its readable copy.
_PLAIN = "encryption.plain"
# Keys a re-encryption reads per page.
REENCRYPT_PAGE = 500
# Keys a census lists by name as failing to read, at most.
MAX_FAILED_KEYS = 20


class TransformError(StoreError, errors.StatusError):
    """A stored value that cannot be read: the store's failure, and the API's 500."""

    def __init__(self, key: str, cause: str) -> None:
        message = f"unable to transform key {go_quote(key)}: {cause}"
        errors.StatusError.__init__(
            self,
            500,
            errors.REASON_INTERNAL_ERROR,
            f"Internal error occurred: {message}",
            {"causes": [{"message": message}]},
        )
        self.key = key
        self.cause = cause


class KeyTransformers:
    """Which chain each key's value goes through, by the resource prefix of the key
    (`/registry/secrets/`); keys under no prefix here are not transformed."""

    def __init__(self, by_prefix: Mapping[str, PrefixTransformers]) -> None:
        for prefix in by_prefix:
            if not (prefix.startswith(_ROOT) and prefix.endswith("/")):
                raise ValueError(f"not a resource prefix: {prefix!r}")
        self.by_prefix = dict(by_prefix)
        self.prefixes = tuple(self.by_prefix)

    def for_key(self, key: str) -> PrefixTransformers | None:
        if not key.startswith(self.prefixes):
            return None
        return self.by_prefix.get(key[: key.find("/", len(_ROOT)) + 1])


def _one_resource(prefix: str) -> bool:
    """Whether every key under `prefix` is of one resource (`/registry/pods/`, or a
    namespace of it), so that one lookup says how all of them are transformed."""
    return prefix.startswith(_ROOT) and prefix.find("/", len(_ROOT)) >= 0


@dataclass
class Census:
    """What a re-encryption found under one resource prefix."""

    total: int = 0
    # Values written again with the first provider.
    rewritten: int = 0
    # Keys whose values could not be read (at most MAX_FAILED_KEYS of them named).
    failed: int = 0
    failed_keys: list[str] = field(default_factory=list)


class EncryptingStore(Store):
    """`inner` with the values of the resources `transformers` covers encrypted."""

    def __init__(self, inner: Store, transformers: KeyTransformers) -> None:
        self.inner = inner
        self.transformers = transformers

    # --- transforms --------------------------------------------------------------------------

    def _read(self, kv: KeyValue) -> KeyValue:
        """A value as its reader sees it, the identity check included (what a get does)."""
        chain = self.transformers.for_key(kv.key)
        if chain is None:
            if kv.value.startswith(ENCRYPTED_PREFIX):
                raise TransformError(kv.key, "identity transformer tried to read encrypted data")
            return kv
        return self._decrypt(kv, chain)

    def _read_any(self, kv: KeyValue) -> KeyValue:
        """A value as its reader sees it, values of uncovered resources as they are."""
        chain = self.transformers.for_key(kv.key)
        return kv if chain is None else self._decrypt(kv, chain)

    @staticmethod
    def _decrypt(kv: KeyValue, chain: PrefixTransformers) -> KeyValue:
        try:
            plain, _ = chain.from_storage(kv.value, kv.key.encode())
        except TransformFailure as exc:
            raise TransformError(kv.key, str(exc)) from None
        return KeyValue(kv.key, plain, kv.create_revision, kv.mod_revision)

    def _write(self, key: str, value: bytes) -> bytes:
        chain = self.transformers.for_key(key)
        if chain is None:
            return value
        try:
            return chain.to_storage(value, key.encode())
        except TransformFailure as exc:
            raise TransformError(key, str(exc)) from None

    def _plain_event(self, event: Event, chain: PrefixTransformers | None) -> Event | None:
        """The event as its readers see it (`chain` is its resource's): the same object
        where nothing is transformed, None where its value cannot be read."""
        if chain is None:
            return event
        plain: Event | None = event.memo.get(_PLAIN)
        if plain is not None:
            return plain
        kv, prev = event.kv, event.prev
        try:
            current = self._decrypt(kv, chain)
        except TransformError as exc:
            log.error("watch: %s", exc.message)
            return None
        previous = None
        if prev is not None:
            if prev.value is kv.value:
                previous = KeyValue(
                    prev.key, current.value, prev.create_revision, prev.mod_revision
                )
            else:
                try:
                    previous = self._decrypt(prev, chain)
                except TransformError as exc:
                    log.error("watch: previous value: %s", exc.message)
                    previous = KeyValue(
                        prev.key, current.value, prev.create_revision, prev.mod_revision
                    )
        plain = Event(event.type, current, previous)
        event.memo[_PLAIN] = plain
        return plain

    # --- Store -------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self.inner.revision

    @property
    def compacted_revision(self) -> int:
        return self.inner.compacted_revision

    async def get(self, key: str) -> KeyValue | None:
        kv = await self.inner.get(key)
        return None if kv is None else self._read(kv)

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        start: str = "",
        limit: int = 0,
    ) -> ListResult:
        result = await self.inner.list(prefix, revision=revision, start=start, limit=limit)
        if _one_resource(prefix):
            chain = self.transformers.for_key(prefix)
            if chain is not None:
                result.items = [self._decrypt(kv, chain) for kv in result.items]
        elif self.transformers.prefixes:
            result.items = [self._read_any(kv) for kv in result.items]
        return result

    async def count(self, prefix: str) -> int:
        return await self.inner.count(prefix)

    async def create(self, key: str, value: bytes) -> KeyValue:
        kv = await self.inner.create(key, self._write(key, value))
        return KeyValue(key, value, kv.create_revision, kv.mod_revision)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        try:
            kv = await self.inner.update(key, self._write(key, value), expected_revision)
        except RevisionConflictError as exc:
            raise RevisionConflictError(key, self._read(exc.current)) from None
        return KeyValue(key, value, kv.create_revision, kv.mod_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        try:
            kv = await self.inner.delete(key, expected_revision)
        except RevisionConflictError as exc:
            raise RevisionConflictError(key, self._read(exc.current)) from None
        return self._read(kv)

    async def watch(self, prefix: str, revision: int) -> Watch:
        return _EncryptingWatch(self, prefix, await self.inner.watch(prefix, revision))

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()

    # --- re-encryption -----------------------------------------------------------------------

    async def reencrypt(self) -> dict[str, Census]:
        """Write again, with the first provider, every value of a covered resource that was
        written by another (or by another key): etcd's storage migration, done in place.

        A value that changed meanwhile is looked at again as it is now; one that is gone is
        left alone; one that cannot be read is counted and left as it is.
        """
        transformers = self.transformers
        censuses: dict[str, Census] = {}
        for prefix, chain in transformers.by_prefix.items():
            census = censuses[prefix] = Census()
            start = ""
            while True:
                page = await self.inner.list(prefix, start=start, limit=REENCRYPT_PAGE)
                for kv in page.items:
                    census.total += 1
                    await self._reencrypt_one(kv, chain, census)
                if not page.more or not page.items:
                    break
                start = page.items[-1].key + "\x00"
        return censuses

    async def _reencrypt_one(self, kv: KeyValue, chain: PrefixTransformers, census: Census) -> None:
        context = kv.key.encode()
        while True:
            try:
                plain, stale = chain.from_storage(kv.value, context)
            except TransformFailure as exc:
                census.failed += 1
                if len(census.failed_keys) < MAX_FAILED_KEYS:
                    census.failed_keys.append(kv.key)
                log.error("re-encryption: unable to transform key %r: %s", kv.key, exc)
                return
            if not stale:
                return
            try:
                await self.inner.update(kv.key, chain.to_storage(plain, context), kv.mod_revision)
            except RevisionConflictError as exc:
                kv = exc.current
                continue
            except KeyNotFoundError:
                return
            census.rewritten += 1
            return


class _EncryptingWatch(Watch):
    """The inner watch's events, readable."""

    def __init__(self, store: EncryptingStore, prefix: str, inner: Watch) -> None:
        self._store = store
        # The prefix, when it is of one resource: one lookup per batch then.
        self._resource_prefix = prefix if _one_resource(prefix) else ""
        self._inner = inner

    async def next(self) -> builtins.list[Event]:
        while True:
            plain = self._plain(await self._inner.next())
            if plain:
                return plain

    def follow(self, receive: Callable[[builtins.list[Event]], None]) -> bool:
        def decrypted(events: builtins.list[Event]) -> None:
            plain = self._plain(events)
            if plain:
                receive(plain)

        return self._inner.follow(decrypted)

    def _plain(self, events: builtins.list[Event]) -> builtins.list[Event]:
        """The events readable (the very list when nothing in it is encrypted); an event
        whose value cannot be read is left out."""
        transformers = self._store.transformers
        if self._resource_prefix:
            chain = transformers.for_key(self._resource_prefix)
            if chain is None:
                return events
            plain = [self._store._plain_event(e, chain) for e in events]
        else:
            plain = [self._store._plain_event(e, transformers.for_key(e.kv.key)) for e in events]
        if all(p is e for p, e in zip(plain, events, strict=True)):
            return events
        return [p for p in plain if p is not None]

    def progress(self) -> int:
        return self._inner.progress()

    def close(self) -> None:
        self._inner.close()
