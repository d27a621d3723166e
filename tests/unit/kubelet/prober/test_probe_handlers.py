"""The probe handlers one attempt at a time: exec, httpGet, tcpSocket, grpc, and port names."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from grpc import aio
from probe_doubles import ExecRuntime, Server, closed_port, fail, ok, self_signed_tls

from kubelite.kubelet.prober.exec_probe import exec_probe, probe_command
from kubelite.kubelet.prober.gotext import duration
from kubelite.kubelet.prober.grpc_probe import decode_status, encode_request, grpc_probe
from kubelite.kubelet.prober.http_probe import http_probe, new_request
from kubelite.kubelet.prober.outcome import Outcome, ProbeError, ProbeResult
from kubelite.kubelet.prober.ports import resolve_port
from kubelite.kubelet.prober.tcp_probe import tcp_probe
from kubelite.runtime.errors import NotFound

SUCCESS, WARNING, FAILURE = ProbeResult.SUCCESS, ProbeResult.WARNING, ProbeResult.FAILURE

# --- ports ------------------------------------------------------------------------------------

CONTAINER = {"name": "app", "ports": [{"name": "http", "containerPort": 8080}]}


@pytest.mark.parametrize(
    ("port", "expected"),
    [(8080, 8080), ("http", 8080), ("9090", 9090)],
)
def test_ports_resolve_by_number_name_or_numeric_string(port: int | str, expected: int) -> None:
    assert resolve_port(port, CONTAINER) == expected


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("metrics", 'strconv.Atoi: parsing "metrics": invalid syntax'),
        (0, "invalid port number: 0"),
        (70000, "invalid port number: 70000"),
    ],
)
def test_unresolvable_ports_are_errors_in_kubernetes_words(port: int | str, message: str) -> None:
    with pytest.raises(ProbeError, match=f"^{message}$"):
        resolve_port(port, CONTAINER)


@pytest.mark.parametrize(
    ("seconds", "text"), [(1.0, "1s"), (0.3, "300ms"), (2.5, "2.5s"), (90.0, "1m30s")]
)
def test_durations_print_as_go_does(seconds: float, text: str) -> None:
    assert duration(seconds) == text


# --- exec -------------------------------------------------------------------------------------


async def test_exec_exit_zero_is_success_with_output() -> None:
    runtime = ExecRuntime({"check": [ok("all good\n")]})
    outcome = await exec_probe(runtime, "c1", ["check"], 1.0)
    assert outcome == Outcome(SUCCESS, "all good\n")
    assert runtime.calls == [("c1", ["check"], 1.0)]


async def test_exec_non_zero_exit_is_failure_with_stdout_and_stderr() -> None:
    runtime = ExecRuntime({"cat": [fail("out ", 1, "cat: can't open '/tmp/healthy'\n")]})
    outcome = await exec_probe(runtime, "c1", ["cat", "/tmp/healthy"], 1.0)
    assert outcome == Outcome(FAILURE, "out cat: can't open '/tmp/healthy'\n")


async def test_exec_output_is_cut_at_10_kib() -> None:
    runtime = ExecRuntime({"spam": [fail("x" * 20000)]})
    outcome = await exec_probe(runtime, "c1", ["spam"], 1.0)
    assert len(outcome.output) == 10 * 1024


async def test_exec_past_its_timeout_is_a_failure_that_says_so() -> None:
    runtime = ExecRuntime({"sleep": [5.0]})
    outcome = await exec_probe(runtime, "c1", ["sleep", "10"], 0.02)
    assert outcome == Outcome(FAILURE, 'command "sleep 10" timed out')


async def test_exec_in_a_missing_container_is_an_error() -> None:
    runtime = ExecRuntime({"check": [NotFound("container c1 not found")]})
    with pytest.raises(ProbeError, match="container c1 not found"):
        await exec_probe(runtime, "c1", ["check"], 1.0)


def test_exec_command_expands_only_literal_env_values() -> None:
    container = {
        "env": [
            {"name": "FILE", "value": "/tmp/ok"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
        ]
    }
    action = {"command": ["cat", "$(FILE)", "$(TOKEN)", "$$(FILE)", "$(OTHER)"]}
    assert probe_command(action, container) == ["cat", "/tmp/ok", "", "$(FILE)", "$(OTHER)"]


# --- httpGet ----------------------------------------------------------------------------------


async def answer(status: int, body: str = "") -> web.Response:
    return web.Response(status=status, text=body)


def routes() -> dict:
    async def healthy(request: web.Request) -> web.Response:
        return await answer(200, "ok")

    async def broken(request: web.Request) -> web.Response:
        return await answer(500, "password=hunter2")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/healthz")

    async def elsewhere(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://localhost:1/healthz")

    async def circle(request: web.Request) -> web.Response:
        raise web.HTTPFound("/circle")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return await answer(200)

    async def big(request: web.Request) -> web.Response:
        return await answer(500, "y" * 100_000)

    async def not_modified(request: web.Request) -> web.Response:
        return web.Response(status=304)

    return {
        "/healthz": healthy,
        "/broken": broken,
        "/moved": moved,
        "/elsewhere": elsewhere,
        "/circle": circle,
        "/slow": slow,
        "/big": big,
        "/not-modified": not_modified,
    }


async def probe_path(server: Server, path: str, timeout: float = 1.0, **action: object) -> Outcome:
    container = {"name": "app", "ports": [{"name": "web", "containerPort": server.port}]}
    request = new_request({"port": "web", "path": path, **action}, container, "127.0.0.1", "probe")
    return await http_probe(request, timeout)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/healthz", Outcome(SUCCESS, "ok")),
        ("/broken", Outcome(FAILURE, "HTTP probe failed with statuscode: 500")),
        ("/not-modified", Outcome(WARNING, "Probe terminated redirects, Response body: ")),
        ("/missing", Outcome(FAILURE, "HTTP probe failed with statuscode: 404")),
    ],
)
async def test_http_status_codes_decide(path: str, expected: Outcome) -> None:
    async with Server(routes()) as server:
        assert await probe_path(server, path) == expected


async def test_http_sends_kube_probe_user_agent_accept_and_given_headers() -> None:
    async with Server(routes()) as server:
        headers = [{"name": "X-Custom", "value": "a"}, {"name": "Host", "value": "example.test"}]
        assert (await probe_path(server, "/healthz?full=1", httpHeaders=headers)).result == SUCCESS
        request = server.requests[0]
    assert request.headers["User-Agent"] == "kube-probe/1.37"
    assert request.headers["Accept"] == "*/*"
    assert "Accept-Encoding" not in request.headers
    assert request.headers["X-Custom"] == "a"
    assert request.host == "example.test"
    assert request.query_string == "full=1"


async def test_http_given_user_agent_wins_and_empty_accept_sends_none() -> None:
    async with Server(routes()) as server:
        headers = [{"name": "user-agent", "value": "mine"}, {"name": "Accept", "value": ""}]
        await probe_path(server, "/healthz", httpHeaders=headers)
        request = server.requests[0]
    assert request.headers["User-Agent"] == "mine"
    assert "Accept" not in request.headers


async def test_http_follows_redirects_on_the_same_host() -> None:
    async with Server(routes()) as server:
        assert await probe_path(server, "/moved") == Outcome(SUCCESS, "ok")
        assert [r.path for r in server.requests] == ["/moved", "/healthz"]


async def test_http_redirect_to_another_host_is_a_warning_not_followed() -> None:
    async with Server(routes()) as server:
        outcome = await probe_path(server, "/elsewhere")
        assert outcome.result == WARNING
        assert outcome.output.startswith("Probe terminated redirects, Response body: ")
        assert [r.path for r in server.requests] == ["/elsewhere"]


async def test_http_stops_after_ten_redirects() -> None:
    async with Server(routes()) as server:
        outcome = await probe_path(server, "/circle")
        assert outcome == Outcome(
            FAILURE, f'Get "http://127.0.0.1:{server.port}/circle": stopped after 10 redirects'
        )
        assert len(server.requests) == 11


async def test_http_timeout_is_a_failure_in_go_words() -> None:
    async with Server(routes()) as server:
        outcome = await probe_path(server, "/slow", timeout=0.05)
        assert outcome == Outcome(
            FAILURE,
            f'Get "http://127.0.0.1:{server.port}/slow": context deadline exceeded '
            "(Client.Timeout exceeded while awaiting headers)",
        )


async def test_http_failure_never_shows_the_body_and_reads_at_most_10_kib() -> None:
    async with Server(routes()) as server:
        outcome = await probe_path(server, "/big")
    assert outcome == Outcome(FAILURE, "HTTP probe failed with statuscode: 500")


async def test_http_connection_refused_reads_as_go_dial_error() -> None:
    port = closed_port()
    request = new_request({"port": port, "path": "/healthz"}, {}, "127.0.0.1", "probe")
    outcome = await http_probe(request, 1.0)
    assert outcome == Outcome(
        FAILURE,
        f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: '
        "connection refused",
    )


async def test_https_probe_does_not_verify_the_certificate(tmp_path: Path) -> None:
    async with Server(routes(), tls=self_signed_tls(tmp_path)) as server:
        assert await probe_path(server, "/healthz", scheme="HTTPS") == Outcome(SUCCESS, "ok")


async def test_https_probe_of_a_plain_http_server_fails_as_go_says() -> None:
    async with Server(routes()) as server:
        outcome = await probe_path(server, "/healthz", scheme="HTTPS")
        assert outcome == Outcome(
            FAILURE,
            f'Get "https://127.0.0.1:{server.port}/healthz": '
            "http: server gave HTTP response to HTTPS client",
        )


def test_http_request_defaults_host_to_pod_ip_and_path_to_root() -> None:
    request = new_request({"port": 80}, {}, "10.42.0.5", "probe")
    assert request.url == "http://10.42.0.5:80"
    request = new_request({"port": 80, "host": "::1", "path": "ready"}, {}, "10.42.0.5", "probe")
    assert request.url == "http://[::1]:80/ready"


# --- tcpSocket --------------------------------------------------------------------------------


async def test_tcp_connect_to_a_listening_socket_is_success() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert await tcp_probe("127.0.0.1", port, 1.0) == Outcome(SUCCESS)


async def test_tcp_closed_port_fails_with_go_dial_error() -> None:
    port = closed_port()
    assert await tcp_probe("127.0.0.1", port, 1.0) == Outcome(
        FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


async def test_tcp_unresolvable_host_fails_as_lookup_error() -> None:
    outcome = await tcp_probe("no-such-host.invalid", 80, 1.0)
    assert outcome == Outcome(FAILURE, "dial tcp: lookup no-such-host.invalid: no such host")


# --- grpc -------------------------------------------------------------------------------------


def test_health_messages_encode_and_decode() -> None:
    assert encode_request("") == b""
    assert encode_request("db") == b"\x0a\x02db"
    assert decode_status(b"") == 0
    assert decode_status(b"\x08\x01") == 1
    # Unknown fields are skipped: a string field 2, then the status.
    assert decode_status(b"\x12\x01x\x08\x02") == 2


@pytest.fixture
async def health_server():
    statuses = {"": 1, "db": 2}
    agents: list[str] = []

    async def check(request: bytes, context: aio.ServicerContext) -> bytes:
        agents.append(dict(context.invocation_metadata()).get("user-agent", ""))
        service = request[2:].decode()
        if service == "slow":
            await asyncio.sleep(5)
        if service not in statuses:
            await context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        return bytes([0x08, statuses[service]])

    handler = grpc.method_handlers_generic_handler(
        "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(check)}
    )
    server = aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield port, agents
    finally:
        await server.stop(None)


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ("", Outcome(SUCCESS, "service healthy")),
        ("db", Outcome(FAILURE, 'service unhealthy (responded with "NOT_SERVING")')),
        (
            "web",
            Outcome(
                FAILURE,
                "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service",
            ),
        ),
        ("slow", Outcome(FAILURE, "timeout: health rpc did not complete within 100ms")),
    ],
)
async def test_grpc_health_check(health_server, service: str, expected: Outcome) -> None:
    port, agents = health_server
    assert await grpc_probe("127.0.0.1", port, service, 0.1) == expected
    assert agents[0].startswith("kube-probe/1.37")


async def test_grpc_server_without_health_service_fails_as_unimplemented() -> None:
    server = aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        outcome = await grpc_probe("127.0.0.1", port, "", 1.0)
    finally:
        await server.stop(None)
    assert outcome.result == FAILURE
    assert outcome.output.startswith(
        "error: this server does not implement the grpc health protocol (grpc.health.v1.Health)"
    )


async def test_grpc_closed_port_fails_as_unavailable() -> None:
    outcome = await grpc_probe("127.0.0.1", closed_port(), "", 1.0)
    assert outcome.result == FAILURE
    assert outcome.output.startswith(
        "error: health rpc probe failed: rpc error: code = Unavailable"
    )
