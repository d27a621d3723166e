"""The agent's load balancer (kubelite/cli/cluster/loadbalancer.py) over tiny local TCP servers
that answer with their name: new connections go to a live server, one that stops answering is
left (its connections closed), the port and the server list are kept for the next start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubelite.cli.cluster.loadbalancer import (
    LoadBalancer,
    endpoint_addresses,
    host_port,
)

WAIT = 10.0


@dataclass
class NameServer:
    """Answers each connection with its name, then echoes what it reads."""

    name: str
    server: asyncio.Server | None = None
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(self.name.encode() + b"\n")
        while data := await reader.read(1024):
            writer.write(data)

    def stop_listening(self) -> None:
        """No new connections; those open stay (a server that hangs, not one that died)."""
        assert self.server is not None
        self.server.close()

    def kill(self) -> None:
        self.stop_listening()
        for writer in self.writers:
            writer.transport.abort()


@pytest.fixture
async def servers() -> AsyncIterator[tuple[NameServer, NameServer]]:
    a, b = NameServer("a"), NameServer("b")
    await a.start()
    await b.start()
    yield a, b
    a.kill()
    b.kill()


async def connect(lb: LoadBalancer) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
    name = await asyncio.wait_for(reader.readline(), WAIT)
    return name.decode().strip(), reader, writer


async def started(lb: LoadBalancer) -> LoadBalancer:
    await lb.start(port=0)
    return lb


async def test_a_killed_server_sends_new_connections_to_the_other(
    servers: tuple[NameServer, NameServer],
) -> None:
    a, b = servers
    lb = await started(LoadBalancer(a.address, health_interval=60))
    try:
        lb.update([a.address, b.address])
        name, _, writer = await connect(lb)
        assert name == "a"
        writer.close()
        a.kill()
        # No health check has run: the failed dial alone moves the balancer on.
        name, reader, writer = await connect(lb)
        assert name == "b"
        assert lb.current == b.address
        writer.write(b"ping\n")
        assert await asyncio.wait_for(reader.readline(), WAIT) == b"ping\n"
        writer.close()
    finally:
        await lb.close()


async def test_connections_to_a_server_that_stops_answering_are_closed(
    servers: tuple[NameServer, NameServer],
) -> None:
    a, b = servers
    lb = await started(LoadBalancer(a.address, health_interval=0.1, dial_timeout=1))
    try:
        lb.update([a.address, b.address])
        name, reader, writer = await connect(lb)
        assert name == "a"
        a.stop_listening()
        # The health check finds `a` gone and ends the connection: the client reconnects.
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()
        assert lb.current == b.address
        name, _, writer = await connect(lb)
        assert name == "b"
        writer.close()
    finally:
        await lb.close()


async def test_all_servers_down_closes_the_client(servers: tuple[NameServer, NameServer]) -> None:
    a, _ = servers
    lb = await started(LoadBalancer(a.address, health_interval=60))
    try:
        a.kill()
        reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()
    finally:
        await lb.close()


async def test_a_server_no_longer_listed_loses_its_connections(
    servers: tuple[NameServer, NameServer],
) -> None:
    a, b = servers
    lb = await started(LoadBalancer(a.address, health_interval=60))
    try:
        name, reader, writer = await connect(lb)
        assert name == "a"
        lb.update([b.address])
        assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()
        name, _, writer = await connect(lb)
        assert name == "b"
        writer.close()
    finally:
        await lb.close()


async def test_the_first_server_is_the_last_resort(servers: tuple[NameServer, NameServer]) -> None:
    a, b = servers
    lb = await started(LoadBalancer(a.address, health_interval=60))
    try:
        lb.update([b.address])
        b.kill()
        name, _, writer = await connect(lb)
        assert name == "a"
        writer.close()
    finally:
        await lb.close()


async def test_the_port_and_servers_are_kept_for_the_next_start(
    servers: tuple[NameServer, NameServer], tmp_path: Path
) -> None:
    a, b = servers
    first_server = a.address
    state = tmp_path / "etc" / "lb.json"
    first = LoadBalancer(first_server, state_file=state, health_interval=60)
    await first.start()
    port = first.port
    first.update([a.address, b.address])
    await first.close()
    assert json.loads(state.read_text())["ServerAddresses"] == [a.address, b.address]
    a.kill()
    again = LoadBalancer(first_server, state_file=state, health_interval=60)
    await again.start()
    try:
        assert again.port == port
        # The first server is down, but the restarted balancer knows the other one.
        name, _, writer = await connect(again)
        assert name == "b"
        writer.close()
    finally:
        await again.close()


def test_endpoint_addresses_pair_every_address_with_every_port() -> None:
    endpoints = {
        "subsets": [
            {
                "addresses": [{"ip": "192.0.2.1"}, {"ip": "2001:db8::2"}],
                "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
            }
        ]
    }
    assert endpoint_addresses(endpoints) == ["192.0.2.1:6443", "[2001:db8::2]:6443"]
    assert endpoint_addresses({"metadata": {}}) == []


def test_the_server_url_gives_the_first_address() -> None:
    assert host_port("https://192.0.2.1:6443") == "192.0.2.1:6443"
    assert host_port("https://[2001:db8::1]") == "[2001:db8::1]:443"
    with pytest.raises(ValueError, match="https://"):
        host_port("http://192.0.2.1:6443")
