"""How long a client may keep a connection without using it, and how many one address may hold.

Without limits, a client that opens a connection and then stalls holds it, and the memory behind
it, for as long as it likes: before the TLS handshake ends, half-way through its headers, half-way
through a body, or idle between requests. kube-apiserver bounds each of these through the
`http.Server` it builds (staging/src/k8s.io/apiserver/pkg/server/secure_serving.go) and its
request filters; the numbers here are its numbers:

- `HEADER_TIMEOUT` (32 s): the server's `ReadHeaderTimeout`, "just shy of" the 34 s upper bound
  of a request's own `timeout`. Go starts it when it begins reading a request: after the TLS
  handshake for a connection's first request, and when the first bytes of a later one arrive.
  It also bounds the TLS handshake (Go's `tlsHandshakeTimeout` is the least of the server's read
  and write timeouts). A connection past it is closed without an answer, as Go closes it.
- `IDLE_TIMEOUT` (90 s): the server's `IdleTimeout` (that of Go's own `DefaultTransport`), how
  long a kept-alive connection may wait for its next request. A request in progress, a watch,
  `exec` or `logs -f` included, is never idle.
- `REQUEST_TIMEOUT` (60 s): kube-apiserver's `--request-timeout`, after which its
  `WithTimeoutForNonLongRunningRequests` filter answers a request that is not long-running 504
  `Timeout: request did not complete within the allotted timeout`. Here it bounds the reading of
  a request body (`kubelite.apiserver.bodies`): aiohttp waits for a stalled body forever. Watches,
  proxy and the attach, exec, log and portforward subresources are long-running in Kubernetes;
  none of them reads a body here, so none is cut.
- `TLS_CLOSE_TIMEOUT` (5 s): how long closing a TLS connection waits on the peer; Go's
  `tls.Conn.Close` gives its close_notify alert a 5 s write deadline and does not wait more.
- `LINGER_TIME` (0.5 s): after an answer that left part of a body unread (a 413, a 504 for a
  stalled body), how long the rest is read and dropped before the connection closes, so that the
  client sees the answer rather than a reset; Go's `rstAvoidanceDelay` (net/http/server.go).
  aiohttp's own default is 10 s.
- `MAX_CONNECTIONS_PER_ADDRESS` (600): Kubernetes has no such cap (it relies on HTTP/2, whose
  one connection carries up to 100 streams, and on its in-flight limits). kubelite speaks
  HTTP/1.1 only, where a connection carries one request at a time, so one client needs as many
  connections as it has requests and watches open. 600 is kube-apiserver's whole in-flight budget
  (`--max-requests-inflight` 400 plus `--max-mutating-requests-inflight` 200): one address may use
  every slot the server has, which also covers a node whose components each keep a client pool of
  at most 100 connections (aiohttp's default, which kubelite's client keeps). Over the cap, a new
  connection is closed as soon as it is accepted. `kubelite server --max-connections-per-address`
  sets it; 0 means no cap.

The listener (`GuardedSite`) accepts connections itself rather than through aiohttp's `TCPSite`,
so that it sees the peer's address before the TLS handshake: a connection that never finishes
its handshake counts against its address too. It also tells `kubelite.apiserver.heap` when
connections come and go, so that the memory of a burst of them goes back to the system.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from kubelite.apiserver import metrics
from kubelite.apiserver.heap import HeapTrimmer

log = logging.getLogger(__name__)

HEADER_TIMEOUT = 32.0
IDLE_TIMEOUT = 90.0
REQUEST_TIMEOUT = 60.0
TLS_CLOSE_TIMEOUT = 5.0
LINGER_TIME = 0.5
MAX_CONNECTIONS_PER_ADDRESS = 400 + 200

# accept() errors that say the process or the machine is out of something, not that this one
# connection failed: asyncio's own servers pause accepting for a second after them.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_RETRY_DELAY = 1.0


@dataclass(frozen=True)
class ConnectionPolicy:
    """The limits one API server applies to its clients' connections (see the module's
    docstring for where each default comes from); tests shorten them."""

    header_timeout: float = HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    request_timeout: float = REQUEST_TIMEOUT
    # 0: no cap.
    max_per_address: int = MAX_CONNECTIONS_PER_ADDRESS


class AddressSlots:
    """How many connections each client address holds, against the policy's cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: Counter[str] = Counter()

    def take(self, address: str) -> bool:
        if self.limit and self.held[address] >= self.limit:
            return False
        self.held[address] += 1
        return True

    def give_back(self, address: str) -> None:
        self.held[address] -= 1
        if self.held[address] <= 0:
            del self.held[address]

    def total(self) -> int:
        return sum(self.held.values())


class _Slot:
    """One accepted connection's place, given back exactly once however the connection ends."""

    __slots__ = ("_give_back",)

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back: Callable[[], None] | None = give_back

    def release(self) -> None:
        if self._give_back is not None:
            give_back, self._give_back = self._give_back, None
            give_back()


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, with Go's header timeout around it.

    aiohttp closes a connection that waits too long between requests (its keep-alive timeout,
    set to the idle timeout) but gives a request as long as it likes to send its headers. Here
    a timer runs from the start of each request (the connection's first, or the first bytes of
    a later one) until aiohttp has parsed a whole request head (or refused a malformed one);
    if it expires first, the connection is aborted. Only the head is timed: once aiohttp hands
    the request to a handler, the handler decides how long it takes (a watch, an exec stream).
    """

    __slots__ = ("_armed_at", "_inner", "_on_drop", "_slot", "_timeout", "_timer")

    def __init__(
        self,
        inner: RequestHandler,
        slot: _Slot,
        header_timeout: float,
        on_drop: Callable[[str], None],
    ) -> None:
        self._inner = inner
        self._slot = slot
        self._timeout = header_timeout
        self._on_drop = on_drop
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = 0

    def _waiting_for_a_request(self) -> bool:
        waiter = self._inner._waiter
        return waiter is not None and not waiter.done()

    def _arm(self) -> None:
        if self._timeout > 0:
            # aiohttp counts the request heads it has parsed: the timer holds until that moves.
            self._armed_at = self._inner._request_count
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._timeout, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        transport = self._inner.transport
        if transport is None or self._inner._request_count != self._armed_at:
            return
        log.debug("no request head within %ss; closing the connection", self._timeout)
        self._on_drop(metrics.HEADER_TIMEOUT)
        # Aborted, not closed: a TLS close waits for the peer's close_notify, which a client
        # that sends nothing will not send either.
        transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        inner = self._inner
        if self._timer is not None:
            inner.data_received(data)
            if inner._request_count != self._armed_at:
                self._disarm()
            return
        waiting = self._waiting_for_a_request()
        before = inner._request_count
        inner.data_received(data)
        if waiting and inner._request_count == before and inner.transport is not None:
            # The bytes began a request head without finishing it: time the rest. A head that
            # comes whole in one read (nearly all do) never sets a timer, which would cost
            # more than the parsing. The timer starts after this read, not before it: the
            # difference is the time to parse one read's bytes.
            self._arm()
            self._armed_at = before

    def eof_received(self) -> None:
        self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        try:
            self._inner.connection_lost(exc)
        finally:
            self._slot.release()


def _accepting_ended(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("no longer accepting connections", exc_info=task.exception())


def _listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.create_server(address[:2], family=family, backlog=backlog)
    sock.setblocking(False)
    return sock


class GuardedSite(web.BaseSite):
    """An aiohttp site that listens on host:port and applies a `ConnectionPolicy`.

    It accepts each connection itself, counts it against its address (closing it at once over
    the cap), runs the TLS handshake with the header timeout as its limit, and hands the
    connection to the runner's aiohttp server behind `_GuardedProtocol`. `on_drop(reason)` is
    told of every connection dropped for a reason of this module, `on_trim()` of every time the
    heap was trimmed after a burst of connections.
    """

    __slots__ = (
        "_accepting",
        "_handshakes",
        "_host",
        "_on_drop",
        "_policy",
        "_port",
        "_sock",
        "heap",
        "slots",
    )

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        policy: ConnectionPolicy,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        on_drop: Callable[[str], None] = lambda reason: None,
        on_trim: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host = host
        self._port = port
        self._policy = policy
        self._on_drop = on_drop
        self.slots = AddressSlots(policy.max_per_address)
        self.heap = HeapTrimmer(on_trim=on_trim)
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._handshakes: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The port listened on: the one the kernel chose, for port 0, once started."""
        return self._port

    async def start(self) -> None:
        await super().start()
        self._sock = _listening_socket(self._host, self._port, self._backlog)
        self._port = int(self._sock.getsockname()[1])
        self._accepting = asyncio.create_task(self._accept_loop(self._sock), name="accept")
        self._accepting.add_done_callback(_accepting_ended)

    async def stop(self) -> None:
        """Stop accepting and end the handshakes in progress; the runner's cleanup closes the
        connections aiohttp serves."""
        tasks = [t for t in [self._accepting, *self._handshakes] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._accepting = None
        self.heap.cancel()
        if self._sock is not None:
            self._sock.close()
        await super().stop()

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRORS:
                    continue
                log.warning("cannot accept connections: %s; trying again shortly", exc)
                await asyncio.sleep(ACCEPT_RETRY_DELAY)
                continue
            try:
                self._admit(conn, str(peer[0]))
            except Exception:
                # A bug here must not stop the server from accepting the next connection.
                log.exception("cannot serve a connection from %s", peer[0])
                conn.close()

    def _admit(self, conn: socket.socket, address: str) -> None:
        if not self.slots.take(address):
            log.debug(
                "%s holds %d connections already: closing one more",
                address,
                self.slots.held[address],
            )
            self._on_drop(metrics.ADDRESS_LIMIT)
            conn.close()
            return
        self.heap.opened()
        slot = _Slot(functools.partial(self._give_back, address))
        task = asyncio.create_task(self._serve(conn, slot))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    def _give_back(self, address: str) -> None:
        self.slots.give_back(address)
        self.heap.closed()

    async def _serve(self, conn: socket.socket, slot: _Slot) -> None:
        server = self._runner.server
        assert server is not None
        policy = self._policy

        def protocol() -> _GuardedProtocol:
            return _GuardedProtocol(server(), slot, policy.header_timeout, self._on_drop)

        tls: dict[str, Any] = {}
        if self._ssl_context is not None:
            tls = {
                "ssl": self._ssl_context,
                "ssl_handshake_timeout": policy.header_timeout or None,
                "ssl_shutdown_timeout": TLS_CLOSE_TIMEOUT,
            }
        try:
            await asyncio.get_running_loop().connect_accepted_socket(protocol, conn, **tls)
        except OSError as exc:
            # A handshake that failed or took too long; asyncio has closed the socket. Go logs
            # these at a verbosity of 5 and counts them, as this does.
            log.debug("TLS handshake failed: %s", exc)
            self._on_drop(metrics.TLS_HANDSHAKE)
            slot.release()
            conn.close()
        except BaseException:
            slot.release()
            conn.close()
            raise
