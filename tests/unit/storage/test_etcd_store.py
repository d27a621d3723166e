"""What only the etcd store does: the keys in etcd as kube-apiserver lays them out, compaction
shared by several API servers, TLS, progress requests, fail-over, and etcd going away and back.
Each test has a real etcd of its own (tests/etcd_server.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Callable

import pytest
from tests.etcd_server import EtcdServer

from kubelite.storage import etcd as etcd_module
from kubelite.storage.etcd import EtcdStore
from kubelite.storage.interface import (
    CREATE,
    CompactedError,
    StoreUnavailableError,
    WatchClosedError,
)


async def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_keys_and_values_are_etcds_own(etcd_server: EtcdServer) -> None:
    store = await EtcdStore.open([etcd_server.endpoint])
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default"}}
    kv = await store.create("/registry/pods/default/web", json.dumps(pod).encode())
    await store.close()
    out = etcd_server.etcdctl("get", "--prefix", "/registry/pods", "-w", "json")
    (found,) = json.loads(out)["kvs"]
    assert base64.b64decode(found["key"]) == b"/registry/pods/default/web"
    assert json.loads(base64.b64decode(found["value"])) == pod
    # resourceVersion is etcd's mod revision.
    assert found["mod_revision"] == kv.mod_revision


async def test_a_watch_open_across_a_compaction_past_it_sees_on(etcd_server: EtcdServer) -> None:
    """Compaction forgets history, not the watches already following it."""
    store = await EtcdStore.open([etcd_server.endpoint])
    watch = await store.watch("/c/", store.revision)
    await store.create("/c/a", b"1")
    await store.compact(store.revision)
    await store.create("/c/b", b"1")
    events = []
    while len(events) < 2:
        events += await asyncio.wait_for(watch.next(), 5)
    assert [e.kv.key for e in events] == ["/c/a", "/c/b"]
    await store.close()


async def test_compaction_by_another_client_is_a_410_for_lists_and_watches(
    etcd_server: EtcdServer,
) -> None:
    store = await EtcdStore.open([etcd_server.endpoint])
    first = await store.create("/x/a", b"1")
    await store.update("/x/a", b"2", first.mod_revision)
    etcd_server.etcdctl("compact", str(store.revision))
    with pytest.raises(CompactedError) as caught:
        await store.list("/x/", revision=first.mod_revision)
    assert caught.value.compacted > first.mod_revision
    with pytest.raises(CompactedError):
        await store.watch("/x/", first.mod_revision)
    await store.close()


async def test_only_one_of_two_servers_compacts_per_interval(etcd_server: EtcdServer) -> None:
    """kube-apiserver's compactor: the transaction on compact_rev_key lets one through."""
    one = await EtcdStore.open([etcd_server.endpoint])
    two = await EtcdStore.open([etcd_server.endpoint])
    a = await one.create("/k/a", b"1")
    await one.update("/k/a", b"2", a.mod_revision)
    first = one.revision
    await two.get("/k/a")
    await one.compact(first)  # one wins this interval
    b = await one.update("/k/a", b"3", first)
    await two.get("/k/a")
    await two.compact(two.revision)  # two sees one compacted: it does not compact
    assert two.compacted_revision == first
    listed = await two.list("/k/", revision=b.mod_revision - 1)  # still there: not compacted
    assert listed.items[0].value == b"2"
    # Next interval both know the version; the first to try compacts.
    await two.compact(b.mod_revision)
    with pytest.raises(CompactedError):
        await one.list("/k/", revision=b.mod_revision - 1)
    assert etcd_server.etcdctl("get", "compact_rev_key", "--print-value-only").strip() == str(
        b.mod_revision
    )
    await one.close()
    await two.close()


async def test_tls_with_a_client_certificate(
    etcd_server_factory: Callable[..., EtcdServer],
) -> None:
    server = etcd_server_factory(tls=True)
    assert server.endpoint.startswith("https://")
    store = await EtcdStore.open(
        [server.endpoint],
        ca_file=server.ca_file,
        cert_file=server.cert_file,
        key_file=server.key_file,
    )
    kv = await store.create("/t/a", b"1")
    assert (await store.get("/t/a")) == kv
    await store.close()
    # Without a client certificate etcd (--client-cert-auth) refuses the connection.
    with pytest.raises(StoreUnavailableError, match=f"datastore at {server.endpoint}"):
        await EtcdStore.open([server.endpoint], ca_file=server.ca_file, timeout=1.0)


async def test_request_progress_moves_a_quiet_watch(etcd_server: EtcdServer) -> None:
    """The watch cache's "have I seen revision N": a watch with no events of its own learns
    that it is caught up when it asks."""
    store = await EtcdStore.open([etcd_server.endpoint])
    watch = await store.watch("/quiet/", store.revision)
    before = watch.progress()
    for i in range(3):
        await store.create(f"/busy/{i}", b"x")
    target = store.revision
    assert watch.progress() == before < target
    await store.request_progress()
    await _eventually(lambda: watch.progress() >= target)
    watch.close()
    await store.close()


async def test_fail_over_to_the_next_endpoint(etcd_server: EtcdServer) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    store = await EtcdStore.open([dead, etcd_server.endpoint], timeout=2.0)
    assert store.endpoint == etcd_server.endpoint
    assert (await store.create("/f/a", b"1")).value == b"1"
    await store.close()


async def test_etcd_gone_then_back(etcd_server: EtcdServer) -> None:
    """While etcd is down every call is StoreUnavailableError and watches end; once it is back
    the same store works again, without reopening."""
    store = await EtcdStore.open([etcd_server.endpoint], timeout=2.0)
    kv = await store.create("/g/a", b"1")
    watch = await store.watch("/g/", store.revision)
    etcd_server.kill()
    with pytest.raises(WatchClosedError):
        await asyncio.wait_for(watch.next(), 10)
    with pytest.raises(StoreUnavailableError, match=f"datastore at {etcd_server.endpoint}"):
        await store.get("/g/a")
    with pytest.raises(StoreUnavailableError):
        await store.update("/g/a", b"2", kv.mod_revision)
    with pytest.raises(StoreUnavailableError):
        await store.watch("/g/", store.revision)
    assert await store.check_health() is not None
    etcd_server.restart()
    deadline = asyncio.get_running_loop().time() + etcd_module.RECONNECT_BACKOFF_MAX + 10
    while await store.check_health() is not None:
        assert asyncio.get_running_loop().time() < deadline, "the store did not reconnect"
        await asyncio.sleep(0.1)
    updated = await store.update("/g/a", b"2", kv.mod_revision)
    watch = await store.watch("/g/", kv.mod_revision)
    (event,) = await asyncio.wait_for(watch.next(), 5)
    assert event.kv == updated
    await store.create("/g/b", b"1")
    (event,) = await asyncio.wait_for(watch.next(), 5)
    assert event.type == CREATE
    await store.close()
