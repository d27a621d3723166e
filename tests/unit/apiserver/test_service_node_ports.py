"""Node ports beyond one per port: ports of one number share a node port (initNodePorts), a
LoadBalancer keeping traffic local gets a health-check node port, a configured range and
service CIDR are what the allocator hands out, and dynamic allocation keeps off the static
bands at the bottom of each range (KEP-3070, KEP-3668)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors
from kubelite.apiserver import admission
from kubelite.apiserver.server import resource_stores
from kubelite.storage.sqlite import SqliteStore

Obj = dict[str, Any]


def svc(name: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": spec}


async def test_tcp_and_udp_of_one_port_share_a_node_port(stores: Stores) -> None:
    created = await stores.of("services").create(
        "default",
        svc(
            "dns",
            type="NodePort",
            ports=[
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "protocol": "UDP"},
                {"name": "metrics", "port": 9153, "protocol": "TCP"},
            ],
        ),
    )
    tcp, udp, metrics = (p["nodePort"] for p in created["spec"]["ports"])
    assert tcp == udp != metrics


async def test_a_node_port_asked_for_on_a_later_port_of_the_number_is_shared(
    stores: Stores,
) -> None:
    created = await stores.of("services").create(
        "default",
        svc(
            "dns",
            type="NodePort",
            ports=[
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "protocol": "UDP", "nodePort": 30053},
            ],
        ),
    )
    assert [p["nodePort"] for p in created["spec"]["ports"]] == [30053, 30053]


async def test_a_local_load_balancer_gets_a_health_check_node_port(stores: Stores) -> None:
    services = stores.of("services")
    created = await services.create(
        "default",
        svc("lb", type="LoadBalancer", externalTrafficPolicy="Local", ports=[{"port": 80}]),
    )
    health = created["spec"]["healthCheckNodePort"]
    assert 30000 <= health <= 32767
    assert health != created["spec"]["ports"][0]["nodePort"]
    with pytest.raises(errors.StatusError) as err:
        await services.create(
            "default",
            svc(
                "lb2",
                type="LoadBalancer",
                externalTrafficPolicy="Local",
                healthCheckNodePort=health,
                ports=[{"port": 80}],
            ),
        )
    assert err.value.code == 500
    assert err.value.message == (
        f"Internal error occurred: failed to allocate requested HealthCheck NodePort {health}: "
        "provided port is already allocated"
    )
    with pytest.raises(errors.StatusError) as err:
        await services.create(
            "default",
            svc("np", type="NodePort", ports=[{"port": 80, "nodePort": health}]),
        )
    assert err.value.code == 422


async def test_configured_ranges_are_the_ones_allocated_and_reported(store: SqliteStore) -> None:
    stores = Stores(store)
    stores.by_resource.update(
        resource_stores(
            store,
            service_cidr=ipaddress.ip_network("10.96.0.0/28"),
            node_port_range=(31000, 31001),
        )
    )
    await stores.namespace("default")
    services = stores.of("services")
    created = await services.create(
        "default",
        svc("a", type="NodePort", ports=[{"name": "x", "port": 80}, {"name": "y", "port": 81}]),
    )
    assert ipaddress.ip_address(created["spec"]["clusterIP"]) in ipaddress.ip_network(
        "10.96.0.0/28"
    )
    assert sorted(p["nodePort"] for p in created["spec"]["ports"]) == [31000, 31001]
    with pytest.raises(errors.StatusError) as err:
        await services.create("default", svc("b", type="NodePort", ports=[{"port": 80}]))
    assert (
        err.value.message == "Internal error occurred: failed to allocate a nodePort: range is full"
    )
    with pytest.raises(errors.StatusError) as err:
        await services.create("default", svc("c", clusterIP="10.43.0.5", ports=[{"port": 80}]))
    assert err.value.message.endswith("The range of valid IPs is 10.96.0.0/28")


@pytest.mark.parametrize(
    ("size", "low", "high", "step", "expected"),
    [
        (65536, 16, 256, 16, 256),  # a /16: the first 256 addresses are the static band
        (4096, 16, 256, 16, 256),
        (256, 16, 256, 16, 16),
        (16, 16, 256, 16, 0),  # a /28 has no static band
        (2768, 16, 128, 32, 86),  # 30000-32767: 30000-30085
        (100, 16, 128, 32, 16),
    ],
)
def test_static_bands(size: int, low: int, high: int, step: int, expected: int) -> None:
    assert admission.range_offset(size, low, high, step) == expected


async def test_dynamic_allocation_leaves_the_static_bands_alone(store: SqliteStore) -> None:
    stores = Stores(store)
    stores.by_resource.update(
        resource_stores(
            store, service_cidr=ipaddress.ip_network("10.96.0.0/24"), node_port_range=(31000, 31099)
        )
    )
    await stores.namespace("default")
    services = stores.of("services")
    for i in range(60):
        created = await services.create(
            "default", svc(f"s{i}", type="NodePort", ports=[{"port": 80}])
        )
        # 10.96.0.1-16 and 31000-31015 are kept for addresses and ports asked for by name.
        assert int(ipaddress.ip_address(created["spec"]["clusterIP"])) - (10 << 24 | 96 << 16) > 16
        assert created["spec"]["ports"][0]["nodePort"] >= 31016
    kube_dns = await services.create(
        "default", svc("kube-dns", clusterIP="10.96.0.10", ports=[{"port": 53}])
    )
    assert kube_dns["spec"]["clusterIP"] == "10.96.0.10"
