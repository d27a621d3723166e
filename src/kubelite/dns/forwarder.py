"""Every name outside the cluster goes to the node's own resolvers, through a cache.

This is what the default Corefile's `forward . /etc/resolv.conf` and `cache 30` do: the
nameservers of the node's /etc/resolv.conf (never this server itself, which would loop) are
asked in turn, over UDP with EDNS0 and again over TCP when the answer comes back truncated; an
answer is kept for its smallest TTL, bounded to between 5 and 30 s (denials by their SOA's
minimum, the same bounds; server failures for 5 s), and served from the cache with the TTLs
counting down. Questions asked while the same question is on its way upstream wait for that
answer instead of asking again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dnslib import EDNS0, QTYPE, RCODE, RR, DNSError, DNSHeader, DNSQuestion, DNSRecord

log = logging.getLogger(__name__)

DNS_PORT = 53
# How long one upstream server gets before the next is asked (CoreDNS forward's read timeout
# is 2 s).
UPSTREAM_TIMEOUT = 2.0
# The UDP payload size we offer upstream (the DNS flag day 2020 value).
UPSTREAM_PAYLOAD = 1232
# CoreDNS' cache: `cache 30` caps every TTL at 30 s; 5 s is its minimum for answers and
# denials, and how long a server failure is remembered.
MAX_TTL = 30
MIN_TTL = 5
FAILURE_TTL = 5
# Entries kept (CoreDNS' default capacity per kind of answer is 9984).
CACHE_SIZE = 10_000

Key = tuple[str, int, int]


def nameservers(text: str) -> list[str]:
    """The `nameserver` addresses of a resolv.conf, in order (a `%zone` suffix is dropped)."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            address = parts[1].split("%", 1)[0]
            try:
                found.append(str(ipaddress.ip_address(address)))
            except ValueError:
                continue
    return found


def upstreams_from(path: Path, *, own: tuple[str, int]) -> list[tuple[str, int]]:
    """The node's resolvers, less the address this server answers on (and loopback, when it
    answers on every address), so that nothing is ever forwarded back to itself."""
    try:
        text = path.read_text()
    except OSError as e:
        log.warning("cannot read %s: %s; names outside the cluster will fail", path, e)
        return []
    host, port = own
    everywhere = ipaddress.ip_address(host).is_unspecified
    result = []
    for address in nameservers(text):
        itself = address == host or (everywhere and ipaddress.ip_address(address).is_loopback)
        if port == DNS_PORT and itself:
            continue
        result.append((address, DNS_PORT))
    return result


@dataclass
class Cached:
    """An upstream answer, kept from `stored` (monotonic seconds) for `ttl` seconds."""

    rcode: int
    answer: list[RR]
    authority: list[RR]
    additional: list[RR]
    recursion_available: bool
    stored: float
    ttl: int

    def remaining(self, now: float) -> int:
        return self.ttl - int(now - self.stored)

    def same_until(self, now: float) -> float:
        """When the TTLs served from this entry next change (or it expires)."""
        return min(self.stored + int(now - self.stored) + 1, self.stored + self.ttl)

    def sections(self, now: float) -> tuple[list[RR], list[RR], list[RR]]:
        """Copies of the records, every TTL set to the time left (as CoreDNS' cache does)."""
        ttl = max(0, self.remaining(now))

        def aged(records: list[RR]) -> list[RR]:
            return [RR(r.rname, r.rtype, r.rclass, ttl, r.rdata) for r in records]

        return aged(self.answer), aged(self.authority), aged(self.additional)


def _ttl_of(response: DNSRecord) -> int:
    """How long an answer may be cached: the smallest TTL of its records, or for a denial
    the SOA's (RFC 2308: the smaller of its TTL and its minimum), within CoreDNS' bounds."""
    if response.header.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
        return FAILURE_TTL
    records = [r for r in (*response.rr, *response.auth, *response.ar) if r.rtype != QTYPE.OPT]
    if response.header.rcode == RCODE.NXDOMAIN or not response.rr:
        soas = [r for r in response.auth if r.rtype == QTYPE.SOA]
        ttl = min((min(r.ttl, r.rdata.times[4]) for r in soas), default=MIN_TTL)
    else:
        ttl = min((r.ttl for r in records), default=MIN_TTL)
    return max(MIN_TTL, min(MAX_TTL, ttl))


class _UpstreamDatagram(asyncio.DatagramProtocol):
    """Waits for the one datagram that answers `query` (same ID and question); anything else
    arriving on the socket (a late or forged answer) is ignored."""

    def __init__(self, query: DNSRecord, done: asyncio.Future[DNSRecord]) -> None:
        self.query = query
        self.done = done

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.done.done():
            return
        try:
            response = DNSRecord.parse(data)
        except DNSError:
            return
        if _answers(self.query, response):
            self.done.set_result(response)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


def _answers(query: DNSRecord, response: DNSRecord) -> bool:
    if response.header.id != query.header.id or not response.header.qr:
        return False
    if len(response.questions) != 1:
        return False
    asked, got = query.q, response.q
    return (
        str(asked.qname).lower() == str(got.qname).lower()
        and asked.qtype == got.qtype
        and asked.qclass == got.qclass
    )


class Forwarder:
    """Answers names outside the cluster by asking the node's resolvers, caching their answers and
    joining identical questions in flight."""

    def __init__(
        self,
        upstreams: Sequence[tuple[str, int]],
        *,
        timeout: float = UPSTREAM_TIMEOUT,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.cache_size = cache_size
        self.clock = clock
        # Addresses that are this server seen from outside (the kube-dns cluster IP): an
        # upstream among them is skipped. Set by the server once it knows them.
        self.is_self: Callable[[str], bool] = lambda address: False
        self._cache: dict[Key, Cached] = {}
        self._inflight: dict[Key, asyncio.Future[Cached]] = {}

    def cached(self, name: str, qtype: int, qclass: int) -> Cached | None:
        """The cached answer to a question, if it is still fresh."""
        entry = self._cache.get((name.lower(), qtype, qclass))
        if entry is not None and entry.remaining(self.clock()) > 0:
            return entry
        return None

    async def resolve(self, name: str, qtype: int, qclass: int) -> Cached:
        """The answer to a question, from the cache or from upstream."""
        key = (name.lower(), qtype, qclass)
        entry = self.cached(*key)
        if entry is not None:
            return entry
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Cached] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            entry = await self._ask(key)
            self._store(key, entry)
            future.set_result(entry)
            return entry
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as e:
            future.set_exception(e)
            # Nobody may be waiting for it: keep asyncio from reporting it as never retrieved.
            future.exception()
            raise
        finally:
            del self._inflight[key]

    def _store(self, key: Key, entry: Cached) -> None:
        if entry.rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN, RCODE.SERVFAIL):
            return
        if len(self._cache) >= self.cache_size:
            now = self.clock()
            for stale in [k for k, v in self._cache.items() if v.remaining(now) <= 0]:
                del self._cache[stale]
            while len(self._cache) >= self.cache_size:
                del self._cache[next(iter(self._cache))]
        self._cache[key] = entry

    async def _ask(self, key: Key) -> Cached:
        name, qtype, qclass = key
        for address, port in self.upstreams:
            if self.is_self(address):
                continue
            try:
                response = await self._exchange((address, port), name, qtype, qclass)
            except (OSError, TimeoutError, DNSError, asyncio.IncompleteReadError) as e:
                log.debug("upstream %s:%d failed for %s: %r", address, port, name, e)
                continue
            return Cached(
                rcode=response.header.rcode,
                answer=list(response.rr),
                authority=list(response.auth),
                additional=[r for r in response.ar if r.rtype != QTYPE.OPT],
                recursion_available=bool(response.header.ra),
                stored=self.clock(),
                ttl=_ttl_of(response),
            )
        return Cached(RCODE.SERVFAIL, [], [], [], True, self.clock(), FAILURE_TTL)

    async def _exchange(
        self, server: tuple[str, int], name: str, qtype: int, qclass: int
    ) -> DNSRecord:
        query = DNSRecord(
            DNSHeader(id=random.getrandbits(16), rd=1), q=DNSQuestion(name, qtype, qclass)
        )
        query.add_ar(EDNS0(udp_len=UPSTREAM_PAYLOAD))
        response = await self._udp(server, query)
        if response.header.tc:
            response = await self._tcp(server, query)
        return response

    async def _udp(self, server: tuple[str, int], query: DNSRecord) -> DNSRecord:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[DNSRecord] = loop.create_future()
        # A socket of its own per question: a fresh random source port each time.
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UpstreamDatagram(query, done), remote_addr=server
        )
        try:
            transport.sendto(query.pack())
            return await asyncio.wait_for(done, self.timeout)
        finally:
            transport.close()

    async def _tcp(self, server: tuple[str, int], query: DNSRecord) -> DNSRecord:
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(*server)
            try:
                data = query.pack()
                # RFC 1035 4.2.2: each message on TCP is preceded by its length.
                writer.write(struct.pack("!H", len(data)) + data)
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                response = DNSRecord.parse(await reader.readexactly(length))
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        if not _answers(query, response):
            raise DNSError("upstream answered another question")
        return response
