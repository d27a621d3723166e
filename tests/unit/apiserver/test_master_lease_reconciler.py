"""The lease endpoint reconciler (kubelite/apiserver/master_leases.py): several API servers on
one store, each renewing a lease, the `kubernetes` Endpoints and EndpointSlice listing the live
ones in order; expired leases are absent and deleted; a clean stop leaves at once."""

from __future__ import annotations

from apiserver_fixtures import Stores, build_stores
from tests.etcd_server import EtcdServer, etcd_server, etcd_server_factory

from kubelite.apiserver.master_leases import (
    PREFIX,
    EndpointReconciler,
    MasterLeases,
    interval_for,
)
from kubelite.storage.etcd import EtcdStore
from kubelite.storage.sqlite import SqliteStore

__all__ = ["etcd_server", "etcd_server_factory"]  # fixtures: a real etcd per test

PORT = 6443
HTTPS = [{"name": "https", "port": PORT, "protocol": "TCP"}]


class Clock:
    """Wall-clock time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def reconciler(stores: Stores, ip: str, clock: Clock, ttl: float = 15.0) -> EndpointReconciler:
    return EndpointReconciler(
        MasterLeases(stores.store, ttl=ttl, clock=clock),
        stores.of("endpoints"),
        stores.of("endpointslices", "discovery.k8s.io"),
        ip=ip,
        port=PORT,
    )


async def endpoint_ips(stores: Stores) -> list[str]:
    eps = await stores.of("endpoints").get("default", "kubernetes")
    (subset,) = eps["subsets"]
    assert subset["ports"] == HTTPS
    return [a["ip"] for a in subset["addresses"]]


async def slice_ips(stores: Stores) -> list[str]:
    eps = await stores.of("endpointslices", "discovery.k8s.io").get("default", "kubernetes")
    assert eps["ports"] == HTTPS
    assert all(e["conditions"] == {"ready": True} for e in eps["endpoints"])
    return [e["addresses"][0] for e in eps["endpoints"]]


def test_the_renewal_interval_is_two_thirds_of_the_lease_time() -> None:
    assert interval_for(15.0) == 10.0


async def test_expired_leases_are_absent_and_deleted(store: SqliteStore) -> None:
    clock = Clock()
    leases = MasterLeases(store, ttl=15.0, clock=clock)
    await leases.update("192.0.2.1")
    clock.now += 10
    await leases.update("192.0.2.2")
    assert await leases.list() == ["192.0.2.1", "192.0.2.2"]
    clock.now += 5  # the first lease's 15 s are up, the second has 10 s left
    assert await leases.list() == ["192.0.2.2"]
    assert await store.get(PREFIX + "192.0.2.1") is None
    assert await store.get(PREFIX + "192.0.2.2") is not None


async def test_a_renewed_lease_lives_on(store: SqliteStore) -> None:
    clock = Clock()
    leases = MasterLeases(store, ttl=15.0, clock=clock)
    await leases.update("192.0.2.1")
    clock.now += 10
    await leases.update("192.0.2.1")
    clock.now += 10
    assert await leases.list() == ["192.0.2.1"]


async def test_an_unreadable_lease_counts_as_expired(store: SqliteStore) -> None:
    await store.create(PREFIX + "192.0.2.9", b"not json")
    assert await MasterLeases(store, clock=Clock()).list() == []
    assert await store.get(PREFIX + "192.0.2.9") is None


async def test_leases_are_listed_in_the_order_of_their_text(store: SqliteStore) -> None:
    leases = MasterLeases(store, clock=Clock())
    for ip in ["10.0.0.9", "10.0.0.10", "192.0.2.1", "10.0.0.100"]:
        await leases.update(ip)
    # Kubernetes' RepackSubsets compares the addresses' bytes, not their numbers.
    assert await leases.list() == ["10.0.0.10", "10.0.0.100", "10.0.0.9", "192.0.2.1"]


async def test_every_live_server_is_listed_and_an_expired_one_dropped(stores: Stores) -> None:
    clock = Clock()
    first = reconciler(stores, "192.0.2.20", clock)
    second = reconciler(stores, "192.0.2.3", clock)
    await first.reconcile()
    assert await endpoint_ips(stores) == ["192.0.2.20"]
    await second.reconcile()
    assert await endpoint_ips(stores) == ["192.0.2.20", "192.0.2.3"]
    assert await slice_ips(stores) == ["192.0.2.20", "192.0.2.3"]
    eps = await stores.of("endpoints").get("default", "kubernetes")
    assert eps["metadata"]["labels"] == {"endpointslice.kubernetes.io/skip-mirror": "true"}
    # The first stops renewing (killed); the second goes on every 10 s.
    clock.now += 10
    await second.reconcile()
    assert await endpoint_ips(stores) == ["192.0.2.20", "192.0.2.3"]
    clock.now += 10
    await second.reconcile()
    assert await endpoint_ips(stores) == ["192.0.2.3"]
    assert await slice_ips(stores) == ["192.0.2.3"]


async def test_a_clean_stop_leaves_at_once_but_the_last_server_stays(stores: Stores) -> None:
    clock = Clock()
    first = reconciler(stores, "192.0.2.1", clock)
    second = reconciler(stores, "192.0.2.2", clock)
    await first.reconcile()
    await second.reconcile()
    await first.remove()
    assert await endpoint_ips(stores) == ["192.0.2.2"]
    assert await slice_ips(stores) == ["192.0.2.2"]
    assert await stores.store.get(PREFIX + "192.0.2.1") is None
    # Stopped: a late round of the removed server does not put it back.
    await first.reconcile()
    assert await endpoint_ips(stores) == ["192.0.2.2"]
    # As kube-apiserver, no lease listed means no rewrite: the last server stays listed.
    await second.remove()
    assert await endpoint_ips(stores) == ["192.0.2.2"]


async def test_a_reconcile_that_changes_nothing_writes_nothing(stores: Stores) -> None:
    clock = Clock()
    server = reconciler(stores, "192.0.2.1", clock)
    await server.reconcile()
    eps = await stores.of("endpoints").get("default", "kubernetes")
    clock.now += 10
    await server.reconcile()
    again = await stores.of("endpoints").get("default", "kubernetes")
    assert again["metadata"]["resourceVersion"] == eps["metadata"]["resourceVersion"]


async def test_stale_addresses_and_ports_are_rewritten(stores: Stores) -> None:
    await stores.of("endpoints").create(
        "default",
        {
            "metadata": {"name": "kubernetes"},
            "subsets": [
                {"addresses": [{"ip": "192.0.2.99"}], "ports": [{"name": "https", "port": 1}]}
            ],
        },
    )
    await reconciler(stores, "192.0.2.1", Clock()).reconcile()
    assert await endpoint_ips(stores) == ["192.0.2.1"]


async def test_ipv6_servers_get_an_ipv6_slice(stores: Stores) -> None:
    await reconciler(stores, "2001:db8::1", Clock()).reconcile()
    eps = await stores.of("endpointslices", "discovery.k8s.io").get("default", "kubernetes")
    assert eps["addressType"] == "IPv6"
    assert eps["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert await slice_ips(stores) == ["2001:db8::1"]


async def test_two_servers_on_one_etcd_see_each_other(etcd_server: EtcdServer) -> None:
    """The same on etcd, each server with a connection of its own, as two machines have."""
    clock = Clock()
    first_store = await EtcdStore.open([etcd_server.endpoint])
    second_store = await EtcdStore.open([etcd_server.endpoint])
    try:
        first, second = build_stores(first_store), build_stores(second_store)  # type: ignore[arg-type]
        await first.of("namespaces").create("", {"metadata": {"name": "default"}})
        a = reconciler(first, "192.0.2.1", clock)
        b = reconciler(second, "192.0.2.2", clock)
        await a.reconcile()
        await b.reconcile()
        assert await endpoint_ips(first) == ["192.0.2.1", "192.0.2.2"]
        clock.now += 20  # `a` stopped renewing
        await b.reconcile()
        assert await endpoint_ips(first) == ["192.0.2.2"]
        assert await first_store.get(PREFIX + "192.0.2.1") is None
        await a.reconcile()  # back again
        await b.remove()
        assert await slice_ips(second) == ["192.0.2.1"]
    finally:
        await first_store.close()
        await second_store.close()
