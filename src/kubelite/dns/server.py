"""The DNS server: queries over UDP and TCP, answered from the cluster zone or upstream.

Each query is checked as miekg/dns (CoreDNS' server library) checks it before any plugin sees
it: a response is ignored, an opcode other than QUERY gets NOTIMP, a message with other than
one question (or more records than a query carries) gets FORMERR, and so does one that does
not parse, after which the server simply goes on. An EDNS0 OPT record sets how large a UDP
answer may be (512 bytes without one) and is echoed back; an EDNS version other than 0 gets
BADVERS. An answer too large for its transport loses records from the end and gets the TC bit,
so the client asks again over TCP. Answers with several addresses are shuffled, as the default
Corefile's `loadbalance` does.

Packing an answer costs far more than sending it, so packed answers are kept, keyed by the
query's bytes after its ID (the same bytes ask the same question with the same flags and
EDNS options): a repeated query is answered by splicing its own ID, the first two octets of
the header (RFC 1035 4.1.1), onto the kept answer. Cluster answers are kept until the index
changes; upstream answers until their TTLs would count down a second; shuffled, SERVFAIL and
not-yet-synced answers are not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from dnslib import (
    CLASS,
    EDNS0,
    OPCODE,
    QTYPE,
    RCODE,
    RR,
    DNSBuffer,
    DNSError,
    DNSHeader,
    DNSRecord,
)

from kubelite.dns.forwarder import Cached, Forwarder
from kubelite.dns.zone import DNS_SERVICE, Zone, ZoneReply

log = logging.getLogger(__name__)

# Without EDNS0 a UDP answer may be 512 bytes (RFC 1035 2.3.4); over TCP, 65535.
UDP_DEFAULT_SIZE = 512
TCP_MAX_SIZE = 65535
HEADER_SIZE = 12
# RFC 6891 6.1.3: BADVERS is extended RCODE 16.
BADVERS = 16
# An idle TCP connection is closed after this long; a started message must arrive within it.
TCP_IDLE_TIMEOUT = 10.0
# Packed answers kept at most; the whole cache is dropped when it would grow past this.
PACKED_CACHE_SIZE = 20_000

Result = bytes | None | Awaitable[bytes | None]
_ADDRESSES = (QTYPE.A, QTYPE.AAAA)


def _shuffled(records: list[RR]) -> tuple[list[RR], bool]:
    """CoreDNS loadbalance's order: CNAMEs, other records, addresses (shuffled), MX
    (shuffled); and whether anything was shuffled."""
    cnames = [r for r in records if r.rtype == QTYPE.CNAME]
    addresses = [r for r in records if r.rtype in _ADDRESSES]
    mx = [r for r in records if r.rtype == QTYPE.MX]
    if len(addresses) < 2 and len(mx) < 2:
        return records, False
    rest = [r for r in records if r.rtype not in (QTYPE.CNAME, QTYPE.MX, *_ADDRESSES)]
    random.shuffle(addresses)
    random.shuffle(mx)
    return [*cnames, *rest, *addresses, *mx], True


def _fit(message: DNSRecord, limit: int) -> bytes:
    """The packed message, or if it is larger than `limit`, with as many of its records as
    fit (answer first, then authority, then additional; the OPT record kept) and TC set."""
    data = bytes(message.pack())
    if len(data) <= limit:
        return data
    opt = [r for r in message.ar if r.rtype == QTYPE.OPT]
    records = [("rr", r) for r in message.rr]
    records += [("auth", r) for r in message.auth]
    records += [("ar", r) for r in message.ar if r.rtype != QTYPE.OPT]

    def packed(count: int) -> bytes:
        sections: dict[str, list[RR]] = {"rr": [], "auth": [], "ar": []}
        for section, record in records[:count]:
            sections[section].append(record)
        header = DNSHeader(id=message.header.id, bitmap=message.header.bitmap)
        header.tc = 1
        trimmed = DNSRecord(
            header, [message.q], sections["rr"], auth=sections["auth"], ar=[*sections["ar"], *opt]
        )
        return bytes(trimmed.pack())

    low, high = 0, len(records) - 1  # `high` records or fewer fit; find the most
    best = packed(0)
    while low <= high:
        middle = (low + high) // 2
        candidate = packed(middle)
        if len(candidate) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


class DNSServer:
    """Answers DNS messages; `serve_udp` and `serve_tcp` put it on sockets."""

    def __init__(
        self, zone: Zone, forwarder: Forwarder, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.zone = zone
        self.forwarder = forwarder
        self.clock = clock
        # Query bytes after the ID -> (answer bytes after the ID, monotonic time it is good until).
        self._packed: dict[bool, dict[bytes, tuple[bytes, float]]] = {True: {}, False: {}}
        self._tasks: set[asyncio.Task[Any]] = set()
        zone.index.on_change.append(self.forget)
        forwarder.is_self = self._is_self

    def forget(self) -> None:
        """Drop every packed answer (the cluster's objects changed)."""
        self._packed[True].clear()
        self._packed[False].clear()

    def _is_self(self, address: str) -> bool:
        service = self.zone.index.services.get(DNS_SERVICE)
        return service is not None and address in service.cluster_ips

    # The answer path.

    def handle(self, data: bytes, *, udp: bool) -> Result:
        """The answer to one message: bytes, None (no answer at all), or an awaitable of
        either when upstream resolvers must be asked."""
        packed = self._packed[udp].get(data[2:])
        if packed is not None and packed[1] > self.clock():
            return data[:2] + packed[0]
        try:
            query = DNSRecord.parse(data)
        except (DNSError, UnicodeDecodeError, ValueError):
            return self._format_error(data)
        header = query.header
        if header.qr:
            return None
        if header.opcode != OPCODE.QUERY:
            return self._reply(query, RCODE.NOTIMP, limit=TCP_MAX_SIZE)
        # miekg/dns' default acceptance: one question; no more records than a query has.
        if header.q != 1 or header.a > 1 or header.auth > 1 or header.ar > 2:
            return self._reply(query, RCODE.FORMERR, limit=TCP_MAX_SIZE, question=False)
        opts = [r for r in query.ar if r.rtype == QTYPE.OPT]
        if len(opts) > 1:
            return self._reply(query, RCODE.FORMERR, limit=TCP_MAX_SIZE)
        opt = opts[0] if opts else None
        limit = TCP_MAX_SIZE
        if udp:
            limit = max(UDP_DEFAULT_SIZE, opt.rclass) if opt is not None else UDP_DEFAULT_SIZE
        if opt is not None and (opt.ttl >> 16) & 0xFF != 0:
            return self._reply(query, BADVERS, limit=limit, opt=opt)
        question = query.q
        reply = None
        if question.qclass == CLASS.IN:
            reply = self.zone.answer(str(question.qname), question.qtype)
        if reply is None:
            return self._forward(data, query, opt, limit, udp)
        if reply.chase is not None:
            return self._chase(query, reply, opt, limit)
        answer, kept = self._zone_reply(query, reply, opt, limit)
        if kept and reply.rcode != RCODE.SERVFAIL and self.zone.index.synced():
            self._keep(udp, data, answer, float("inf"))
        return answer

    def _keep(self, udp: bool, query: bytes, answer: bytes, until: float) -> None:
        cache = self._packed[udp]
        if len(cache) >= PACKED_CACHE_SIZE:
            cache.clear()
        cache[query[2:]] = (answer[2:], until)

    def _reply(
        self,
        query: DNSRecord,
        rcode: int,
        *,
        limit: int,
        answer: list[RR] | None = None,
        authority: list[RR] | None = None,
        additional: list[RR] | None = None,
        authoritative: bool = False,
        recursion_available: bool = False,
        opt: RR | None = None,
        question: bool = True,
    ) -> bytes:
        request = query.header
        header = DNSHeader(
            id=request.id,
            qr=1,
            opcode=request.opcode,
            aa=int(authoritative),
            rd=request.rd,
            ra=int(recursion_available),
            cd=request.cd,
            rcode=rcode & 0xF,
        )
        extra = list(additional or [])
        if opt is not None:
            # The client's payload size and DO bit come back; the extended RCODE carries what
            # the four header bits cannot (BADVERS).
            extra.append(
                EDNS0(
                    udp_len=max(UDP_DEFAULT_SIZE, opt.rclass),
                    ext_rcode=rcode >> 4,
                    flags="do" if opt.ttl & 0x8000 else "",
                )
            )
        message = DNSRecord(
            header,
            [query.q] if question else [],
            list(answer or []),
            auth=list(authority or []),
            ar=extra,
        )
        return _fit(message, limit)

    def _format_error(self, data: bytes) -> bytes | None:
        """FORMERR for a message that does not parse, if at least its header does."""
        if len(data) < HEADER_SIZE:
            return None
        try:
            request = DNSHeader.parse(DNSBuffer(data[:HEADER_SIZE]))
        except (DNSError, ValueError):
            return None
        if request.qr:
            return None
        header = DNSHeader(
            id=request.id, qr=1, opcode=request.opcode, rd=request.rd, rcode=RCODE.FORMERR
        )
        return bytes(DNSRecord(header).pack())

    def _zone_reply(
        self, query: DNSRecord, reply: ZoneReply, opt: RR | None, limit: int
    ) -> tuple[bytes, bool]:
        """A cluster answer, and whether it may be kept packed (nothing was shuffled)."""
        answer, shuffled_answer = _shuffled(reply.answer)
        additional, shuffled_additional = _shuffled(reply.additional)
        data = self._reply(
            query,
            reply.rcode,
            limit=limit,
            answer=answer,
            authority=reply.authority,
            additional=additional,
            authoritative=True,
            opt=opt,
        )
        return data, not (shuffled_answer or shuffled_additional)

    def _cached_reply(
        self, query: DNSRecord, entry: Cached, opt: RR | None, limit: int
    ) -> tuple[bytes, bool]:
        answer, authority, additional = entry.sections(self.clock())
        answer, shuffled = _shuffled(answer)
        data = self._reply(
            query,
            entry.rcode,
            limit=limit,
            answer=answer,
            authority=authority,
            additional=additional,
            recursion_available=entry.recursion_available,
            opt=opt,
        )
        return data, not shuffled

    def _forward(
        self, data: bytes, query: DNSRecord, opt: RR | None, limit: int, udp: bool
    ) -> Result:
        question = query.q
        name = str(question.qname)
        entry = self.forwarder.cached(name, question.qtype, question.qclass)
        if entry is not None:
            return self._from_upstream(data, query, entry, opt, limit, udp)

        async def later() -> bytes | None:
            found = await self.forwarder.resolve(name, question.qtype, question.qclass)
            return self._from_upstream(data, query, found, opt, limit, udp)

        return later()

    def _from_upstream(
        self, data: bytes, query: DNSRecord, entry: Cached, opt: RR | None, limit: int, udp: bool
    ) -> bytes:
        answer, keep = self._cached_reply(query, entry, opt, limit)
        if keep and entry.rcode != RCODE.SERVFAIL:
            self._keep(udp, data, answer, entry.same_until(self.clock()))
        return answer

    async def _chase(self, query: DNSRecord, reply: ZoneReply, opt: RR | None, limit: int) -> bytes:
        """An ExternalName's CNAME with its target's records from upstream; if the target
        cannot be resolved, no data (CoreDNS leaves the CNAME out then)."""
        assert reply.chase is not None
        target, qtype = reply.chase
        found = await self.forwarder.resolve(target, qtype, CLASS.IN)
        if found.rcode == RCODE.SERVFAIL:
            reply = ZoneReply(RCODE.NOERROR, authority=[self.zone.soa()])
        else:
            records, _, _ = found.sections(self.clock())
            reply.answer.extend(records)
        return self._zone_reply(query, reply, opt, limit)[0]

    # Sockets.

    async def serve_udp(self, sock: socket.socket) -> asyncio.DatagramTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UDP(self), sock=sock)
        return transport

    async def serve_tcp(self, sock: socket.socket) -> asyncio.Server:
        return await asyncio.start_server(self._tcp_connection, sock=sock)

    def later(self, result: Awaitable[bytes | None], send: Callable[[bytes], None]) -> None:
        """Send an answer that needs upstream resolvers when it is ready."""

        async def run() -> None:
            try:
                answer = await result
            except Exception:
                log.exception("answering a query failed")
                return
            if answer is not None:
                send(answer)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tcp_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                async with asyncio.timeout(TCP_IDLE_TIMEOUT):
                    # RFC 1035 4.2.2: each message on TCP is preceded by its length.
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                result = self.handle(data, udp=False)
                if result is not None and not isinstance(result, bytes):
                    result = await result
                if result is None:
                    continue
                writer.write(struct.pack("!H", len(result)) + result)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, server: DNSServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The transport of a datagram endpoint (create_datagram_endpoint) is a datagram one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        transport = self.transport
        assert transport is not None
        try:
            result = self.server.handle(data, udp=True)
        except Exception:
            log.exception("answering a query from %s failed", addr)
            return
        if result is None:
            return
        if isinstance(result, bytes):
            transport.sendto(result, addr)
        else:
            self.server.later(result, lambda answer: transport.sendto(answer, addr))

    def error_received(self, exc: Exception) -> None:
        # ICMP errors for earlier answers (a client gone away): nothing to do.
        log.debug("UDP error: %s", exc)
