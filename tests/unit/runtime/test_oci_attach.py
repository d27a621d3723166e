"""The client of conmon's attach socket (runtime/oci/attach.py), against a socket pair standing
in for conmon: SOCK_SEQPACKET messages with conmon's stream byte in front."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

from kubelite.runtime.oci.attach import STDERR_PIPE, STDOUT_PIPE, AttachSession


def pair() -> tuple[socket.socket, socket.socket]:
    ours, conmons = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    return ours, conmons


async def collect(chunks) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([chunk async for chunk in chunks])


async def test_output_is_split_by_conmons_stream_byte(tmp_path: Path) -> None:
    ours, conmon = pair()
    session = AttachSession(ours, tmp_path / "ctl", tty=False)
    conmon.send(bytes([STDOUT_PIPE]) + b"out 1\n")
    conmon.send(bytes([STDERR_PIPE]) + b"err\n")
    conmon.send(bytes([STDOUT_PIPE]) + b"out 2\n")
    conmon.close()  # the container exited: conmon closes its end
    out, err = await asyncio.gather(collect(session.stdout()), collect(session.stderr()))
    assert (out, err) == (b"out 1\nout 2\n", b"err\n")
    assert await asyncio.wait_for(session.wait(), 5) == 0


async def test_stdin_goes_through_and_its_end_is_a_shutdown(tmp_path: Path) -> None:
    ours, conmon = pair()
    session = AttachSession(ours, tmp_path / "ctl", tty=True)
    await session.write_stdin(b"x" * 10000)
    # Messages no larger than conmon's buffer, so that none is cut short.
    assert conmon.recv(65536) == b"x" * 8192
    assert conmon.recv(65536) == b"x" * 1808
    await session.close_stdin()
    assert conmon.recv(65536) == b""  # what makes conmon close the container's stdin
    session.detach()
    conmon.close()


async def test_a_container_without_stdin_gets_none(tmp_path: Path) -> None:
    ours, conmon = pair()
    session = AttachSession(ours, tmp_path / "ctl", tty=False, stdin=False)
    await session.write_stdin(b"dropped")
    conmon.setblocking(False)
    try:
        conmon.recv(100)
        raise AssertionError("stdin reached a container that has none")
    except BlockingIOError:
        pass
    session.detach()
    conmon.close()


async def test_resizes_go_to_conmons_ctl_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "ctl"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    ours, conmon = pair()
    try:
        session = AttachSession(ours, fifo, tty=True)
        await session.resize(120, 40)
        assert os.read(reader, 100) == b"1 40 120\n"  # WIN_RESIZE_EVENT height width
        session.detach()
    finally:
        os.close(reader)
        conmon.close()
