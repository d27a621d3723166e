"""Which store the API server keeps its objects in, and what it answers when that store is gone.

By default a SQLite file under the data directory (`storage/sqlite.py`); with k3s'
`--datastore-endpoint` (and `--datastore-cafile`, `--datastore-certfile`, `--datastore-keyfile`
for https endpoints) an etcd cluster (`storage/etcd.py`), which several API servers can share.

An etcd that cannot be reached is a 503 ServiceUnavailable naming it, and fails the `etcd`
check of /livez and /readyz, until it answers again.

Lists and watches of an etcd store are served by a watch cache (`storage/cacher.py`), as
kube-apiserver's cacher serves them: one etcd watch per resource whatever the number of
clients. The SQLite store needs none: it keeps the newest state and recent events in memory
itself, and fans its events out to every watcher.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kubelite.api import errors
from kubelite.storage.cacher import CachedStore
from kubelite.storage.encryption.store import EncryptingStore
from kubelite.storage.interface import Store, StoreUnavailableError
from kubelite.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from kubelite.storage.etcd import EtcdStore

# storage.etcd (grpc and etcd's stubs, about 14 MB) is imported only by servers that use etcd.

log = logging.getLogger(__name__)

# None when the datastore answers, else why it does not.
HealthCheck = Callable[[], Awaitable[str | None]]


def endpoints(value: str) -> list[str]:
    """`--datastore-endpoint`'s comma-separated URLs; ValueError names a bad one."""
    urls = [url.strip() for url in value.split(",") if url.strip()]
    if not urls:
        return urls
    from kubelite.storage.etcd import parse_endpoint

    for url in urls:
        parse_endpoint(url)
    return urls


async def open_datastore(
    data_dir: Path,
    endpoint: str = "",
    *,
    cafile: Path | None = None,
    certfile: Path | None = None,
    keyfile: Path | None = None,
) -> Store:
    """The SQLite file under `data_dir`, or the etcd cluster at `endpoint`'s URLs."""
    if not endpoint:
        return await SqliteStore.open(data_dir / "db" / "state.db")
    from kubelite.storage.etcd import EtcdStore

    return await EtcdStore.open(
        endpoints(endpoint), ca_file=cafile, cert_file=certfile, key_file=keyfile
    )


def consistent_from_cache(version: tuple[int, ...]) -> bool:
    """Whether etcd's progress notifications can be trusted for consistent reads from the
    cache: from 3.4.31 and 3.5.13 (etcd-io/etcd#15220 and its follow-ups), the releases below
    which Kubernetes serves consistent lists from etcd instead (ConsistentListFromCache)."""
    if version[:2] == (3, 4):
        return version >= (3, 4, 31)
    return version >= (3, 5, 13)


async def with_watch_cache(store: Store) -> Store:
    """`store` behind a watch cache when it is etcd (under the encryption layer, if any: the
    cache holds plaintext, as kube-apiserver's holds decoded objects)."""
    etcd = etcd_under(store)
    if etcd is None:
        return store
    version = await etcd.server_version()
    consistent = consistent_from_cache(version)
    if not consistent:
        log.info(
            "etcd %s: consistent lists are read from etcd, lists at resourceVersion 0 and "
            "watches from the watch cache",
            ".".join(map(str, version)),
        )
    return CachedStore(store, consistent_reads=consistent)


def raw_store(store: Store) -> Store:
    """The backend under the watch cache and the encryption layer."""
    while isinstance(store, CachedStore | EncryptingStore):
        store = store.inner
    return store


def health_check(store: Store) -> HealthCheck | None:
    """The `etcd` health check of a store, if it can fail (etcd's; SQLite's is local)."""
    etcd = etcd_under(store)
    return etcd.check_health if etcd is not None else None


def etcd_under(store: Store) -> EtcdStore | None:
    """The etcd store under the cache and encryption layers, if that is the backend; told by
    its module, so that a server on SQLite never imports storage.etcd."""
    raw = raw_store(store)
    if type(raw).__module__ != "kubelite.storage.etcd":
        return None
    from kubelite.storage.etcd import EtcdStore

    return raw if isinstance(raw, EtcdStore) else None


def unavailable(exc: StoreUnavailableError) -> errors.StatusError:
    """503 ServiceUnavailable: the request may succeed once the datastore is back."""
    return errors.StatusError(503, errors.REASON_SERVICE_UNAVAILABLE, str(exc))
