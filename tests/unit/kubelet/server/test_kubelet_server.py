"""The kubelet's HTTPS server on loopback: what it answers before any stream, and how it stops."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from kubelite.apiserver import certs
from kubelite.kubelet.server import (
    ContainerNotAvailable,
    ContainerNotFound,
    KubeletServer,
    PodNotFound,
    ServingTLS,
)
from kubelite.runtime.cri import ContainerMetadata, ContainerState, ContainerStatus

LINE = b"2026-12-02T03:00:00.000000001Z stdout F hello\n"


@dataclass
class Locator:
    log: Path
    waiting: bool = False

    def find(self, namespace: str, pod: str, container: str, previous: bool) -> tuple[str, Path]:
        if pod != "web":
            raise PodNotFound(f'pod "{pod}" does not exist')
        if container != "app":
            raise ContainerNotFound(f'container "{container}" not found in pod "{pod}"')
        if self.waiting:
            raise ContainerNotAvailable(
                f'container "app" in pod "{pod}" is waiting to start: ContainerCreating'
            )
        return "cid", self.log


@dataclass
class Runtime:
    running: set[str] = field(default_factory=lambda: {"cid"})

    async def container_status(self, container_id: str) -> ContainerStatus:
        state = (
            ContainerState.CONTAINER_RUNNING
            if container_id in self.running
            else (ContainerState.CONTAINER_EXITED)
        )
        return ContainerStatus(container_id, ContainerMetadata("app"), state, created_at=0)

    async def exec(
        self, container_id: str, cmd: list[str], *, stdin: bool, tty: bool, size: object = None
    ) -> None:
        raise AssertionError("no exec expected")


@dataclass
class Served:
    server: KubeletServer
    locator: Locator
    session: aiohttp.ClientSession
    url: str


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    pki = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    cert, key = certs.issue_kubelet_serving_cert(pki, "node-a", ["127.0.0.1"])
    log = tmp_path / "app.log"
    log.write_bytes(LINE * 3)
    locator = Locator(log)
    server = KubeletServer(
        locator, Runtime(), ServingTLS(cert, key, pki.ca_cert), host="127.0.0.1", port=0
    )
    await server.start()
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(pki.kubelet_client_cert, pki.kubelet_client_key)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    try:
        yield Served(server, locator, session, f"https://127.0.0.1:{server.port}")
    finally:
        await session.close()
        await server.stop()


async def get(served: Served, path: str, **headers: str) -> tuple[int, str]:
    async with served.session.get(served.url + path, headers=headers) as response:
        return response.status, await response.text()


async def test_health_and_logs(served: Served) -> None:
    assert await get(served, "/healthz") == (200, "ok")
    assert await get(served, "/containerLogs/ns/web/app?tailLines=2&timestamps=true") == (
        200,
        "2026-12-02T03:00:00.000000001Z hello\n" * 2,
    )


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/containerLogs/ns/nope/app", 404, 'pod "nope" does not exist'),
        ("/containerLogs/ns/web/other", 404, 'container "other" not found in pod "web"'),
        ("/containerLogs/ns/web/app?tailLines=x", 400, "tailLines: invalid value 'x'"),
        ("/exec/ns/web/app", 400, "you must specify at least 1 command"),
        ("/exec/ns/web/app?command=true", 400, "you must specify at least 1 of stdin"),
        ("/exec/ns/web/app?command=true&stdout=1", 426, "unable to upgrade connection"),
    ],
)
async def test_refusals(served: Served, path: str, status: int, text: str) -> None:
    got_status, got_text = await get(served, path)
    assert got_status == status
    assert got_text.startswith(text)


async def test_a_waiting_container_is_a_bad_request(served: Served) -> None:
    served.locator.waiting = True
    assert await get(served, "/containerLogs/ns/web/app") == (
        400,
        'container "app" in pod "web" is waiting to start: ContainerCreating',
    )


async def test_an_unknown_exec_subprotocol_is_refused(served: Served) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await served.session.ws_connect(
            served.url + "/exec/ns/web/app?command=true&stdout=1", protocols=("channel.k8s.io",)
        )
    assert caught.value.status == 400


async def test_stopping_ends_a_followed_log(served: Served) -> None:
    async with served.session.get(served.url + "/containerLogs/ns/web/app?follow=true") as resp:
        assert await resp.content.readline() == b"hello\n"
        started = time.monotonic()
        stopping = asyncio.create_task(served.server.stop())
        await asyncio.wait_for(resp.read(), 10)
        await asyncio.wait_for(stopping, 10)
    assert time.monotonic() - started < 3
    assert served.server.active_streams == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
async def test_container_logs_answer_other_methods_405(served: Served, method: str) -> None:
    """1.37 (#138088): the log endpoint is GET only; others get 405 and `Allow: GET`, as
    go-restful answers a route it has for another method (body `405: Method Not Allowed`)."""
    async with served.session.request(method, served.url + "/containerLogs/ns/web/app") as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"
        if method != "HEAD":
            assert await resp.text() == "405: Method Not Allowed"


async def test_an_unauthenticated_post_to_the_logs_is_401_first(served: Served) -> None:
    """The kubelet's authentication filter runs before the route is matched."""
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as anonymous,
        anonymous.post(served.url + "/containerLogs/ns/web/app") as resp,
    ):
        assert resp.status == 401
