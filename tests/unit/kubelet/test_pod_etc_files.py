"""From a pod's spec to its /etc/resolv.conf, /etc/hosts and /etc/hostname: the kubelet's DNS
and sandbox config, then the files the runtime writes from them, without running anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet.dns import DNSConfigurer
from kubelite.runtime.sandbox import podfiles
from kubelite.runtime.service import sandbox_hostname

POD_IP = "10.42.0.7"
HOST_RESOLV = "nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n"
LOCAL = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)
CLUSTER_RESOLV = (
    "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
    "nameserver 10.43.0.10\n"
    "options ndots:5\n"
)

CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "a plain pod",
        {},
        CLUSTER_RESOLV,
        LOCAL + f"{POD_IP}\tweb\n",
        "web\n",
    ),
    (
        "hostname and subdomain: the FQDN line",
        {"hostname": "db-0", "subdomain": "db"},
        CLUSTER_RESOLV,
        LOCAL + f"{POD_IP}\tdb-0.db.shop.svc.cluster.local\tdb-0\n",
        "db-0\n",
    ),
    (
        "setHostnameAsFQDN: the kernel's name is the FQDN",
        {"hostname": "db-0", "subdomain": "db", "setHostnameAsFQDN": True},
        CLUSTER_RESOLV,
        LOCAL + f"{POD_IP}\tdb-0.db.shop.svc.cluster.local\tdb-0\n",
        "db-0.db.shop.svc.cluster.local\n",
    ),
    (
        "hostAliases after their header",
        {
            "hostAliases": [
                {"ip": "127.0.0.1", "hostnames": ["foo.local", "bar.local"]},
                {"ip": "10.1.2.3", "hostnames": ["foo.remote"]},
            ]
        },
        CLUSTER_RESOLV,
        LOCAL
        + f"{POD_IP}\tweb\n"
        + "\n# Entries added by HostAliases.\n"
        + "127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n",
        "web\n",
    ),
    (
        "dnsPolicy Default",
        {"dnsPolicy": "Default"},
        "search corp.example\nnameserver 192.0.2.53\noptions edns0\n",
        LOCAL + f"{POD_IP}\tweb\n",
        "web\n",
    ),
    (
        "dnsPolicy None with a dnsConfig",
        {
            "dnsPolicy": "None",
            "dnsConfig": {
                "nameservers": ["203.0.113.1"],
                "searches": ["a.example"],
                "options": [{"name": "ndots", "value": "1"}],
            },
        },
        "search a.example\nnameserver 203.0.113.1\noptions ndots:1\n",
        LOCAL + f"{POD_IP}\tweb\n",
        "web\n",
    ),
    (
        "dnsPolicy None with an empty dnsConfig: the host's file, as containerd copies it",
        {"dnsPolicy": "None", "dnsConfig": {}},
        "HOST",
        LOCAL + f"{POD_IP}\tweb\n",
        "web\n",
    ),
]


@pytest.mark.parametrize(
    ("spec", "resolv", "hosts", "hostname"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_pod_files(tmp_path: Path, spec: dict, resolv: str, hosts: str, hostname: str) -> None:
    host_resolv = tmp_path / "host-resolv.conf"
    host_resolv.write_text(HOST_RESOLV)
    pod = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    configurer = DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=str(host_resolv))
    dns = configurer.pod_dns(pod)
    config = rc.sandbox_config(pod, attempt=0, dns_config=dns.config, cgroup_root="/kubelite")
    files = tmp_path / "files"
    podfiles.write_pod_files(files, config, sandbox_hostname(config), POD_IP)
    # containerd copies the machine's own /etc/resolv.conf when the kubelet asks for nothing.
    expected_resolv = podfiles.HOST_RESOLV_CONF.read_text() if resolv == "HOST" else resolv
    assert (files / "resolv.conf").read_text() == expected_resolv
    assert (files / "hosts").read_text() == hosts
    assert (files / "hostname").read_text() == hostname
