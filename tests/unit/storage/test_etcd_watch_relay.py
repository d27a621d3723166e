"""The etcd store's watch relay (storage/etcd_watch.py): the child process that holds the
Watch stream carries watches over TLS, ends with the store or with the API server that started
it, and a relay that dies ends its watches as a broken stream does, the next watch starting a
new one. Each test has a real etcd of its own (tests/etcd_server.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import aetcd.rpc as rpc  # type: ignore[import-untyped]
import pytest
from tests.etcd_server import EtcdServer

from kubelite.storage.etcd import EtcdStore
from kubelite.storage.etcd_watch import (
    ENDED,
    FRAME,
    RESPONSE,
    RelayTransport,
    StreamBroken,
    _RelayProtocol,
)
from kubelite.storage.interface import CREATE, WatchClosedError

ROOT = Path(__file__).resolve().parents[3]


def _relay_of(store: EtcdStore) -> RelayTransport:
    stream = store._stream
    assert stream is not None
    transport = stream._transport
    assert isinstance(transport, RelayTransport)
    return transport


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie no longer does)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def _eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_watches_go_through_the_relay_over_tls(
    etcd_server_factory: Callable[..., EtcdServer],
) -> None:
    server = etcd_server_factory(tls=True)
    store = await EtcdStore.open(
        [server.endpoint],
        ca_file=server.ca_file,
        cert_file=server.cert_file,
        key_file=server.key_file,
    )
    try:
        watch = await store.watch("/r/", store.revision)
        relay = _relay_of(store)
        assert relay.returncode is None
        created = await store.create("/r/a", b"1")
        (event,) = await asyncio.wait_for(watch.next(), 5)
        assert (event.type, event.kv) == (CREATE, created)
    finally:
        await store.close()


async def test_closing_the_store_ends_its_relay(etcd_server: EtcdServer) -> None:
    store = await EtcdStore.open([etcd_server.endpoint])
    watch = await store.watch("/r/", store.revision)
    relay = _relay_of(store)
    await store.close()
    assert relay.returncode == 0
    with pytest.raises(WatchClosedError, match="store closed"):
        await asyncio.wait_for(watch.next(), 5)


async def test_a_dead_relay_ends_the_watches_and_the_next_watch_starts_another(
    etcd_server: EtcdServer,
) -> None:
    store = await EtcdStore.open([etcd_server.endpoint])
    try:
        watch = await store.watch("/r/", store.revision)
        first = _relay_of(store)
        first.kill()
        with pytest.raises(WatchClosedError, match="watch relay exited"):
            await asyncio.wait_for(watch.next(), 5)
        watch = await store.watch("/r/", store.revision)
        assert _relay_of(store).pid != first.pid
        created = await store.create("/r/b", b"2")
        (event,) = await asyncio.wait_for(watch.next(), 5)
        assert event.kv == created
    finally:
        await store.close()


def test_the_relay_does_not_outlive_a_killed_api_server(etcd_server: EtcdServer) -> None:
    """kill -9 of the process that started it: its end of the pipe closes, and the relay
    exits rather than holding a stream to etcd for nobody."""
    program = textwrap.dedent(
        f"""
        import asyncio, sys
        from kubelite.storage.etcd import EtcdStore

        async def main():
            store = await EtcdStore.open([{etcd_server.endpoint!r}])
            await store.watch("/r/", store.revision)
            print(store._stream._transport.pid, flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, text=True, env=env
    ) as parent:
        assert parent.stdout is not None
        relay = int(parent.stdout.readline())
        assert _alive(relay)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    asyncio.run(_eventually(lambda: not _alive(relay)))


class _Frames:
    """Stands in for the RelayTransport a _RelayProtocol hands its frames to."""

    def __init__(self) -> None:
        self.frames: list[tuple[bytes, bytes]] = []

    def _frame(self, kind: bytearray, body: bytearray) -> None:
        self.frames.append((bytes(kind), bytes(body)))


def test_frames_split_anywhere_across_reads_are_handed_over_whole_and_in_order() -> None:
    bodies = [b"", b"x", bytes(range(256)) * 40, b"last"]
    frames_data = [FRAME.pack(len(b) + 1) + RESPONSE + b for b in bodies]
    data = b"".join(frames_data)
    ends = [sum(len(f) for f in frames_data[: i + 1]) for i in range(len(bodies))]
    for step in (1, 3, 7, 4096, len(data)):
        frames = _Frames()
        protocol = _RelayProtocol(frames)  # type: ignore[arg-type]
        for start in range(0, len(data), step):
            protocol.pipe_data_received(1, data[start : start + step])
            # Every frame complete so far is handed over by the read that completed it.
            read = min(start + step, len(data))
            complete = [b for b, end in zip(bodies, ends, strict=True) if end <= read]
            assert [body for _, body in frames.frames] == complete
        assert frames.frames == [(RESPONSE, b) for b in bodies]
        assert not protocol._buffer


async def test_an_ended_frame_breaks_the_stream_with_the_relays_reason() -> None:
    relay = RelayTransport()
    running = asyncio.create_task(relay.run(lambda response: None))
    await asyncio.sleep(0)
    relay._frame(bytearray(ENDED), bytearray(b"etcdserver: no leader"))
    with pytest.raises(StreamBroken, match="etcdserver: no leader"):
        await asyncio.wait_for(running, 5)


async def test_a_response_the_stream_fails_to_handle_breaks_it_naming_the_failure() -> None:
    relay = RelayTransport()
    handled: list[int] = []

    def handle(response: object) -> None:
        handled.append(1)
        raise IndexError("pop from an empty deque")

    running = asyncio.create_task(relay.run(handle))
    await asyncio.sleep(0)
    body = rpc.WatchResponse(watch_id=1).SerializeToString()
    relay._frame(bytearray(RESPONSE), bytearray(body))
    # Frames after the end are not handled.
    relay._frame(bytearray(RESPONSE), bytearray(body))
    with pytest.raises(StreamBroken, match=r"handling a watch response failed.*empty deque"):
        await asyncio.wait_for(running, 5)
    assert handled == [1]
