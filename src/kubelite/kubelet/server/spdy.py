"""SPDY/3.1 as Kubernetes speaks it: the framing, header compression and a stream session.

kubectl 1.27 to 1.29 run `exec`, `attach` and `cp` over SPDY only, and 1.27 to 1.30 run
`port-forward` over it (KEP-4006 moved them to WebSockets later; 1.31+ still sends SPDY frames for
port-forward, inside WebSocket messages). Kubernetes' side is docker's `spdystream` on Go's SPDY/3
framer. No maintained Python library speaks SPDY: PyPI has `python-spdylay` (bindings to a C
library, last released in 2012) and `spdy-py` (a 6 KB framer, one release in 2021, LGPL, no
streams or flow control), so the protocol lives here, in one module, for the kubelet's server.

Framing (draft-mbelshe-httpbis-spdy-00): every frame has an 8-byte header. A control frame sets
the top bit, then the version (3), a 16-bit type, 8 bits of flags and a 24-bit length; a data
frame has a 31-bit stream id instead, then flags and length. Header blocks (SYN_STREAM,
SYN_REPLY, HEADERS) are `count, (len name, len value)*` with 32-bit lengths, compressed by one zlib
stream per direction for the whole session, primed with SPDY/3's dictionary, each block ending
in a sync flush.

The session is the server's half (it also opens streams, which tests use as a client): the peer
opens streams with SYN_STREAM, which are answered with SYN_REPLY at once and handed out by
`accept()`; DATA with FIN half-closes a stream, RST_STREAM ends it, PING is echoed, GOAWAY or
the end of the connection ends every stream.

Flow control: SPDY/3 gives each stream a 64 KiB send window that the receiver reopens with
WINDOW_UPDATE. This side sends WINDOW_UPDATEs for what it has read, as the protocol asks; but
spdystream, i.e. every kubectl and kubelet, neither sends nor reads them, so a sender that waited
for them would stall after 64 KiB (a `kubectl cp` of anything larger would hang). Windows are
therefore enforced only towards a peer that has shown it does flow control, by sending a
WINDOW_UPDATE or a SETTINGS frame with an initial window size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

VERSION = 3
# The Upgrade header's value; the frames themselves carry version 3.
UPGRADE = "SPDY/3.1"

# Control frame types.
SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# RST_STREAM status codes.
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9

# GOAWAY status codes.
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1

SETTINGS_INITIAL_WINDOW_SIZE = 7
# SPDY/3's window every stream starts with.
DEFAULT_WINDOW = 64 * 1024
# The largest frame payload (24-bit length) and the size data is cut into when sent.
MAX_FRAME_LENGTH = (1 << 24) - 1
DATA_CHUNK = 32 * 1024
_STREAM_ID_MASK = 0x7FFFFFFF


def _dictionary() -> bytes:
    """SPDY/3's zlib dictionary (section 2.6.10.1): header names and common values, each with a
    32-bit length in front, then a run of status codes, dates and media types without lengths."""
    names = (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status"
    )
    words = names.split()
    words += ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive"]
    words += ["origin"]
    tail = (
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417"
        "502504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
        "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
        "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
        "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
        "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8"
        "charset=iso-8859-1,utf-,*,enq=0."
    )
    out = bytearray()
    for word in words:
        out += struct.pack("!I", len(word)) + word.encode()
    return bytes(out) + tail.encode()


DICTIONARY = _dictionary()

Headers = dict[str, list[str]]


class ProtocolError(Exception):
    """The peer broke the protocol; the session ends with GOAWAY(PROTOCOL_ERROR)."""


# --- header blocks ----------------------------------------------------------------------------


def encode_header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """The uncompressed name/value block; names are lowercased (Go's framer refuses others)
    and repeated names are joined with NUL, as SPDY/3 asks."""
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value)
    out = bytearray(struct.pack("!I", len(merged)))
    for name, values in merged.items():
        raw_name, raw_value = name.encode(), "\0".join(values).encode()
        out += struct.pack("!I", len(raw_name)) + raw_name
        out += struct.pack("!I", len(raw_value)) + raw_value
    return bytes(out)


def decode_header_block(block: bytes) -> Headers:
    def take(offset: int) -> tuple[bytes, int]:
        if offset + 4 > len(block):
            raise ProtocolError("truncated header block")
        (length,) = struct.unpack_from("!I", block, offset)
        end = offset + 4 + length
        if end > len(block):
            raise ProtocolError("truncated header block")
        return block[offset + 4 : end], end

    if len(block) < 4:
        raise ProtocolError("truncated header block")
    (count,) = struct.unpack_from("!I", block)
    offset = 4
    headers: Headers = {}
    for _ in range(count):
        raw_name, offset = take(offset)
        raw_value, offset = take(offset)
        name = raw_name.decode("latin-1")
        if not name or name != name.lower():
            raise ProtocolError(f"invalid header name {name!r}")
        if name in headers:
            raise ProtocolError(f"duplicate header {name!r}")
        headers[name] = raw_value.decode("latin-1").split("\0")
    return headers


class HeaderCompressor:
    """One direction's header compression: a single zlib stream for the whole session."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(level=9, zdict=DICTIONARY)

    def compress(self, headers: Iterable[tuple[str, str]]) -> bytes:
        block = encode_header_block(headers)
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """Inflates the header blocks of one SPDY session: they share one zlib stream with SPDY's
    dictionary, so one object per connection."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data)
        except zlib.error as exc:
            raise ProtocolError(f"header block does not decompress: {exc}") from exc
        return decode_header_block(block)


# --- frames -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A SPDY data frame: bytes on one stream, FIN in its flags when the stream's sender is done."""

    stream_id: int
    data: bytes = b""
    flags: int = 0


@dataclass(frozen=True, slots=True)
class SynStream:
    """A SPDY SYN_STREAM: the client opens a stream (stdin, stdout, error, a forwarded port) with
    headers naming it."""

    stream_id: int
    headers: list[tuple[str, str]] | Headers
    flags: int = 0
    associated_to: int = 0
    priority: int = 0


@dataclass(frozen=True, slots=True)
class SynReply:
    """A SPDY SYN_REPLY: the answer that accepts a stream the peer opened."""

    stream_id: int
    headers: list[tuple[str, str]] | Headers = field(default_factory=list)
    flags: int = 0


@dataclass(frozen=True, slots=True)
class HeadersFrame:
    """A SPDY HEADERS frame: more headers on a stream already open."""

    stream_id: int
    headers: list[tuple[str, str]] | Headers = field(default_factory=list)
    flags: int = 0


@dataclass(frozen=True, slots=True)
class RstStream:
    """A SPDY RST_STREAM: one stream ends abnormally, with a status code."""

    stream_id: int
    status: int


@dataclass(frozen=True, slots=True)
class Settings:
    """A SPDY SETTINGS frame: (flags, id, value) entries for the whole session, of which the initial
    window size is used."""

    entries: tuple[tuple[int, int, int], ...]  # (flags, id, value)
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Ping:
    """A SPDY PING, answered with the same id to show the session is alive."""

    ping_id: int


@dataclass(frozen=True, slots=True)
class GoAway:
    """A SPDY GOAWAY: the session ends, and no stream past `last_good_stream_id` was handled."""

    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True, slots=True)
class WindowUpdate:
    """A SPDY WINDOW_UPDATE: the peer may send `delta` more bytes on the stream (flow control)."""

    stream_id: int
    delta: int


Frame = (
    DataFrame
    | SynStream
    | SynReply
    | HeadersFrame
    | RstStream
    | Settings
    | Ping
    | GoAway
    | WindowUpdate
)


def _pairs(headers: list[tuple[str, str]] | Headers) -> list[tuple[str, str]]:
    if isinstance(headers, dict):
        return [(name, value) for name, values in headers.items() for value in values]
    return list(headers)


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME_LENGTH:
        raise ValueError("control frame too large")
    head = struct.pack("!HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload))
    return head + payload


class Framer:
    """Frames to bytes and bytes to frames for one connection (it owns both zlib streams)."""

    def __init__(self) -> None:
        self._compressor = HeaderCompressor()
        self._decompressor = HeaderDecompressor()
        self._buffer = bytearray()

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_FRAME_LENGTH:
                raise ValueError("data frame too large")
            sid = frame.stream_id & _STREAM_ID_MASK
            return struct.pack("!II", sid, (frame.flags << 24) | len(frame.data)) + frame.data
        if isinstance(frame, SynStream):
            block = self._compressor.compress(_pairs(frame.headers))
            payload = struct.pack(
                "!IIBB",
                frame.stream_id & _STREAM_ID_MASK,
                frame.associated_to & _STREAM_ID_MASK,
                (frame.priority & 0x7) << 5,
                0,
            )
            return _control(SYN_STREAM, frame.flags, payload + block)
        if isinstance(frame, SynReply | HeadersFrame):
            block = self._compressor.compress(_pairs(frame.headers))
            kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            payload = struct.pack("!I", frame.stream_id & _STREAM_ID_MASK) + block
            return _control(kind, frame.flags, payload)
        if isinstance(frame, RstStream):
            payload = struct.pack("!II", frame.stream_id & _STREAM_ID_MASK, frame.status)
            return _control(RST_STREAM, 0, payload)
        if isinstance(frame, Settings):
            entries = bytearray(struct.pack("!I", len(frame.entries)))
            for flags, setting, value in frame.entries:
                entries += struct.pack("!II", (flags << 24) | setting, value)
            return _control(SETTINGS, frame.flags, bytes(entries))
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack("!I", frame.ping_id))
        if isinstance(frame, GoAway):
            payload = struct.pack("!II", frame.last_good_stream_id & _STREAM_ID_MASK, frame.status)
            return _control(GOAWAY, 0, payload)
        if isinstance(frame, WindowUpdate):
            payload = struct.pack("!II", frame.stream_id & _STREAM_ID_MASK, frame.delta)
            return _control(WINDOW_UPDATE, 0, payload)
        raise TypeError(f"not a SPDY frame: {frame!r}")

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by `data` (a partial frame waits for the rest)."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= 8:
            first, second = struct.unpack_from("!II", self._buffer)
            length = second & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                break
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            flags = second >> 24
            if first & 0x80000000:
                frame = self._parse_control(first, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(DataFrame(first & _STREAM_ID_MASK, payload, flags))
        return frames

    def _parse_control(self, first: int, flags: int, payload: bytes) -> Frame | None:
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")

        def need(n: int) -> None:
            if len(payload) < n:
                raise ProtocolError(f"control frame {kind} too short ({len(payload)} bytes)")

        if kind == SYN_STREAM:
            need(10)
            sid, assoc, prio, _slot = struct.unpack_from("!IIBB", payload)
            headers = self._decompressor.decompress(payload[10:])
            return SynStream(
                sid & _STREAM_ID_MASK, headers, flags, assoc & _STREAM_ID_MASK, prio >> 5
            )
        if kind in (SYN_REPLY, HEADERS):
            need(4)
            (sid,) = struct.unpack_from("!I", payload)
            headers = self._decompressor.decompress(payload[4:])
            cls = SynReply if kind == SYN_REPLY else HeadersFrame
            return cls(sid & _STREAM_ID_MASK, headers, flags)
        if kind == RST_STREAM:
            need(8)
            sid, status = struct.unpack_from("!II", payload)
            return RstStream(sid & _STREAM_ID_MASK, status)
        if kind == SETTINGS:
            need(4)
            (count,) = struct.unpack_from("!I", payload)
            need(4 + 8 * count)
            entries = []
            for i in range(count):
                head, value = struct.unpack_from("!II", payload, 4 + 8 * i)
                entries.append((head >> 24, head & 0xFFFFFF, value))
            return Settings(tuple(entries), flags)
        if kind == PING:
            need(4)
            return Ping(struct.unpack_from("!I", payload)[0])
        if kind == GOAWAY:
            need(8)
            sid, status = struct.unpack_from("!II", payload)
            return GoAway(sid & _STREAM_ID_MASK, status)
        if kind == WINDOW_UPDATE:
            need(8)
            sid, delta = struct.unpack_from("!II", payload)
            return WindowUpdate(sid & _STREAM_ID_MASK, delta & _STREAM_ID_MASK)
        # Unknown control frames are ignored, as SPDY/3 asks (CREDENTIAL, NOOP, ...).
        return None


# --- the session ------------------------------------------------------------------------------


class Stream:
    """One SPDY stream: the peer's headers, its data as it arrives, and a way to answer."""

    def __init__(self, session: Session, stream_id: int, headers: Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._chunks: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self.remote_closed = False  # FIN or RST from the peer, or the session ended
        self.local_closed = False
        self.reset = False
        self.replied = asyncio.Event()
        self.send_window = session.peer_initial_window
        self._window_open = asyncio.Event()
        self._window_open.set()
        self._unacknowledged = 0  # bytes read but not yet given back by WINDOW_UPDATE

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    # --- reading

    def _deliver(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self.session._buffered(len(data))
        self._readable.set()

    def _end_remote(self) -> None:
        self.remote_closed = True
        self._readable.set()
        self._window_open.set()

    def _discard(self) -> None:
        """A reset stream's unread data will never be read: stop counting it."""
        self.session._buffered(-sum(len(c) for c in self._chunks))
        self._chunks.clear()

    async def read(self) -> bytes:
        """The next data the peer sent; b"" once it has half-closed (or reset) the stream."""
        while not self._chunks:
            if self.remote_closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self.session._buffered(-len(data))
        await self._acknowledge(len(data))
        return data

    async def _acknowledge(self, size: int) -> None:
        self._unacknowledged += size
        if self._unacknowledged >= DEFAULT_WINDOW // 2 and not self.remote_closed:
            delta, self._unacknowledged = self._unacknowledged, 0
            with contextlib.suppress(ConnectionError):
                await self.session.send(WindowUpdate(self.id, delta))

    # --- writing

    async def write(self, data: bytes) -> None:
        """Send data, cut into frames; waits for the window where the peer does flow control."""
        view = memoryview(data)
        while view:
            if self.local_closed or self.reset:
                raise ConnectionResetError(f"SPDY stream {self.id} is closed")
            size = min(len(view), DATA_CHUNK)
            if self.session.peer_flow_control:
                while min(self.send_window, self.session.send_window) <= 0:
                    if self.reset or self.session.closed.is_set():
                        raise ConnectionResetError(f"SPDY stream {self.id} is closed")
                    self._window_open.clear()
                    await self._window_open.wait()
                size = min(size, self.send_window, self.session.send_window)
                self.send_window -= size
                self.session.send_window -= size
            await self.session.send(DataFrame(self.id, bytes(view[:size])))
            view = view[size:]

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN (what the peer reads as EOF)."""
        if self.local_closed or self.reset:
            return
        self.local_closed = True
        with contextlib.suppress(ConnectionError):
            await self.session.send(DataFrame(self.id, b"", FLAG_FIN))
        self.session._forget_if_done(self)

    async def send_reset(self, status: int = CANCEL) -> None:
        if self.reset:
            return
        self.reset = True
        self._end_remote()
        self._discard()
        with contextlib.suppress(ConnectionError):
            await self.session.send(RstStream(self.id, status))
        self.session._forget(self)

    def _grow_window(self, delta: int) -> None:
        self.send_window += delta
        self._window_open.set()


Send = Callable[[bytes], Awaitable[None]]
# How much received data may wait unread before the session stops reading from its transport
# (and when it starts again). Peers without flow control (spdystream) can only be slowed down
# this way, as spdystream itself does by blocking its reader on a stream nobody reads.
HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024


class Session:
    """A SPDY connection over any byte transport: `feed()` what arrives, `send` what leaves.

    `server`: the side that accepts upgrades (its own streams would be even, the peer's odd).
    """

    def __init__(
        self,
        send: Send,
        *,
        server: bool = True,
        pause_reading: Callable[[], None] | None = None,
        resume_reading: Callable[[], None] | None = None,
    ) -> None:
        self._send_bytes = send
        self._pause_reading = pause_reading
        self._resume_reading = resume_reading
        self._unread = 0
        self.reading_paused = False
        self._framer = Framer()
        self._write_lock = asyncio.Lock()
        self.server = server
        self.streams: dict[int, Stream] = {}
        self._incoming: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._last_peer_stream = 0
        self._next_stream_id = 2 if server else 1
        self._next_ping_id = 2 if server else 1
        self._pings: dict[int, asyncio.Future[None]] = {}
        self.closed = asyncio.Event()
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_flow_control = False
        self.send_window = DEFAULT_WINDOW  # SPDY/3.1's session-wide window
        self._tasks: set[asyncio.Task[None]] = set()

    def _buffered(self, change: int) -> None:
        """Track data received but not read yet; pause the transport while there is too much."""
        self._unread += change
        if not self.reading_paused and self._unread > HIGH_WATER:
            self.reading_paused = True
            if self._pause_reading is not None:
                self._pause_reading()
        elif self.reading_paused and self._unread < LOW_WATER:
            self.reading_paused = False
            if self._resume_reading is not None:
                self._resume_reading()

    # --- sending

    async def send(self, frame: Frame) -> None:
        if self.closed.is_set() and not isinstance(frame, GoAway):
            raise ConnectionResetError("SPDY session closed")
        # Compression state must follow the order frames go out: encode under the lock.
        async with self._write_lock:
            await self._send_bytes(self._framer.encode(frame))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- receiving

    def feed(self, data: bytes) -> None:
        """Handle bytes from the peer (called by the transport, in order)."""
        if self.closed.is_set():
            return
        try:
            frames = self._framer.feed(data)
        except ProtocolError as exc:
            log.info("SPDY protocol error from peer: %s", exc)
            self._spawn(self._go_away(GOAWAY_PROTOCOL_ERROR))
            return
        for frame in frames:
            self._handle(frame)

    def feed_eof(self) -> None:
        self._finish()

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is None:
                self._spawn(self._reset(frame.stream_id, INVALID_STREAM))
                return
            if stream.remote_closed:
                if not stream.reset:
                    self._spawn(self._reset(frame.stream_id, STREAM_ALREADY_CLOSED))
                return
            stream._deliver(frame.data)
            if frame.flags & FLAG_FIN:
                stream._end_remote()
                self._forget_if_done(stream)
        elif isinstance(frame, SynStream):
            self._on_syn_stream(frame)
        elif isinstance(frame, SynReply):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream.replied.set()
                if frame.flags & FLAG_FIN:
                    stream._end_remote()
        elif isinstance(frame, HeadersFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None and isinstance(frame.headers, dict):
                stream.headers.update(frame.headers)
                if frame.flags & FLAG_FIN:
                    stream._end_remote()
        elif isinstance(frame, RstStream):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream.reset = True
                stream._end_remote()
                stream._discard()
                stream.replied.set()
                self._forget(stream)
        elif isinstance(frame, Settings):
            for _flags, setting, value in frame.entries:
                if setting == SETTINGS_INITIAL_WINDOW_SIZE:
                    self.peer_flow_control = True
                    change = value - self.peer_initial_window
                    self.peer_initial_window = value
                    for stream in self.streams.values():
                        stream._grow_window(change)
        elif isinstance(frame, Ping):
            if (frame.ping_id & 1) == (self._next_ping_id & 1):
                waiter = self._pings.pop(frame.ping_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            else:
                self._spawn(self._quiet_send(frame))
        elif isinstance(frame, GoAway):
            self._finish()
        elif isinstance(frame, WindowUpdate):
            self.peer_flow_control = True
            if frame.stream_id == 0:
                self.send_window += frame.delta
                for stream in self.streams.values():
                    stream._window_open.set()
            else:
                stream = self.streams.get(frame.stream_id)
                if stream is not None:
                    stream._grow_window(frame.delta)

    def _on_syn_stream(self, frame: SynStream) -> None:
        sid = frame.stream_id
        peer_parity = 1 if self.server else 0
        if sid == 0 or sid % 2 != peer_parity or sid <= self._last_peer_stream:
            self._spawn(self._reset(sid, PROTOCOL_ERROR))
            return
        self._last_peer_stream = sid
        headers = frame.headers if isinstance(frame.headers, dict) else {}
        stream = Stream(self, sid, headers)
        self.streams[sid] = stream
        if frame.flags & (FLAG_FIN | FLAG_UNIDIRECTIONAL):
            stream._end_remote()
        # spdystream drops data on a stream it has no reply for, and kubectl waits for the
        # reply before it writes: answer at once, before anything is sent on it.
        self._spawn(self._reply(stream))

    async def _reply(self, stream: Stream) -> None:
        try:
            await self.send(SynReply(stream.id, []))
        except ConnectionError:
            return
        stream.replied.set()
        self._incoming.put_nowait(stream)

    async def _reset(self, stream_id: int, status: int) -> None:
        await self._quiet_send(RstStream(stream_id, status))

    async def _quiet_send(self, frame: Frame) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send(frame)

    def _forget_if_done(self, stream: Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            self._forget(stream)

    def _forget(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)

    # --- the session's life

    async def accept(self) -> Stream | None:
        """The next stream the peer opened (already replied to); None once the session ended."""
        if self.closed.is_set() and self._incoming.empty():
            return None
        return await self._incoming.get()

    async def open_stream(self, headers: list[tuple[str, str]], *, fin: bool = False) -> Stream:
        """Open a stream (SYN_STREAM) and wait for its SYN_REPLY, as kubectl does."""
        sid = self._next_stream_id
        self._next_stream_id += 2
        stream = Stream(self, sid, {})
        self.streams[sid] = stream
        if fin:
            stream.local_closed = True
        await self.send(SynStream(sid, headers, FLAG_FIN if fin else 0))
        await stream.replied.wait()
        if stream.reset:
            raise ConnectionResetError(f"SPDY stream {sid} was refused")
        return stream

    async def ping(self) -> None:
        ping_id = self._next_ping_id
        self._next_ping_id += 2
        waiter = asyncio.get_running_loop().create_future()
        self._pings[ping_id] = waiter
        await self.send(Ping(ping_id))
        await waiter

    async def _go_away(self, status: int) -> None:
        await self._quiet_send(GoAway(self._last_peer_stream, status))
        self._finish()

    async def close(self) -> None:
        """GOAWAY, then every stream ends; the caller closes the transport."""
        if not self.closed.is_set():
            await self._go_away(GOAWAY_OK)

    def _finish(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in list(self.streams.values()):
            stream._end_remote()
            stream.replied.set()
        self.streams.clear()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(ConnectionResetError("SPDY session closed"))
        self._pings.clear()
        self._incoming.put_nowait(None)
