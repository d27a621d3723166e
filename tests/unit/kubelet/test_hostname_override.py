"""`spec.hostnameOverride` on the node: the kubelet's hostname and domain for the pod
(GeneratePodHostNameAndDomain), and the /etc/hosts and UTS hostname the runtime makes of them;
and the DNS records, which stay those of `hostname` and `subdomain`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelite.controllers.endpointslice import pod_endpoint
from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet.dns import DNSConfigurer
from kubelite.runtime.sandbox import podfiles
from kubelite.runtime.service import sandbox_hostname

POD_IP = "10.42.0.7"
LOCAL = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


CASES = [
    ("the override alone", {}, "db.example.internal"),
    ("over hostname and subdomain", {"hostname": "db-0", "subdomain": "db"}, "db.example.internal"),
    ("a single label", {"subdomain": "db"}, "db.example.internal"),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_override_is_the_hostname_without_a_domain(spec: dict, expected: str) -> None:
    pod = _pod(hostnameOverride="db.example.internal", **spec)
    assert rc.hostname(pod) == (expected, "")


def test_pod_files_with_an_override(tmp_path: Path) -> None:
    """/etc/hosts maps the pod IP to the override alone (managedHostsFileContent without a
    domain), and the UTS hostname is the override, whatever hostname and subdomain say."""
    pod = _pod(hostnameOverride="db.example.internal", hostname="db-0", subdomain="db")
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\n")
    dns = DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=str(resolv)).pod_dns(pod)
    config = rc.sandbox_config(pod, attempt=0, dns_config=dns.config, cgroup_root="/kubelite")
    files = tmp_path / "files"
    podfiles.write_pod_files(files, config, sandbox_hostname(config), POD_IP)
    assert (files / "hosts").read_text() == LOCAL + f"{POD_IP}\tdb.example.internal\n"
    assert (files / "hostname").read_text() == "db.example.internal\n"
    # The resolver still searches the pod's namespace: only the hostname changed.
    assert dns.config.searches[0] == "shop.svc.cluster.local"


def test_a_64_character_override_is_cut_like_any_hostname() -> None:
    """Validation allows 64 characters; the kubelet's truncatePodHostnameIfNeeded keeps 63 and
    drops a trailing '.' or '-'."""
    override = "a" * 62 + ".b"
    assert rc.hostname(_pod(hostnameOverride=override)) == ("a" * 62, "")


def test_an_override_that_is_no_subdomain_fails_the_sandbox() -> None:
    with pytest.raises(rc.SandboxConfigError) as e:
        rc.hostname(_pod(hostnameOverride="Not_A_Host"))
    assert str(e.value).startswith(
        'pod HostnameOverride "Not_A_Host" is not a valid DNS subdomain: a lowercase RFC 1123'
    )


def test_the_dns_records_ignore_the_override() -> None:
    """The endpoint controllers name the pod's record from hostname and subdomain only."""
    pod = _pod(hostnameOverride="db.example.internal", hostname="db-0", subdomain="db")
    pod["status"] = {
        "podIP": POD_IP,
        "podIPs": [{"ip": POD_IP}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    service = {"metadata": {"name": "db", "namespace": "shop"}, "spec": {}}
    assert pod_endpoint(pod, None, service, "IPv4")["hostname"] == "db-0"
    pod["spec"].pop("hostname")
    assert "hostname" not in pod_endpoint(pod, None, service, "IPv4")
