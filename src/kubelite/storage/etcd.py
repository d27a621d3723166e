"""The store on a real etcd: what kube-apiserver's etcd3 storage does, over etcd's v3 gRPC API.

Client. The calls go through the stubs aetcd generated from etcd's protos (`aetcd.rpc`) over a
`grpc.aio` channel, not through aetcd's `Client`: the store needs each request spelled out
(transactions comparing create and mod revisions, ranges at a revision with a limit and a count,
one multiplexed watch stream with prev_kv and progress requests), and the stubs are exactly
etcd's API. `etcd3-async-client` wraps the same stubs with less in them; stubs generated here
with grpcio-tools would be one more build step for the same files.

Revisions. etcd's revision is the store's: an object's resourceVersion is its key's mod
revision, and `revision` is the newest response header this store has seen.

Writes are single transactions, as kube-apiserver's (staging/.../storage/etcd3/store.go): a
create puts only if the key's create revision is 0; an update or a delete acts only if the mod
revision is still the one the caller read, and otherwise reads the key back to say why.

Watch. Every watch of this store shares one bidirectional Watch stream, as clientv3
multiplexes them (`etcd_watch.py`, which also says why a child process reads it). Watches ask
for prev_kv (a delete carries the value it removed) and progress notifications.

Progress. `request_progress()` sends etcd's WatchProgressRequest; etcd answers every watch of
the stream with the current revision, which moves each watch's `progress()`. Caveat: etcd
before 3.4.24 and 3.5.8 (Debian's is 3.4.23) may send that answer ahead of events it has not
sent yet (etcd-io/etcd#15220, fixed by #15237), which is why Kubernetes reads lists from its
watch cache only on newer etcd.

Failures. An etcd that cannot be reached (refused, timed out, TLS refused) is
StoreUnavailableError, which the API server answers with 503; grpc keeps reconnecting in the
background (with its back-off capped at RECONNECT_BACKOFF_MAX) so the store recovers by itself.
With several endpoints the store uses one at a time, in order, and moves to the next when one
cannot be reached; reads are retried on the next one at once, writes are not (a write may have
been applied before the connection failed).

Compaction follows kube-apiserver's compactor (storage/etcd3/compact.go): with several API
servers on one etcd, each interval only the one whose transaction on `compact_rev_key` (its
version compared to the one this server last saw) succeeds compacts.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aetcd.rpc as rpc  # type: ignore[import-untyped]
import grpc
import grpc.aio

from kubelite.storage.etcd_watch import (
    ChannelSpec,
    EtcdWatch,
    GrpcTransport,
    RelayTransport,
    Transport,
    WatchStream,
    kv_of,
)
from kubelite.storage.interface import (
    CompactedError,
    FutureRevisionError,
    KeyExistsError,
    KeyNotFoundError,
    KeyValue,
    ListResult,
    RevisionConflictError,
    Store,
    StoreError,
    StoreUnavailableError,
    Watch,
)

log = logging.getLogger(__name__)

# kube-apiserver's etcd client settings (storagebackend/factory/etcd3.go): keepalive pings that
# find a dead etcd within 40 s even when nothing is sent, and 20 s to establish a connection.
KEEPALIVE_TIME = 30.0
KEEPALIVE_TIMEOUT = 10.0
DIAL_TIMEOUT = 20.0
# The deadline of every call: well under the API server's 60 s request timeout, so that a hung
# etcd becomes a 503 the client sees rather than a request that never ends.
RPC_TIMEOUT = 10.0
# kube-apiserver's DefaultHealthcheckTimeout (storagebackend/config.go) for /readyz's etcd check.
HEALTHCHECK_TIMEOUT = 2.0
# The key kube-apiserver's health check reads (path.Join("/", prefix, "health")).
HEALTH_KEY = b"/registry/health"
MAX_REVISION = (1 << 63) - 1
# kube-apiserver's compactRevKey (storage/etcd3/compact.go): the key whose version is the
# "compact time" API servers sharing an etcd agree on.
COMPACT_REV_KEY = b"compact_rev_key"
# grpc waits up to 120 s between reconnection attempts by default: an etcd back after a restart
# would stay unused for minutes. kubelite tries again at least this often.
RECONNECT_BACKOFF_MAX = 2.0

CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", int(KEEPALIVE_TIME * 1000)),
    ("grpc.keepalive_timeout_ms", int(KEEPALIVE_TIMEOUT * 1000)),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_reconnect_backoff_ms", int(RECONNECT_BACKOFF_MAX * 1000)),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    # etcd's default request limit is 1.5 MiB; its answers (lists) are larger.
    ("grpc.max_receive_message_length", -1),
]

_UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with `prefix` (clientv3's GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"  # every key


@dataclass(frozen=True, slots=True)
class _Endpoint:
    url: str
    target: str
    secure: bool


def parse_endpoint(url: str) -> _Endpoint:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise ValueError(f"datastore endpoint {url!r}: want http(s)://host:port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return _Endpoint(url, f"{host}:{parts.port}", parts.scheme == "https")


_kv = kv_of


class EtcdStore(Store):
    """A store on one etcd cluster, reached at one of `endpoints` (http:// or https://)."""

    def __init__(
        self,
        endpoints: builtins.list[str],
        *,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        timeout: float = RPC_TIMEOUT,
        watch_relay: bool = True,
    ) -> None:
        if not endpoints:
            raise ValueError("no datastore endpoint")
        self._endpoints = [parse_endpoint(url) for url in endpoints]
        self._tls_files = tuple(str(f) if f else None for f in (ca_file, cert_file, key_file))
        # The watch stream in a child process (etcd_watch.py says why), or read here.
        self._watch_relay = watch_relay
        self._credentials: grpc.ChannelCredentials | None = None
        if any(e.secure for e in self._endpoints):
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=Path(ca_file).read_bytes() if ca_file else None,
                private_key=Path(key_file).read_bytes() if key_file else None,
                certificate_chain=Path(cert_file).read_bytes() if cert_file else None,
            )
        self._timeout = timeout
        self._channels: dict[int, grpc.aio.Channel] = {}
        # A stub makes a callable per method when built: one per endpoint and kind, kept.
        self._stubs: dict[tuple[int, str], Any] = {}
        self._current = 0
        self._stream: WatchStream | None = None
        self._stream_lock = asyncio.Lock()
        self._revision = 0
        self._compacted = 0
        # The version of compact_rev_key this server last saw (compact.go's compactTime).
        self._compact_version = 0
        self._closed = False

    @classmethod
    async def open(
        cls,
        endpoints: builtins.list[str],
        *,
        ca_file: str | Path | None = None,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        timeout: float = RPC_TIMEOUT,
        watch_relay: bool = True,
    ) -> EtcdStore:
        """Connect, waiting up to DIAL_TIMEOUT for one endpoint to answer, as
        kube-apiserver's client blocks on dialing; StoreUnavailableError if none does."""
        store = cls(
            endpoints,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            timeout=timeout,
            watch_relay=watch_relay,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(DIAL_TIMEOUT, max(timeout, 1.0) * 2)
        while True:
            try:
                await store._unary("Range", rpc.RangeRequest(key=HEALTH_KEY), retry=True)
                return store
            except StoreUnavailableError:
                if loop.time() > deadline:
                    await store.close()
                    raise
            await asyncio.sleep(0.2)

    @property
    def endpoint(self) -> str:
        """The endpoint in use now."""
        return self._endpoints[self._current].url

    # --- connections --------------------------------------------------------------------------

    def _channel(self, index: int) -> grpc.aio.Channel:
        channel = self._channels.get(index)
        if channel is None:
            endpoint = self._endpoints[index]
            if endpoint.secure:
                assert self._credentials is not None
                channel = grpc.aio.secure_channel(
                    endpoint.target, self._credentials, CHANNEL_OPTIONS
                )
            else:
                channel = grpc.aio.insecure_channel(endpoint.target, CHANNEL_OPTIONS)
            self._channels[index] = channel
        return channel

    def _stub(self, index: int, kind: str) -> Any:
        stub = self._stubs.get((index, kind))
        if stub is None:
            stub = self._stubs[index, kind] = getattr(rpc, kind)(self._channel(index))
        return stub

    def _unreachable(self, index: int, exc: grpc.aio.AioRpcError) -> StoreUnavailableError:
        """Note that endpoint `index` failed: the next call goes to the next endpoint."""
        if index == self._current and len(self._endpoints) > 1:
            self._current = (index + 1) % len(self._endpoints)
            log.warning(
                "datastore %s unreachable; trying %s",
                self._endpoints[index].url,
                self._endpoints[self._current].url,
            )
        return StoreUnavailableError(self._endpoints[index].url, exc.details() or exc.code().name)

    async def _unary(
        self,
        method: str,
        request: Any,
        *,
        retry: bool,
        requested: int = 0,
        timeout: float | None = None,
        stub: str = "KVStub",
    ) -> Any:
        """Call one of etcd's unary RPCs with a deadline; map its failures to StoreErrors.

        `retry`: on an unreachable endpoint try the next ones (reads only). `requested`: the
        revision the call reads at, for CompactedError and FutureRevisionError.
        """
        if self._closed:
            raise StoreError("store is closed")
        attempts = len(self._endpoints) if retry else 1
        error: StoreError | None = None
        for _ in range(attempts):
            index = self._current
            call = getattr(self._stub(index, stub), method)
            try:
                response = await call(request, timeout=timeout or self._timeout)
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _UNREACHABLE:
                    error = self._unreachable(index, exc)
                    continue
                raise self._error(exc, requested) from exc
            self._saw(response.header.revision)
            return response
        assert error is not None
        raise error

    def _error(self, exc: grpc.aio.AioRpcError, requested: int) -> StoreError:
        details = exc.details() or ""
        if "required revision has been compacted" in details:
            # etcd does not say up to where: at least past the revision asked.
            self._saw_compaction(requested + 1)
            return CompactedError(requested, self._compacted)
        if "required revision is a future revision" in details:
            return FutureRevisionError(requested, self._revision)
        if exc.code() == grpc.StatusCode.CANCELLED and self._closed:
            return StoreError("store is closed")
        return StoreError(f"etcd: {details or exc.code().name}")

    def _saw(self, revision: int) -> None:
        if revision > self._revision:
            self._revision = revision

    def _saw_compaction(self, revision: int) -> None:
        if revision > self._compacted:
            self._compacted = revision

    async def close(self) -> None:
        """End every watch (WatchClosedError) and close the connections."""
        if self._closed:
            return
        self._closed = True
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
        self._stubs.clear()

    async def check_health(self) -> str | None:
        """None if etcd answers a read now, else why not (for /readyz's `etcd` check), as
        kube-apiserver's check reads `/registry/health`."""
        try:
            await self._unary(
                "Range", rpc.RangeRequest(key=HEALTH_KEY), retry=True, timeout=HEALTHCHECK_TIMEOUT
            )
        except StoreError as exc:
            return str(exc)
        return None

    async def server_version(self) -> tuple[int, ...]:
        """The etcd release of the member answering (Maintenance.Status), e.g. (3, 4, 23)."""
        status = await self._unary(
            "Status", rpc.StatusRequest(), retry=True, stub="MaintenanceStub"
        )
        return tuple(int(part) for part in status.version.split(".")[:3] if part.isdigit())

    # --- reads --------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def compacted_revision(self) -> int:
        return self._compacted

    async def get(self, key: str) -> KeyValue | None:
        response = await self._unary("Range", rpc.RangeRequest(key=key.encode()), retry=True)
        return _kv(response.kvs[0]) if response.kvs else None

    def _within_int64(self, revision: int) -> None:
        """etcd's revisions are int64: one past them is newer than anything written."""
        if revision > MAX_REVISION:
            raise FutureRevisionError(revision, self._revision)

    async def list(
        self, prefix: str, *, revision: int = 0, start: str = "", limit: int = 0
    ) -> ListResult:
        self._within_int64(revision)
        raw = prefix.encode()
        request = rpc.RangeRequest(
            key=max(prefix, start).encode(),
            range_end=prefix_end(raw),
            revision=revision,
            limit=max(limit, 0),
        )
        response = await self._unary("Range", request, retry=True, requested=revision)
        items = [_kv(kv) for kv in response.kvs]
        remaining = response.count - len(items) if response.more else 0
        return ListResult(items, revision or response.header.revision, response.more, remaining)

    async def count(self, prefix: str) -> int:
        raw = prefix.encode()
        request = rpc.RangeRequest(key=raw, range_end=prefix_end(raw), count_only=True)
        response = await self._unary("Range", request, retry=True)
        count: int = response.count
        return count

    # --- writes -------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        raw = key.encode()
        request = rpc.TxnRequest(
            compare=[rpc.Compare(key=raw, target=rpc.Compare.CREATE, create_revision=0)],
            success=[rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value))],
        )
        response = await self._unary("Txn", request, retry=False)
        if not response.succeeded:
            raise KeyExistsError(key)
        revision = response.header.revision
        return KeyValue(key, value, revision, revision)

    def _compare_revision(self, raw: bytes, expected: int) -> Any:
        if expected:
            return rpc.Compare(key=raw, target=rpc.Compare.MOD, mod_revision=expected)
        # Unconditionally, but the key must be there.
        return rpc.Compare(
            key=raw, target=rpc.Compare.MOD, result=rpc.Compare.GREATER, mod_revision=0
        )

    def _refused(self, key: str, response: Any) -> StoreError:
        """Why a conditional write's transaction took its failure branch (a read of the key)."""
        kvs = response.responses[0].response_range.kvs
        if not kvs:
            return KeyNotFoundError(key)
        return RevisionConflictError(key, _kv(kvs[0]))

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        raw = key.encode()
        request = rpc.TxnRequest(
            compare=[self._compare_revision(raw, expected_revision)],
            # The put, then a read of the key without its value for its create revision:
            # prev_kv would send the whole old value back for that one number.
            success=[
                rpc.RequestOp(request_put=rpc.PutRequest(key=raw, value=value)),
                rpc.RequestOp(request_range=rpc.RangeRequest(key=raw, keys_only=True)),
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        )
        response = await self._unary("Txn", request, retry=False)
        if not response.succeeded:
            raise self._refused(key, response)
        created = response.responses[1].response_range.kvs[0].create_revision
        return KeyValue(key, value, created, response.header.revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        raw = key.encode()
        request = rpc.TxnRequest(
            compare=[self._compare_revision(raw, expected_revision)],
            success=[
                rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=raw, prev_kv=True))
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=raw))],
        )
        response = await self._unary("Txn", request, retry=False)
        if not response.succeeded:
            raise self._refused(key, response)
        prev = _kv(response.responses[0].response_delete_range.prev_kvs[0])
        return KeyValue(key, prev.value, prev.create_revision, response.header.revision)

    # --- watch --------------------------------------------------------------------------------

    async def _watch_stream(self) -> WatchStream:
        async with self._stream_lock:
            if self._stream is None or self._stream.closed:
                index = self._current
                endpoint = self._endpoints[index]
                transport: Transport
                if self._watch_relay:
                    ca, cert, key = self._tls_files
                    spec = ChannelSpec(
                        endpoint.target, endpoint.secure, ca, cert, key, CHANNEL_OPTIONS
                    )
                    transport = await RelayTransport.start(spec)
                else:
                    transport = GrpcTransport(self._channel(index))
                self._stream = WatchStream(self, transport, endpoint.url)
            return self._stream

    def _stream_ended(self, stream: WatchStream) -> None:
        if self._stream is stream:
            self._stream = None

    async def watch(self, prefix: str, revision: int) -> Watch:
        if self._closed:
            raise StoreError("store is closed")
        self._within_int64(revision + 1)
        raw = prefix.encode()
        # A read at the revision first: it fails at once for a compacted or a future one, where
        # etcd would take the watch and cancel it later (or wait for the future to come).
        await self._unary(
            "Range",
            rpc.RangeRequest(
                key=raw, range_end=prefix_end(raw), revision=max(revision, 1), count_only=True
            ),
            retry=True,
            requested=revision,
        )
        stream = await self._watch_stream()
        watch = EtcdWatch(stream, prefix, revision)
        await stream.create(
            watch,
            rpc.WatchCreateRequest(
                key=raw,
                range_end=prefix_end(raw),
                start_revision=revision + 1,
                prev_kv=True,
                progress_notify=True,
            ),
        )
        return watch

    async def request_progress(self) -> None:
        """Ask etcd for a progress notification on every watch of this store (etcd's
        WatchProgressRequest): each watch's `progress()` then moves up to the revision etcd had
        when it answered. The watch cache waits on this for reads that must be consistent
        ("have I seen revision N?"). No-op without watches. See the caveat on etcd < 3.4.24 in
        the module docstring."""
        stream = self._stream
        if stream is not None and not stream.closed:
            stream.send(rpc.WatchRequest(progress_request=rpc.WatchProgressRequest()))

    # --- compaction ---------------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        """Compact up to `revision`, unless another API server did this interval.

        As compact.go: a transaction puts `compact_rev_key` if its version is still the one this
        server saw last (then this server compacts), or reads it (another one did: this server
        learns its version and the revision it compacted, and tries again next interval).
        """
        revision = min(revision, self._revision)
        request = rpc.TxnRequest(
            compare=[
                rpc.Compare(
                    key=COMPACT_REV_KEY, target=rpc.Compare.VERSION, version=self._compact_version
                )
            ],
            success=[
                rpc.RequestOp(
                    request_put=rpc.PutRequest(key=COMPACT_REV_KEY, value=str(revision).encode())
                )
            ],
            failure=[rpc.RequestOp(request_range=rpc.RangeRequest(key=COMPACT_REV_KEY))],
        )
        response = await self._unary("Txn", request, retry=False)
        if not response.succeeded:
            kvs = response.responses[0].response_range.kvs
            if kvs:
                self._compact_version = kvs[0].version
                with contextlib.suppress(ValueError):
                    self._saw_compaction(int(kvs[0].value))
            return
        self._compact_version += 1
        if revision <= self._compacted:
            return
        # CompactedError: compacted further already (by etcdctl, say).
        with contextlib.suppress(CompactedError):
            await self._unary(
                "Compact", rpc.CompactionRequest(revision=revision), retry=False, requested=revision
            )
        self._saw_compaction(revision)
