"""Lifecycle hooks of each kind: exec, httpGet (with its HTTPS fallback), sleep, and tcpSocket.

(Named test_lifecycle_hooks.py: tests/unit/hollow/test_lifecycle.py already has the plain name,
and test modules share one namespace.)
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from kubelite.kubelet.lifecycle import run_hook
from kubelite.runtime.cri import ExecSyncResult
from kubelite.runtime.errors import NotFound

Obj = dict[str, Any]

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "uid-1"}, "spec": {}}
CONTAINER = {"name": "app", "ports": [{"name": "admin", "containerPort": 0}]}
WHERE = 'for Container "app" in Pod "web_default(uid-1)"'


class Runtime:
    """exec_sync only: gives one answer and records the call."""

    def __init__(self, answer: ExecSyncResult | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, list[str], float | None]] = []

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecSyncResult:
        self.calls.append((container_id, cmd, timeout))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    async def __call__(self, kind: str, reason: str, message: str, field_path: str) -> None:
        self.seen.append((kind, reason, message, field_path))


async def hook(handler: Obj, runtime: Runtime | None = None, events: Events | None = None) -> str:
    return await run_hook(
        POD,
        CONTAINER,
        "c1",
        handler,
        runtime=runtime or Runtime(ExecSyncResult(b"", b"", 0)),
        pod_ip=lambda uid: "127.0.0.1",
        record=events,
    )


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, list[web.Request]]]:
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        return web.Response(status=int(request.query.get("status", "200")))

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server, seen
    finally:
        await test_server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- exec ---


async def test_exec_hook_success_is_empty_and_runs_without_a_timeout() -> None:
    runtime = Runtime(ExecSyncResult(b"done", b"", 0))
    assert await hook({"exec": {"command": ["/bin/sh", "-c", "echo done"]}}, runtime) == ""
    assert runtime.calls == [("c1", ["/bin/sh", "-c", "echo done"], None)]


async def test_exec_hook_non_zero_exit_gives_kubernetes_message() -> None:
    runtime = Runtime(ExecSyncResult(b"out\n", b"err\n", 1))
    message = await hook({"exec": {"command": ["/bin/sh", "-c", "exit 1"]}}, runtime)
    assert message == (
        f"Exec lifecycle hook ([/bin/sh -c exit 1]) {WHERE} failed - error: "
        "command '/bin/sh -c exit 1' exited with 1: err\n, "
        'message: "out\\nerr\\n"'
    )


async def test_exec_hook_in_a_missing_container_fails_with_the_runtime_error() -> None:
    message = await hook({"exec": {"command": ["true"]}}, Runtime(NotFound("no container c1")))
    assert message == (
        f'Exec lifecycle hook ([true]) {WHERE} failed - error: no container c1, message: ""'
    )


# --- httpGet ---


async def test_http_hook_gets_the_pod_ip_with_lifecycle_user_agent(server) -> None:
    test_server, seen = server
    handler = {
        "httpGet": {
            "path": "/hook?x=1",
            "port": test_server.port,
            "httpHeaders": [{"name": "X-Why", "value": "stop"}],
        }
    }
    assert await hook(handler) == ""
    assert seen[0].path == "/hook"
    assert seen[0].headers["User-Agent"] == "kube-lifecycle/1.37"
    assert seen[0].headers["X-Why"] == "stop"


async def test_http_hook_does_not_look_at_the_status_code(server) -> None:
    # handlers.go's runHTTPHandler fails only when no response comes back.
    test_server, seen = server
    assert await hook({"httpGet": {"path": "/?status=500", "port": test_server.port}}) == ""
    assert len(seen) == 1


async def test_http_hook_by_port_name(server) -> None:
    test_server, seen = server
    container = {"name": "app", "ports": [{"name": "admin", "containerPort": test_server.port}]}
    message = await run_hook(
        POD,
        container,
        "c1",
        {"httpGet": {"path": "/named", "port": "admin"}},
        runtime=Runtime(ExecSyncResult(b"", b"", 0)),
        pod_ip=lambda uid: "127.0.0.1",
    )
    assert message == ""
    assert seen[0].path == "/named"


async def test_http_hook_without_a_response_fails_with_go_error() -> None:
    port = closed_port()
    message = await hook({"httpGet": {"path": "/hook", "port": port}})
    assert message == (
        f"HTTP lifecycle hook (/hook) {WHERE} failed - error: "
        f'Get "http://127.0.0.1:{port}/hook": dial tcp 127.0.0.1:{port}: connect: '
        "connection refused"
    )


async def test_https_hook_answered_in_plain_http_falls_back_without_credentials(server) -> None:
    test_server, seen = server
    events = Events()
    handler = {
        "httpGet": {
            "scheme": "HTTPS",
            "path": "/hook",
            "port": test_server.port,
            "httpHeaders": [{"name": "Authorization", "value": "Bearer secret"}],
        }
    }
    assert await hook(handler, events=events) == ""
    assert [r.path for r in seen] == ["/hook"]
    assert "Authorization" not in seen[0].headers
    assert events.seen == [
        (
            "Warning",
            "LifecycleHTTPFallback",
            f"request to HTTPS lifecycle hook 127.0.0.1:{test_server.port} got HTTP response, "
            "retry with HTTP succeeded",
            "",
        )
    ]


async def test_http_hook_of_a_pod_without_ip_fails() -> None:
    message = await run_hook(
        POD,
        CONTAINER,
        "c1",
        {"httpGet": {"path": "/hook", "port": 80}},
        runtime=Runtime(ExecSyncResult(b"", b"", 0)),
        pod_ip=lambda uid: "",
    )
    assert message.startswith(f"HTTP lifecycle hook (/hook) {WHERE} failed - error: ")
    assert "has no IP address" in message


# --- sleep and the rest ---


async def test_sleep_hook_waits_its_seconds() -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(hook({"sleep": {"seconds": 1}}), 0.05)
    assert await hook({"sleep": {"seconds": 0}}) == ""


async def test_tcp_socket_hook_is_not_supported_and_fails_as_in_kubernetes() -> None:
    message = await hook({"tcpSocket": {"port": 8080}})
    assert message.startswith("Cannot run handler: invalid handler: ")
    assert "tcpSocket" in message
