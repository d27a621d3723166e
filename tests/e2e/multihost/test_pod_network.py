"""The pod network across hosts: pods on different machines reach each other by pod IP, with
their own source addresses, over host-gw routes or VXLAN (kubelite.podnet, flannel's backends).

One cluster for the module: a server on host A and an agent on host B share a subnet (host-gw
between them); an agent on host C is on another subnet, behind the root namespace's router
(VXLAN between it and the others).
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.e2e.hosts import Host, Hosts, Server, wait_for

pytestmark = [pytest.mark.e2e]

PORT = 8080
# A busybox httpd whose one CGI script answers with the client's address, as the server sees it,
# and which serves 100 KB of random bytes as /big (many packets of the pod network's full MTU).
ECHO_SERVER = (
    "mkdir -p /www/cgi-bin && dd if=/dev/urandom of=/www/big bs=1024 count=100 2>/dev/null && "
    "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' "
    f"> /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p {PORT} -h /www"
)
# flannel's FLANNEL_MTU for vxlan on the hosts' eth0 (a veth, MTU 1500): 1500 less VXLAN's 50.
VXLAN_POD_MTU = 1450


@dataclass
class Cluster:
    server: Server
    a: Host
    b: Host
    c: Host
    cidrs: dict[str, str]  # node name -> podCIDR


@pytest.fixture(scope="module")
def cluster(hosts: Hosts) -> Iterator[Cluster]:
    second = int(secrets.token_hex(1), 16) % 100 + 100
    cluster_cidr = f"10.{second}.0.0/16"
    a, b, c = hosts.add("a"), hosts.add("b"), hosts.add("c", subnet=1)
    cidrs = {h.name: f"10.{second}.{i + 1}.0/24" for i, h in enumerate((a, b, c))}
    common = ["--cluster-cidr", cluster_cidr]
    server = hosts.start_server(a, "--pod-cidr", cidrs[a.name], *common)
    hosts.start_agent(b, server, "--pod-cidr", cidrs[b.name], *common)
    hosts.start_agent(c, server, "--pod-cidr", cidrs[c.name], *common)
    yield Cluster(server, a, b, c, cidrs)
    # The hosts' teardown kills every kubelite and resets each node (containers, mounts, the
    # pod network); waiting here for pods to go would wait on those of node C, which the last
    # test deleted and no kubelet finalizes.


def run_pod(cluster: Cluster, name: str, host: Host, command: str) -> str:
    """A busybox pod on `host` running `command`; its IP once it runs."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": host.name,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", command]}],
        },
    }
    cluster.server.kubectl("apply", "-f", "-", stdin=json.dumps(pod))

    def running() -> str:
        status = cluster.server.get("pod", name)["status"]
        return status.get("phase") == "Running" and status.get("podIP", "")

    return str(wait_for(f"pod {name} to run on {host.name}", running, 90))


def fetch(cluster: Cluster, client: str, ip: str, timeout: int = 5) -> str:
    """What the echo server at `ip` answers to the pod `client` ("" when it does not)."""
    done = cluster.server.kubectl(
        "exec", client, "--", "timeout", str(timeout), "wget", "-q", "-O", "-",
        f"http://{ip}:{PORT}/cgi-bin/ip", check=False, timeout=timeout + 30,
    )  # fmt: skip
    if done.returncode != 0:
        return ""
    # httpd listens on a dual-stack socket: an IPv4 client is an IPv4-mapped IPv6 address.
    answer = done.stdout.strip().strip("[]")
    return answer.removeprefix("::ffff:")


def pod_mtu(cluster: Cluster, pod: str) -> int:
    """The MTU of the pod's eth0, as the pod sees it."""
    done = cluster.server.kubectl("exec", pod, "--", "cat", "/sys/class/net/eth0/mtu")
    return int(done.stdout)


def checksum(cluster: Cluster, pod: str, script: str) -> str:
    """The md5sum `script` prints in the pod ("" when it fails)."""
    done = cluster.server.kubectl("exec", pod, "--", "sh", "-c", script, check=False, timeout=60)
    return done.stdout.split()[0] if done.returncode == 0 and done.stdout.strip() else ""


@pytest.fixture(scope="module")
def pods(cluster: Cluster) -> dict[str, str]:
    """An echo server on B and on C, and a client on A: name -> pod IP."""
    return {
        "client": run_pod(cluster, "client", cluster.a, "sleep 3600"),
        "echo-b": run_pod(cluster, "echo-b", cluster.b, ECHO_SERVER),
        "echo-c": run_pod(cluster, "echo-c", cluster.c, ECHO_SERVER),
    }


def routes(host: Host) -> list[dict]:
    return json.loads(host.run("ip", "-json", "route", "show", "proto", "152").stdout or "[]")


def route_to(host: Host, cidr: str) -> dict | None:
    return next((r for r in routes(host) if r["dst"] == cidr), None)


def fdb(host: Host) -> list[dict]:
    done = host.run("bridge", "-json", "fdb", "show", "dev", "kubelite.1", check=False)
    return [f for f in json.loads(done.stdout or "[]") if f.get("dst")]


def test_each_node_publishes_flannels_annotations_and_its_network_is_up(cluster: Cluster) -> None:
    for host in (cluster.a, cluster.b, cluster.c):

        def up(name: str = host.name) -> dict | bool:
            node = cluster.server.get("node", name)
            conditions = {c["type"]: c for c in node["status"].get("conditions", [])}
            network = conditions.get("NetworkUnavailable", {})
            return network.get("status") == "False" and node

        node = wait_for(f"{host.name}'s NetworkUnavailable=False", up)
        annotations = node["metadata"]["annotations"]
        assert annotations["flannel.alpha.coreos.com/public-ip"] == host.address
        assert annotations["flannel.alpha.coreos.com/backend-type"] == "host-gw"
        network = next(c for c in node["status"]["conditions"] if c["type"] == "NetworkUnavailable")
        assert (network["reason"], network["message"]) == (
            "FlannelIsUp",
            "Flannel is running on this node",
        )
        taints = [t["key"] for t in node["spec"].get("taints", [])]
        assert "node.kubernetes.io/network-unavailable" not in taints


def test_a_pod_reaches_a_pod_on_a_host_of_its_subnet_by_a_host_gw_route(
    cluster: Cluster, pods: dict[str, str]
) -> None:
    route = wait_for(
        "A's route to B's pods", lambda: route_to(cluster.a, cluster.cidrs[cluster.b.name])
    )
    assert (route["gateway"], route["dev"]) == (cluster.b.address, "eth0")
    # The echo server sees the client pod's own address: no masquerade between pods.
    assert (
        wait_for("the answer from B's pod", lambda: fetch(cluster, "client", pods["echo-b"]))
        == (pods["client"])
    )
    # The default backend is flannel's vxlan with DirectRouting (VXLAN to C's subnet): its
    # pods get the VXLAN MTU even where a host-gw route carries their traffic, as flannel's
    # vxlan MTU does not depend on DirectRouting (kubelite.podnet.mtu.pod_mtu).
    assert (pod_mtu(cluster, "client"), pod_mtu(cluster, "echo-b")) == (
        VXLAN_POD_MTU,
        VXLAN_POD_MTU,
    )


def test_a_pod_reaches_a_pod_on_another_subnet_over_vxlan(
    cluster: Cluster, pods: dict[str, str]
) -> None:
    c_cidr = ipaddress.ip_network(cluster.cidrs[cluster.c.name])
    route = wait_for("A's route to C's pods", lambda: route_to(cluster.a, str(c_cidr)))
    assert (route["gateway"], route["dev"]) == (str(c_cidr.network_address), "kubelite.1")
    assert "onlink" in route["flags"]
    c_node = cluster.server.get("node", cluster.c.name)
    c_mac = json.loads(c_node["metadata"]["annotations"]["flannel.alpha.coreos.com/backend-data"])
    assert c_mac["VNI"] == 1
    assert {(f["mac"], f["dst"]) for f in fdb(cluster.a)} >= {(c_mac["VtepMAC"], cluster.c.address)}
    vxlan = json.loads(cluster.a.run("ip", "-json", "-d", "link", "show", "kubelite.1").stdout)[0]
    assert (vxlan["linkinfo"]["info_data"]["id"], vxlan["linkinfo"]["info_data"]["port"]) == (
        1,
        8472,
    )
    assert (
        wait_for("the answer from C's pod", lambda: fetch(cluster, "client", pods["echo-c"]))
        == (pods["client"])
    )
    # The pods' MTU leaves room for VXLAN's headers (flannel's FLANNEL_MTU), on both ends...
    assert (pod_mtu(cluster, "client"), pod_mtu(cluster, "echo-c")) == (
        VXLAN_POD_MTU,
        VXLAN_POD_MTU,
    )
    assert vxlan["mtu"] == VXLAN_POD_MTU
    # ...and 100 KB in full-size packets cross the VTEP intact.
    sent = checksum(cluster, "echo-c", "md5sum /www/big")
    url = f"http://{pods['echo-c']}:{PORT}/big"
    assert sent
    fetched = f"timeout 20 wget -q -O /tmp/big {url} && md5sum /tmp/big"
    assert checksum(cluster, "client", fetched) == sent


def test_a_partitioned_host_is_unreachable_until_healed(
    hosts: Hosts, cluster: Cluster, pods: dict[str, str]
) -> None:
    assert wait_for("B's pod", lambda: fetch(cluster, "client", pods["echo-b"]))
    hosts.partition(cluster.b)
    try:
        assert fetch(cluster, "client", pods["echo-b"], timeout=3) == ""
        # The route stays: B is unreachable, not gone.
        assert route_to(cluster.a, cluster.cidrs[cluster.b.name]) is not None
    finally:
        hosts.heal(cluster.b)
    assert (
        wait_for("B's pod after healing", lambda: fetch(cluster, "client", pods["echo-b"]))
        == (pods["client"])
    )


def test_an_agent_asked_for_vxlan_uses_it_even_on_a_shared_subnet(
    hosts: Hosts, cluster: Cluster, pods: dict[str, str]
) -> None:
    hosts.stop(cluster.b)
    hosts.start_agent(
        cluster.b, cluster.server, "--pod-cidr", cluster.cidrs[cluster.b.name],
        "--flannel-backend", "vxlan",
    )  # fmt: skip
    a_cidr = ipaddress.ip_network(cluster.cidrs[cluster.a.name])

    def vxlan_route() -> dict | None:
        route = route_to(cluster.b, str(a_cidr))
        return route if route and route["dev"] == "kubelite.1" else None

    route = wait_for("B's route to A's pods through its VTEP", vxlan_route)
    assert route["gateway"] == str(a_cidr.network_address)
    node = cluster.server.get("node", cluster.b.name)
    assert node["metadata"]["annotations"]["flannel.alpha.coreos.com/backend-type"] == "vxlan"
    # B's pod answers A's client (its reply goes back over VXLAN), from the client's address.
    assert (
        wait_for("B's pod over vxlan", lambda: fetch(cluster, "client", pods["echo-b"]))
        == (pods["client"])
    )


def test_a_deleted_node_takes_its_routes_and_vxlan_entries_with_it(
    hosts: Hosts, cluster: Cluster, pods: dict[str, str]
) -> None:
    c_cidr = cluster.cidrs[cluster.c.name]
    assert wait_for("A's route to C", lambda: route_to(cluster.a, c_cidr))
    hosts.stop(cluster.c, graceful=False)
    cluster.server.kubectl("delete", "node", cluster.c.name)
    wait_for("A's route to C to go", lambda: route_to(cluster.a, c_cidr) is None)
    assert all(f["dst"] != cluster.c.address for f in fdb(cluster.a))
    rules = cluster.a.run("iptables", "-t", "nat", "-S", "KUBELITE-PODNET").stdout
    assert c_cidr not in rules and cluster.cidrs[cluster.b.name] in rules
