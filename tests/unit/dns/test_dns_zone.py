# ruff: noqa: E501 (the table keeps one case a line, to read as a table)
"""The cluster zone's answers, from the Kubernetes DNS specification's examples (schema 1.1.0)
and CoreDNS' `kubernetes` plugin where the specification leaves the choice open."""

from __future__ import annotations

import pytest
from dnslib import QTYPE, RCODE, RR
from tests.unit.dns.cluster_objects import cluster_index

from kubelite.dns.zone import Zone, reverse_address


def rows(records: list[RR]) -> list[str]:
    return [f"{r.rname} {r.ttl} {QTYPE[r.rtype]} {r.rdata}" for r in records]


@pytest.fixture
def zone() -> Zone:
    return Zone(cluster_index())


SOA = "cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local."

# (question, type, rcode, answer, additional): answers in any order.
CASES = [
    # 2.2: the schema version.
    ("dns-version.cluster.local.", "TXT", "NOERROR", ['dns-version.cluster.local. 28800 TXT "1.1.0"'], []),
    # 2.3.1: a Service with a ClusterIP.
    ("kubernetes.default.svc.cluster.local.", "A", "NOERROR", ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"], []),
    # Comparisons are case-insensitive; the answer keeps the question's spelling.
    ("KuberNetes.Default.svc.cluster.local.", "A", "NOERROR", ["KuberNetes.Default.svc.cluster.local. 5 A 10.43.0.1"], []),
    # AAAA for an IPv4 Service: the name exists, no data; and the reverse for IPv6.
    ("kubernetes.default.svc.cluster.local.", "AAAA", "NOERROR", [], []),
    ("web6.default.svc.cluster.local.", "AAAA", "NOERROR", ["web6.default.svc.cluster.local. 5 AAAA fd00:43::7"], []),
    ("web6.default.svc.cluster.local.", "A", "NOERROR", [], []),
    # 2.3.2: SRV for named ports, the Service's A record in the additional section.
    (
        "_https._tcp.kubernetes.default.svc.cluster.local.",
        "SRV",
        "NOERROR",
        ["_https._tcp.kubernetes.default.svc.cluster.local. 5 SRV 0 100 443 kubernetes.default.svc.cluster.local."],
        ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"],
    ),
    # A port of another protocol, or an unknown port name, is no such name.
    ("_https._udp.kubernetes.default.svc.cluster.local.", "SRV", "NXDOMAIN", [], []),
    ("_nope._tcp.kubernetes.default.svc.cluster.local.", "SRV", "NXDOMAIN", [], []),
    # SRV of the Service's own name: every port, named or not (CoreDNS), weights sharing 100.
    (
        "web.default.svc.cluster.local.",
        "SRV",
        "NOERROR",
        [
            "web.default.svc.cluster.local. 5 SRV 0 50 80 web.default.svc.cluster.local.",
            "web.default.svc.cluster.local. 5 SRV 0 50 8080 web.default.svc.cluster.local.",
        ],
        ["web.default.svc.cluster.local. 5 A 10.43.7.7"],
    ),
    # 2.3.3: PTR of a cluster IP.
    ("1.0.43.10.in-addr.arpa.", "PTR", "NOERROR", ["1.0.43.10.in-addr.arpa. 5 PTR kubernetes.default.svc.cluster.local."], []),
    (
        "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa.",
        "PTR",
        "NOERROR",
        ["7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa. 5 PTR web6.default.svc.cluster.local."],
        [],
    ),
    # 2.4.1: a headless Service: its ready endpoints (not-ready ones are left out).
    (
        "headless.default.svc.cluster.local.",
        "A",
        "NOERROR",
        [
            "headless.default.svc.cluster.local. 5 A 10.42.0.100",
            "headless.default.svc.cluster.local. 5 A 10.42.0.101",
            "headless.default.svc.cluster.local. 5 A 10.42.0.102",
        ],
        [],
    ),
    ("my-pet.headless.default.svc.cluster.local.", "A", "NOERROR", ["my-pet.headless.default.svc.cluster.local. 5 A 10.42.0.100"], []),
    # An endpoint without a hostname goes by its dashed address.
    ("10-42-0-102.headless.default.svc.cluster.local.", "A", "NOERROR", ["10-42-0-102.headless.default.svc.cluster.local. 5 A 10.42.0.102"], []),
    ("not-ready.headless.default.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    # "If there are no ready endpoints for the headless Service, the answer should be NXDOMAIN."
    ("empty-headless.default.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    # A StatefulSet's pods behind a headless Service (an unset `ready` counts as ready).
    ("redis-st-0.redis-svc.default.svc.cluster.local.", "A", "NOERROR", ["redis-st-0.redis-svc.default.svc.cluster.local. 5 A 10.42.0.20"], []),
    ("redis-st-1.redis-svc.default.svc.cluster.local.", "A", "NOERROR", ["redis-st-1.redis-svc.default.svc.cluster.local. 5 A 10.42.0.21"], []),
    # 2.4.2: SRV of a headless Service: one per ready endpoint and named port.
    (
        "_https._tcp.headless.default.svc.cluster.local.",
        "SRV",
        "NOERROR",
        [
            "_https._tcp.headless.default.svc.cluster.local. 5 SRV 0 33 443 my-pet.headless.default.svc.cluster.local.",
            "_https._tcp.headless.default.svc.cluster.local. 5 SRV 0 33 443 my-pet-2.headless.default.svc.cluster.local.",
            "_https._tcp.headless.default.svc.cluster.local. 5 SRV 0 33 443 10-42-0-102.headless.default.svc.cluster.local.",
        ],
        [
            "my-pet.headless.default.svc.cluster.local. 5 A 10.42.0.100",
            "my-pet-2.headless.default.svc.cluster.local. 5 A 10.42.0.101",
            "10-42-0-102.headless.default.svc.cluster.local. 5 A 10.42.0.102",
        ],
    ),
    # A headless Service whose slice has no ports: addresses, and no SRV.
    ("portless.default.svc.cluster.local.", "A", "NOERROR", ["portless.default.svc.cluster.local. 5 A 10.42.0.30"], []),
    ("portless.default.svc.cluster.local.", "SRV", "NOERROR", [], []),
    # 2.4.3: PTR of a ready endpoint.
    ("100.0.42.10.in-addr.arpa.", "PTR", "NOERROR", ["100.0.42.10.in-addr.arpa. 5 PTR my-pet.headless.default.svc.cluster.local."], []),
    # A ClusterIP Service's endpoints have names too (CoreDNS).
    ("10-42-0-7.web.default.svc.cluster.local.", "A", "NOERROR", ["10-42-0-7.web.default.svc.cluster.local. 5 A 10.42.0.7"], []),
    # 2.5: ExternalName: a CNAME (its target outside the zone is resolved upstream).
    ("foo.default.svc.cluster.local.", "CNAME", "NOERROR", ["foo.default.svc.cluster.local. 5 CNAME www.example.com."], []),
    # ... inside the zone, the target's records follow the CNAME.
    (
        "alias.default.svc.cluster.local.",
        "A",
        "NOERROR",
        [
            "alias.default.svc.cluster.local. 5 CNAME web.default.svc.cluster.local.",
            "web.default.svc.cluster.local. 5 A 10.43.7.7",
        ],
        [],
    ),
    # An ExternalName that is an address is no name at all (CoreDNS).
    ("ip-alias.default.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    ("kubernetes.default.svc.cluster.local.", "CNAME", "NOERROR", [], []),
    # 2.6: <a-b-c-d>.<ns>.pod.<zone> (`pods insecure`).
    ("10-42-0-9.default.pod.cluster.local.", "A", "NOERROR", ["10-42-0-9.default.pod.cluster.local. 5 A 10.42.0.9"], []),
    ("fd00--9.default.pod.cluster.local.", "AAAA", "NOERROR", ["fd00--9.default.pod.cluster.local. 5 AAAA fd00::9"], []),
    ("10-42-0-9.nowhere.pod.cluster.local.", "A", "NXDOMAIN", [], []),
    ("300-1-1-1.default.pod.cluster.local.", "A", "NXDOMAIN", [], []),
    # NXDOMAIN versus NOERROR with no data.
    ("missing.default.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    ("web.nowhere.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    ("default.svc.cluster.local.", "A", "NOERROR", [], []),
    ("default.svc.cluster.local.", "TXT", "NOERROR", [], []),
    ("nowhere.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    ("svc.cluster.local.", "A", "NOERROR", [], []),
    ("pod.cluster.local.", "A", "NOERROR", [], []),
    ("default.pod.cluster.local.", "A", "NOERROR", [], []),
    ("cluster.local.", "A", "NOERROR", [], []),
    ("kubernetes.default.svc.cluster.local.", "TXT", "NOERROR", [], []),
    ("kubernetes.default.svc.cluster.local.", "MX", "NOERROR", [], []),
    ("missing.default.svc.cluster.local.", "TXT", "NXDOMAIN", [], []),
    ("foo.cluster.local.", "A", "NXDOMAIN", [], []),
    ("a.b._https._tcp.kubernetes.default.svc.cluster.local.", "A", "NXDOMAIN", [], []),
    ("dns-version.cluster.local.", "A", "NXDOMAIN", [], []),
    # The zone apex: its SOA, and NS at the kube-dns Service's address.
    ("cluster.local.", "NS", "NOERROR", ["cluster.local. 5 NS ns.dns.cluster.local."], ["ns.dns.cluster.local. 5 A 10.43.0.10"]),
    ("ns.dns.cluster.local.", "A", "NOERROR", ["ns.dns.cluster.local. 5 A 10.43.0.10"], []),
    ("cluster.local.", "AXFR", "REFUSED", [], []),
]  # fmt: skip


@pytest.mark.parametrize(("name", "qtype", "rcode", "answer", "additional"), CASES)
def test_answers_follow_the_specification(
    zone: Zone, name: str, qtype: str, rcode: str, answer: list[str], additional: list[str]
) -> None:
    reply = zone.answer(name, getattr(QTYPE, qtype))
    assert reply is not None
    assert RCODE[reply.rcode] == rcode
    assert sorted(rows(reply.answer)) == sorted(answer)
    assert sorted(rows(reply.additional)) == sorted(additional)
    negative = not answer
    if negative and rcode in ("NOERROR", "NXDOMAIN"):
        # Negative answers carry the zone's SOA, its minimum the 5 s they may be cached.
        assert len(reply.authority) == 1
        assert rows(reply.authority)[0].startswith(SOA)
        assert reply.authority[0].rdata.times[1:] == (7200, 1800, 86400, 5)
    else:
        assert reply.authority == []


def test_the_apex_soa_answers_a_soa_question(zone: Zone) -> None:
    reply = zone.answer("cluster.local.", QTYPE.SOA)
    assert reply is not None and reply.rcode == RCODE.NOERROR
    assert rows(reply.answer)[0].startswith(SOA)


def test_an_external_name_outside_the_zone_is_chased_upstream(zone: Zone) -> None:
    reply = zone.answer("foo.default.svc.cluster.local.", QTYPE.A)
    assert reply is not None
    assert rows(reply.answer) == ["foo.default.svc.cluster.local. 5 CNAME www.example.com."]
    assert reply.chase == ("www.example.com.", QTYPE.A)


@pytest.mark.parametrize(
    ("name", "qtype"),
    [
        ("example.com.", QTYPE.A),
        ("9.9.9.9.in-addr.arpa.", QTYPE.PTR),  # no cluster address: the upstream's business
        ("1.0.43.10.in-addr.arpa.", QTYPE.A),
        ("43.10.in-addr.arpa.", QTYPE.PTR),
        ("cluster.local.example.com.", QTYPE.A),
    ],
)
def test_names_outside_the_cluster_are_left_to_upstream(zone: Zone, name: str, qtype: int) -> None:
    assert zone.answer(name, qtype) is None


def test_a_missing_name_is_servfail_until_the_informers_have_listed(zone: Zone) -> None:
    zone.index.synced = lambda: False
    reply = zone.answer("missing.default.svc.cluster.local.", QTYPE.A)
    assert reply is not None and reply.rcode == RCODE.SERVFAIL
    # Existing names still answer.
    reply = zone.answer("kubernetes.default.svc.cluster.local.", QTYPE.A)
    assert reply is not None and rows(reply.answer)


def test_a_cname_chain_inside_the_zone_stops_at_a_loop(zone: Zone) -> None:
    from tests.unit.dns.cluster_objects import service

    zone.index.on_service(
        "ADDED",
        service("loop", type="ExternalName", externalName="loop.default.svc.cluster.local"),
    )
    reply = zone.answer("loop.default.svc.cluster.local.", QTYPE.A)
    assert reply is not None
    assert (reply.rcode, reply.answer) == (RCODE.NOERROR, [])


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("1.0.43.10.in-addr.arpa", "10.43.0.1"),
        ("7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa", "fd00:43::7"),
        ("0.43.10.in-addr.arpa", None),
        ("x.0.43.10.in-addr.arpa", None),
    ],
)
def test_reverse_names_give_their_address(name: str, address: str | None) -> None:
    assert reverse_address(name) == address
