"""The kubelet's HTTPS server: container logs, exec, attach, port-forward, health.

The API server reaches a node's kubelet here for `kubectl logs`, `exec`, `attach` and
`port-forward` (those pods/ subresources are proxied, not served from the store), at the port the
node publishes in `status.daemonEndpoints.kubeletEndpoint` (10250, as in Kubernetes). The paths
and query options are the real kubelet's:

- `GET /containerLogs/{namespace}/{pod}/{container}?follow&previous&tailLines&timestamps&
  sinceSeconds&sinceTime&limitBytes`: the container's CRI log file as text, chunked while it is
  followed (`kubelite.kubelet.logs` does the reading); any other method is 405 `Allow: GET`;
- `GET|POST /exec/{namespace}/{pod}/{container}?command=..&command=..&stdin&stdout&stderr&tty`:
  upgraded to a WebSocket (`exec_stream` runs the session) or to SPDY/3.1 (`remotecommand_spdy`);
- `GET|POST /attach/{namespace}/{pod}/{container}?stdin&stdout&stderr`: the same two ways, to
  the container's own stdio (the runtime's attach; the terminal is the container's `tty`);
- `GET|POST /portForward/{namespace}/{pod}`: SPDY/3.1, `portforward.k8s.io`, or a WebSocket
  with `?port=N` (`portforward`);
- `/healthz`: `ok`.

Where a pod's container is, and whether it runs, come from outside: a `ContainerLocator` over
the kubelet's pod cache, and the runtime (anything with CRI's `exec` and `container_status`).
Errors before a stream starts are plain text with the kubelet's status codes, which the API
server turns into the `Status` kubectl prints.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson
from aiohttp import WSCloseCode, hdrs, web
from aiohttp.typedefs import Handler

from kubelite.api import pods as podutil
from kubelite.api.wellknown import KUBELET_PORT
from kubelite.kubelet import logs
from kubelite.kubelet.server import (
    auth,
    exec_stream,
    portforward,
    remotecommand_spdy,
    spdy,
    spdy_upgrade,
)
from kubelite.kubelet.server.locator import ContainerLocator, LocatorError
from kubelite.runtime.cri import (
    AttachSession,
    ContainerState,
    ContainerStatus,
    ExecSession,
    TerminalSize,
)
from kubelite.runtime.errors import RuntimeFailure

log = logging.getLogger(__name__)

# The kubelet's API port (Kubernetes' ports.KubeletPort).
DEFAULT_PORT = KUBELET_PORT
# How long stopping waits for requests in flight: longer than a followed log takes to notice.
SHUTDOWN_TIMEOUT = 2 * logs.STATE_CHECK_PERIOD + 1
# Paths served to anyone: liveness of the kubelet tells nothing about a pod.
_PUBLIC = ("/healthz",)


class ExecRuntime(Protocol):
    """What the server needs of CRI's RuntimeService."""

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def exec(
        self,
        container_id: str,
        cmd: list[str],
        *,
        stdin: bool,
        tty: bool,
        size: TerminalSize | None = None,
    ) -> ExecSession: ...

    async def attach(self, container_id: str, *, tty: bool) -> AttachSession: ...

    async def port_forward(self, sandbox_id: str, port: int) -> socket.socket: ...


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


class KubeletServer:
    """The kubelet's API: construct with the pod lookup, the runtime and TLS files; `start()`."""

    def __init__(
        self,
        locator: ContainerLocator,
        runtime: ExecRuntime,
        tls: auth.ServingTLS,
        *,
        host: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
    ) -> None:
        self.locator = locator
        self.runtime = runtime
        self.tls = tls
        self.host = host
        self.port = port  # the bound port once started (useful with 0)
        self._runner: web.AppRunner | None = None
        # Streams end when the server stops: followed logs at their next state check, exec
        # sessions at once; otherwise shutting down would wait for each of them.
        self._stopping = False
        self._sockets: set[web.WebSocketResponse] = set()
        self._spdy_sessions: set[spdy.Session] = set()
        # Log streams and exec sessions being served now (for metrics and tests).
        self.active_streams = 0

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get("/healthz", self._healthz)
        # GET only, not HEAD as well (aiohttp's add_get): other methods are answered 405 with
        # `Allow: GET`, as the kubelet's GET-only route does since 1.37 (#138088).
        app.router.add_route(
            "GET", "/containerLogs/{namespace}/{pod}/{container}", self._container_logs
        )
        app.router.add_route("GET", "/exec/{namespace}/{pod}/{container}", self._exec)
        app.router.add_route("POST", "/exec/{namespace}/{pod}/{container}", self._exec)
        app.router.add_route("GET", "/attach/{namespace}/{pod}/{container}", self._attach)
        app.router.add_route("POST", "/attach/{namespace}/{pod}/{container}", self._attach)
        app.router.add_route("GET", "/portForward/{namespace}/{pod}", self._port_forward)
        app.router.add_route("POST", "/portForward/{namespace}/{pod}", self._port_forward)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.application(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            self.host,
            self.port,
            ssl_context=auth.server_context(self.tls),
            reuse_address=True,
        )
        await site.start()
        # The port the kernel chose, when asked for 0: the one site's listening address.
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._stopping = True
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"kubelet shutting down")
        for session in list(self._spdy_sessions):
            await session.close()  # GOAWAY: every stream ends, and so do their handlers
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.contextmanager
    def _serving(self, live: set[Any], connection: Any) -> Iterator[None]:
        """Count an upgraded connection among the streams in flight, and keep it in `live`
        (the WebSockets or SPDY sessions `stop` closes), for as long as it is served."""
        live.add(connection)
        self.active_streams += 1
        try:
            yield
        finally:
            self.active_streams -= 1
            live.discard(connection)

    # --- handlers ---------------------------------------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in _PUBLIC:
            return await handler(request)
        peercert = request.transport.get_extra_info("peercert") if request.transport else None
        who = auth.identity(peercert)
        if who is None:
            return _text(401, "Unauthorized")
        if not auth.allowed(who):
            # The kubelet's authorizer: every path here is the nodes/proxy subresource.
            verb = "create" if request.method == "POST" else "get"
            return _text(
                403,
                f"Forbidden (user={who.user}, verb={verb}, resource=nodes, subresource=proxy)",
            )
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return _text(200, "ok")

    def _find(self, request: web.Request, previous: bool) -> tuple[str, Path]:
        m = request.match_info
        return self.locator.find(m["namespace"], m["pod"], m["container"], previous)

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        try:
            options = logs.options_from_query(dict(request.query))
            previous = exec_stream.flag(request.query, "previous")
            container_id, log_path = self._find(request, previous)
        except ValueError as exc:
            return _text(400, str(exc))
        except LocatorError as exc:
            return _text(exc.status, str(exc))
        try:
            log_path.open("rb").close()
        except OSError as exc:
            return _text(400, f"failed to open log file {str(log_path)!r}: {exc.strerror}")

        async def readable() -> bool:
            # Following ends when the container stops, or when nobody reads any more (a
            # follower that disconnects sends nothing, so only the transport tells).
            if self._stopping or request.transport is None or request.transport.is_closing():
                return False
            return await self._running(container_id)

        response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: "text/plain"})
        await response.prepare(request)
        self.active_streams += 1
        try:
            with contextlib.suppress(ConnectionResetError):
                async for chunk in logs.read_logs(log_path, options, readable):
                    await response.write(chunk)
                await response.write_eof()
        finally:
            self.active_streams -= 1
        return response

    async def _running(self, container_id: str) -> bool:
        try:
            status = await self.runtime.container_status(container_id)
        except RuntimeFailure:
            return False
        return status.state == ContainerState.CONTAINER_RUNNING

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        cmd = query.getall("command", [])
        stdin, stdout = exec_stream.flag(query, "stdin"), exec_stream.flag(query, "stdout")
        tty = exec_stream.flag(query, "tty")
        # A terminal has one output stream; the kubelet drops stderr when tty is asked for.
        stderr = exec_stream.flag(query, "stderr") and not tty
        if not cmd:
            return _text(400, "you must specify at least 1 command")
        if not (stdin or stdout or stderr):
            return _text(400, "you must specify at least 1 of stdin, stdout, stderr")
        try:
            container_id, _ = self._find(request, previous=False)
        except LocatorError as exc:
            return _text(exc.status, str(exc))

        async def start(size: TerminalSize | None) -> ExecSession:
            return await self.runtime.exec(container_id, cmd, stdin=stdin, tty=tty, size=size)

        options = exec_stream.StreamOptions(cmd, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
        return await self._serve_stream(request, start, options)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        stdin, stdout = exec_stream.flag(query, "stdin"), exec_stream.flag(query, "stdout")
        m = request.match_info
        try:
            pod = self.locator.find_pod(m["namespace"], m["pod"])
            container_id, _ = self._find(request, previous=False)
        except LocatorError as exc:
            return _text(exc.status, str(exc))
        # Whether the process has a terminal was decided when it started: the container's
        # `tty`, whatever the request says (the kubelet's GetAttach).
        spec = pod.get("spec") or {}
        container: dict[str, Any] = next(
            (c for c in podutil.all_containers(spec) if c.get("name") == m["container"]), {}
        )
        tty = bool(container.get("tty"))
        stderr = exec_stream.flag(query, "stderr") and not tty
        if not (stdin or stdout or stderr):
            return _text(400, "you must specify at least 1 of stdin, stdout, stderr")
        attached: list[AttachSession] = []

        async def start(size: TerminalSize | None) -> ExecSession:
            session = await self.runtime.attach(container_id, tty=tty)
            attached.append(session)
            if size is not None:
                await session.resize(size.width, size.height)
            return session

        def detach() -> None:
            for session in attached:
                session.detach()

        try:
            options = exec_stream.StreamOptions(
                [], stdin=stdin, stdout=stdout, stderr=stderr, tty=tty,
                on_client_gone=detach, failure=exec_stream.ATTACH_FAILED,
            )  # fmt: skip
            return await self._serve_stream(request, start, options)
        finally:
            detach()

    async def _serve_stream(
        self,
        request: web.Request,
        start: remotecommand_spdy.StartSession,
        options: exec_stream.StreamOptions,
    ) -> web.StreamResponse:
        """Run an exec or attach over the upgrade the client asked for: SPDY/3.1 (kubectl up
        to 1.29, and later ones whose WebSocket upgrade failed) or a WebSocket."""
        if spdy_upgrade.is_spdy_upgrade(request):
            protocol = spdy_upgrade.negotiate(request, remotecommand_spdy.PROTOCOLS)
            if protocol is None:
                return spdy_upgrade.refusal(request, remotecommand_spdy.PROTOCOLS)
            response, session = await spdy_upgrade.accept(request, protocol)
            try:
                with self._serving(self._spdy_sessions, session):
                    await remotecommand_spdy.serve(
                        session, protocol or remotecommand_spdy.PROTOCOL_V1, start, options
                    )
            finally:
                await spdy_upgrade.finish(request, session)
            return response
        if request.headers.get(hdrs.UPGRADE, "").lower() != "websocket":
            # 426 Upgrade Required: the one answer that says the container itself is fine (the
            # API server asks this way when an upgrade fails, to learn why).
            return _text(
                426,
                "unable to upgrade connection: ask for a WebSocket "
                f"({', '.join(exec_stream.PROTOCOLS)}) or {spdy_upgrade.spdy.UPGRADE}",
            )
        offered = [
            p.strip()
            for p in request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "").split(",")
            if p.strip()
        ]
        if not any(p in exec_stream.PROTOCOLS for p in offered):
            return _text(
                400,
                f"unable to upgrade connection: none of the subprotocols {offered} is supported; "
                f"supported: {list(exec_stream.PROTOCOLS)}",
            )
        ws = web.WebSocketResponse(protocols=exec_stream.PROTOCOLS, max_msg_size=0)
        await ws.prepare(request)
        with self._serving(self._sockets, ws):
            await self._run_ws(ws, start, options)
        return ws

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        try:
            sandbox_id, _uid = self.locator.find_sandbox(m["namespace"], m["pod"])
        except LocatorError as exc:
            return _text(exc.status, str(exc))

        async def dial(port: int) -> socket.socket:
            return await self.runtime.port_forward(sandbox_id, port)

        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            return await self._port_forward_websocket(request, dial, sandbox_id)
        if not spdy_upgrade.is_spdy_upgrade(request):
            return _text(400, "Upgrade request required")
        protocol = spdy_upgrade.negotiate(request, portforward.PROTOCOLS)
        if protocol is None:
            return spdy_upgrade.refusal(request, portforward.PROTOCOLS)

        response, session = await spdy_upgrade.accept(request, protocol)
        try:
            with self._serving(self._spdy_sessions, session):
                # The CRI streaming server names the pod by its sandbox, and knows no uid.
                await portforward.serve(session, dial, sandbox_id, "")
        finally:
            await spdy_upgrade.finish(request, session)
        return response

    async def _port_forward_websocket(
        self, request: web.Request, dial: portforward.Dial, sandbox_id: str
    ) -> web.StreamResponse:
        try:
            ports = portforward.parse_ports(request.query.getall(portforward.PORT_QUERY, []))
        except ValueError as exc:
            return _text(400, str(exc))
        ws = web.WebSocketResponse(protocols=portforward.WEBSOCKET_PROTOCOLS, max_msg_size=0)
        await ws.prepare(request)
        with self._serving(self._sockets, ws):
            await portforward.serve_websocket(ws, ports, dial, sandbox_id, "")
        return ws

    async def _run_ws(
        self,
        ws: web.WebSocketResponse,
        start: remotecommand_spdy.StartSession,
        options: exec_stream.StreamOptions,
    ) -> None:
        cmd = options.cmd
        # With a terminal, the command starts once its size is known (exec_stream.FIRST_SIZE_WAIT).
        pending = await exec_stream.until_first_size(ws) if options.tty else []
        try:
            session = await start(exec_stream.last_size(pending))
        except Exception as exc:
            # Whatever the failure, the client must hear of it on the status channel: a stream
            # that just closes reads as success to kubectl.
            if not isinstance(exc, RuntimeFailure):
                log.exception("exec of %s failed", cmd)
            status = exec_stream.internal_error_status(str(exc), options.failure)
            await ws.send_bytes(bytes([exec_stream.ERROR]) + orjson.dumps(status))
            await ws.close()
            return
        await exec_stream.run(
            ws, session, cmd, stdin=options.stdin, stdout=options.stdout, stderr=options.stderr,
            pending=pending, on_client_gone=options.on_client_gone,
        )  # fmt: skip
