"""A pod's resolver configuration by dnsPolicy and dnsConfig, and the kubelet's limits
(pkg/kubelet/network/dns, Kubernetes 1.33)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet import dns
from kubelite.kubelet.dns import DNSConfigurer, DNSError, DNSEvent
from kubelite.runtime.cri import DNSConfig

HOST_FILE = "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example\noptions edns0\n"
CLUSTER_SEARCH = ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"]
HOST = DNSConfig(["192.0.2.53", "192.0.2.54"], ["corp.example"], ["edns0"])


def pod(**spec: Any) -> dict:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


@pytest.fixture
def host_file(tmp_path: Path) -> str:
    path = tmp_path / "resolv.conf"
    path.write_text(HOST_FILE)
    return str(path)


CASES = [
    (
        "ClusterFirst: the cluster DNS alone, the cluster's searches then the host's, ndots:5",
        {},
        {},
        DNSConfig(["10.43.0.10"], [*CLUSTER_SEARCH, "corp.example"], ["ndots:5"]),
    ),
    ("dnsPolicy unset is ClusterFirst", {"dnsPolicy": ""}, {}, None),
    ("ClusterFirst on the host network falls back to Default", {"hostNetwork": True}, {}, HOST),
    (
        "ClusterFirstWithHostNet keeps the cluster DNS on the host network",
        {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"},
        {},
        DNSConfig(["10.43.0.10"], [*CLUSTER_SEARCH, "corp.example"], ["ndots:5"]),
    ),
    (
        "ClusterFirstWithHostNet off the host network is ClusterFirst",
        {"dnsPolicy": "ClusterFirstWithHostNet"},
        {},
        DNSConfig(["10.43.0.10"], [*CLUSTER_SEARCH, "corp.example"], ["ndots:5"]),
    ),
    ("Default is the node's file", {"dnsPolicy": "Default"}, {}, HOST),
    (
        "None is the pod's dnsConfig alone",
        {
            "dnsPolicy": "None",
            "dnsConfig": {
                "nameservers": ["203.0.113.1"],
                "searches": ["a.example"],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
            },
        },
        {},
        DNSConfig(["203.0.113.1"], ["a.example"], ["ndots:2", "edns0"]),
    ),
    (
        "a dnsConfig is appended, duplicates dropped, its options replace the policy's",
        {
            "dnsConfig": {
                "nameservers": ["10.43.0.10", "203.0.113.1"],
                "searches": ["svc.cluster.local", "b.example"],
                "options": [
                    {"name": "ndots", "value": "1"},
                    {"name": "single-request-reopen"},
                    {"name": "timeout", "value": ""},
                ],
            }
        },
        {},
        DNSConfig(
            ["10.43.0.10", "203.0.113.1"],
            [*CLUSTER_SEARCH, "corp.example", "b.example"],
            ["ndots:1", "single-request-reopen", "timeout"],
        ),
    ),
    (
        "a dnsConfig adds to Default",
        {"dnsPolicy": "Default", "dnsConfig": {"options": [{"name": "edns0"}]}},
        {},
        HOST,
    ),
    (
        "with no cluster domain, ClusterFirst searches only what the host does",
        {},
        {"cluster_domain": ""},
        DNSConfig(["10.43.0.10"], ["corp.example"], ["ndots:5"]),
    ),
    (
        "another cluster domain",
        {},
        {"cluster_domain": "corp.internal"},
        DNSConfig(
            ["10.43.0.10"],
            ["shop.svc.corp.internal", "svc.corp.internal", "corp.internal", "corp.example"],
            ["ndots:5"],
        ),
    ),
    (
        "without a resolver file, Default resolves on the local machine and searches nothing",
        {"dnsPolicy": "Default"},
        {"resolv_conf": "", "node_ips": ["192.0.2.10"]},
        DNSConfig(["127.0.0.1"], ["."], []),
    ),
    (
        "an IPv6 node's local resolver is ::1",
        {"dnsPolicy": "Default"},
        {"resolv_conf": "", "node_ips": ["2001:db8::10"]},
        DNSConfig(["::1"], ["."], []),
    ),
    (
        "without a resolver file, ClusterFirst has the cluster's searches alone",
        {},
        {"resolv_conf": ""},
        DNSConfig(["10.43.0.10"], CLUSTER_SEARCH, ["ndots:5"]),
    ),
]


@pytest.mark.parametrize(
    ("spec", "configurer", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_pod_dns(host_file: str, spec: dict, configurer: dict, expected: DNSConfig | None) -> None:
    made = DNSConfigurer(
        **{"cluster_dns": ["10.43.0.10"], "resolv_conf": host_file, **configurer}
    ).pod_dns(pod(**spec))
    if expected is None:  # the same as ClusterFirst
        expected = DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=host_file).pod_dns(pod())
        expected = expected.config
    assert made.config == expected
    assert made.events == []


def test_without_a_cluster_dns_cluster_first_is_default_with_a_warning(host_file: str) -> None:
    made = DNSConfigurer(resolv_conf=host_file).pod_dns(pod())
    assert made.config == HOST
    message = (
        'kubelet does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" '
        'policy. Falling back to "Default" policy.'
    )
    assert made.events == [
        DNSEvent("node", "MissingClusterDNS", message),
        DNSEvent("pod", "MissingClusterDNS", f'pod: "web_shop(u-1)". {message}'),
    ]


def test_more_than_three_nameservers_are_cut_with_a_warning(host_file: str) -> None:
    spec = pod(dnsPolicy="Default", dnsConfig={"nameservers": ["203.0.113.1", "203.0.113.2"]})
    made = DNSConfigurer(resolv_conf=host_file).pod_dns(spec)
    assert made.config.servers == ["192.0.2.53", "192.0.2.54", "203.0.113.1"]
    assert made.events == [
        DNSEvent(
            "pod",
            "DNSConfigForming",
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
            "nameserver line is: 192.0.2.53 192.0.2.54 203.0.113.1",
        )
    ]


def _search_warning(applied: list[str]) -> DNSEvent:
    return DNSEvent(
        "pod",
        "DNSConfigForming",
        "Search Line limits were exceeded, some search paths have been omitted, the applied "
        f"search line is: {' '.join(applied)}",
    )


def test_more_than_32_search_domains_are_cut_with_a_warning(host_file: str) -> None:
    extra = [f"d{i}.example" for i in range(40)]
    made = DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=host_file).pod_dns(
        pod(dnsConfig={"searches": extra})
    )
    expected = [*CLUSTER_SEARCH, "corp.example", *extra[:28]]
    assert made.config.searches == expected
    assert made.events == [_search_warning(expected)]


def test_a_search_domain_longer_than_253_characters_is_dropped(host_file: str) -> None:
    long = ".".join(["a" * 63] * 4)  # 255 characters
    made = DNSConfigurer(resolv_conf=host_file).pod_dns(
        pod(dnsPolicy="None", dnsConfig={"searches": ["x.example", long, "y.example"]})
    )
    assert made.config.searches == ["x.example", "y.example"]
    assert made.events == [_search_warning(["x.example", "y.example"])]


def test_a_search_line_over_2048_characters_loses_domains_from_its_end(host_file: str) -> None:
    domains = [f"{i:02d}" + "x" * 198 for i in range(11)]  # 11 x 200 characters
    made = DNSConfigurer(resolv_conf=host_file).pod_dns(
        pod(dnsPolicy="None", dnsConfig={"searches": domains})
    )
    assert made.config.searches == domains[:10]  # 10 x 200 + 9 spaces = 2009
    assert made.events == [_search_warning(domains[:10])]


def test_the_node_file_is_read_each_time(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\n")
    configurer = DNSConfigurer(resolv_conf=str(path))
    assert configurer.pod_dns(pod(dnsPolicy="Default")).config.servers == ["192.0.2.1"]
    path.write_text("nameserver 192.0.2.2\n")
    assert configurer.pod_dns(pod(dnsPolicy="Default")).config.servers == ["192.0.2.2"]


def test_a_missing_node_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DNSError, match=f"open {missing}: no such file or directory"):
        DNSConfigurer(resolv_conf=str(missing)).pod_dns(pod())


def test_parse_resolv_conf() -> None:
    parsed = dns.parse_resolv_conf(
        "# comment\n"
        "nameserver 192.0.2.1\n"
        "  nameserver 192.0.2.2 # trailing\n"
        "search old.example\n"
        "search a.example. b.example\n"
        "options ndots:2\n"
        "options rotate timeout:1\n"
        "domain ignored.example\n"
    )
    assert parsed == dns.ResolvConf(
        ["192.0.2.1", "192.0.2.2"], ["a.example", "b.example"], ["rotate", "timeout:1"]
    )


def test_a_nameserver_line_without_an_address_is_an_error() -> None:
    with pytest.raises(DNSError, match=r"^nameserver list is empty $"):
        dns.parse_resolv_conf("nameserver\n")


def test_host_search_duplicates_of_the_clusters_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text("nameserver 192.0.2.1\nsearch cluster.local. corp.example\n")
    made = DNSConfigurer(cluster_dns=["10.43.0.10"], resolv_conf=str(path)).pod_dns(pod())
    assert made.config.searches == [*CLUSTER_SEARCH, "corp.example"]


@pytest.mark.parametrize(
    ("searches", "domain", "warning"),
    [
        (["a.example"], "cluster.local", None),
        (
            [f"d{i}.example" for i in range(30)],
            "cluster.local",
            "Resolv.conf file '{path}' contains search line consisting of more than 29 domains!",
        ),
        ([f"d{i}.example" for i in range(30)], "", None),
        (
            ["a" * 254],
            "cluster.local",
            'Resolv.conf file "{path}" contains a search path which length is more than allowed '
            "253 chars!",
        ),
        (
            ["b" * 250] * 9,
            "cluster.local",
            "Resolv.conf file '{path}' contains search line which length is more than allowed "
            "2048 chars!",
        ),
    ],
)
def test_check_limits_for_resolv_conf(
    tmp_path: Path, searches: list[str], domain: str, warning: str | None
) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(f"nameserver 192.0.2.1\nsearch {' '.join(searches)}\n")
    problems = DNSConfigurer(resolv_conf=str(path), cluster_domain=domain)
    expected = [] if warning is None else [warning.format(path=path)]
    assert problems.check_limits_for_resolv_conf() == expected


@pytest.mark.parametrize(
    ("text", "usable"),
    [
        ("nameserver 192.0.2.53\n", True),
        ("nameserver 10.255.255.53\nnameserver 2001:db8::53\n", True),
        ("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", False),
        ("nameserver 192.0.2.53\nnameserver 127.0.0.1\n", False),
        ("nameserver ::1\n", False),
        ("nameserver 169.254.169.253\n", False),
        ("nameserver 224.0.0.251\n", False),
        ("nameserver not-an-ip\n", False),
        ("search corp.example\n", False),  # no nameserver at all
        ("# nameserver 127.0.0.1\nnameserver 192.0.2.53\n", True),
    ],
)
def test_which_resolver_files_pods_can_use(tmp_path: Path, text: str, usable: bool) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    assert dns.is_usable_resolv_conf(path) is usable


def test_a_loopback_stub_gives_way_to_systemd_resolveds_upstream_file(tmp_path: Path) -> None:
    stub = tmp_path / "etc-resolv.conf"
    stub.write_text("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n")
    upstream = tmp_path / "run-resolv.conf"
    upstream.write_text("nameserver 192.0.2.53\n")
    generated = tmp_path / "agent" / "etc" / "resolv.conf"
    assert dns.choose_resolv_conf(generated, (stub, upstream)) == upstream
    assert dns.choose_resolv_conf(generated, (upstream, stub)) == upstream
    assert not generated.exists()


def test_with_no_usable_file_one_is_written_with_a_public_server(tmp_path: Path) -> None:
    stub = tmp_path / "etc-resolv.conf"
    stub.write_text("nameserver 127.0.0.53\n")
    generated = tmp_path / "agent" / "etc" / "resolv.conf"
    assert dns.choose_resolv_conf(generated, (stub, tmp_path / "missing")) == generated
    assert generated.read_text() == "nameserver 8.8.8.8\n"
