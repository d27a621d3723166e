"""The DNS server on real loopback sockets, queried with dnspython (an implementation other than
the server's own dnslib, so that the wire format is checked by a second parser): UDP and TCP,
EDNS0, truncation, malformed messages, and forwarding with its cache against a tiny upstream
server started here."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest
from dnslib import QTYPE, RCODE, RR, SOA, A, DNSRecord
from tests.unit.dns.cluster_objects import cluster_index, endpoint, endpoint_slice, service

from kubelite.cli.cluster.cluster_dns import bind
from kubelite.dns.forwarder import Forwarder, nameservers, upstreams_from
from kubelite.dns.server import DNSServer
from kubelite.dns.zone import Zone

TIMEOUT = 3.0


class Clock:
    """A monotonic clock the test moves by hand (TTLs count down on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Upstream:
    """A tiny authoritative server: fixed records, every question it gets written down."""

    records: dict[tuple[str, int], list[RR]]
    truncate_udp: bool = False
    questions: list[tuple[str, str, int]] = field(default_factory=list)
    port: int = 0

    def answer(self, data: bytes, transport: str) -> bytes:
        query = DNSRecord.parse(data)
        name = str(query.q.qname).lower()
        self.questions.append((transport, name, query.q.qtype))
        reply = query.reply()
        found = self.records.get((name, query.q.qtype))
        if found is not None:
            for record in found:
                reply.add_answer(record)
        else:
            if not any(n == name for n, _ in self.records):
                reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(
                RR("example.com.", QTYPE.SOA, ttl=60, rdata=SOA("ns.", "h.", (1, 2, 3, 4, 10)))
            )
        if transport == "udp" and self.truncate_udp:
            reply = reply.truncate()
            reply.add_question(query.q)
        return bytes(reply.pack())

    async def start(self) -> tuple[asyncio.DatagramTransport, asyncio.Server]:
        udp, tcp = bind("127.0.0.1", 0)
        self.port = udp.getsockname()[1]
        upstream = self

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(upstream.answer(data, "udp"), addr)  # type: ignore[attr-defined]

        async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            answer = self.answer(await reader.readexactly(length), "tcp")
            writer.write(struct.pack("!H", len(answer)) + answer)
            await writer.drain()
            writer.close()

        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(Protocol, sock=udp)
        server = await asyncio.start_server(stream, sock=tcp)
        return transport, server


@dataclass
class Env:
    server: DNSServer
    port: int
    upstream: Upstream
    clock: Clock

    async def udp(self, query: dns.message.Message) -> dns.message.Message:
        return await dns.asyncquery.udp(query, "127.0.0.1", port=self.port, timeout=TIMEOUT)

    async def tcp(self, query: dns.message.Message) -> dns.message.Message:
        return await dns.asyncquery.tcp(query, "127.0.0.1", port=self.port, timeout=TIMEOUT)

    async def raw(self, data: bytes, wait: float = TIMEOUT) -> bytes | None:
        """Send bytes as they are; the answer, or None if none comes within `wait`."""

        def exchange() -> bytes | None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.settimeout(wait)
                sock.sendto(data, ("127.0.0.1", self.port))
                try:
                    return sock.recv(65535)
                except TimeoutError:
                    return None

        return await asyncio.to_thread(exchange)


EXAMPLE = [RR("www.example.com.", QTYPE.A, ttl=300, rdata=A("192.0.2.10"))]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    upstream = Upstream({("www.example.com.", QTYPE.A): EXAMPLE})
    up_udp, up_tcp = await upstream.start()
    clock = Clock()
    index = cluster_index()
    forwarder = Forwarder([("127.0.0.1", upstream.port)], timeout=1.0, clock=clock)
    server = DNSServer(Zone(index), forwarder, clock=clock)
    udp, tcp = bind("127.0.0.1", 0)
    transport = await server.serve_udp(udp)
    tcp_server = await server.serve_tcp(tcp)
    try:
        yield Env(server, udp.getsockname()[1], upstream, clock)
    finally:
        transport.close()
        tcp_server.close()
        await server.close()
        up_udp.close()
        up_tcp.close()


def texts(message: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(
        f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
        for rrset in getattr(message, section)
        for rdata in rrset
    )


async def test_udp_and_tcp_give_the_same_authoritative_answer(env: Env) -> None:
    query = dns.message.make_query("kubernetes.default.svc.cluster.local", "A")
    for answer in (await env.udp(query), await env.tcp(query)):
        assert answer.rcode() == dns.rcode.NOERROR
        assert texts(answer) == ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"]
        assert answer.flags & dns.flags.AA
        assert answer.id == query.id


async def test_a_negative_answer_has_the_soa_in_authority(env: Env) -> None:
    answer = await env.udp(dns.message.make_query("nope.default.svc.cluster.local", "A"))
    assert answer.rcode() == dns.rcode.NXDOMAIN
    [soa] = texts(answer, "authority")
    assert soa.startswith("cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local.")
    nodata = await env.udp(dns.message.make_query("kubernetes.default.svc.cluster.local", "AAAA"))
    assert (nodata.rcode(), nodata.answer, len(nodata.authority)) == (dns.rcode.NOERROR, [], 1)


async def test_a_new_service_resolves_though_the_same_query_was_answered_before(env: Env) -> None:
    query = dns.message.make_query("late.default.svc.cluster.local", "A")
    assert (await env.udp(query)).rcode() == dns.rcode.NXDOMAIN
    # The same bytes again: answered from the packed answers, still NXDOMAIN.
    assert (await env.udp(query)).rcode() == dns.rcode.NXDOMAIN
    env.server.zone.index.on_service(
        "ADDED", service("late", clusterIP="10.43.9.9", clusterIPs=["10.43.9.9"], ports=[])
    )
    env.server.zone.index.on_service(
        "MODIFIED",
        service(
            "late",
            clusterIP="10.43.9.9",
            clusterIPs=["10.43.9.9"],
            ports=[{"name": "http", "port": 80, "protocol": "TCP"}],
        ),
    )
    answer = await env.udp(query)
    assert texts(answer) == ["late.default.svc.cluster.local. 5 A 10.43.9.9"]
    env.server.zone.index.on_service("DELETED", service("late"))
    assert (await env.udp(query)).rcode() == dns.rcode.NXDOMAIN


@pytest.fixture
def big_headless(env: Env) -> str:
    env.server.zone.index.on_service("ADDED", service("big", clusterIP="None", ports=[]))
    endpoints = [endpoint(f"10.42.1.{i}") for i in range(1, 101)]
    env.server.zone.index.on_endpoint_slice(
        "ADDED", endpoint_slice("big-1", "big", endpoints, None)
    )
    return "big.default.svc.cluster.local"


async def test_an_answer_too_large_for_udp_is_truncated(env: Env, big_headless: str) -> None:
    query = dns.message.make_query(big_headless, "A")
    data = query.to_wire()
    wire = await env.raw(data)
    assert wire is not None and len(wire) <= 512
    answer = dns.message.from_wire(wire, one_rr_per_rrset=True)
    assert answer.flags & dns.flags.TC
    assert 0 < len(answer.answer) < 100
    # Over TCP the whole answer comes, without TC.
    full = await env.tcp(query)
    assert not full.flags & dns.flags.TC
    assert len(texts(full)) == 100


async def test_edns0_payload_size_lets_a_larger_udp_answer_through(
    env: Env, big_headless: str
) -> None:
    query = dns.message.make_query(big_headless, "A", use_edns=0, payload=4096, want_dnssec=True)
    answer = await env.udp(query)
    assert not answer.flags & dns.flags.TC
    assert len(texts(answer)) == 100
    # The OPT record comes back with the client's size and DO bit.
    assert answer.edns == 0 and answer.payload == 4096
    assert answer.ednsflags & dns.flags.DO
    small = dns.message.make_query(big_headless, "A", use_edns=0, payload=1232)
    wire = await env.raw(small.to_wire())
    assert wire is not None and len(wire) <= 1232
    assert dns.message.from_wire(wire).flags & dns.flags.TC


async def test_an_unknown_edns_version_gets_badvers(env: Env) -> None:
    query = dns.message.make_query("kubernetes.default.svc.cluster.local", "A", use_edns=1)
    answer = await env.udp(query)
    assert answer.rcode() == dns.rcode.BADVERS


async def test_malformed_messages_get_formerr_and_the_server_goes_on(env: Env) -> None:
    good = dns.message.make_query("kubernetes.default.svc.cluster.local", "A")
    wire = good.to_wire()
    # A header that promises a question the message does not have.
    broken = await env.raw(wire[:2] + wire[2:12] + b"\x07example")
    assert broken is not None
    reply = dns.message.from_wire(broken)
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.id == good.id and reply.flags & dns.flags.QR
    # Less than a header: nothing to answer.
    assert await env.raw(b"\x12\x34\x01", wait=0.3) is None
    # No question, or two.
    none = dns.message.Message(id=7)
    assert dns.message.from_wire(await env.raw(none.to_wire()) or b"").rcode() == (
        dns.rcode.FORMERR
    )
    two = dns.message.make_query("a.cluster.local", "A")
    two.question.append(dns.message.make_query("b.cluster.local", "A").question[0])
    assert dns.message.from_wire(await env.raw(two.to_wire()) or b"").rcode() == (dns.rcode.FORMERR)
    # ...and the server still answers.
    assert texts(await env.udp(good)) == ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"]
    assert texts(await env.tcp(good)) == ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"]


async def test_other_opcodes_get_notimp_and_responses_are_ignored(env: Env) -> None:
    notify = dns.message.make_query("cluster.local", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    answer = dns.message.from_wire(await env.raw(notify.to_wire()) or b"")
    assert answer.rcode() == dns.rcode.NOTIMP
    response = dns.message.make_query("kubernetes.default.svc.cluster.local", "A")
    response.flags |= dns.flags.QR
    assert await env.raw(response.to_wire(), wait=0.3) is None


async def test_external_names_are_forwarded_and_cached_with_ttls_counting_down(env: Env) -> None:
    query = dns.message.make_query("www.example.com", "A")
    first = await env.udp(query)
    # The upstream's 300 s is capped at 30 s, as the default Corefile's `cache 30` does.
    assert texts(first) == ["www.example.com. 30 A 192.0.2.10"]
    assert first.flags & dns.flags.RA and not first.flags & dns.flags.AA
    assert env.upstream.questions == [("udp", "www.example.com.", QTYPE.A)]
    env.clock.now += 12
    again = await env.udp(query)
    assert texts(again) == ["www.example.com. 18 A 192.0.2.10"]
    # Another spelling of the name is the same question (the records keep the upstream's).
    over_tcp = await env.tcp(dns.message.make_query("WWW.Example.com", "A"))
    assert texts(over_tcp) == ["www.example.com. 18 A 192.0.2.10"]
    assert len(env.upstream.questions) == 1
    env.clock.now += 20  # past the 30 s
    assert texts(await env.udp(query)) == ["www.example.com. 30 A 192.0.2.10"]
    assert len(env.upstream.questions) == 2


async def test_upstream_denials_are_cached_by_their_soa(env: Env) -> None:
    query = dns.message.make_query("missing.example.com", "A")
    first = await env.udp(query)
    assert first.rcode() == dns.rcode.NXDOMAIN
    # RFC 2308: the smaller of the SOA's TTL (60) and its minimum (10).
    [soa] = texts(first, "authority")
    assert soa.startswith("example.com. 10 SOA")
    env.clock.now += 4
    second = await env.udp(query)
    assert texts(second, "authority")[0].startswith("example.com. 6 SOA")
    assert len(env.upstream.questions) == 1


async def test_a_truncated_upstream_answer_is_asked_again_over_tcp(env: Env) -> None:
    env.upstream.truncate_udp = True
    answer = await env.udp(dns.message.make_query("www.example.com", "A"))
    assert texts(answer) == ["www.example.com. 30 A 192.0.2.10"]
    assert [t for t, _, _ in env.upstream.questions] == ["udp", "tcp"]


async def test_concurrent_questions_ask_upstream_once(env: Env) -> None:
    queries = [dns.message.make_query("www.example.com", "A") for _ in range(5)]
    answers = await asyncio.gather(*(env.udp(q) for q in queries))
    assert all(texts(a) == ["www.example.com. 30 A 192.0.2.10"] for a in answers)
    assert len(env.upstream.questions) == 1


async def test_an_external_name_service_is_chased_upstream(env: Env) -> None:
    answer = await env.udp(dns.message.make_query("foo.default.svc.cluster.local", "A"))
    assert texts(answer) == [
        "foo.default.svc.cluster.local. 5 CNAME www.example.com.",
        "www.example.com. 30 A 192.0.2.10",
    ]


async def test_no_upstream_answering_gives_servfail() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    forwarder = Forwarder([("127.0.0.1", silent.getsockname()[1])], timeout=0.2)
    server = DNSServer(Zone(cluster_index()), forwarder)
    udp, tcp = bind("127.0.0.1", 0)
    transport = await server.serve_udp(udp)
    try:
        query = dns.message.make_query("www.example.com", "A")
        answer = await dns.asyncquery.udp(query, "127.0.0.1", port=udp.getsockname()[1], timeout=3)
        assert answer.rcode() == dns.rcode.SERVFAIL
    finally:
        transport.close()
        tcp.close()
        silent.close()
        await server.close()


async def test_the_server_never_forwards_to_itself(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(
        "search example.com\nnameserver 10.0.0.5\nnameserver 10.0.0.6\n"
        "nameserver fe80::1%eth0\nnameserver 127.0.0.53\noptions ndots:2\n"
    )
    assert nameservers(resolv.read_text()) == ["10.0.0.5", "10.0.0.6", "fe80::1", "127.0.0.53"]
    # Its own address and port, or loopback when it answers on every address, are left out.
    assert upstreams_from(resolv, own=("10.0.0.5", 53)) == [
        ("10.0.0.6", 53),
        ("fe80::1", 53),
        ("127.0.0.53", 53),
    ]
    assert upstreams_from(resolv, own=("0.0.0.0", 53)) == [
        ("10.0.0.5", 53),
        ("10.0.0.6", 53),
        ("fe80::1", 53),
    ]
    assert len(upstreams_from(resolv, own=("10.0.0.5", 5353))) == 4
    # The kube-dns Service's address leads back here too: the server tells the forwarder.
    forwarder = Forwarder([("10.43.0.10", 53)], timeout=0.2)
    DNSServer(Zone(cluster_index()), forwarder)
    assert forwarder.is_self("10.43.0.10") and not forwarder.is_self("10.0.0.6")
    with contextlib.suppress(Exception):
        entry = await forwarder.resolve("www.example.com.", QTYPE.A, 1)
        assert entry.rcode == RCODE.SERVFAIL


async def test_several_addresses_come_in_a_shuffled_order(env: Env) -> None:
    # The default Corefile's `loadbalance`: clients that take the first address spread out.
    query = dns.message.make_query("headless.default.svc.cluster.local", "A")
    orders = set()
    for _ in range(30):
        answer = await env.udp(query)
        orders.add(tuple(str(rdata) for rdata in answer.answer[0]))
    assert len(orders) > 1
    assert {frozenset(order) for order in orders} == {
        frozenset({"10.42.0.100", "10.42.0.101", "10.42.0.102"})
    }


async def test_one_tcp_connection_carries_several_queries(env: Env) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", env.port)
    try:
        names = ["kubernetes.default.svc.cluster.local", "web.default.svc.cluster.local"]
        for name in names:
            wire = dns.message.make_query(name, "A").to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        answers = []
        for _ in names:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            answers.append(dns.message.from_wire(await reader.readexactly(length)))
        assert [texts(a) for a in answers] == [
            ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"],
            ["web.default.svc.cluster.local. 5 A 10.43.7.7"],
        ]
    finally:
        writer.close()
        await writer.wait_closed()


async def test_no_opt_record_comes_back_to_a_query_without_one(env: Env) -> None:
    answer = await env.udp(dns.message.make_query("kubernetes.default.svc.cluster.local", "A"))
    assert answer.edns == -1


async def test_a_slow_upstream_holds_up_no_cluster_answer() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    forwarder = Forwarder([("127.0.0.1", silent.getsockname()[1])], timeout=2.0)
    server = DNSServer(Zone(cluster_index()), forwarder)
    udp, tcp = bind("127.0.0.1", 0)
    port = udp.getsockname()[1]
    transport = await server.serve_udp(udp)
    try:
        external = asyncio.create_task(
            dns.asyncquery.udp(
                dns.message.make_query("www.example.com", "A"), "127.0.0.1", port=port, timeout=3
            )
        )
        await asyncio.sleep(0.1)  # the external question is now waiting on its upstream
        started = asyncio.get_running_loop().time()
        query = dns.message.make_query("kubernetes.default.svc.cluster.local", "A")
        answer = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=3)
        assert texts(answer) == ["kubernetes.default.svc.cluster.local. 5 A 10.43.0.1"]
        assert asyncio.get_running_loop().time() - started < 0.5
        assert not external.done()
        assert (await external).rcode() == dns.rcode.SERVFAIL
    finally:
        transport.close()
        tcp.close()
        silent.close()
        await server.close()
