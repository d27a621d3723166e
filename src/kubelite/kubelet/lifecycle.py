"""Container lifecycle hooks: running a postStart or preStop handler in or against a container.

Kubernetes' handler runner (pkg/kubelet/lifecycle/handlers.go, `handlerRunner.Run`), one case
per handler kind, each answering "" or the message the kubelet shows for a failure:

- `exec`: the command runs in the container with no time limit of its own; a non-zero exit
  fails with `Exec lifecycle hook ([cmd]) for Container "c" in Pod "p_ns(uid)" failed - error:
  command 'cmd' exited with N: <stderr>, message: "<output>"`;
- `httpGet`: the same GET as an httpGet probe (`User-Agent: kube-lifecycle/1.33`), to the pod's
  IP unless a host is given. Only a request that gets no response fails: Kubernetes does not look
  at the status code of a hook's response. An HTTPS hook answered in plain HTTP is retried over
  HTTP without its Authorization header, with a `LifecycleHTTPFallback` warning event;
- `sleep`: waits that many seconds;
- anything else, `tcpSocket` included (deprecated and "not supported as a LifecycleHandler"),
  fails with `Cannot run handler: invalid handler: ...`, as it does in Kubernetes.

Callers own the consequences: a failed postStart kills the container, and preStop's time counts
against the grace period (the caller measures it, and may bound the hook with `asyncio.timeout`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.kubelet.podref import format_pod
from kubelite.kubelet.prober.gotext import join_host_port
from kubelite.kubelet.prober.http_probe import HTTPGetError, http_get, new_request
from kubelite.kubelet.prober.outcome import ProbeError
from kubelite.runtime.cri import RuntimeService

log = logging.getLogger(__name__)


# The pod's IP by its uid ("" while it has none).
PodIP = Callable[[str], str]
# Records an event about the pod: (type, reason, message, field path).
PodRecorder = Callable[[str, str, str, str], Awaitable[None]]

# The event Kubernetes records when an HTTPS hook only worked over HTTP (handlers.go).
LIFECYCLE_HTTP_FALLBACK = "LifecycleHTTPFallback"


async def run_hook(
    pod: Obj,
    container: Obj,
    container_id: str,
    handler: Obj,
    *,
    runtime: RuntimeService,
    pod_ip: PodIP,
    record: PodRecorder | None = None,
) -> str:
    """Run one lifecycle handler; "" when it succeeded, else the failure's message."""
    name = go_quote(container.get("name", ""))
    where = f"for Container {name} in Pod {go_quote(format_pod(pod))}"
    if (action := handler.get("exec")) is not None:
        command = list(action.get("command") or ())
        error, output = await _run_exec(runtime, container_id, command)
        if not error:
            return ""
        return (
            f"Exec lifecycle hook ([{' '.join(command)}]) {where} failed - error: {error}, "
            f"message: {go_quote(output)}"
        )
    if (action := handler.get("httpGet")) is not None:
        error = await _run_http(pod, container, action, pod_ip, record)
        if not error:
            return ""
        return f"HTTP lifecycle hook ({action.get('path', '')}) {where} failed - error: {error}"
    if (action := handler.get("sleep")) is not None:
        await asyncio.sleep(int(action.get("seconds") or 0))
        return ""
    log.warning("lifecycle handler of %s has no supported action: %s", name, handler)
    return f"Cannot run handler: invalid handler: {json.dumps(handler, sort_keys=True)}"


async def _run_exec(
    runtime: RuntimeService, container_id: str, command: list[str]
) -> tuple[str, str]:
    """(error, output): the runtime's exec error or Kubernetes' non-zero exit text."""
    try:
        result = await runtime.exec_sync(container_id, command, None)
    except Exception as e:
        # Whatever kept the command from running is the hook's error, as in handlers.go.
        return str(e) or type(e).__name__, ""
    output = (result.stdout + result.stderr).decode(errors="replace")
    if result.exit_code == 0:
        return "", output
    stderr = result.stderr.decode(errors="replace")
    return f"command '{' '.join(command)}' exited with {result.exit_code}: {stderr}", output


async def _run_http(
    pod: Obj, container: Obj, action: Obj, pod_ip: PodIP, record: PodRecorder | None
) -> str:
    """runHTTPHandler: "" once any response came back, else the error."""
    host = action.get("host") or pod_ip(pod["metadata"].get("uid", ""))
    if not host:
        return f"failed to find networking container: pod {format_pod(pod)} has no IP address"
    try:
        request = new_request(action, container, host, "lifecycle")
        await http_get(request, timeout=None)
    except ProbeError as e:
        return str(e)
    except HTTPGetError as e:
        if not e.plaintext_reply:
            return str(e)
        # The server speaks plain HTTP: Kubernetes retries so, without the credentials.
        plain = request.with_scheme("http").without_header("Authorization")
        try:
            await http_get(plain, timeout=None)
        except (HTTPGetError, ProbeError):
            return str(e)
        if record is not None:
            address = join_host_port(request.hostname, request.port)
            message = (
                f"request to HTTPS lifecycle hook {address} got HTTP response, "
                "retry with HTTP succeeded"
            )
            await record("Warning", LIFECYCLE_HTTP_FALLBACK, message, "")
    return ""
