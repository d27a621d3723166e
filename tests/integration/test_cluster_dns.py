"""The cluster DNS of a real `kubelite server`: the kube-dns Service it bootstraps, and names
that follow Services created and deleted with kubectl, asked with dnspython's resolver."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from pathlib import Path

import dns.exception
import dns.resolver
import pytest
from cluster import Cluster, wait_for

# A new Service must resolve within this long of its creation (the promise).
WITHIN = 1.0
# The DNS process starts beside the API server and lists the cluster's objects first.
STARTUP = 20.0
KUBE_DNS = "kube-dns.kube-system.svc.cluster.local"


def resolver(cluster: Cluster, *, tcp: bool = False) -> dns.resolver.Resolver:
    assert cluster.dns_address is not None, "the server printed no cluster DNS address"
    host, port = cluster.dns_address
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = port
    r.lifetime = 2.0
    r.cache = None
    return r


def outcome(r: dns.resolver.Resolver, name: str, qtype: str = "A", tcp: bool = False) -> str:
    """The addresses a name resolves to, or the name of the negative answer."""
    try:
        answer = r.resolve(name, qtype, tcp=tcp, search=False)
    except dns.resolver.NXDOMAIN:
        return "NXDOMAIN"
    except dns.resolver.NoAnswer:
        return "NODATA"
    except dns.exception.DNSException as e:
        return f"error: {type(e).__name__}"
    return " ".join(sorted(str(rdata) for rdata in answer))


def wait_for_answer(r: dns.resolver.Resolver, name: str, expected: str, timeout: float) -> float:
    """Seconds until `name` answers `expected`; fails after `timeout`."""
    start = time.monotonic()
    last = ""
    while time.monotonic() - start < timeout:
        last = outcome(r, name)
        if last == expected:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"{name} still answers {last!r}, not {expected!r}, after {timeout} s")


def test_the_server_bootstraps_the_kube_dns_service(cluster: Cluster) -> None:
    assert cluster.dns_address is not None
    host, port = cluster.dns_address
    svc = json.loads(
        cluster.kubectl("get", "svc", "kube-dns", "-n", "kube-system", "-o", "json").stdout
    )
    assert svc["spec"]["clusterIP"] == "10.43.0.10"
    assert svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert svc["metadata"]["labels"]["kubernetes.io/name"] == "CoreDNS"
    assert "selector" not in svc["spec"]
    ports = {(p["name"], p["port"], p["protocol"], p["targetPort"]) for p in svc["spec"]["ports"]}
    assert ports == {("dns", 53, "UDP", port), ("dns-tcp", 53, "TCP", port)}
    if ipaddress.ip_address(host).is_loopback:
        pytest.skip("a node with only loopback has no kube-dns Endpoints (Kubernetes refuses them)")
    endpoints = json.loads(
        cluster.kubectl("get", "endpoints", "kube-dns", "-n", "kube-system", "-o", "json").stdout
    )
    [subset] = endpoints["subsets"]
    assert subset["addresses"] == [{"ip": host}]
    assert {(p["name"], p["port"], p["protocol"]) for p in subset["ports"]} == {
        ("dns", port, "UDP"),
        ("dns-tcp", port, "TCP"),
    }
    # The DNS server answers for itself, at the Service's address.
    wait_for_answer(resolver(cluster), KUBE_DNS, "10.43.0.10", STARTUP)


def test_the_dns_runs_as_its_own_user_with_corednss_role(cluster: Cluster) -> None:
    # Its certificate names its own user, not the admin's.
    kubeconfig = cluster.data_dir / "kubeconfigs" / "cluster-dns.yaml"
    whoami = cluster.kubectl("auth", "whoami", "--kubeconfig", str(kubeconfig), "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == (
        "system:kubelite:cluster-dns"
    )
    allowed = cluster.kubectl(
        "auth", "can-i", "--list", "--kubeconfig", str(kubeconfig), "-n", "kube-system"
    ).stdout
    rows = {" ".join(line.split()) for line in allowed.splitlines()}
    assert "endpointslices.discovery.k8s.io [] [] [list watch]" in rows
    assert "services [] [] [list watch]" in rows
    secrets = cluster.kubectl(
        "auth", "can-i", "get", "secrets", "--kubeconfig", str(kubeconfig), check=False
    )
    assert secrets.stdout.strip() == "no"
    # And it still answers (the test above waits for its own name).
    wait_for_answer(resolver(cluster), KUBE_DNS, "10.43.0.10", STARTUP)


def test_a_new_service_resolves_within_a_second_and_is_gone_when_deleted(
    cluster: Cluster, namespace: str
) -> None:
    r = resolver(cluster)
    wait_for_answer(r, KUBE_DNS, "10.43.0.10", STARTUP)
    name = f"web.{namespace}.svc.cluster.local"
    assert outcome(r, name) == "NXDOMAIN"
    # The namespace exists: its own name has no records, but is no NXDOMAIN (once the DNS
    # server's namespace informer has seen it: the fixture made it a moment ago).
    wait_for(
        "the namespace to be known to the DNS server",
        lambda: outcome(r, f"{namespace}.svc.cluster.local") == "NODATA",
        timeout=5,
    )
    cluster.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", namespace)
    created = time.monotonic()
    ip = cluster.kubectl(
        "get", "svc", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    took = wait_for_answer(r, name, ip, WITHIN - (time.monotonic() - created))
    assert took < WITHIN
    # The same over TCP, and SRV for its named port.
    assert outcome(r, name, tcp=True) == ip
    assert outcome(r, f"_80-8080._tcp.{name}", "SRV") == f"0 100 80 {name}."
    assert outcome(r, name, "AAAA") == "NODATA"
    cluster.kubectl("delete", "service", "web", "-n", namespace)
    wait_for_answer(r, name, "NXDOMAIN", WITHIN)


def _dns_processes(cluster: Cluster) -> list[int]:
    """The pids of this cluster's `kubelite cluster-dns` (found by its kubeconfig, which holds
    its own user's certificate)."""
    kubeconfig = cluster.data_dir / "kubeconfigs" / "cluster-dns.yaml"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kubelite.cli.cluster.cluster_dns" in argv and str(kubeconfig).encode() in argv:
            found.append(int(entry.name))
    return found


def test_a_dns_process_that_dies_comes_back_on_the_same_port(fresh_cluster: Cluster) -> None:
    fresh_cluster.start()
    r = resolver(fresh_cluster)
    wait_for_answer(r, KUBE_DNS, "10.43.0.10", STARTUP)
    [pid] = _dns_processes(fresh_cluster)
    os.kill(pid, signal.SIGKILL)
    # The server holds the sockets: the process it starts again answers on the same address
    # and port, which the kube-dns Endpoints name.
    wait_for_answer(r, KUBE_DNS, "10.43.0.10", STARTUP)
    assert _dns_processes(fresh_cluster) not in ([], [pid])
