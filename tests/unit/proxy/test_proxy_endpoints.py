"""Which endpoints a service port uses: EndpointSlices read as kube-proxy reads them, and
kube-proxy's CategorizeEndpoints table (pkg/proxy/topology_test.go's cases, without hints)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.proxy.model import (
    Endpoint,
    ServicePort,
    categorize_endpoints,
    hash_and_truncate,
    service_ports,
    slice_endpoints,
)

Obj = dict[str, Any]


def port(**kw: Any) -> ServicePort:
    base = dict(
        namespace="ns",
        name="svc",
        port_name="p",
        protocol="tcp",
        cluster_ip="10.43.0.1",
        port=80,
    )
    return ServicePort(**{**base, **kw})


def ep(
    ip: str,
    *,
    local: bool = False,
    ready: bool = True,
    serving: bool = True,
    terminating: bool = False,
) -> Endpoint:
    return Endpoint(ip, 80, ready, serving, terminating, "me" if local else "other", local)


def ips(endpoints: list[Endpoint]) -> list[str]:
    return sorted(e.ip for e in endpoints)


@pytest.mark.parametrize(
    ("name", "svc", "endpoints", "cluster", "local", "reachable", "has_any"),
    [
        (
            "cluster policy: ready endpoints only",
            port(),
            [ep("10.0.0.1"), ep("10.0.0.2", ready=False, serving=False)],
            ["10.0.0.1"],
            [],
            ["10.0.0.1"],
            True,
        ),
        (
            "cluster policy: no ready ones, serving-terminating ones serve",
            port(),
            [
                ep("10.0.0.1", ready=False, terminating=True),
                ep("10.0.0.2", ready=False, serving=False, terminating=True),
            ],
            ["10.0.0.1"],
            [],
            ["10.0.0.1"],
            True,
        ),
        (
            "cluster policy: ready ones win over terminating ones",
            port(),
            [ep("10.0.0.1"), ep("10.0.0.2", ready=False, terminating=True)],
            ["10.0.0.1"],
            [],
            ["10.0.0.1"],
            True,
        ),
        (
            "internal Local: local ready endpoints only",
            port(internal_policy_local=True),
            [ep("10.0.0.1", local=True), ep("10.0.0.2")],
            [],
            ["10.0.0.1"],
            ["10.0.0.1"],
            True,
        ),
        (
            "internal Local: none local, but endpoints elsewhere",
            port(internal_policy_local=True),
            [ep("10.0.0.2")],
            [],
            [],
            [],
            True,
        ),
        (
            "internal Local: local serving-terminating when no local ready one",
            port(internal_policy_local=True),
            [ep("10.0.0.1", local=True, ready=False, terminating=True), ep("10.0.0.2")],
            [],
            ["10.0.0.1"],
            ["10.0.0.1"],
            True,
        ),
        (
            "external Local: cluster for short-circuits, local for outside traffic",
            port(external_policy_local=True, node_port=30080),
            [ep("10.0.0.1", local=True), ep("10.0.0.2")],
            ["10.0.0.1", "10.0.0.2"],
            ["10.0.0.1"],
            ["10.0.0.1", "10.0.0.2"],
            True,
        ),
        (
            "no endpoints at all",
            port(external_policy_local=True, node_port=30080),
            [ep("10.0.0.1", ready=False, serving=False)],
            [],
            [],
            [],
            False,
        ),
    ],
)
def test_categorize_endpoints(
    name: str,
    svc: ServicePort,
    endpoints: list[Endpoint],
    cluster: list[str],
    local: list[str],
    reachable: list[str],
    has_any: bool,
) -> None:
    got = categorize_endpoints(endpoints, svc)
    assert (ips(got.cluster), ips(got.local), ips(got.all_reachable), got.has_any) == (
        cluster,
        local,
        reachable,
        has_any,
    ), name


def test_slices_match_ports_by_name_and_protocol_and_keep_an_address_once() -> None:
    svc = port(port_name="http")
    slices = [
        {
            "addressType": "IPv4",
            "ports": [
                {"name": "http", "port": 8080, "protocol": "TCP"},
                {"name": "http", "port": 9999, "protocol": "UDP"},
            ],
            "endpoints": [
                {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
                {"addresses": ["10.0.0.1"], "nodeName": "me"},  # unknown ready: ready
                {"addresses": []},
            ],
        },
        {
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.0.2"], "conditions": {"ready": True}}],
        },
        {
            "addressType": "IPv6",
            "ports": [{"name": "http", "port": 8080}],
            "endpoints": [{"addresses": ["fd00::1"]}],
        },
        {
            "addressType": "IPv4",
            "ports": [{"name": "metrics", "port": 9090}],
            "endpoints": [{"addresses": ["10.0.0.3"]}],
        },
    ]
    got = slice_endpoints(slices, svc, "me")
    assert [(e.ip, e.port, e.ready, e.is_local) for e in got] == [
        ("10.0.0.1", 8080, True, True),
        ("10.0.0.2", 8080, True, False),
    ]


def test_service_ports_read_policies_affinity_and_node_ports() -> None:
    svc = {
        "metadata": {"namespace": "ns", "name": "svc"},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.43.0.7",
            "clusterIPs": ["fd00::7", "10.43.0.7"],
            "externalTrafficPolicy": "Local",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 30}},
            "ports": [{"port": 53, "protocol": "UDP", "nodePort": 30053}],
        },
    }
    [p] = service_ports(svc)
    assert (p.cluster_ip, p.protocol, p.port, p.node_port, p.port_name) == (
        "10.43.0.7",
        "udp",
        53,
        30053,
        "",
    )
    assert p.external_policy_local and not p.internal_policy_local
    assert p.affinity_timeout == 30
    assert p.chain_base.endswith("-ns/svc/udp/")


def test_chain_names_are_kube_proxys() -> None:
    # The examples of pkg/proxy/nftables/proxier.go's servicePortChainNameBase and
    # servicePortEndpointChainNameBase.
    assert hash_and_truncate("ns1/svc1/tcp/p80") == "ULMVA6XW-ns1/svc1/tcp/p80"
    assert (
        hash_and_truncate("ns1/svc1/tcp/p80__10.180.0.1/80")
        == "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
    )


def test_chain_names_carry_a_hash_and_fit_nftables() -> None:
    name = hash_and_truncate("ns/svc/tcp/http")
    assert len(name.split("-", 1)[0]) == 8 and name.endswith("-ns/svc/tcp/http")
    assert hash_and_truncate("ns/svc/tcp/http") == name
    long = hash_and_truncate("n" * 300)
    assert len(long) == 239 and long.endswith("...")
