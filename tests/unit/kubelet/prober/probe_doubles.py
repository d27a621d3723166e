"""Test doubles for the probe tests: a runtime that answers exec_sync as told, an event
recorder, pods, and small servers on 127.0.0.1.

A plain module (not conftest) so that test modules can import it by a name no other test
directory uses.
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubelite.runtime.cri import ExecSyncResult

Obj = dict[str, Any]

# What ExecRuntime answers: a result, an exception to raise, or a number of seconds to run
# for (past the timeout, that is the runtime's TimeoutError).
Answer = ExecSyncResult | BaseException | float


def ok(output: str = "") -> ExecSyncResult:
    return ExecSyncResult(stdout=output.encode(), stderr=b"", exit_code=0)


def fail(output: str = "", code: int = 1, stderr: str = "") -> ExecSyncResult:
    return ExecSyncResult(stdout=output.encode(), stderr=stderr.encode(), exit_code=code)


class ExecRuntime:
    """RuntimeService.exec_sync only: answers per command (its first word), in order, then
    the last answer again; records every call."""

    def __init__(self, answers: dict[str, list[Answer]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, list[str], float | None]] = []
        self.called = asyncio.Event()

    def count(self, word: str) -> int:
        return sum(1 for _, cmd, _ in self.calls if cmd and cmd[0] == word)

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecSyncResult:
        self.calls.append((container_id, list(cmd), timeout))
        self.called.set()
        queue = self.answers.get(cmd[0] if cmd else "", [ok()])
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, float):
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.sleep(answer)
            except TimeoutError:
                raise TimeoutError(f"command {cmd!r} timed out after {timeout}s") from None
            return ok()
        return answer


class Events:
    """An EventRecorder keeping (type, reason, message, field path) tuples."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    async def __call__(
        self, pod: Obj, kind: str, reason: str, message: str, field_path: str
    ) -> None:
        self.seen.append((kind, reason, message, field_path))

    def messages(self, reason: str = "Unhealthy") -> list[str]:
        return [message for _, r, message, _ in self.seen if r == reason]


def make_pod(*containers: Obj, uid: str = "uid-1", init: tuple[Obj, ...] = ()) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": uid},
        "spec": {"containers": list(containers), "initContainers": list(init)},
    }


async def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait for `condition` to hold, checking often; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """An aiohttp server on 127.0.0.1 with the routes given; keeps the requests it got."""

    def __init__(self, routes: dict[str, Handler], *, tls: ssl.SSLContext | None = None) -> None:
        self.routes = routes
        self.tls = tls
        self.requests: list[web.Request] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Server:
        app = web.Application()
        for path, handler in self.routes.items():
            app.router.add_get(path, self._keep(handler))
        # Handlers end when their client goes, so a test of timeouts does not wait for them.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.tls)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def _keep(self, handler: Handler) -> Handler:
        async def keep(request: web.Request) -> web.StreamResponse:
            self.requests.append(request)
            return await handler(request)

        return keep


def self_signed_tls(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context
