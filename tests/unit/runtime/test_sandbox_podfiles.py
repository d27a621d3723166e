"""The pod's /etc/hosts, /etc/resolv.conf and /etc/hostname."""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime import cri
from kubelite.runtime.sandbox import podfiles


def test_hosts_file_has_localhost_the_pod_ip_and_aliases() -> None:
    text = podfiles.hosts_file(
        "web-0", "10.42.0.7", [cri.HostAlias(ip="10.1.1.1", hostnames=["db", "db.local"])]
    )
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.42.0.7\tweb-0\n" in text
    assert text.endswith("# Entries added by HostAliases.\n10.1.1.1\tdb\tdb.local\n")


def test_resolv_conf_from_dns_config() -> None:
    dns = cri.DNSConfig(servers=["10.43.0.10"], searches=["a.svc", "svc"], options=["ndots:5"])
    assert podfiles.resolv_conf(dns) == (
        "nameserver 10.43.0.10\nsearch a.svc svc\noptions ndots:5\n"
    )


def test_resolv_conf_without_dns_config_is_the_hosts(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\n")
    assert podfiles.resolv_conf(None, host) == "nameserver 192.0.2.53\n"


def test_write_pod_files(tmp_path: Path) -> None:
    config = cri.PodSandboxConfig(metadata=cri.PodSandboxMetadata(name="p", uid="u", namespace="n"))
    podfiles.write_pod_files(tmp_path / "files", config, "p", "10.0.0.2")
    assert (tmp_path / "files" / "hostname").read_text() == "p\n"
    assert "10.0.0.2\tp\n" in (tmp_path / "files" / "hosts").read_text()
    assert (tmp_path / "files" / "resolv.conf").exists()
