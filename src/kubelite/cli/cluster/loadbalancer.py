"""The agent's load balancer over the API servers, as k3s' (pkg/agent/loadbalancer).

An agent joins through one server (`--server`), but a cluster may have several, and the agent
must go on when that one stops. So its clients (the kubelet, the service proxy) talk to a TCP
listener on 127.0.0.1 instead, which forwards each connection to one live API server. TLS
passes through untouched: the servers' certificates name 127.0.0.1 (apiserver/server.py), and
clients still verify them against the cluster CA.

Which servers: the `--server` address to start with, then the addresses of the `kubernetes`
Endpoints in `default` (which every server keeps listing the live ones, see
apiserver/master_leases.py), watched by `follow_endpoints`. The `--server` address stays as a
last resort when the Endpoints no longer list it, as in k3s.

Which one: new connections go to the current server; when dialling it fails they go to the
next, and it becomes current. A health check connects to every server each second (k3s checks
each second too); a server that stops answering has its open connections closed, so clients
notice at once and reconnect, through here, to another. Watches survive that as any dropped
watch does: the client resumes or relists.

The listening port is k3s' 6444 when free, else any free one, and is kept in
`<agent dir>/etc/kubelite-api-server-agent-load-balancer.json` with the server list, so that a
restarted agent listens where it did and knows every server even if its first one is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubelite.api.resources import ENDPOINTS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.informer import Informer

log = logging.getLogger(__name__)

LOCAL_HOST = "127.0.0.1"
# k3s' agent load balancer for the API server listens on 127.0.0.1:6444.
DEFAULT_PORT = 6444
# k3s runs its health checks every second (runHealthChecks).
HEALTH_CHECK_INTERVAL = 1.0
# How long a server may take to accept a connection before it counts as down.
DIAL_TIMEOUT = 3.0
# k3s waits a second after an Endpoints change before it applies it (endpointDebounceDelay):
# a server starting up removes and adds itself a few times.
ENDPOINTS_DEBOUNCE = 1.0
STATE_FILE = "kubelite-api-server-agent-load-balancer.json"
BUFFER = 64 * 1024


def host_port(url: str) -> str:
    """`host:port` of an https URL (443 when it names none), IPv6 hosts in brackets."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"--server {url!r}: must be an https:// URL")
    return join_host_port(parts.hostname, parts.port or 443)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def endpoint_addresses(endpoints: Obj) -> list[str]:
    """`ip:port` of every ready address and port of an Endpoints (k3s' util.GetAddresses)."""
    found = []
    for subset in endpoints.get("subsets") or []:
        for address in subset.get("addresses") or []:
            for port in subset.get("ports") or []:
                found.append(join_host_port(address["ip"], int(port["port"])))
    return found


@dataclass(eq=False)
class _Server:
    address: str
    healthy: bool = True
    # The writers of the client side of every connection forwarded to this server.
    connections: set[asyncio.StreamWriter] = field(default_factory=set)

    def close_all(self) -> None:
        if self.connections:
            log.info("closing %d connections to %s", len(self.connections), self.address)
        for writer in list(self.connections):
            writer.close()


class LoadBalancer:
    """A TCP listener on 127.0.0.1 that forwards each connection to one live API server."""

    def __init__(
        self,
        default_server: str,
        *,
        state_file: Path | None = None,
        health_interval: float = HEALTH_CHECK_INTERVAL,
        dial_timeout: float = DIAL_TIMEOUT,
    ) -> None:
        self.default_server = default_server
        self.state_file = state_file
        self.health_interval = health_interval
        self.dial_timeout = dial_timeout
        self.addresses: list[str] = [default_server]
        self._servers: dict[str, _Server] = {default_server: _Server(default_server)}
        self._current = default_server
        self._listener: asyncio.Server | None = None
        self._health: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """What clients use instead of the server's URL."""
        return f"https://{LOCAL_HOST}:{self.port}"

    @property
    def current(self) -> str:
        return self._current

    async def start(self, port: int | None = None) -> None:
        """Listen on `port`, else the recorded port, else 6444, else any free one."""
        recorded = self._load_state()
        for candidate in dict.fromkeys([port, recorded, DEFAULT_PORT, 0]):
            if candidate is None:
                continue
            try:
                self._listener = await asyncio.start_server(
                    self._forward, LOCAL_HOST, candidate, reuse_address=True
                )
                break
            except OSError:
                continue
        assert self._listener is not None  # port 0 always binds
        self.port = self._listener.sockets[0].getsockname()[1]
        self._save_state()
        self._health = asyncio.create_task(self._check_health(), name="lb-health")
        log.info("load balancer %s -> %s", self.url, self.addresses)

    async def close(self) -> None:
        if self._health is not None:
            self._health.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health
        if self._listener is not None:
            self._listener.close()
        for server in self._servers.values():
            server.close_all()
        if self._listener is not None:
            await self._listener.wait_closed()

    def update(self, addresses: list[str]) -> None:
        """Forward to these servers from now on (the `--server` one stays a last resort);
        connections to servers no longer listed are closed, so their clients move over."""
        wanted = list(dict.fromkeys(addresses))
        if not wanted or wanted == self.addresses:
            return
        for address in wanted:
            self._servers.setdefault(address, _Server(address))
        for address in set(self.addresses) - set(wanted):
            gone = self._servers[address]
            gone.close_all()
            if address != self.default_server:
                del self._servers[address]
        self.addresses = wanted
        if self._current not in wanted:
            self._current = wanted[0]
        log.info("load balancer servers -> %s", wanted)
        self._save_state()

    def _candidates(self) -> list[str]:
        """Servers to try, best first: the current one, the other healthy ones in turn after
        it, then the unhealthy, then the `--server` one if no longer listed."""
        listed = self.addresses
        start = listed.index(self._current) if self._current in listed else 0
        ring = listed[start:] + listed[:start]
        healthy = [a for a in ring if self._servers[a].healthy]
        unhealthy = [a for a in ring if not self._servers[a].healthy]
        last = [] if self.default_server in listed else [self.default_server]
        return healthy + unhealthy + last

    async def _dial(self) -> tuple[_Server, asyncio.StreamReader, asyncio.StreamWriter]:
        for address in self._candidates():
            server = self._servers[address]
            host, port = split_host_port(address)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), self.dial_timeout
                )
            except (OSError, TimeoutError) as e:
                log.debug("dialling %s failed: %s", address, e)
                server.healthy = False
                continue
            if address != self._current:
                log.info("load balancer failed over to %s", address)
                self._current = address
            return server, reader, writer
        raise ConnectionError(f"no API server answers: tried {', '.join(self._candidates())}")

    async def _forward(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            server, server_r, server_w = await self._dial()
        except ConnectionError as e:
            log.warning("%s", e)
            client_w.close()
            return
        server.connections.add(client_w)
        pumps = [
            asyncio.create_task(_pump(client_r, server_w)),
            asyncio.create_task(_pump(server_r, client_w)),
        ]
        try:
            # Either side ending ends both: TLS needs no half-closed connections.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            server.connections.discard(client_w)
            for writer in (client_w, server_w):
                writer.close()

    async def _check_health(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            servers = list(self._servers.values())
            results = await asyncio.gather(*(self._answers(s.address) for s in servers))
            for server, ok in zip(servers, results, strict=True):
                if server.healthy and not ok:
                    log.warning("API server %s stopped answering", server.address)
                    server.close_all()
                server.healthy = ok
            healthy = [a for a in self.addresses if self._servers[a].healthy]
            if healthy and not self._servers[self._current].healthy:
                log.info("load balancer moves from %s to %s", self._current, healthy[0])
                self._current = healthy[0]
            if healthy and self.default_server not in self.addresses:
                # A listed server answers: clients still on the last resort move over.
                self._servers[self.default_server].close_all()

    async def _answers(self, address: str) -> bool:
        host, port = split_host_port(address)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.dial_timeout
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    def _load_state(self) -> int | None:
        """The recorded port, and the recorded servers when they were found for this same
        `--server`."""
        if self.state_file is None:
            return None
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if state.get("ServerAddress") == self.default_server:
            addresses = [a for a in state.get("ServerAddresses") or [] if isinstance(a, str)]
            if addresses:
                self.update(addresses)
        port = state.get("Port")
        return port if isinstance(port, int) and 0 < port < 65536 else None

    def _save_state(self) -> None:
        if self.state_file is None or not self.port:
            return
        state = {
            "ServerAddress": self.default_server,
            "ServerAddresses": self.addresses,
            "Port": self.port,
        }
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(state, indent=2) + "\n")
            tmp.replace(self.state_file)
        except OSError as e:
            log.warning("cannot record the load balancer's state in %s: %s", self.state_file, e)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(BUFFER):
            writer.write(data)
            await writer.drain()


async def start_for_agent(server_url: str, agent_dir: Path) -> LoadBalancer:
    """The agent's balancer in front of `server_url`, its state under `agent_dir/etc`."""
    balancer = LoadBalancer(host_port(server_url), state_file=agent_dir / "etc" / STATE_FILE)
    await balancer.start()
    return balancer


async def follow_endpoints(
    client: APIClient,
    update: Callable[[list[str]], None],
    *,
    debounce: float = ENDPOINTS_DEBOUNCE,
) -> None:
    """Keep `update` told of the addresses of the `kubernetes` Endpoints until cancelled (the
    watch of k3s' agent tunnel), each change applied after `debounce` of quiet."""
    informer = Informer(
        client, ENDPOINTS, namespace="default", field_selector="metadata.name=kubernetes"
    )
    pending: asyncio.TimerHandle | None = None
    loop = asyncio.get_running_loop()

    def apply() -> None:
        endpoints = informer.get("default/kubernetes")
        addresses = endpoint_addresses(endpoints) if endpoints is not None else []
        if addresses:
            update(addresses)

    def changed(_event: str, _obj: Obj) -> None:
        nonlocal pending
        if pending is not None:
            pending.cancel()
        pending = loop.call_later(debounce, apply)

    informer.add_handler(changed)
    informer.start()
    try:
        await asyncio.Event().wait()
    finally:
        if pending is not None:
            pending.cancel()
        await informer.stop()


async def run_beside(
    main: Coroutine[Any, Any, None], balancer: LoadBalancer, client: APIClient
) -> None:
    """Run `main` (the node) while the balancer follows the `kubernetes` Endpoints; close the
    balancer when `main` ends."""
    following = asyncio.create_task(follow_endpoints(client, balancer.update), name="lb-servers")
    try:
        await main
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await balancer.close()
