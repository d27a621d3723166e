"""Several API servers seen as one: two real `kubelite server` processes on one real etcd, each
advertising its own address; the `kubernetes` Endpoints list both (apiserver/master_leases.py),
a server that stops cleanly leaves them at once, one that is killed drops out when its lease
expires; the `kube-dns` Endpoints list every live server's cluster DNS; and the agent's load
balancer (cli/cluster/loadbalancer.py) keeps kubectl answered when the server it used is killed.

The two addresses are test addresses put on `lo` (Kubernetes refuses loopback endpoint
addresses, so 127.0.0.x would list nothing), both servers listen on one port as every
kube-apiserver of a cluster does, and they share one PKI, copied from the first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster import Cluster, wait_for
from tests.etcd_server import EtcdServer

from kubelite.cli.cluster.loadbalancer import LoadBalancer

# Short enough for a test, long enough that "at once" and "after the lease expired" differ.
TTL = 6.0
INTERVAL = TTL * 2 / 3


def _no_extra_addresses() -> str:
    if os.geteuid() != 0:
        return "needs root to add two addresses to lo"
    if shutil.which("ip") is None:
        return "needs iproute2"
    return ""


def _no_datastore_flag() -> str:
    shown = subprocess.run(
        [sys.executable, "-m", "kubelite", "server", "--help"], capture_output=True, text=True
    )
    if "--datastore-endpoint" not in shown.stdout:
        return "`kubelite server --datastore-endpoint` (the etcd backend) is not there yet"
    return ""


pytestmark = [
    pytest.mark.skipif(bool(reason := _no_extra_addresses()), reason=reason),
    pytest.mark.own_store,
]
needs_etcd = pytest.mark.skipif(bool(why := _no_datastore_flag()), reason=why)


@pytest.fixture
def addresses() -> Iterator[tuple[str, str]]:
    """Two addresses of this machine that are not loopback ones (198.18.0.0/15, for tests),
    put on `lo` as /32s and taken off after."""
    subnet = random.randrange(256)
    ips = (
        f"198.18.{subnet}.{random.randrange(1, 127)}",
        f"198.18.{subnet}.{random.randrange(128, 255)}",
    )
    added = []
    try:
        for ip in ips:
            subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
            added.append(ip)
        yield ips
    finally:
        for ip in added:
            subprocess.run(["ip", "addr", "del", f"{ip}/32", "dev", "lo"], check=False)


def _common_port(ips: tuple[str, ...]) -> int:
    """A port free on every one of `ips` now."""
    for _ in range(50):
        sockets = []
        try:
            first = socket.socket()
            sockets.append(first)
            first.bind((ips[0], 0))
            port = int(first.getsockname()[1])
            for ip in ips[1:]:
                other = socket.socket()
                sockets.append(other)
                other.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no port free on every address")


@dataclass
class Pair:
    first: Cluster
    second: Cluster
    ips: tuple[str, str]
    port: int

    def endpoint_ips(self, via: Cluster) -> list[str]:
        out = via.kubectl(
            "get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}"
        ).stdout
        return out.split()

    def slice_ips(self, via: Cluster) -> list[str]:
        out = via.kubectl(
            "get",
            "endpointslice",
            "kubernetes",
            "-o",
            "jsonpath={.endpoints[*].addresses[*]}",
        ).stdout
        return out.split()


@contextlib.contextmanager
def two_servers(addresses: tuple[str, str], tmp_path: Path, datastore: str = "") -> Iterator[Pair]:
    """Two servers, one per address, on one port and one PKI; on `datastore` (an etcd URL)
    when given, else each on a store of its own."""
    port = _common_port(addresses)
    servers: list[Cluster] = []
    try:
        for n, ip in enumerate(addresses):
            data = tmp_path / f"server{n}" / "data"
            data.parent.mkdir(parents=True, exist_ok=True)
            if servers:
                # One cluster, one PKI: the second server gets the first's CA and keys (its
                # serving certificate is issued again for its own address).
                shutil.copytree(servers[0].data_dir / "tls", data / "tls")
            args = ["--datastore-endpoint", datastore] if datastore else []
            server = Cluster(
                data,
                tmp_path / f"server{n}" / "cache",
                extra_args=[
                    *args,
                    "--bind-address",
                    ip,
                    "--advertise-address",
                    ip,
                    "--https-port",
                    str(port),
                    "--endpoint-reconciler-ttl",
                    str(TTL),
                    "--disable-scheduler",
                ],
            )
            servers.append(server)
            server.start()
        yield Pair(servers[0], servers[1], addresses, port)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def pair(addresses: tuple[str, str], tmp_path: Path) -> Iterator[Pair]:
    """Two servers on one etcd."""
    etcd = EtcdServer.start(tmp_path / "etcd")
    try:
        with two_servers(addresses, tmp_path, etcd.endpoint) as servers:
            yield servers
    finally:
        etcd.kill()


@needs_etcd
def test_the_kubernetes_endpoints_list_every_server(pair: Pair) -> None:
    both = sorted(pair.ips)
    wait_for("both servers in the endpoints", lambda: pair.endpoint_ips(pair.first) == both)
    assert pair.endpoint_ips(pair.second) == both
    assert pair.slice_ips(pair.first) == both
    ports = pair.first.kubectl(
        "get",
        "endpoints",
        "kubernetes",
        "-o",
        "jsonpath={.subsets[0].ports[0].name}:{.subsets[0].ports[0].port}",
    ).stdout
    assert ports == f"https:{pair.port}"


@needs_etcd
def test_a_clean_stop_leaves_the_endpoints_at_once(pair: Pair) -> None:
    wait_for("both servers listed", lambda: len(pair.endpoint_ips(pair.first)) == 2)
    pair.second.stop()
    stopped = time.monotonic()
    remaining = [pair.ips[0]]
    wait_for("the stopped server gone", lambda: pair.endpoint_ips(pair.first) == remaining, TTL)
    # Well before its lease could have expired: the server took itself out.
    assert time.monotonic() - stopped < TTL / 2
    assert pair.slice_ips(pair.first) == remaining


def _dns_endpoints(via: Cluster) -> set[tuple[str, int]]:
    """The (address, port) pairs the `kube-dns` Endpoints lead to."""
    out = via.kubectl("get", "endpoints", "-n", "kube-system", "kube-dns", "-o", "json").stdout
    return {
        (address["ip"], port["port"])
        for subset in json.loads(out).get("subsets") or []
        for address in subset.get("addresses") or []
        for port in subset["ports"]
    }


@needs_etcd
def test_the_kube_dns_endpoints_list_every_servers_dns(pair: Pair) -> None:
    # Each server runs its cluster DNS (the harness asks for a free port) on this machine's
    # address: the same address for both here, on two ports.
    dns = [pair.first.dns_address, pair.second.dns_address]
    assert dns[0] is not None and dns[1] is not None, "the servers run no cluster DNS"
    if ipaddress.ip_address(dns[0][0]).is_loopback:
        pytest.skip("no default route: the cluster DNS listens on loopback, never listed")
    both = {dns[0], dns[1]}
    assert len(both) == 2
    wait_for("both servers' DNS in kube-dns", lambda: _dns_endpoints(pair.first) == both)
    assert _dns_endpoints(pair.second) == both
    pair.second.stop()
    stopped = time.monotonic()
    wait_for("the stopped server's DNS gone", lambda: _dns_endpoints(pair.first) == {dns[0]}, TTL)
    # Well before its lease could have expired: the server took its DNS out.
    assert time.monotonic() - stopped < TTL / 2


@needs_etcd
def test_a_killed_server_drops_out_when_its_lease_expires(pair: Pair) -> None:
    wait_for("both servers listed", lambda: len(pair.endpoint_ips(pair.first)) == 2)
    pair.second.kill()
    killed = time.monotonic()
    # Nothing took it out: it is listed until its lease runs out...
    assert pair.ips[1] in pair.endpoint_ips(pair.first)
    remaining = [pair.ips[0]]
    wait_for(
        "the killed server gone",
        lambda: pair.endpoint_ips(pair.first) == remaining,
        TTL + INTERVAL + 5,
    )
    # ...and no sooner than a renewal interval after the kill.
    assert time.monotonic() - killed >= TTL - INTERVAL
    assert pair.slice_ips(pair.first) == remaining


class BalancerThread:
    """The agent's load balancer, on an event loop of its own beside the synchronous test."""

    def __init__(self, servers: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.balancer = LoadBalancer(servers[0], health_interval=0.5)
        self._call(self.balancer.start(port=0))
        self.loop.call_soon_threadsafe(self.balancer.update, servers)

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)  # type: ignore[arg-type]

    @property
    def current(self) -> str:
        return self.balancer.current

    def close(self) -> None:
        self._call(self.balancer.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def test_kubectl_through_the_balancer_survives_a_killed_server(
    addresses: tuple[str, str], tmp_path: Path
) -> None:
    # The balancer needs no shared store: each server answers kubectl on its own.
    with two_servers(addresses, tmp_path) as pair:
        _kubectl_survives(pair, tmp_path)


def _kubectl_survives(pair: Pair, tmp_path: Path) -> None:
    servers = [f"{ip}:{pair.port}" for ip in pair.ips]
    balancer = BalancerThread(servers)
    try:
        # The admin kubeconfig, pointed at the balancer: TLS passes through, and the servers'
        # certificates name 127.0.0.1.
        kubeconfig = tmp_path / "through-balancer.yaml"
        text = pair.first.kubeconfig.read_text()
        kubeconfig.write_text(text.replace(pair.first.url, balancer.balancer.url))

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return pair.first.kubectl("--kubeconfig", str(kubeconfig), *args)

        assert "kube-system" in kubectl("get", "namespaces", "-o", "name").stdout
        used = balancer.current
        victim = pair.first if used.startswith(pair.ips[0] + ":") else pair.second
        victim.kill()
        kubectl("create", "namespace", "after-failover")
        assert "after-failover" in kubectl("get", "namespaces", "-o", "name").stdout
        assert balancer.current != used
    finally:
        balancer.close()
