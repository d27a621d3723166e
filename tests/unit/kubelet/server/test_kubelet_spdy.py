"""The kubelet's server over SPDY/3.1 on loopback: the handshake, exec and attach streams
(remotecommand v4) and port-forward stream pairs, with a SPDY client like kubectl's."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubelite.apiserver import certs
from kubelite.kubelet.server import KubeletServer, PodNotFound, ServingTLS, spdy
from kubelite.kubelet.server.remotecommand_spdy import parse_sizes
from kubelite.runtime.cri import TerminalSize
from kubelite.runtime.errors import RuntimeFailure


class FakeProcess:
    """An ExecSession: echoes stdin to stdout in upper case, ends when stdin does."""

    def __init__(self, code: int, tty: bool, size: TerminalSize | None) -> None:
        self.code = code
        self.out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sizes: list[tuple[int, int]] = [(size.width, size.height)] if size else []
        self.tty = tty
        self.detached = False

    async def write_stdin(self, data: bytes) -> None:
        self.out.put_nowait(data.upper())

    async def close_stdin(self) -> None:
        self.out.put_nowait(None)

    async def stdout(self) -> AsyncIterator[bytes]:
        while (chunk := await self.out.get()) is not None:
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        if not self.tty:
            yield b"to stderr"

    async def resize(self, width: int, height: int) -> None:
        self.sizes.append((width, height))

    async def wait(self) -> int:
        return self.code

    def detach(self) -> None:
        self.detached = True
        self.out.put_nowait(None)


@dataclass
class Runtime:
    echo_port: int = 0
    processes: list[FakeProcess] = field(default_factory=list)
    exit_code: int = 0
    attach_error: str = ""

    async def container_status(self, container_id: str) -> Any:
        raise AssertionError("not expected")

    async def exec(
        self,
        container_id: str,
        cmd: list[str],
        *,
        stdin: bool,
        tty: bool,
        size: TerminalSize | None = None,
    ) -> FakeProcess:
        self.processes.append(FakeProcess(self.exit_code, tty, size))
        return self.processes[-1]

    async def attach(self, container_id: str, *, tty: bool) -> FakeProcess:
        if self.attach_error:
            raise RuntimeFailure(self.attach_error)
        self.processes.append(FakeProcess(0, tty, None))
        return self.processes[-1]

    async def port_forward(self, sandbox_id: str, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            target = self.echo_port if port == 80 else port
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", target))
        except OSError as e:
            sock.close()
            message = f"dial tcp4 127.0.0.1:{port}: connect: connection refused"
            raise OSError(e.errno, message) from e
        return sock


class Locator:
    def find(self, namespace: str, pod: str, container: str, previous: bool) -> tuple[str, Path]:
        if pod != "web":
            raise PodNotFound(f'pod "{pod}" does not exist')
        return "cid", Path("/dev/null")

    def find_pod(self, namespace: str, pod: str) -> dict[str, Any]:
        if pod != "web":
            raise PodNotFound(f'pod "{pod}" does not exist')
        return {"spec": {"containers": [{"name": "app", "tty": True}]}}

    def find_sandbox(self, namespace: str, pod: str) -> tuple[str, str]:
        self.find_pod(namespace, pod)
        return "sandbox-1", "uid-1"


@dataclass
class Served:
    server: KubeletServer
    runtime: Runtime
    context: ssl.SSLContext


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    echo_server = await asyncio.start_server(echo, "127.0.0.1", 0)
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    cert, key = certs.issue_kubelet_serving_cert(pki, "node-a", ["127.0.0.1"])
    runtime = Runtime(echo_server.sockets[0].getsockname()[1])
    server = KubeletServer(
        Locator(),  # type: ignore[arg-type]
        runtime,  # type: ignore[arg-type]
        ServingTLS(cert, key, pki.ca_cert),
        host="127.0.0.1",
        port=0,
    )
    await server.start()
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(pki.kubelet_client_cert, pki.kubelet_client_key)
    try:
        yield Served(server, runtime, context)
    finally:
        await server.stop()
        echo_server.close()
        await echo_server.wait_closed()


@dataclass
class Client:
    status: int
    headers: dict[str, str]
    body: bytes
    session: spdy.Session | None
    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


async def upgrade(served: Served, path: str, *protocols: str) -> Client:
    """kubectl's side of the handshake: POST with Upgrade: SPDY/3.1, then SPDY frames."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", served.server.port, ssl=served.context, server_hostname="127.0.0.1"
    )
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Connection: Upgrade",
        "Upgrade: SPDY/3.1",
        "Content-Length: 0",
        *(f"X-Stream-Protocol-Version: {p}" for p in protocols),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *rest = head.decode().split("\r\n")
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in rest if line)
    }
    status = int(status_line.split()[1])
    if status != 101:
        body = await reader.read(65536)
        return Client(status, headers, body, None, writer, None)

    async def send(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    session = spdy.Session(send, server=False)

    async def pump() -> None:
        while data := await reader.read(65536):
            session.feed(data)
        session.feed_eof()

    return Client(status, headers, b"", session, writer, asyncio.create_task(pump()))


async def read_all(stream: spdy.Stream) -> bytes:
    out = b""
    while chunk := await asyncio.wait_for(stream.read(), 5):
        out += chunk
    return out


async def test_exec_streams_run_the_command_and_end_with_a_v4_status(served: Served) -> None:
    served.runtime.exit_code = 3
    client = await upgrade(
        served,
        "/exec/ns/web/app?command=sh&stdin=1&stdout=1&stderr=1",
        "v4.channel.k8s.io",
        "v3.channel.k8s.io",
    )
    try:
        assert client.status == 101
        assert client.headers["upgrade"] == "SPDY/3.1"
        assert client.headers["x-stream-protocol-version"] == "v4.channel.k8s.io"
        assert client.session is not None
        opened = {}
        for kind in ("error", "stdin", "stdout", "stderr"):
            opened[kind] = await client.session.open_stream([("streamType", kind)])
        await opened["stdin"].write(b"hello")
        await opened["stdin"].close()
        assert await read_all(opened["stdout"]) == b"HELLO"
        assert await read_all(opened["stderr"]) == b"to stderr"
        status = json.loads(await read_all(opened["error"]))
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
        await asyncio.wait_for(client.session.closed.wait(), 5)
    finally:
        await client.close()


async def test_attach_with_a_tty_starts_at_the_clients_size_and_follows_resizes(
    served: Served,
) -> None:
    client = await upgrade(served, "/attach/ns/web/app?stdin=1&stdout=1", "v4.channel.k8s.io")
    try:
        assert client.session is not None
        opened = {}
        # The container has a tty (its spec says so): no stderr stream, a resize stream.
        for kind in ("error", "stdin", "stdout", "resize"):
            opened[kind] = await client.session.open_stream([("streamType", kind)])
        await opened["resize"].write(b'{"Width":80,"Height":24}')
        await opened["resize"].write(b'{"Width":100,')
        await opened["resize"].write(b'"Height":30}\n')
        await opened["stdin"].write(b"ls\n")
        chunk = await asyncio.wait_for(opened["stdout"].read(), 5)
        assert chunk == b"LS\n"
        process = served.runtime.processes[-1]
        assert process.sizes == [(80, 24), (100, 30)]
        # The client goes away: the container is let go, not waited for.
        await client.close()
        for _ in range(50):
            if process.detached:
                break
            await asyncio.sleep(0.05)
        assert process.detached
    finally:
        await client.close()


async def test_port_forward_pairs_streams_by_request_id(served: Served) -> None:
    client = await upgrade(served, "/portForward/ns/web", "portforward.k8s.io")
    try:
        assert client.headers["x-stream-protocol-version"] == "portforward.k8s.io"
        assert client.session is not None
        streams = []
        for request_id in ("0", "1"):
            headers = [("port", "80"), ("requestID", request_id)]
            error = await client.session.open_stream([("streamType", "error"), *headers])
            await error.close()
            data = await client.session.open_stream([("streamType", "data"), *headers])
            streams.append((error, data))
        for i, (_, data) in enumerate(streams):
            await data.write(f"request {i}".encode())
        for i, (_, data) in enumerate(streams):
            assert await asyncio.wait_for(data.read(), 5) == f"request {i}".encode()
        # kubectl's side ends: the pod's socket is half-closed, the echo ends, so does the pair.
        error, data = streams[0]
        await data.close()
        assert await read_all(data) == b""
        assert await read_all(error) == b""
    finally:
        await client.close()


async def test_port_forward_to_a_closed_port_says_why_on_the_error_stream(served: Served) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = await upgrade(served, "/portForward/ns/web", "portforward.k8s.io")
    try:
        assert client.session is not None
        headers = [("port", str(closed_port)), ("requestID", "0")]
        error = await client.session.open_stream([("streamType", "error"), *headers])
        data = await client.session.open_stream([("streamType", "data"), *headers])
        message = (await read_all(error)).decode()
        assert message == (
            f"error forwarding port {closed_port} to pod sandbox-1, uid : "
            f"dial tcp4 127.0.0.1:{closed_port}: connect: connection refused"
        )
        assert await read_all(data) == b""
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("path", "protocol", "status", "text"),
    [
        ("/portForward/ns/web", "v9.portforward.k8s.io", 403, "unable to negotiate protocol"),
        ("/exec/ns/web/app?command=true&stdout=1", "v9.channel.k8s.io", 403, "unable to"),
        ("/portForward/ns/nope", "portforward.k8s.io", 404, 'pod "nope" does not exist'),
        (
            "/attach/ns/web/app",
            "v4.channel.k8s.io",
            400,
            "you must specify at least 1 of stdin, stdout, stderr",
        ),
    ],
)
async def test_refusals_before_the_upgrade(
    served: Served, path: str, protocol: str, status: int, text: str
) -> None:
    client = await upgrade(served, path, protocol)
    try:
        assert client.status == status
        assert text in client.body.decode()
        if status == 403:
            assert client.headers["x-accepted-stream-protocol-versions"]
    finally:
        await client.close()


def test_resize_messages_are_a_run_of_json_objects() -> None:
    buffer = bytearray(b'{"Width":1,"Height":2}\n{"Width":3,"Height":4}{"Wid')
    assert parse_sizes(buffer) == [TerminalSize(1, 2), TerminalSize(3, 4)]
    assert buffer == bytearray(b'{"Wid')
    buffer += b'th":5,"Height":6}'
    assert parse_sizes(buffer) == [TerminalSize(5, 6)]
    assert buffer == bytearray()


async def test_port_forward_over_a_websocket_uses_a_channel_pair_per_port(served: Served) -> None:
    # Not kubectl's way (it tunnels SPDY) but other clients': the Python client's, for one.
    url = f"https://127.0.0.1:{served.server.port}/portForward/ns/web?port=80"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=served.context)) as http:
        async with http.ws_connect(url, protocols=("v4.channel.k8s.io",)) as ws:
            assert ws.protocol == "v4.channel.k8s.io"
            # Each channel opens with its port, two bytes little-endian.
            assert (await ws.receive_bytes(timeout=5)) == b"\x00" + struct.pack("<H", 80)
            assert (await ws.receive_bytes(timeout=5)) == b"\x01" + struct.pack("<H", 80)
            await ws.send_bytes(b"\x00echo me")
            assert (await ws.receive_bytes(timeout=5)) == b"\x00echo me"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url.replace("port=80", "port=x"))
        assert refused.value.status == 400


async def test_an_attach_that_fails_says_so_in_the_kubelets_words(served: Served) -> None:
    served.runtime.attach_error = 'container "app" is not running'
    client = await upgrade(served, "/attach/ns/web/app?stdout=1", "v4.channel.k8s.io")
    try:
        assert client.session is not None
        error = await client.session.open_stream([("streamType", "error")])
        await client.session.open_stream([("streamType", "stdout")])
        await client.session.open_stream([("streamType", "resize")])
        status = json.loads(await read_all(error))
        assert status["message"] == (
            'Internal error occurred: error attaching to container: container "app" is not running'
        )
    finally:
        await client.close()


async def test_stopping_the_kubelet_ends_its_spdy_sessions(served: Served) -> None:
    client = await upgrade(served, "/portForward/ns/web", "portforward.k8s.io")
    try:
        assert client.session is not None
        await client.session.open_stream([("streamType", "error"), ("requestID", "0")])
        started = asyncio.get_running_loop().time()
        await served.server.stop()
        await asyncio.wait_for(client.session.closed.wait(), 5)
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        await client.close()
