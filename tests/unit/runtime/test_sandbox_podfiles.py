"""The pod's /etc/hosts, /etc/resolv.conf and /etc/hostname, as the kubelet and containerd
write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime import cri
from kubelite.runtime.sandbox import podfiles
from kubelite.runtime.service import sandbox_hostname

LOCAL = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)
ALIASES = [
    cri.HostAlias(ip="127.0.0.1", hostnames=["foo.local", "bar.local"]),
    cri.HostAlias(ip="10.1.2.3", hostnames=["foo.remote", "bar.remote"]),
]
ALIAS_LINES = (
    "\n# Entries added by HostAliases.\n"
    "127.0.0.1\tfoo.local\tbar.local\n"
    "10.1.2.3\tfoo.remote\tbar.remote\n"
)


@pytest.mark.parametrize(
    ("hostname", "domain", "ips", "aliases", "expected"),
    [
        # The first two as in kubelet_pods_test.go TestManagedHostsFileContent.
        ("podFoo", "", ["123.45.67.89"], [], LOCAL + "123.45.67.89\tpodFoo\n"),
        (
            "podFoo",
            "domainFoo",
            ["203.0.113.1"],
            [],
            LOCAL + "203.0.113.1\tpodFoo.domainFoo\tpodFoo\n",
        ),
        (
            "podFoo",
            "",
            ["123.45.67.89"],
            ALIASES,
            LOCAL + "123.45.67.89\tpodFoo\n" + ALIAS_LINES,
        ),
        (
            "web-0",
            "web.shop.svc.cluster.local",
            ["10.42.0.7", "fd00::7"],
            [],
            LOCAL
            + "10.42.0.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n"
            + "fd00::7\tweb-0.web.shop.svc.cluster.local\tweb-0\n",
        ),
    ],
)
def test_managed_hosts_file(
    hostname: str, domain: str, ips: list[str], aliases: list[cri.HostAlias], expected: str
) -> None:
    assert podfiles.hosts_file(hostname, domain, ips, aliases) == expected


def test_a_host_network_pods_hosts_file_is_the_nodes_under_its_own_header() -> None:
    node = "127.0.0.1\tlocalhost\n192.0.2.5\tnode-1\n"
    assert podfiles.node_hosts_file(node, ALIASES) == (
        "# Kubernetes-managed hosts file (host network).\n" + node + ALIAS_LINES
    )


def test_resolv_conf_is_search_then_nameservers_then_options() -> None:
    dns = cri.DNSConfig(
        servers=["10.43.0.10", "10.43.0.11"], searches=["a.svc", "svc"], options=["ndots:5"]
    )
    assert podfiles.resolv_conf(dns) == (
        "search a.svc svc\nnameserver 10.43.0.10\nnameserver 10.43.0.11\noptions ndots:5\n"
    )


@pytest.mark.parametrize("dns", [None, cri.DNSConfig()])
def test_an_empty_dns_config_gives_a_copy_of_the_hosts_resolv_conf(
    tmp_path: Path, dns: cri.DNSConfig | None
) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\n")
    assert podfiles.resolv_conf(dns, host) == "nameserver 192.0.2.53\n"


def test_write_pod_files(tmp_path: Path) -> None:
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p", uid="u", namespace="n"),
        hostname="p",
        domain="s.n.svc.cluster.local",
        hostname_as_fqdn=True,
        dns_config=cri.DNSConfig(servers=["10.43.0.10"], searches=["n.svc.cluster.local"]),
    )
    podfiles.write_pod_files(tmp_path / "files", config, sandbox_hostname(config), "10.0.0.2")
    assert (tmp_path / "files" / "hostname").read_text() == "p.s.n.svc.cluster.local\n"
    hosts = (tmp_path / "files" / "hosts").read_text()
    assert hosts.endswith("10.0.0.2\tp.s.n.svc.cluster.local\tp\n")
    assert (tmp_path / "files" / "resolv.conf").read_text() == (
        "search n.svc.cluster.local\nnameserver 10.43.0.10\n"
    )


def test_write_pod_files_on_the_host_network(tmp_path: Path) -> None:
    node_hosts = tmp_path / "node-hosts"
    node_hosts.write_text("192.0.2.5\tnode-1\n")
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p", uid="u", namespace="n"),
        host_network=True,
        host_aliases=[cri.HostAlias("10.9.9.9", ["db"])],
    )
    podfiles.write_pod_files(tmp_path / "files", config, "node-1", "", host_hosts=node_hosts)
    assert (tmp_path / "files" / "hosts").read_text() == (
        "# Kubernetes-managed hosts file (host network).\n192.0.2.5\tnode-1\n"
        "\n# Entries added by HostAliases.\n10.9.9.9\tdb\n"
    )


@pytest.mark.parametrize(
    ("hostname", "domain", "as_fqdn", "expected"),
    [
        ("web", "", False, "web"),
        ("web", "", True, "web"),
        ("web", "db.ns.svc.cluster.local", False, "web"),
        ("web", "db.ns.svc.cluster.local", True, "web.db.ns.svc.cluster.local"),
        ("", "", False, "p"),
    ],
)
def test_the_sandbox_hostname(hostname: str, domain: str, as_fqdn: bool, expected: str) -> None:
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name="p", uid="u", namespace="n"),
        hostname=hostname,
        domain=domain,
        hostname_as_fqdn=as_fqdn,
    )
    assert sandbox_hostname(config) == expected
