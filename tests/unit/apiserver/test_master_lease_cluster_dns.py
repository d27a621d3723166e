"""The cluster DNS on the API servers' leases (kubelite/apiserver/master_leases.py): each server
that runs the cluster DNS on a routable address names it in its lease, and the `kube-dns`
Endpoints in kube-system list the DNS of every live lease, one subset per DNS port."""

from __future__ import annotations

import orjson
import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors
from kubelite.apiserver.master_leases import PREFIX, EndpointReconciler, Lease, MasterLeases
from kubelite.storage.sqlite import SqliteStore


class Clock:
    """Wall-clock time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def reconciler(
    stores: Stores, ip: str, clock: Clock, dns: tuple[str, int] | None
) -> EndpointReconciler:
    return EndpointReconciler(
        MasterLeases(stores.store, ttl=15.0, clock=clock),
        stores.of("endpoints"),
        stores.of("endpointslices", "discovery.k8s.io"),
        ip=ip,
        port=6443,
        dns=dns,
    )


def dns_ports(port: int) -> list[dict[str, object]]:
    return [
        {"name": "dns", "port": port, "protocol": "UDP"},
        {"name": "dns-tcp", "port": port, "protocol": "TCP"},
    ]


async def kube_dns(stores: Stores) -> dict:
    return await stores.of("endpoints").get("kube-system", "kube-dns")


async def dns_subsets(stores: Stores) -> list[tuple[list[str], int]]:
    """Each subset as (its addresses, its port), checking its ports are the DNS ones."""
    found = []
    for subset in (await kube_dns(stores))["subsets"]:
        port = subset["ports"][0]["port"]
        assert subset["ports"] == dns_ports(port)
        found.append(([a["ip"] for a in subset["addresses"]], port))
    return found


async def test_two_servers_with_dns_on_different_ports_make_two_subsets(stores: Stores) -> None:
    clock = Clock()
    await reconciler(stores, "192.0.2.1", clock, ("192.0.2.1", 5353)).reconcile()
    await reconciler(stores, "192.0.2.2", clock, ("192.0.2.2", 1053)).reconcile()
    # One subset per port, in port order.
    assert await dns_subsets(stores) == [(["192.0.2.2"], 1053), (["192.0.2.1"], 5353)]
    assert (await kube_dns(stores))["metadata"]["labels"] == {"k8s-app": "kube-dns"}
    # As the Service has no selector, its slice is the mirroring controller's: none here.
    with pytest.raises(errors.StatusError):
        await stores.of("endpointslices", "discovery.k8s.io").get("kube-system", "kube-dns")


async def test_servers_sharing_a_port_share_a_subset_in_address_order(stores: Stores) -> None:
    clock = Clock()
    for ip in ["192.0.2.9", "192.0.2.10", "192.0.2.100"]:
        await reconciler(stores, ip, clock, (ip, 53)).reconcile()
    # Ordered by their text, as the `kubernetes` Endpoints.
    assert await dns_subsets(stores) == [(["192.0.2.10", "192.0.2.100", "192.0.2.9"], 53)]


async def test_an_expired_lease_takes_its_dns_out(stores: Stores) -> None:
    clock = Clock()
    first = reconciler(stores, "192.0.2.1", clock, ("192.0.2.1", 5353))
    second = reconciler(stores, "192.0.2.2", clock, ("192.0.2.2", 1053))
    await first.reconcile()
    await second.reconcile()
    # The first stops renewing (killed); the second goes on every 10 s.
    clock.now += 10
    await second.reconcile()
    assert len(await dns_subsets(stores)) == 2
    clock.now += 10
    await second.reconcile()
    assert await dns_subsets(stores) == [(["192.0.2.2"], 1053)]


async def test_a_clean_stop_takes_its_dns_out_at_once_but_the_last_stays(stores: Stores) -> None:
    clock = Clock()
    first = reconciler(stores, "192.0.2.1", clock, ("192.0.2.1", 53))
    second = reconciler(stores, "192.0.2.2", clock, ("192.0.2.2", 53))
    await first.reconcile()
    await second.reconcile()
    assert await dns_subsets(stores) == [(["192.0.2.1", "192.0.2.2"], 53)]
    await first.remove()
    assert await dns_subsets(stores) == [(["192.0.2.2"], 53)]
    # No live DNS left: as with the `kubernetes` Endpoints, no rewrite to nothing.
    await second.remove()
    assert await dns_subsets(stores) == [(["192.0.2.2"], 53)]


async def test_a_server_without_dns_is_not_listed(stores: Stores) -> None:
    clock = Clock()
    await reconciler(stores, "192.0.2.1", clock, None).reconcile()
    # No server has DNS: the Endpoints are not written at all.
    with pytest.raises(errors.StatusError):
        await kube_dns(stores)
    await reconciler(stores, "192.0.2.2", clock, ("192.0.2.2", 53)).reconcile()
    assert await dns_subsets(stores) == [(["192.0.2.2"], 53)]
    # A server without DNS is still a live API server.
    eps = await stores.of("endpoints").get("default", "kubernetes")
    assert [a["ip"] for a in eps["subsets"][0]["addresses"]] == ["192.0.2.1", "192.0.2.2"]


async def test_stale_dns_endpoints_are_rewritten_and_their_other_fields_kept(
    stores: Stores,
) -> None:
    # What a server wrote before leases carried DNS: the last one started, with its port.
    await stores.of("endpoints").create(
        "kube-system",
        {
            "metadata": {
                "name": "kube-dns",
                "labels": {"k8s-app": "kube-dns", "team": "dns"},
                "annotations": {"note": "kept"},
            },
            "subsets": [{"addresses": [{"ip": "192.0.2.99"}], "ports": dns_ports(40053)}],
        },
    )
    await reconciler(stores, "192.0.2.1", Clock(), ("192.0.2.1", 53)).reconcile()
    eps = await kube_dns(stores)
    assert await dns_subsets(stores) == [(["192.0.2.1"], 53)]
    assert eps["metadata"]["labels"] == {"k8s-app": "kube-dns", "team": "dns"}
    assert eps["metadata"]["annotations"] == {"note": "kept"}


async def test_an_unchanged_dns_list_is_not_written_again(stores: Stores) -> None:
    clock = Clock()
    server = reconciler(stores, "192.0.2.1", clock, ("192.0.2.1", 53))
    await server.reconcile()
    before = (await kube_dns(stores))["metadata"]["resourceVersion"]
    clock.now += 10
    await server.reconcile()
    assert (await kube_dns(stores))["metadata"]["resourceVersion"] == before


async def test_a_lease_names_its_dns_and_old_leases_without_it_still_parse(
    store: SqliteStore,
) -> None:
    clock = Clock()
    leases = MasterLeases(store, ttl=15.0, clock=clock)
    await leases.update("192.0.2.1", ("192.0.2.1", 1053))
    value = orjson.loads((await store.get(PREFIX + "192.0.2.1")).value)  # type: ignore[union-attr]
    assert value["dns"] == {"ip": "192.0.2.1", "port": 1053}
    # Written by a server from before leases carried DNS, and one with a DNS it cannot read.
    expires = clock.now + 15
    await store.create(
        PREFIX + "192.0.2.2", orjson.dumps({"ip": "192.0.2.2", "expiresAt": expires})
    )
    await store.create(
        PREFIX + "192.0.2.3",
        orjson.dumps({"ip": "192.0.2.3", "expiresAt": expires, "dns": {"ip": "x", "port": 53}}),
    )
    assert await leases.live() == [
        Lease("192.0.2.1", ("192.0.2.1", 1053)),
        Lease("192.0.2.2"),
        Lease("192.0.2.3"),
    ]
    assert await leases.list() == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
