"""The service proxy's real data path: its nftables table in a node namespace, real packets.

A client namespace outside the cluster and pod namespaces on the node's bridge
(`proxy_netns.NetnsNode`); the Proxier is fed Services and EndpointSlices as its informers
would feed it, and programs the node namespace with nft.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from proxy_netns import NetnsNode, leftovers, sh

from kubelite.proxy.conntrack import Conntrack
from kubelite.proxy.nft import Nft
from kubelite.proxy.proxier import Proxier
from kubelite.proxy.rules import ProxyConfig
from kubelite.proxy.transaction import delete_table

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None,
        reason="needs root and nft to build network namespaces and program them",
    ),
]

CLUSTER_IP = "10.96.7.10"
NODE_PORT = 30080
Obj = dict[str, Any]


def service(name: str = "web", **spec: Any) -> Obj:
    base = {
        "type": "ClusterIP",
        "clusterIP": CLUSTER_IP,
        "ports": [
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "dns", "port": 53, "protocol": "UDP"},
        ],
    }
    return {"metadata": {"namespace": "default", "name": name}, "spec": {**base, **spec}}


def endpoint_slice(*ips: str, name: str = "web") -> Obj:
    return {
        "metadata": {
            "namespace": "default",
            "name": f"{name}-slice",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [
            {"name": "http", "port": 8080, "protocol": "TCP"},
            {"name": "dns", "port": 8080, "protocol": "UDP"},
        ],
        "endpoints": [
            {"addresses": [ip], "nodeName": "node-e2e", "conditions": {"ready": True}} for ip in ips
        ],
    }


@pytest.fixture
async def net() -> AsyncIterator[NetnsNode]:
    node = NetnsNode()
    try:
        node.setup()
        node.add_pod("pod-a")
        node.add_pod("pod-b")
        yield node
    finally:
        node.close()
    assert leftovers(node.suffix) == []


def make_proxier(net: NetnsNode) -> Proxier:
    config = ProxyConfig(
        node_name="node-e2e",
        cluster_cidrs=(net.cluster_cidr,),
        nodeport_ips=(net.node_ip,),
    )
    return Proxier(
        config,
        nft=Nft(net.nft_command()),
        conntrack=Conntrack(net.conntrack_command()),
        min_sync_period=0.05,
    )


async def programmed(net: NetnsNode, svc: Obj, slice_: Obj | None) -> Proxier:
    proxier = make_proxier(net)
    proxier.on_service("ADDED", svc)
    if slice_ is not None:
        proxier.on_endpoint_slice("ADDED", slice_)
    proxier.set_initialized()
    await proxier.sync()
    return proxier


async def wait_until(what: str, check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await asyncio.to_thread(check)
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def test_cluster_ip_reaches_every_endpoint(net: NetnsNode) -> None:
    await programmed(net, service(), endpoint_slice(*net.pods.values()))
    answers = net.request(net.client, CLUSTER_IP, 80, count=40)
    assert set(answers) == {"pod-a", "pod-b"}
    udp = net.request(net.client, CLUSTER_IP, 53, count=20, proto="udp")
    assert set(udp) == {"pod-a", "pod-b"}


async def test_host_processes_and_pods_reach_cluster_ips(net: NetnsNode) -> None:
    await programmed(net, service(), endpoint_slice(net.pods["pod-a"]))
    # The node itself (the output hook), another pod on the bridge (bridged replies pass the
    # inet hooks: bridge-nf-call-iptables), and the endpoint itself (hairpin, masqueraded).
    assert net.request(net.node, CLUSTER_IP, 80, count=3) == ["pod-a"] * 3
    assert net.request(net.pod_ns("pod-b"), CLUSTER_IP, 80, count=3) == ["pod-a"] * 3
    assert net.request(net.pod_ns("pod-a"), CLUSTER_IP, 80, count=3) == ["pod-a"] * 3


async def test_client_ip_affinity_sticks(net: NetnsNode) -> None:
    svc = service(sessionAffinity="ClientIP")
    await programmed(net, svc, endpoint_slice(*net.pods.values()))
    answers = net.request(net.client, CLUSTER_IP, 80, count=20)
    assert len(set(answers)) == 1 and answers[0] in net.pods


async def test_service_without_endpoints_is_refused_at_once(net: NetnsNode) -> None:
    await programmed(
        net,
        service(
            type="NodePort",
            ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": NODE_PORT}],
        ),
        None,
    )
    for ns, host, port in (
        (net.client, CLUSTER_IP, 80),
        (net.node, CLUSTER_IP, 80),
        (net.client, net.node_ip, NODE_PORT),
    ):
        [answer] = net.request(ns, host, port)
        assert answer.startswith("refused"), (ns, host, answer)
        assert float(answer.split()[1]) < 0.5


async def test_cluster_ip_on_a_port_it_does_not_serve_is_refused(net: NetnsNode) -> None:
    await programmed(net, service(), endpoint_slice(net.pods["pod-a"]))
    [answer] = net.request(net.client, CLUSTER_IP, 81)
    assert answer.startswith("refused")


async def test_node_port_answers_on_the_node_ip(net: NetnsNode) -> None:
    svc = service(
        type="NodePort",
        ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": NODE_PORT}],
    )
    await programmed(net, svc, endpoint_slice(*net.pods.values()))
    answers = net.request(net.client, net.node_ip, NODE_PORT, count=30)
    assert set(answers) == {"pod-a", "pod-b"}


async def test_an_update_of_endpoints_takes_effect(net: NetnsNode) -> None:
    proxier = make_proxier(net)
    loop = asyncio.create_task(proxier.run())
    try:
        proxier.on_service("ADDED", service())
        proxier.on_endpoint_slice("ADDED", endpoint_slice(net.pods["pod-a"]))
        proxier.set_initialized()
        await wait_until(
            "pod-a behind the ClusterIP",
            lambda: net.request(net.client, CLUSTER_IP, 80) == ["pod-a"],
        )
        # A UDP client that keeps its source port keeps its conntrack entry: the proxy must
        # clear it when pod-a leaves, or the flow would keep going to pod-a.
        assert net.request(net.client, CLUSTER_IP, 53, proto="udp", sport=40053) == ["pod-a"]
        proxier.on_endpoint_slice("MODIFIED", endpoint_slice(net.pods["pod-b"]))
        await wait_until(
            "pod-b alone behind the ClusterIP",
            lambda: set(net.request(net.client, CLUSTER_IP, 80, count=10)) == {"pod-b"},
        )
        assert net.request(net.client, CLUSTER_IP, 53, proto="udp", sport=40053) == ["pod-b"]
        proxier.on_service("DELETED", service())
        await wait_until(
            "the Service's rules gone",
            lambda: (
                "10.96.7.10" not in (Nft(net.nft_command()).list_table("inet", "kubelite") or "")
            ),
        )
        # Its chains are deleted a second later, leaving only the table's skeleton.
        await wait_until(
            "the Service's chains deleted",
            lambda: (
                "default/web"
                not in (Nft(net.nft_command()).list_table("inet", "kubelite") or "x default/web")
            ),
        )
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)


async def test_a_table_rebuild_keeps_an_open_connection(net: NetnsNode) -> None:
    await programmed(net, service(), endpoint_slice(net.pods["pod-a"]))
    conn = net.hold(net.client, CLUSTER_IP, 80)
    try:
        assert conn.stdout is not None and conn.stdin is not None
        assert conn.stdout.readline().strip() == "pod-a"
        # A restarted proxy: a new Proxier whose first sync rebuilds the whole table, now
        # with pod-b as the only endpoint.
        await programmed(net, service(), endpoint_slice(net.pods["pod-b"]))
        conn.stdin.write("still there?\n")
        conn.stdin.flush()
        assert conn.stdout.readline().strip() == "pod-a still there?"
        # New connections follow the new rules.
        assert net.request(net.client, CLUSTER_IP, 80, count=5) == ["pod-b"] * 5
    finally:
        conn.kill()
        conn.wait(5)


async def test_a_refused_sync_leaves_the_previous_ruleset(net: NetnsNode) -> None:
    proxier = await programmed(net, service(), endpoint_slice(net.pods["pod-a"]))
    before = Nft(net.nft_command()).list_table("inet", "kubelite")
    bad = service("bad", clusterIP="10.96.7.11")
    bad["spec"]["ports"][0]["port"] = 70000  # nft refuses a port above 65535
    proxier.on_service("ADDED", bad)
    with pytest.raises(Exception, match="refused rules") as info:
        await proxier.sync()
    assert "70000" in str(info.value)
    assert Nft(net.nft_command()).list_table("inet", "kubelite") == before
    assert net.request(net.client, CLUSTER_IP, 80) == ["pod-a"]


async def test_removing_the_table_leaves_nothing(net: NetnsNode) -> None:
    await programmed(net, service(), endpoint_slice(net.pods["pod-a"]))
    # Someone else's table in the same namespace must survive the proxy's syncs and removal.
    sh(*net.nft_command(), "add", "table", "inet", "someone-else")
    await programmed(net, service(), endpoint_slice(net.pods["pod-b"]))
    Nft(net.nft_command()).apply_sync(delete_table(ProxyConfig()))
    ruleset = subprocess.run(
        [*net.nft_command(), "list", "ruleset"], capture_output=True, text=True, check=True
    ).stdout
    assert "kubelite" not in ruleset
    assert "table inet someone-else" in ruleset


async def test_load_balancer_ingress_and_external_ips_reach_the_endpoints(net: NetnsNode) -> None:
    # As ServiceLB reports it: the node's own IP is the load balancer's, on the Service port.
    svc = service(
        type="LoadBalancer",
        externalIPs=["192.0.2.77"],
        ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": NODE_PORT}],
    )
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": net.node_ip, "ipMode": "VIP"}]}}
    await programmed(net, svc, endpoint_slice(*net.pods.values()))
    assert set(net.request(net.client, net.node_ip, 80, count=30)) == {"pod-a", "pod-b"}
    # An external IP routed to the node (here: the client's default route goes through it).
    assert set(net.request(net.client, "192.0.2.77", 80, count=30)) == {"pod-a", "pod-b"}


def seen_from(net: NetnsNode, ns: str, host: str, port: int) -> str:
    """`<pod> <client address as the pod sees it>` for one connection."""
    conn = net.hold(ns, host, port)
    try:
        assert conn.stdin is not None and conn.stdout is not None
        conn.stdout.readline()
        conn.stdin.write("peer\n")
        conn.stdin.flush()
        return conn.stdout.readline().strip()
    finally:
        conn.kill()
        conn.wait(5)


async def test_masquerade_where_kube_proxy_masquerades(net: NetnsNode) -> None:
    local = endpoint_slice(net.pods["pod-a"])
    remote = {"addresses": ["10.244.250.9"], "nodeName": "elsewhere", "conditions": {"ready": True}}
    local["endpoints"].append(remote)
    svc = service(
        type="NodePort",
        externalTrafficPolicy="Local",
        ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": NODE_PORT}],
    )
    await programmed(net, svc, local)
    gateway = f"10.244.{net.subnet}.1"
    # externalTrafficPolicy Local: only this node's endpoint, and the client's address kept.
    for _ in range(5):
        assert seen_from(net, net.client, net.node_ip, NODE_PORT) == f"pod-a {net.client_ip}"
    # Cluster policy: NodePort traffic is masqueraded (the reply must come back through us).
    svc["spec"]["externalTrafficPolicy"] = "Cluster"
    await programmed(net, svc, endpoint_slice(net.pods["pod-a"]))
    assert seen_from(net, net.client, net.node_ip, NODE_PORT) == f"pod-a {gateway}"
    # A ClusterIP reached from outside the cluster CIDR is masqueraded; from a pod it is not.
    assert seen_from(net, net.client, CLUSTER_IP, 80) == f"pod-a {gateway}"
    pod_b = net.pods["pod-b"]
    assert seen_from(net, net.pod_ns("pod-b"), CLUSTER_IP, 80) == f"pod-a {pod_b}"
