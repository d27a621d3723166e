"""The etcd store's watches: one bidirectional Watch stream carrying them all, as clientv3
multiplexes them, and the two ways its messages reach the API server's event loop.

Stream. Each watch is a WatchCreateRequest on the stream, answered in order by etcd, whose
events then come tagged with the watch's id. When the stream breaks (etcd restarted, the
network failed) every watch on it ends with WatchClosedError and its client relists, as a
client of kube-apiserver does when its watch ends; the next watch opens a new stream.

Transports. etcd sends one message per revision to a watch that keeps up. Read with grpc.aio
in the server's process, each message costs the event loop a round trip: the read completes on
grpc's poller thread, which needs the GIL to wake the loop, and the next read is only posted
when the reader resumes. A loop busy with requests then reads fewer messages per second than
its writers make revisions, and the watch falls behind for as long as the load lasts (seconds,
with 16 writers on 2 cores; `bench/etcd_watch_lag.py`). So by default a small child process
(`etcd_watch_relay`) holds the stream: its own GIL reads the messages as they come and writes
them, still serialized, into a pipe, and the loop takes whatever has arrived in one read and
decodes and hands on every message in that same callback. `RelayTransport` is that;
`GrpcTransport` reads in process, for `EtcdStore(watch_relay=False)`.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import json
import logging
import struct
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aetcd.rpc as rpc  # type: ignore[import-untyped]
import grpc
import grpc.aio

from kubelite.storage.interface import (
    CREATE,
    DELETE,
    UPDATE,
    Event,
    KeyValue,
    StoreError,
    StoreUnavailableError,
)
from kubelite.storage.watch_queue import QueuedWatch, event_bytes

if TYPE_CHECKING:
    from kubelite.storage.etcd import EtcdStore

log = logging.getLogger(__name__)

# How long etcd may take to answer a WatchCreateRequest (the store's RPC deadline).
CREATE_TIMEOUT = 10.0
# The relay's frames: a 4-byte big-endian length, then that many bytes. From the relay, the
# first byte says what follows: a WatchResponse, or why the stream ended.
FRAME = struct.Struct(">I")
RESPONSE = b"R"
ENDED = b"E"
# How long a closing relay gets to exit on its own before it is killed.
RELAY_EXIT_TIMEOUT = 2.0


def kv_of(kv: Any) -> KeyValue:
    return KeyValue(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision)


class StreamBroken(Exception):
    """The Watch stream ended other than by the store closing it; the message says why."""


@dataclass(frozen=True)
class ChannelSpec:
    """What the relay needs to open the same channel as the store: the endpoint's target,
    whether it is TLS, the files of its client certificate, and the channel's options."""

    target: str
    secure: bool
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    options: builtins.list[tuple[str, int]]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChannelSpec:
        raw = json.loads(text)
        raw["options"] = [tuple(o) for o in raw["options"]]
        return cls(**raw)


class Transport(Protocol):
    def send(self, request: Any) -> None: ...

    async def run(self, handle: Callable[[Any], None]) -> None:
        """Hand every WatchResponse to `handle` as it comes; return once `close()` ended the
        stream, raise StreamBroken when anything else did."""

    async def close(self) -> None: ...


class GrpcTransport:
    """The stream read with grpc.aio in this process: one loop round trip per message."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._requests: asyncio.Queue[Any] = asyncio.Queue()
        self._closing = False
        self._call = rpc.WatchStub(channel).Watch(self._outgoing())

    async def _outgoing(self) -> Any:
        while True:
            request = await self._requests.get()
            if request is None:
                return
            yield request

    def send(self, request: Any) -> None:
        self._requests.put_nowait(request)

    async def run(self, handle: Callable[[Any], None]) -> None:
        try:
            async for response in self._call:
                handle(response)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and self._closing:
                return
            raise StreamBroken(exc.details() or exc.code().name) from None

    async def close(self) -> None:
        self._closing = True
        self._requests.put_nowait(None)
        self._call.cancel()


class _RelayProtocol(asyncio.SubprocessProtocol):
    """The relay's pipes, as the loop sees them: whole frames on its stdout are handed to the
    stream as they arrive, in the very callback that read them."""

    def __init__(self, relay: RelayTransport) -> None:
        self._relay = relay
        self._buffer = bytearray()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        if fd != 1:
            return
        buffer = self._buffer
        buffer += data
        start, end = 0, len(buffer)
        try:
            while end - start >= FRAME.size:
                (size,) = FRAME.unpack_from(buffer, start)
                if end - start - FRAME.size < size:
                    break
                body = start + FRAME.size
                start = body + size
                self._relay._frame(buffer[body : body + 1], buffer[body + 1 : start])
        finally:
            del buffer[:start]

    def process_exited(self) -> None:
        self._relay._exited()

    def connection_lost(self, exc: Exception | None) -> None:
        # Every pipe is closed and the relay has exited: nothing more will come. Its transport
        # is closed here, since a stream that broke on its own is never close()d.
        self._relay._finished()
        if self._relay._transport is not None:
            self._relay._transport.close()


class RelayTransport:
    """The stream held by a child process (`python -m kubelite.storage.etcd_watch_relay`).

    Requests go to its stdin and answers come from its stdout, each serialized in a frame. The
    child ends when its stdin closes, so it never outlives this process. A frame is decoded
    and handled as soon as the loop reads it, without waking a reader task: under load, each
    such trip through a busy loop costs as long as one turn of it (several milliseconds)."""

    def __init__(self) -> None:
        self._transport: asyncio.SubprocessTransport | None = None
        self._handle: Callable[[Any], None] | None = None
        loop = asyncio.get_running_loop()
        # How the stream ended (StreamBroken, or None after close()); read by run(), or by
        # nobody when the reader was cancelled first, which must not log it as unretrieved.
        self._ended: asyncio.Future[None] = loop.create_future()
        self._ended.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._exit: asyncio.Future[None] = loop.create_future()
        self._closing = False

    @classmethod
    async def start(cls, spec: ChannelSpec) -> RelayTransport:
        relay = cls()
        transport, _ = await asyncio.get_running_loop().subprocess_exec(
            lambda: _RelayProtocol(relay),
            sys.executable,
            "-m",
            "kubelite.storage.etcd_watch_relay",
            spec.to_json(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
        )
        relay._transport = transport
        return relay

    @property
    def pid(self) -> int:
        assert self._transport is not None
        return self._transport.get_pid()

    @property
    def returncode(self) -> int | None:
        assert self._transport is not None
        return self._transport.get_returncode()

    def kill(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(ProcessLookupError):
                self._transport.kill()

    def _stdin(self) -> asyncio.WriteTransport | None:
        if self._transport is None or self._transport.is_closing():
            return None
        pipe = self._transport.get_pipe_transport(0)
        if pipe is None or pipe.is_closing():
            return None
        return pipe  # type: ignore[return-value]

    def send(self, request: Any) -> None:
        stdin = self._stdin()
        if stdin is None or self.returncode is not None:
            return
        data = request.SerializeToString()
        stdin.write(FRAME.pack(len(data)) + data)

    async def run(self, handle: Callable[[Any], None]) -> None:
        self._handle = handle
        await asyncio.shield(self._ended)

    def _frame(self, kind: bytearray, body: bytearray) -> None:
        if self._ended.done():
            return
        if kind == ENDED:
            self._ended.set_exception(StreamBroken(body.decode(errors="replace")))
            return
        handle = self._handle
        if handle is None:  # not run yet: nothing was asked that could be answered
            return
        try:
            handle(rpc.WatchResponse.FromString(body))
        except Exception as exc:  # a bug in handling: end the stream, as a failed read would
            log.exception("etcd watch stream: handling a response failed")
            self._ended.set_exception(StreamBroken(f"handling a watch response failed: {exc!r}"))
            self.kill()

    def _exited(self) -> None:
        if not self._exit.done():
            self._exit.set_result(None)

    def _finished(self) -> None:
        self._exited()
        if self._ended.done():
            return
        if self._closing:
            self._ended.set_result(None)
        else:
            self._ended.set_exception(
                StreamBroken(f"the watch relay exited with code {self.returncode}")
            )

    async def close(self) -> None:
        self._closing = True
        stdin = self._stdin()
        if stdin is not None:
            stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._exit), RELAY_EXIT_TIMEOUT)
        except TimeoutError:
            self.kill()
            await self._exit
        if self._transport is not None:
            self._transport.close()


class EtcdWatch(QueuedWatch):
    def __init__(self, stream: WatchStream, prefix: str, revision: int) -> None:
        # Everything up to `revision` is delivered by definition: the watch starts after it.
        super().__init__(prefix, revision)
        self._stream = stream
        self.id: int | None = None
        self._seen = revision

    def _push(self, events: builtins.list[Event], size: int) -> None:
        self._seen = max(self._seen, events[-1].revision)
        super()._push(events, size)

    def _progress_to(self, revision: int) -> None:
        self._seen = max(self._seen, revision)

    def _newest(self) -> int:
        return self._seen

    def _release(self) -> None:
        self._stream.cancel(self)


class WatchStream:
    """One bidirectional Watch call carrying every watch of the store."""

    def __init__(self, store: EtcdStore, transport: Transport, endpoint: str) -> None:
        self._store = store
        self._transport = transport
        self.endpoint = endpoint
        self._watches: dict[int, EtcdWatch] = {}
        # etcd answers create requests in the order they were sent.
        self._creating: collections.deque[tuple[EtcdWatch, asyncio.Future[None]]] = (
            collections.deque()
        )
        self.closed = False
        self._reader = asyncio.create_task(self._read(), name="etcd-watch-stream")

    def send(self, request: Any) -> None:
        if not self.closed:
            self._transport.send(request)

    async def create(self, watch: EtcdWatch, request: Any) -> None:
        if self.closed:
            raise StoreUnavailableError(self.endpoint, "the watch stream is closed")
        created: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._creating.append((watch, created))
        self.send(rpc.WatchRequest(create_request=request))
        try:
            await asyncio.wait_for(created, CREATE_TIMEOUT)
        except TimeoutError:
            raise StoreUnavailableError(self.endpoint, "etcd did not answer a watch") from None

    def cancel(self, watch: EtcdWatch) -> None:
        if watch.id is not None and self._watches.pop(watch.id, None) is not None:
            self.send(rpc.WatchRequest(cancel_request=rpc.WatchCancelRequest(watch_id=watch.id)))

    async def _read(self) -> None:
        reason = "etcd ended the watch stream"
        try:
            await self._transport.run(self._handle)
        except StreamBroken as exc:
            if not self.closed:
                reason = f"the watch stream to {self.endpoint} broke: {exc}"
                log.warning("etcd %s", reason)
        finally:
            # Closed by the store (which also cancels this task): its watches say so.
            self._finish("store closed" if self.closed else reason)

    def _handle(self, response: Any) -> None:
        revision = response.header.revision
        self._store._saw(revision)
        if response.created:
            watch, created = self._creating.popleft()
            if response.canceled or response.watch_id == -1:
                if not created.done():
                    created.set_exception(
                        StoreError(f"etcd refused a watch: {response.cancel_reason}")
                    )
                return
            watch.id = response.watch_id
            self._watches[watch.id] = watch
            if created.done() or watch._closed:  # the caller went away meanwhile
                self.cancel(watch)
            else:
                created.set_result(None)
            return
        progress = not response.events and not response.canceled and response.compact_revision == 0
        if progress and response.watch_id == -1:
            # The answer to a WatchProgressRequest: for every watch of the stream.
            for w in self._watches.values():
                w._progress_to(revision)
            return
        target = self._watches.get(response.watch_id)
        if target is None:
            return
        if response.canceled:
            del self._watches[response.watch_id]
            if response.compact_revision:
                self._store._saw_compaction(response.compact_revision)
                target._end(
                    "required revision has been compacted "
                    f"(compacted at {response.compact_revision})"
                )
            else:
                target._end(f"etcd canceled the watch: {response.cancel_reason}")
            return
        if progress:
            target._progress_to(revision)
            return
        events: builtins.list[Event] = []
        for e in response.events:
            if e.type == rpc.Event.DELETE:
                if not e.HasField("prev_kv"):
                    # As kube-apiserver's watcher: a delete without its last value cannot be told.
                    target._end(f"etcd event received with PrevKv=nil (key={e.kv.key!r})")
                    return
                prev = kv_of(e.prev_kv)
                kv = KeyValue(prev.key, prev.value, prev.create_revision, e.kv.mod_revision)
                events.append(Event(DELETE, kv, prev))
            elif e.kv.create_revision == e.kv.mod_revision:
                events.append(Event(CREATE, kv_of(e.kv), None))
            else:
                prev_kv = kv_of(e.prev_kv) if e.HasField("prev_kv") else None
                events.append(Event(UPDATE, kv_of(e.kv), prev_kv))
        if events:
            target._push(events, sum(event_bytes(e) for e in events))

    def _finish(self, reason: str) -> None:
        self.closed = True
        for _, created in self._creating:
            if not created.done():
                created.set_exception(StoreUnavailableError(self.endpoint, reason))
        self._creating.clear()
        for watch in list(self._watches.values()):
            watch._end(reason)
        self._watches.clear()
        self._store._stream_ended(self)

    async def close(self) -> None:
        self.closed = True
        await self._transport.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
