"""pods/log, exec, attach and portforward: served by the pod's node, proxied by the API server.

This module holds the checks against the pod and the proxying to the kubelet; the handlers are
`kubelite.apiserver.handlers.connect`, and the pod's node is found by
`kubelite.apiserver.registry.pod_connect`. Neither is in the store. As in Kubernetes
(`pkg/registry/core/pod/strategy.go` LogLocation and ExecLocation), the API server checks the
request against the pod (which container, whether the pod has a node), finds the node's
kubelet (`status.addresses`, preferring InternalIP, and
`status.daemonEndpoints.kubeletEndpoint.Port`), and proxies over HTTPS with its own client
certificate (`apiserver-kubelet-client`), verifying the kubelet's serving certificate against
the cluster CA:

- logs: a GET of the kubelet's `/containerLogs/...`, its body streamed back as chunked text
  until the kubelet ends it (`follow` keeps it open), or until the client leaves;
- exec and attach: the client's WebSocket upgrade (`v5.channel.k8s.io`, `v4.channel.k8s.io`) is
  accepted only once the kubelet's WebSocket to `/exec/...` or `/attach/...` is open with the
  same subprotocol, then frames are pumped both ways until either side closes. A SPDY upgrade
  (kubectl 1.27 to 1.29 speak only that) is passed through to the kubelet as bytes
  (`upgrade_proxy`, as kube-apiserver's UpgradeAwareHandler does);
- portforward: SPDY passed through the same way, or kubectl 1.31+'s WebSocket tunnel of SPDY
  frames, unwrapped here into a SPDY connection to the kubelet's `/portForward/...`.

The checks that need the pod's status (a container that is waiting, a previous instance that
does not exist) are the kubelet's in Kubernetes; they are made here too, with the kubelet's
words, so that `kubectl logs` on a pod still being created answers at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import WSMsgType, hdrs, web

from kubelite.api import errors, meta
from kubelite.api.types import Obj
from kubelite.apiserver import upgrade_proxy
from kubelite.apiserver.kubelet_client import KubeletClient

log = logging.getLogger(__name__)


# remotecommand's WebSocket subprotocols, in order of preference.
EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
# port-forward's stream protocol (k8s.io/apimachinery portforward.PortForwardProtocolV1Name).
PORTFORWARD_PROTOCOLS = ("portforward.k8s.io",)
# The kubelet's WebSocket port-forward subprotocols (binary channels).
PORTFORWARD_WS_PROTOCOLS = ("v4.channel.k8s.io", "portforward.k8s.io")
# How often a proxied stream checks that its client is still there.
CLIENT_CHECK_INTERVAL = 1.0
# Kubernetes' default waiting reasons for containers not started yet (kubelet_pods.go).
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
# The image puller's waiting reasons, which the kubelet words on their own (images/types.go).
_WAITING_WORDS = {
    "ErrImagePull": "image can't be pulled",
    "ImagePullBackOff": "trying and failing to pull image",
}

_BOOL_TRUE = ("true", "1", "t", "True", "TRUE", "T")
_BOOL_FALSE = ("false", "0", "f", "False", "FALSE", "F", "")


# --- checks against the pod -----------------------------------------------------------------


def _names(containers: list[Obj]) -> list[str]:
    return [c.get("name", "") for c in containers]


def choose_container(pod: Obj, container: str) -> str:
    """The container a request is for (validateContainer in strategy.go)."""
    name = meta.name_of(pod)
    spec = pod.get("spec") or {}
    regular = _names(spec.get("containers") or [])
    init = _names(spec.get("initContainers") or [])
    ephemeral = _names(spec.get("ephemeralContainers") or [])
    if not container:
        if len(regular) == 1:
            return regular[0]
        if not regular:
            raise errors.bad_request(f"a container name must be specified for pod {name}")
        message = (
            f"a container name must be specified for pod {name}, "
            f"choose one of: [{' '.join(regular)}]"
        )
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        if ephemeral:
            message += f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
        raise errors.bad_request(message)
    if container not in (*regular, *init, *ephemeral):
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def check_log_status(pod: Obj, container: str, previous: bool) -> None:
    """Refuse, in the kubelet's words, a container with no log to show
    (validateContainerLogStatus in kubelet_pods.go)."""
    pod_name = meta.name_of(pod)
    status = pod.get("status") or {}
    found = None
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        found = next((s for s in status.get(key) or [] if s.get("name") == container), None)
        if found is not None:
            break
    if found is None:
        # Nothing reported yet: the kubelet's own status would say the container is waiting.
        init_names = _names((pod.get("spec") or {}).get("initContainers") or [])
        reason = (
            POD_INITIALIZING if init_names and container not in init_names else (CONTAINER_CREATING)
        )
        found = {"state": {"waiting": {"reason": reason}}}
    state = found.get("state") or {}
    last = (found.get("lastState") or {}).get("terminated")
    what = f'container "{container}" in pod "{pod_name}"'
    if previous:
        if not last or not last.get("containerID"):
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{pod_name}" not found'
            )
        return
    if state.get("running") is not None:
        return
    terminated = state.get("terminated")
    if terminated is not None:
        if terminated.get("containerID") or (last and last.get("containerID")):
            return
        raise errors.bad_request(f"{what} is terminated")
    if last is not None:
        if last.get("containerID"):
            return
        raise errors.bad_request(f"{what} is terminated")
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason", "")
        words = _WAITING_WORDS.get(reason, reason)
        raise errors.bad_request(f"{what} is waiting to start: {words}")
    raise errors.bad_request(f"{what} is waiting to start - no logs yet")


# --- options --------------------------------------------------------------------------------


def _bool(query: Any, name: str) -> bool:
    raw = query.get(name, "")
    if raw in _BOOL_TRUE:
        return True
    if raw in _BOOL_FALSE:
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{raw}": invalid syntax')


def _int(query: Any, name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None


def log_query(query: Any, pod_name: str) -> dict[str, str]:
    """The kubelet's query for PodLogOptions, validated as ValidatePodLogOptions does."""
    tail = _int(query, "tailLines")
    limit = _int(query, "limitBytes")
    since_seconds = _int(query, "sinceSeconds")
    since_time = query.get("sinceTime", "")
    problems = []
    if tail is not None and tail < 0:
        problems.append(errors.invalid("tailLines", tail, "must be greater than or equal to 0"))
    if limit is not None and limit < 1:
        problems.append(errors.invalid("limitBytes", limit, "must be greater than 0"))
    if since_seconds is not None and since_time:
        exclusive = "at most one of `sinceTime` or `sinceSeconds` may be specified"
        problems.append(errors.forbidden_field("", exclusive))
    elif since_seconds is not None and since_seconds < 1:
        problems.append(errors.invalid("sinceSeconds", since_seconds, "must be greater than 0"))
    if problems:
        raise errors.invalid_object("PodLogOptions", pod_name, problems)
    params: dict[str, str] = {}
    for flag in ("follow", "previous", "timestamps"):
        if _bool(query, flag):
            params[flag] = "true"
    numbers = (("tailLines", tail), ("limitBytes", limit), ("sinceSeconds", since_seconds))
    for name, value in numbers:
        if value is not None:
            params[name] = str(value)
    if since_time:
        params["sinceTime"] = since_time
    return params


def kubelet_path(kind: str, namespace: str, pod: str, container: str) -> str:
    return "/".join((f"/{kind}", *(quote(p, safe="") for p in (namespace, pod, container))))


def kubelet_error(status: int, text: str) -> errors.StatusError:
    """A kubelet's refusal as Kubernetes' GenericHttpResponseChecker turns it into a Status."""
    text = text.strip()
    if status == 400:
        return errors.bad_request(text)
    if status == 404:
        return errors.StatusError(404, errors.REASON_NOT_FOUND, text)
    if status >= 500:
        return errors.internal_error(text)
    return errors.StatusError(status, "", text)


def unreachable(method: str, url: str, exc: BaseException) -> errors.StatusError:
    """What the API server answers when it cannot reach the kubelet (no reason, code 500)."""
    return errors.StatusError(500, "", f'{method} "{url}": {exc}')


async def watch_client(request: web.Request, upstream: Any) -> None:
    """Close `upstream` once the client is gone: a follower that leaves sends nothing, so only
    its transport tells, and the kubelet's stream must not be left open for nobody."""
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(CLIENT_CHECK_INTERVAL)
    result = upstream.close()
    if asyncio.iscoroutine(result):
        await result


# --- pods/log -------------------------------------------------------------------------------


async def stream_log(request: web.Request, client: KubeletClient, url: str) -> web.StreamResponse:
    """The kubelet's log at `url`, streamed to the client until either ends it."""
    try:
        upstream = await client.session.get(url)
    except (aiohttp.ClientError, OSError) as exc:
        raise unreachable("Get", url, exc) from exc
    try:
        if not 200 <= upstream.status <= 206:
            raise kubelet_error(upstream.status, await upstream.text(errors="replace"))
        response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: "text/plain"})
        await response.prepare(request)
        watcher = asyncio.create_task(watch_client(request, upstream))
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        except (aiohttp.ClientError, ConnectionResetError):
            # The client left (the watcher closed the kubelet's stream) or the kubelet did.
            pass
        finally:
            watcher.cancel()
        return response
    finally:
        upstream.release()


# --- pods/exec ------------------------------------------------------------------------------


def _offered_protocols(request: web.Request) -> list[str]:
    header = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")
    return [p.strip() for p in header.split(",") if p.strip()]


def parse_ports(values: list[str], pod: str) -> list[int]:
    """PodPortForwardOptions.ports, from the query (each value may be a comma-separated list)."""
    ports = []
    for value in values:
        for part in value.split(","):
            try:
                port = int(part)
            except ValueError:
                raise errors.bad_request(
                    f'strconv.ParseInt: parsing "{part}": invalid syntax'
                ) from None
            if not 0 < port < 65536:
                raise errors.invalid_object(
                    "PodPortForwardOptions",
                    pod,
                    [errors.invalid("ports", port, "must be between 1 and 65535, inclusive")],
                )
            ports.append(port)
    return ports


def stream_flags(query: Any) -> list[tuple[str, str]]:
    return [(flag, "1") for flag in ("stdin", "stdout", "stderr", "tty") if _bool(query, flag)]


async def open_spdy(
    client: KubeletClient, url: str, method: str, protocols: list[str]
) -> upgrade_proxy.Upstream:
    try:
        return await upgrade_proxy.open_spdy(client.context, url, method, protocols)
    except upgrade_proxy.UpgradeRefused as refused:
        raise kubelet_error(refused.status, refused.text) from None
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
        raise unreachable(method.title(), url, exc) from exc


async def stream(request: web.Request, client: KubeletClient, url: str) -> web.StreamResponse:
    """Connect the client's exec or attach upgrade to the kubelet: SPDY is passed through as
    bytes (`upgrade_proxy`), a WebSocket is accepted once the kubelet's is open."""
    if upgrade_proxy.is_spdy(request):
        protocols = upgrade_proxy.spdy_protocols(request)
        upstream = await open_spdy(client, url, request.method, protocols)
        return await upgrade_proxy.relay_spdy(request, upstream)
    upgrade = request.headers.get(hdrs.UPGRADE, "").lower()
    if upgrade != "websocket":
        # Let the kubelet say what is wrong with the container, if anything.
        await _raise_kubelet_refusal(client, url)
        raise errors.bad_request("Upgrade request required")
    return await proxy_websocket(request, client, url, EXEC_PROTOCOLS)


async def proxy_websocket(
    request: web.Request, client: KubeletClient, url: str, supported: tuple[str, ...]
) -> web.StreamResponse:
    """Accept the client's WebSocket once the kubelet's is open with the same subprotocol."""
    offered = _offered_protocols(request)
    protocol = next((p for p in offered if p in supported), None)
    if protocol is None:
        raise errors.bad_request(
            f"unable to upgrade: none of the requested subprotocols {offered} is supported; "
            f"supported: {list(supported)}"
        )
    try:
        backend = await client.session.ws_connect(url, protocols=(protocol,), max_msg_size=0)
    except aiohttp.WSServerHandshakeError:
        await _raise_kubelet_refusal(client, url)
        raise errors.internal_error("the kubelet refused the upgrade") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise unreachable("Get", url, exc) from exc
    try:
        ws = web.WebSocketResponse(protocols=(protocol,), max_msg_size=0)
        await ws.prepare(request)
        await _pump(ws, backend)
        return ws
    finally:
        await backend.close()


async def _raise_kubelet_refusal(client: KubeletClient, url: str) -> None:
    """Ask the kubelet plainly what it thinks of this exec; raise its answer if it refuses.

    The kubelet checks the container before it looks for an upgrade, and runs nothing without
    one, so this costs a round trip and starts no command.
    """
    try:
        async with client.session.get(url) as probe:
            text = await probe.text(errors="replace")
            if probe.status == 426:  # the kubelet only wants the upgrade: nothing else is wrong
                return
            if probe.status >= 400:
                raise kubelet_error(probe.status, text)
    except (aiohttp.ClientError, OSError) as exc:
        raise unreachable("Get", url, exc) from exc


_WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse


async def _forward(source: _WebSocket, sink: _WebSocket) -> None:
    """Copy one direction's text and binary frames until its side closes or fails."""
    async for msg in source:
        if msg.type == WSMsgType.BINARY:
            await sink.send_bytes(msg.data)
        elif msg.type == WSMsgType.TEXT:
            await sink.send_str(msg.data)
        elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
            break


async def _pump(client_ws: web.WebSocketResponse, backend: aiohttp.ClientWebSocketResponse) -> None:
    """Copy frames both ways; when one side closes, close the other."""
    try:
        await upgrade_proxy.until_either_ends(
            _forward(client_ws, backend), _forward(backend, client_ws)
        )
    finally:
        with contextlib.suppress(Exception):
            await client_ws.close()
        with contextlib.suppress(Exception):
            await backend.close()
