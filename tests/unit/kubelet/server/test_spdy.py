"""SPDY/3.1 framing, header compression and the session (kubelite.kubelet.server.spdy)."""

from __future__ import annotations

import asyncio
import struct
import zlib

import pytest

from kubelite.kubelet.server import spdy

# --- the dictionary and header blocks ---------------------------------------------------------


def test_dictionary_is_spdy3s():
    # SPDY/3's dictionary is 1423 bytes; its Adler-32 is the DICTID every peer's zlib checks.
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b",*,enq=0.")
    assert zlib.adler32(spdy.DICTIONARY) == 0xE3C6A7C2


def test_header_block_layout_lowercases_and_joins_repeated_names():
    block = spdy.encode_header_block([("streamType", "error"), ("X", "a"), ("x", "b")])
    expected = struct.pack("!I", 2)
    expected += struct.pack("!I", 10) + b"streamtype" + struct.pack("!I", 5) + b"error"
    expected += struct.pack("!I", 1) + b"x" + struct.pack("!I", 3) + b"a\0b"
    assert block == expected
    assert spdy.decode_header_block(block) == {"streamtype": ["error"], "x": ["a", "b"]}


@pytest.mark.parametrize(
    "block",
    [
        struct.pack("!I", 1) + struct.pack("!I", 4) + b"Port" + struct.pack("!I", 1) + b"8",
        struct.pack("!I", 2) + (struct.pack("!I", 1) + b"a" + struct.pack("!I", 0)) * 2,
        struct.pack("!I", 1) + struct.pack("!I", 9) + b"short",
    ],
    ids=["uppercase-name", "duplicate-name", "truncated"],
)
def test_bad_header_blocks_are_protocol_errors(block):
    with pytest.raises(spdy.ProtocolError):
        spdy.decode_header_block(block)


def test_header_compression_uses_the_dictionary_and_one_stream_per_direction():
    compressor, decompressor = spdy.HeaderCompressor(), spdy.HeaderDecompressor()
    first = compressor.compress([("streamtype", "data"), ("port", "80"), ("requestid", "0")])
    # zlib header with FDICT set, then the dictionary's id: only a dictionary-primed peer
    # (Go's framer) can read it.
    assert first[1] & 0x20
    assert first[2:6] == struct.pack("!I", zlib.adler32(spdy.DICTIONARY))
    second = compressor.compress([("streamtype", "error"), ("port", "80"), ("requestid", "0")])
    # The second block continues the same zlib stream: no header of its own, and shorter
    # thanks to the history.
    assert second[:2] != first[:2]
    assert len(second) < len(first)
    assert decompressor.decompress(first)["streamtype"] == ["data"]
    assert decompressor.decompress(second) == {
        "streamtype": ["error"],
        "port": ["80"],
        "requestid": ["0"],
    }
    # A fresh decompressor cannot read the second block alone: the state really is shared.
    with pytest.raises(spdy.ProtocolError):
        spdy.HeaderDecompressor().decompress(second)


# --- frames -----------------------------------------------------------------------------------


FRAMES = [
    spdy.DataFrame(1, b"hello", spdy.FLAG_FIN),
    spdy.DataFrame(3, b""),
    spdy.SynStream(5, {"streamtype": ["stdin"]}, spdy.FLAG_FIN, associated_to=0, priority=3),
    spdy.SynReply(5, {"a": ["b"]}),
    spdy.HeadersFrame(5, {"c": ["d"]}),
    spdy.RstStream(7, spdy.CANCEL),
    spdy.Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 1024),)),
    spdy.Ping(9),
    spdy.GoAway(11, spdy.GOAWAY_OK),
    spdy.WindowUpdate(13, 4096),
]


def test_every_frame_type_round_trips_even_split_byte_by_byte():
    sender, receiver = spdy.Framer(), spdy.Framer()
    wire = b"".join(sender.encode(frame) for frame in FRAMES)
    got: list[spdy.Frame] = []
    for i in range(len(wire)):
        got += receiver.feed(wire[i : i + 1])
    assert got == FRAMES


def test_frame_headers_on_the_wire():
    framer = spdy.Framer()
    assert (
        framer.encode(spdy.DataFrame(1, b"ab", spdy.FLAG_FIN))
        == bytes.fromhex("0000000101000002") + b"ab"
    )
    # Control bit, version 3, type 6 (PING), no flags, length 4.
    assert framer.encode(spdy.Ping(1)) == bytes.fromhex("800300060000000400000001")
    assert framer.encode(spdy.WindowUpdate(1, 10))[:8] == bytes.fromhex("8003000900000008")


def test_unknown_control_frames_are_ignored_and_wrong_versions_refused():
    framer = spdy.Framer()
    credential = struct.pack("!HHI", 0x8003, 10, 0)  # CREDENTIAL: not used by Kubernetes
    assert framer.feed(credential + framer.encode(spdy.Ping(3))) == [spdy.Ping(3)]
    with pytest.raises(spdy.ProtocolError):
        spdy.Framer().feed(struct.pack("!HHI", 0x8002, spdy.PING, 4) + b"\0\0\0\1")


# --- the session ------------------------------------------------------------------------------


class Pipe:
    """Two sessions wired back to back, as a client (kubectl) and a server (the kubelet)."""

    def __init__(self) -> None:
        self.server = spdy.Session(self._to_client, server=True)
        self.client = spdy.Session(self._to_server, server=False)
        self.server_saw: list[spdy.Frame] = []
        self.client_saw: list[spdy.Frame] = []
        self._spy_server, self._spy_client = spdy.Framer(), spdy.Framer()

    async def _to_client(self, data: bytes) -> None:
        self.client_saw += self._spy_client.feed(data)
        self.client.feed(data)

    async def _to_server(self, data: bytes) -> None:
        self.server_saw += self._spy_server.feed(data)
        self.server.feed(data)


async def test_streams_are_replied_to_and_carry_data_both_ways_until_fin():
    pipe = Pipe()
    stream = await pipe.client.open_stream([("streamType", "stdout")])
    served = await pipe.server.accept()
    assert served is not None
    assert served.header("streamType") == "stdout"
    assert any(isinstance(f, spdy.SynReply) and f.stream_id == stream.id for f in pipe.client_saw)
    await stream.write(b"ping")
    assert await served.read() == b"ping"
    await served.write(b"pong")
    assert await stream.read() == b"pong"
    await stream.close()
    assert await served.read() == b""  # FIN is EOF
    await served.close()
    assert await stream.read() == b""
    assert served.id not in pipe.server.streams


async def test_a_stream_id_going_backwards_is_reset_with_protocol_error():
    pipe = Pipe()
    await pipe.client.open_stream([("streamtype", "error")])
    pipe.client._next_stream_id = 1  # reuse stream 1
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(pipe.client.open_stream([("streamtype", "data")]), 5)
    resets = [f for f in pipe.client_saw if isinstance(f, spdy.RstStream)]
    assert resets == [spdy.RstStream(1, spdy.PROTOCOL_ERROR)]


async def test_ping_is_echoed_and_goaway_ends_every_stream():
    pipe = Pipe()
    stream = await pipe.client.open_stream([("streamtype", "stdin")])
    served = await pipe.server.accept()
    assert served is not None
    await asyncio.wait_for(pipe.client.ping(), 5)
    await pipe.server.close()
    assert await stream.read() == b""
    assert pipe.client.closed.is_set()
    assert await pipe.server.accept() is None


async def test_receiver_gives_the_window_back_as_it_reads():
    pipe = Pipe()
    stream = await pipe.client.open_stream([("streamtype", "stdin")])
    served = await pipe.server.accept()
    assert served is not None
    await stream.write(b"x" * spdy.DEFAULT_WINDOW)
    got = 0
    while got < spdy.DEFAULT_WINDOW:
        got += len(await served.read())
    updates = [f for f in pipe.client_saw if isinstance(f, spdy.WindowUpdate)]
    assert updates and all(u.stream_id == stream.id for u in updates)
    assert sum(u.delta for u in updates) == spdy.DEFAULT_WINDOW


async def test_sender_waits_for_the_window_of_a_peer_that_does_flow_control():
    pipe = Pipe()
    stream = await pipe.client.open_stream([("streamtype", "stdin")])
    served = await pipe.server.accept()
    assert served is not None
    # The client announces a small window: from now on the server must respect it.
    await pipe.client.send(spdy.Settings(((0, spdy.SETTINGS_INITIAL_WINDOW_SIZE, 1000),)))
    await asyncio.sleep(0)
    assert pipe.server.peer_flow_control
    served.send_window = 1000
    writer = asyncio.create_task(served.write(b"y" * 2500))
    await asyncio.sleep(0.05)
    sent = sum(len(f.data) for f in pipe.client_saw if isinstance(f, spdy.DataFrame))
    assert sent == 1000 and not writer.done()
    await pipe.client.send(spdy.WindowUpdate(stream.id, 2000))
    await asyncio.wait_for(writer, 5)
    sent = sum(len(f.data) for f in pipe.client_saw if isinstance(f, spdy.DataFrame))
    assert sent == 2500


async def test_sender_does_not_wait_on_a_peer_without_flow_control():
    # spdystream (kubectl, the kubelet) never sends WINDOW_UPDATE: past 64 KiB a waiting
    # sender would hang for ever, so only a peer that has shown flow control gets it.
    pipe = Pipe()
    stream = await pipe.client.open_stream([("streamtype", "stdout")])
    served = await pipe.server.accept()
    assert served is not None
    pipe.client.send = _without_window_updates(pipe.client.send)  # type: ignore[method-assign]
    await asyncio.wait_for(served.write(b"z" * (3 * spdy.DEFAULT_WINDOW)), 5)
    got = 0
    while got < 3 * spdy.DEFAULT_WINDOW:
        got += len(await stream.read())
    assert not pipe.server.peer_flow_control


def _without_window_updates(send):  # type: ignore[no-untyped-def]
    async def filtered(frame: spdy.Frame) -> None:
        if not isinstance(frame, spdy.WindowUpdate):
            await send(frame)

    return filtered


async def test_garbage_ends_the_session_with_goaway_protocol_error():
    pipe = Pipe()
    pipe.server.feed(struct.pack("!HHI", 0x8001, spdy.PING, 4) + b"\0\0\0\1")
    await asyncio.sleep(0.01)
    assert pipe.client_saw == [spdy.GoAway(0, spdy.GOAWAY_PROTOCOL_ERROR)]
    assert pipe.server.closed.is_set()


async def test_unread_data_pauses_the_transport_until_it_is_read():
    paused: list[bool] = []
    pipe = Pipe()
    pipe.server._pause_reading = lambda: paused.append(True)
    pipe.server._resume_reading = lambda: paused.append(False)
    stream = await pipe.client.open_stream([("streamtype", "stdin")])
    served = await pipe.server.accept()
    assert served is not None
    await stream.write(b"a" * (spdy.HIGH_WATER + spdy.DATA_CHUNK))
    assert paused == [True]
    got = 0
    while got <= spdy.HIGH_WATER - spdy.LOW_WATER + spdy.DATA_CHUNK:
        got += len(await served.read())
    assert paused == [True, False]


async def test_data_after_the_peers_fin_is_refused_with_stream_already_closed():
    pipe = Pipe()
    stream = await pipe.client.open_stream([("streamtype", "stdin")])
    served = await pipe.server.accept()
    assert served is not None
    await stream.close()
    assert await served.read() == b""
    await pipe.client.send(spdy.DataFrame(stream.id, b"late"))
    await asyncio.sleep(0.01)
    assert spdy.RstStream(stream.id, spdy.STREAM_ALREADY_CLOSED) in pipe.client_saw


async def test_a_reset_streams_unread_data_no_longer_holds_the_transport():
    paused: list[bool] = []
    pipe = Pipe()
    pipe.server._pause_reading = lambda: paused.append(True)
    pipe.server._resume_reading = lambda: paused.append(False)
    stream = await pipe.client.open_stream([("streamtype", "data")])
    served = await pipe.server.accept()
    assert served is not None
    await stream.write(b"b" * (spdy.HIGH_WATER + spdy.DATA_CHUNK))
    assert paused == [True]
    await stream.send_reset()  # nobody will read what it sent
    await asyncio.sleep(0)
    assert paused == [True, False]
    assert await served.read() == b""
