"""The nftables rules the proxy writes for each shape of Service, checked by the kernel.

Each case builds one Service and its EndpointSlice as the API server serves them, asserts the
chains and map elements kube-proxy's nftables mode would write, and, as root with nft at hand,
has the kernel check the whole table (`nft -c -f`: parsed and validated, nothing applied).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from kubelite.proxy.model import (
    categorize_endpoints,
    service_ports,
    slice_endpoints,
)
from kubelite.proxy.nft import Nft
from kubelite.proxy.rules import ProxyConfig, ServiceRules, add_service_port
from kubelite.proxy.transaction import EMPTY, full_sync, incremental_sync

Obj = dict[str, Any]
NODE = "node-a"
CONFIG = ProxyConfig(
    table="kubelite-unit",
    node_name=NODE,
    cluster_cidrs=("10.42.0.0/16",),
    nodeport_ips=("192.168.5.10",),
)
CAN_CHECK = os.geteuid() == 0 and shutil.which("nft") is not None


def service(**spec: Any) -> Obj:
    status = spec.pop("status", {})
    base = {
        "type": "ClusterIP",
        "clusterIP": "10.43.0.20",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
    }
    return {
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {**base, **spec},
        "status": status,
    }


def endpoint(ip: str, node: str = NODE, **conditions: bool) -> Obj:
    return {
        "addresses": [ip],
        "nodeName": node,
        "conditions": {"ready": True, **conditions} if conditions else {"ready": True},
    }


def endpoint_slice(*endpoints: Obj, port_name: str = "http", port: int = 8080) -> Obj:
    return {
        "metadata": {
            "namespace": "default",
            "name": "web-abc",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
        "endpoints": list(endpoints),
    }


def build(svc: Obj, *slices: Obj, config: ProxyConfig = CONFIG) -> ServiceRules:
    rules = ServiceRules()
    for port in service_ports(svc):
        eps = slice_endpoints(slices, port, config.node_name)
        add_service_port(rules, port, categorize_endpoints(eps, port), config)
    if CAN_CHECK:
        Nft().apply_sync(full_sync(config, [rules], rules.elements), check=True)
    return rules


def chain(rules: ServiceRules, prefix: str) -> tuple[str, ...]:
    """The rules of the one chain whose name starts with `prefix`."""
    names = [n for n in rules.chains if n.startswith(prefix)]
    assert len(names) == 1, (prefix, list(rules.chains))
    return rules.chains[names[0]]


def targets(lines: tuple[str, ...]) -> list[str]:
    """The endpoints a chain's rules DNAT to, in order."""
    return [line.rsplit(" to ", 1)[1] for line in lines if " dnat ip to " in line]


def chains(rules: ServiceRules, prefix: str) -> list[str]:
    """Names of the chains starting with `prefix`, in the order of their endpoint address."""
    return sorted((n for n in rules.chains if n.startswith(prefix)), key=lambda n: n[-20:])


def verdicts(rules: ServiceRules, map_name: str) -> dict[str, str]:
    return {key: v for (name, key), v in rules.elements.items() if name == map_name}


def test_cluster_ip_load_balances_over_every_ready_endpoint() -> None:
    rules = build(service(), endpoint_slice(endpoint("10.42.0.5"), endpoint("10.42.0.6")))
    ips = verdicts(rules, "service-ips")
    assert list(ips) == ["10.43.0.20 . tcp . 80"]
    assert ips["10.43.0.20 . tcp . 80"].startswith("goto service-")
    assert ips["10.43.0.20 . tcp . 80"].endswith("-default/web/tcp/http")
    # Off-cluster clients are masqueraded; then each endpoint with probability 1/2.
    assert chain(rules, "service-") == (
        "ip daddr 10.43.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
        "numgen random mod 2 == 0 meta l4proto tcp dnat ip to 10.42.0.5:8080",
        "meta l4proto tcp dnat ip to 10.42.0.6:8080",
    )
    assert list(rules.chains) == [next(iter(rules.chains))]
    # Hairpin: a pod reaching itself through its Service is masqueraded at postrouting.
    assert verdicts(rules, "hairpin") == {"10.42.0.5 . 10.42.0.5": "", "10.42.0.6 . 10.42.0.6": ""}
    assert verdicts(rules, "cluster-ips") == {"10.43.0.20": ""}
    assert not verdicts(rules, "no-endpoint-services")


def test_each_of_n_endpoints_is_picked_with_probability_one_in_n() -> None:
    eps = [endpoint(f"10.42.0.{i}") for i in range(1, 5)]
    lines = chain(build(service(), endpoint_slice(*eps)), "service-")[1:]
    mods = [int(line.split()[3]) if line.startswith("numgen") else 1 for line in lines]
    assert mods == [4, 3, 2, 1]
    # P(i) = 1/mod_i times the chance that every earlier rule passed it by.
    chance, left = [], 1.0
    for mod in mods:
        chance.append(left / mod)
        left -= left / mod
    assert chance == pytest.approx([0.25] * 4)


def test_service_without_endpoints_is_rejected_not_routed() -> None:
    rules = build(service(type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}]))
    assert verdicts(rules, "no-endpoint-services") == {"10.43.0.20 . tcp . 80": "goto reject-chain"}
    assert verdicts(rules, "no-endpoint-nodeports") == {"tcp . 30080": "goto reject-chain"}
    assert not verdicts(rules, "service-ips")
    assert not verdicts(rules, "service-nodeports")
    assert not rules.chains


def test_node_port_goes_through_the_external_chain_and_masquerades() -> None:
    svc = service(type="NodePort", ports=[{"name": "http", "port": 80, "nodePort": 30080}])
    rules = build(svc, endpoint_slice(endpoint("10.42.0.5")))
    nodeports = verdicts(rules, "service-nodeports")
    assert list(nodeports) == ["tcp . 30080"]
    assert nodeports["tcp . 30080"].startswith("goto external-")
    ext = chain(rules, "external-")
    assert ext[0] == "jump mark-for-masquerade"
    assert ext[1].startswith("goto service-")


def test_external_ips_and_load_balancer_ingress_are_captured() -> None:
    svc = service(
        type="LoadBalancer",
        externalIPs=["192.0.2.9"],
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
        status={
            "loadBalancer": {
                "ingress": [{"ip": "192.0.2.50"}, {"ip": "192.0.2.51", "ipMode": "Proxy"}]
            }
        },
    )
    rules = build(svc, endpoint_slice(endpoint("10.42.0.5")))
    ips = verdicts(rules, "service-ips")
    assert ips["192.0.2.9 . tcp . 80"].startswith("goto external-")
    assert ips["192.0.2.50 . tcp . 80"].startswith("goto external-")
    # ipMode Proxy: the load balancer itself proxies to the node; the node must not capture it.
    assert "192.0.2.51 . tcp . 80" not in ips


def test_client_ip_affinity_keeps_a_set_per_endpoint_with_the_timeout() -> None:
    svc = service(
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
    )
    rules = build(svc, endpoint_slice(endpoint("10.42.0.5"), endpoint("10.42.0.6")))
    assert sorted(rules.sets.values()) == [
        "type ipv4_addr; flags dynamic,timeout; timeout 60s;",
        "type ipv4_addr; flags dynamic,timeout; timeout 60s;",
    ]
    svc_chain = chain(rules, "service-")
    # Before the random pick: a client seen lately goes back to its endpoint.
    assert sorted(svc_chain[1:3]) == sorted(
        f"ip saddr @{name} goto endpoint-{name.removeprefix('affinity-')}" for name in rules.sets
    )
    assert svc_chain[3].startswith("numgen random mod 2 == 0 goto endpoint-")
    assert svc_chain[4].startswith("goto endpoint-")
    for name in rules.sets:
        ep = rules.chains["endpoint-" + name.removeprefix("affinity-")]
        assert ep[0] == f"update @{name} {{ ip saddr }}"
        assert ep[1] == f"meta l4proto tcp dnat ip to {name.rsplit('__', 1)[1].replace('/', ':')}"


def test_default_affinity_timeout_is_three_hours() -> None:
    rules = build(service(sessionAffinity="ClientIP"), endpoint_slice(endpoint("10.42.0.5")))
    assert list(rules.sets.values()) == ["type ipv4_addr; flags dynamic,timeout; timeout 10800s;"]


def test_internal_traffic_policy_local_uses_only_this_nodes_endpoints() -> None:
    svc = service(internalTrafficPolicy="Local")
    rules = build(svc, endpoint_slice(endpoint("10.42.0.5"), endpoint("10.42.1.7", node="node-b")))
    ips = verdicts(rules, "service-ips")
    assert ips["10.43.0.20 . tcp . 80"].startswith("goto local-")
    assert targets(chain(rules, "local-")) == ["10.42.0.5:8080"]
    assert not chains(rules, "service-")


def test_internal_traffic_policy_local_without_local_endpoints_drops() -> None:
    svc = service(internalTrafficPolicy="Local")
    rules = build(svc, endpoint_slice(endpoint("10.42.1.7", node="node-b")))
    assert verdicts(rules, "no-endpoint-services") == {"10.43.0.20 . tcp . 80": "drop"}
    assert not verdicts(rules, "service-ips")


def test_external_traffic_policy_local_short_circuits_pods_and_the_node() -> None:
    svc = service(
        type="NodePort",
        externalTrafficPolicy="Local",
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
    )
    rules = build(svc, endpoint_slice(endpoint("10.42.0.5"), endpoint("10.42.1.7", node="node-b")))
    ext = chain(rules, "external-")
    assert ext[0].startswith("ip saddr 10.42.0.0/16 goto service-")
    assert (
        ext[1] == 'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"'
    )
    assert ext[2].startswith("fib saddr type local goto service-")
    assert ext[3].startswith("goto local-")
    # Cluster traffic (the ClusterIP) still reaches both endpoints; external only the local one.
    assert targets(chain(rules, "service-")) == ["10.42.0.5:8080", "10.42.1.7:8080"]
    assert targets(chain(rules, "local-")) == ["10.42.0.5:8080"]


def test_external_traffic_policy_local_without_local_endpoints_drops_outside_traffic() -> None:
    svc = service(
        type="NodePort",
        externalTrafficPolicy="Local",
        ports=[{"name": "http", "port": 80, "nodePort": 30080}],
    )
    rules = build(svc, endpoint_slice(endpoint("10.42.1.7", node="node-b")))
    assert verdicts(rules, "no-endpoint-nodeports") == {"tcp . 30080": "drop"}
    # Pods and the node itself still get through the external chain's short-circuits.
    assert verdicts(rules, "service-nodeports")["tcp . 30080"].startswith("goto external-")
    assert not any(r.startswith("goto local-") for r in chain(rules, "external-"))


def test_terminating_endpoints_serve_only_when_none_is_ready() -> None:
    serving = endpoint("10.42.0.8", ready=False, serving=True, terminating=True)
    gone = endpoint("10.42.0.9", ready=False, serving=False, terminating=True)
    rules = build(service(), endpoint_slice(serving, gone))
    assert targets(chain(rules, "service-")) == ["10.42.0.8:8080"]
    rules = build(service(), endpoint_slice(serving, endpoint("10.42.0.5")))
    assert targets(chain(rules, "service-")) == ["10.42.0.5:8080"]


def test_not_ready_endpoints_are_left_out() -> None:
    rules = build(service(), endpoint_slice(endpoint("10.42.0.5", ready=False, serving=False)))
    assert verdicts(rules, "no-endpoint-services") == {"10.43.0.20 . tcp . 80": "goto reject-chain"}


def test_udp_and_sctp_ports_dnat_with_their_protocol() -> None:
    svc = service(
        ports=[
            {"name": "dns", "port": 53, "protocol": "UDP"},
            {"name": "sig", "port": 3868, "protocol": "SCTP"},
        ]
    )
    es = endpoint_slice(endpoint("10.42.0.5"))
    es["ports"] = [
        {"name": "dns", "port": 5353, "protocol": "UDP"},
        {"name": "sig", "port": 3868, "protocol": "SCTP"},
    ]
    rules = build(svc, es)
    assert set(verdicts(rules, "service-ips")) == {
        "10.43.0.20 . udp . 53",
        "10.43.0.20 . sctp . 3868",
    }
    dnats = sorted(rules.chains[n][-1] for n in chains(rules, "service-"))
    assert dnats == [
        "meta l4proto sctp dnat ip to 10.42.0.5:3868",
        "meta l4proto udp dnat ip to 10.42.0.5:5353",
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"clusterIP": "None"},
        {"type": "ExternalName", "externalName": "example.com", "clusterIP": ""},
    ],
)
def test_headless_and_external_name_services_get_no_rules(spec: Obj) -> None:
    assert build(service(**spec), endpoint_slice(endpoint("10.42.0.5"))).is_empty()


def test_incremental_sync_rewrites_only_what_changed() -> None:
    svc = service(sessionAffinity="ClientIP")
    before = build(svc, endpoint_slice(endpoint("10.42.0.5"), endpoint("10.42.0.6")))
    after = build(svc, endpoint_slice(endpoint("10.42.0.5"), endpoint("10.42.0.7")))
    text, stale = incremental_sync(CONFIG, [(before, after)])
    lines = text.splitlines()
    gone = next(n for n in before.chains if n.endswith("10.42.0.6/8080"))
    kept = next(n for n in before.chains if n.endswith("10.42.0.5/8080"))
    added = next(n for n in after.chains if n.endswith("10.42.0.7/8080"))
    service_chain = chain(after, "service-")
    assert stale == {gone}
    assert f"flush chain inet kubelite-unit {gone}" in lines
    assert f"add chain inet kubelite-unit {added}" in lines
    assert f"delete set inet kubelite-unit affinity-{gone.removeprefix('endpoint-')}" in lines
    assert any(line.startswith("add set inet kubelite-unit affinity-") for line in lines)
    assert any(line.startswith("flush chain inet kubelite-unit service-") for line in lines)
    assert len([line for line in lines if line.startswith("add rule")]) == len(service_chain) + 2
    # The unchanged endpoint's chain and the map element are left alone.
    assert not any(kept in line and not line.startswith("add rule") for line in lines)
    assert not any("element" in line for line in lines)
    # The stale chain is deleted by a later sync, once nothing can refer to it.
    later, _ = incremental_sync(CONFIG, [], [gone])
    assert later == f"delete chain inet kubelite-unit {gone}\n"


def test_deleting_a_service_removes_its_elements_before_its_chains() -> None:
    before = build(service(), endpoint_slice(endpoint("10.42.0.5")))
    text, stale = incremental_sync(
        CONFIG, [(before, EMPTY)], delete_elements=list(before.elements.items())
    )
    lines = text.splitlines()
    assert stale == set(before.chains)
    assert lines[0].startswith("delete element inet kubelite-unit cluster-ips { 10.43.0.20 }")
    assert lines[1] == "delete element inet kubelite-unit service-ips { 10.43.0.20 . tcp . 80 }"
    assert lines[2] == "delete element inet kubelite-unit hairpin { 10.42.0.5 . 10.42.0.5 }"
    assert all(line.startswith(("delete element", "flush chain")) for line in lines)
