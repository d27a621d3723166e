"""EncryptingStore around the SQLite store: covered keys are encrypted at rest and read back
plain through get, list and watch; other keys pass untouched."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubelite.storage.encryption.config import parse
from kubelite.storage.encryption.store import EncryptingStore, KeyTransformers, TransformError
from kubelite.storage.encryption.transformers import (
    PrefixTransformers,
    group_resource_transformers,
    transformer_for,
)
from kubelite.storage.interface import DELETE, UPDATE, RevisionConflictError
from kubelite.storage.sqlite import SqliteStore

SECRET = "/registry/secrets/default/s"
POD = "/registry/pods/default/p"
VALUE = b'{"kind":"Secret","data":{"k":"dg=="}}'


def chain(*named: tuple[str, int], identity: bool = True) -> PrefixTransformers:
    keys = [{"name": n, "secret": base64.b64encode(bytes([b]) * 32).decode()} for n, b in named]
    providers: list[dict[str, object]] = [{"aescbc": {"keys": keys}}]
    if identity:
        providers.append({"identity": {}})
    data = json.dumps(
        {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"], "providers": providers}],
        }
    ).encode()
    found = transformer_for(group_resource_transformers(parse(data)), "", "secrets")
    assert found is not None
    return found


def covering(c: PrefixTransformers) -> KeyTransformers:
    return KeyTransformers({"/registry/secrets/": c})


@pytest.fixture
async def inner(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "state.db")
    yield s
    await s.close()


@pytest.fixture
def store(inner: SqliteStore) -> EncryptingStore:
    return EncryptingStore(inner, covering(chain(("key1", 1))))


async def raw(inner: SqliteStore, key: str) -> bytes:
    kv = await inner.get(key)
    assert kv is not None
    return kv.value


async def test_secrets_are_encrypted_at_rest_and_read_back(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    created = await store.create(SECRET, VALUE)
    assert created.value == VALUE
    stored = await raw(inner, SECRET)
    assert stored.startswith(b"k8s:enc:aescbc:v1:key1:")
    assert b"dg==" not in stored
    got = await store.get(SECRET)
    assert got is not None and got.value == VALUE
    assert got.mod_revision == created.mod_revision
    listed = await store.list("/registry/secrets/")
    assert [kv.value for kv in listed.items] == [VALUE]
    updated = await store.update(SECRET, VALUE + b" ", created.mod_revision)
    assert updated.value == VALUE + b" "
    assert (await raw(inner, SECRET)).startswith(b"k8s:enc:aescbc:v1:key1:")
    deleted = await store.delete(SECRET)
    assert deleted.value == VALUE + b" "


async def test_other_keys_pass_untouched(store: EncryptingStore, inner: SqliteStore) -> None:
    await store.create(POD, b'{"kind":"Pod"}')
    assert await raw(inner, POD) == b'{"kind":"Pod"}'
    kv = await inner.get(POD)
    # The very object the inner store holds: nothing was copied or transformed.
    assert await store.get(POD) is kv
    (listed,) = (await store.list("/registry/pods/")).items
    assert listed is kv
    everything = await store.list("/registry/")
    assert [kv.key for kv in everything.items] == [POD]


async def test_watch_events_of_other_resources_are_the_stores_own(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    theirs = await inner.watch("/registry/pods/", inner.revision)
    ours = await store.watch("/registry/pods/", store.revision)
    await store.create(POD, b"pod")
    (event,) = await asyncio.wait_for(ours.next(), 5)
    assert event is (await asyncio.wait_for(theirs.next(), 5))[0]
    theirs.close()
    ours.close()


async def test_a_conflict_carries_the_current_value_readable(store: EncryptingStore) -> None:
    created = await store.create(SECRET, VALUE)
    await store.update(SECRET, b"{}", created.mod_revision)
    with pytest.raises(RevisionConflictError) as info:
        await store.update(SECRET, b"{ }", created.mod_revision)
    assert info.value.current.value == b"{}"


async def test_watch_events_and_their_previous_values_are_plain(store: EncryptingStore) -> None:
    watch = await store.watch("/registry/", store.revision)
    other = await store.watch("/registry/secrets/", store.revision)
    created = await store.create(SECRET, VALUE)
    await store.update(SECRET, b"{}", created.mod_revision)
    await store.create(POD, b"pod")
    await store.delete(SECRET)
    events = []
    while len(events) < 4:
        events += await asyncio.wait_for(watch.next(), 5)
    assert [(e.kv.key, e.kv.value) for e in events] == [
        (SECRET, VALUE),
        (SECRET, b"{}"),
        (POD, b"pod"),
        (SECRET, b"{}"),
    ]
    assert events[1].type == UPDATE and events[1].prev is not None
    assert events[1].prev.value == VALUE
    assert events[3].type == DELETE and events[3].prev is not None
    assert events[3].prev.value == b"{}"
    # Watchers share one readable copy of each event (and so its decoded forms).
    theirs = []
    while len(theirs) < 3:
        theirs += await asyncio.wait_for(other.next(), 5)
    assert theirs[0] is events[0]
    watch.close()
    other.close()


async def test_a_value_that_cannot_be_read_is_an_internal_error(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    foreign = EncryptingStore(inner, covering(chain(("key2", 2))))
    await foreign.create(SECRET, VALUE)
    with pytest.raises(TransformError) as info:
        await store.get(SECRET)
    assert info.value.code == 500
    assert info.value.message == (
        f'Internal error occurred: unable to transform key "{SECRET}": no matching key was '
        "found for the provided AES transformer"
    )
    with pytest.raises(TransformError):
        await store.list("/registry/secrets/")


async def test_a_watch_leaves_out_what_it_cannot_read_and_goes_on(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    watch = await store.watch("/registry/secrets/", store.revision)
    foreign = EncryptingStore(inner, covering(chain(("key2", 2))))
    await foreign.create("/registry/secrets/default/bad", VALUE)
    await store.create(SECRET, VALUE)
    events = await asyncio.wait_for(watch.next(), 5)
    assert [e.kv.key for e in events] == [SECRET]
    watch.close()


async def test_encrypted_values_of_uncovered_resources_are_refused(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    await inner.create("/registry/configmaps/default/c", b"k8s:enc:aescbc:v1:key1:xxxx")
    with pytest.raises(TransformError, match="identity transformer tried to read encrypted"):
        await store.get("/registry/configmaps/default/c")


async def test_reencrypt_writes_stale_values_with_the_first_key(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    await inner.create("/registry/secrets/default/plain", VALUE)
    await store.create(SECRET, VALUE)
    await store.create(POD, b"pod")
    store.transformers = covering(chain(("key2", 2), ("key1", 1)))
    censuses = await store.reencrypt()
    (census,) = censuses.values()
    assert (census.total, census.rewritten, census.failed) == (2, 2, 0)
    for key in (SECRET, "/registry/secrets/default/plain"):
        assert (await raw(inner, key)).startswith(b"k8s:enc:aescbc:v1:key2:")
        got = await store.get(key)
        assert got is not None and got.value == VALUE
    assert await raw(inner, POD) == b"pod"
    again = await store.reencrypt()
    assert [c.rewritten for c in again.values()] == [0]


async def test_reencrypt_counts_what_it_cannot_read(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    foreign = EncryptingStore(inner, covering(chain(("key2", 2))))
    await foreign.create(SECRET, VALUE)
    (census,) = (await store.reencrypt()).values()
    assert (census.total, census.failed, census.failed_keys) == (1, 1, [SECRET])


async def test_a_followed_watch_hands_over_plain_events_and_leaves_out_unreadable_ones(
    store: EncryptingStore, inner: SqliteStore
) -> None:
    watch = await store.watch("/registry/secrets/", store.revision)
    taken: list[tuple[str, bytes]] = []
    assert watch.follow(lambda events: taken.extend((e.kv.key, e.kv.value) for e in events))
    foreign = EncryptingStore(inner, covering(chain(("key2", 2))))
    await foreign.create("/registry/secrets/default/bad", VALUE)
    await store.create(SECRET, VALUE)
    # SQLite hands events over as it commits them, before the write returns.
    assert taken == [(SECRET, VALUE)]
    watch.close()
