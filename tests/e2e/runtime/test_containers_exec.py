"""exec in a running container: one-shot with exit codes and a timeout, and streaming sessions
with stdin pipes or a terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from runtime_fixtures import Harness

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError

pytestmark = pytest.mark.e2e


@pytest.fixture
async def running(rt: Harness) -> str:
    sandbox = await rt.run_sandbox("exec")
    return await rt.run_container(sandbox, "main", ["sleep", "300"], envs=[("FROM_POD", "yes")])


async def collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_exec_sync_passes_exit_codes_and_output(rt: Harness, running: str) -> None:
    ok = await rt.service.exec_sync(running, ["sh", "-c", "echo $FROM_POD; echo e >&2"])
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, b"yes\n", b"e\n")
    three = await rt.service.exec_sync(running, ["sh", "-c", "exit 3"])
    assert three.exit_code == 3
    missing = await rt.service.exec_sync(running, ["nope"])
    assert missing.exit_code == 127
    assert b'exec: "nope": executable file not found in $PATH' in missing.stderr


async def test_exec_sync_timeout_kills_the_command(rt: Harness, running: str) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await rt.service.exec_sync(running, ["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 5
    ps = await rt.service.exec_sync(running, ["ps", "-o", "args"])
    assert b"sleep 30\n" not in ps.stdout  # a zombie at most: PID 1 (sleep) reaps nothing


async def test_exec_in_a_stopped_container_is_an_error(rt: Harness) -> None:
    sandbox = await rt.run_sandbox("done")
    cid = await rt.run_container(sandbox, "main", ["true"])
    await rt.wait_state(cid)
    with pytest.raises(ContainerError, match="not running"):
        await rt.service.exec_sync(cid, ["true"])


async def test_streaming_exec_with_stdin(rt: Harness, running: str) -> None:
    session = await rt.service.exec(
        running, ["sh", "-c", "tr a-z A-Z; echo bye >&2; exit 4"], stdin=True, tty=False
    )
    out = asyncio.ensure_future(collect(session.stdout()))
    err = asyncio.ensure_future(collect(session.stderr()))
    await session.write_stdin(b"hello ")
    await session.write_stdin(b"stream\n")
    await session.close_stdin()
    assert await asyncio.wait_for(session.wait(), 10) == 4
    assert await out == b"HELLO STREAM\n"
    assert await err == b"bye\n"


async def test_streaming_exec_with_a_terminal_and_resize(rt: Harness, running: str) -> None:
    session = await rt.service.exec(
        running,
        ["sh", "-c", "read line; tty; stty size; echo got $line; exit 3"],
        stdin=True,
        tty=True,
    )
    await session.resize(width=120, height=40)
    out = asyncio.ensure_future(collect(session.stdout()))
    await session.write_stdin(b"typed\n")
    assert await asyncio.wait_for(session.wait(), 10) == 3
    text = (await asyncio.wait_for(out, 10)).replace(b"\r\n", b"\n")
    assert b"/dev/pts/0\n40 120\ngot typed\n" in text
    assert await collect(session.stderr()) == b""


async def test_a_terminal_exec_starts_with_the_size_it_was_given(rt: Harness, running: str) -> None:
    # No resize after the start: the size is the pty's before the command runs (`consoleSize`),
    # and the command otherwise runs as `runc exec` runs it (the container's env and user).
    session = await rt.service.exec(
        running,
        ["sh", "-c", "stty size; echo user=$(id -u) path=$PATH"],
        stdin=False,
        tty=True,
        size=cri.TerminalSize(width=111, height=33),
    )
    out = asyncio.ensure_future(collect(session.stdout()))
    assert await asyncio.wait_for(session.wait(), 10) == 0
    lines = (await asyncio.wait_for(out, 10)).decode().splitlines()
    assert lines[0] == "33 111"
    assert lines[1].startswith("user=0 path=/"), lines


async def test_exec_does_not_change_the_container(rt: Harness, running: str) -> None:
    await rt.service.exec_sync(running, ["true"])
    status = await rt.service.container_status(running)
    assert status.state is cri.ContainerState.CONTAINER_RUNNING


async def test_streaming_exec_of_a_missing_command_exits_127(rt: Harness, running: str) -> None:
    session = await rt.service.exec(running, ["nope"], stdin=False, tty=False)
    assert await asyncio.wait_for(session.wait(), 10) == 127
