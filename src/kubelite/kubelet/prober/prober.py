"""One probe of one container: pick the handler, retry errors, record the event, give a result.

Kubernetes' prober (pkg/kubelet/prober/prober.go): `runProbe` chooses exec, httpGet, tcpSocket
or grpc; `runProbeWithRetries` tries up to three times while the probe errors (could not be
run at all); `probe` turns the outcome into a result and an event on the container:

- failure: `Unhealthy`, `Liveness probe failed: <output>`;
- error: `Unhealthy`, `Readiness probe errored and resulted in unknown state: <error>`, and
  no result at all (the worker throws it away rather than count it);
- warning (an HTTP redirect it would not follow): `ProbeWarning`, `Startup probe warning: ...`,
  and a success.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from kubelite.api.types import Obj
from kubelite.kubelet.podref import field_path, format_pod
from kubelite.kubelet.prober.exec_probe import exec_probe, probe_command
from kubelite.kubelet.prober.grpc_probe import grpc_probe
from kubelite.kubelet.prober.http_probe import http_probe, new_request
from kubelite.kubelet.prober.outcome import Outcome, ProbeError, ProbeResult
from kubelite.kubelet.prober.ports import resolve_port
from kubelite.kubelet.prober.results import FAILURE, SUCCESS, ProbeKind
from kubelite.kubelet.prober.tcp_probe import tcp_probe
from kubelite.runtime.cri import RuntimeService

log = logging.getLogger(__name__)


# Records an event about a pod: (pod, type, reason, message, field path).
EventRecorder = Callable[[Obj, str, str, str, str], Awaitable[None]]
# The pod's IP by its uid ("" while it has none).
PodIP = Callable[[str], str]

# Event reasons (pkg/kubelet/events/event.go).
CONTAINER_UNHEALTHY = "Unhealthy"
CONTAINER_PROBE_WARNING = "ProbeWarning"
# How often an erroring probe is tried before it counts as errored (maxProbeRetries).
MAX_PROBE_RETRIES = 3
# The API's default probe timeout (Probe.timeoutSeconds).
DEFAULT_TIMEOUT_SECONDS = 1.0

_KIND_TITLE = {"liveness": "Liveness", "readiness": "Readiness", "startup": "Startup"}


def probe_spec(container: Obj, kind: ProbeKind) -> Obj | None:
    return container.get(f"{kind}Probe") or None


class Prober:
    """Runs one probe of one container with the right handler, retries errors, and records the event
    a failure calls for."""

    def __init__(self, runtime: RuntimeService, *, record: EventRecorder, pod_ip: PodIP) -> None:
        self.runtime = runtime
        self.record = record
        self.pod_ip = pod_ip

    async def probe(
        self, kind: ProbeKind, pod: Obj, container: Obj, container_id: str
    ) -> str | None:
        """SUCCESS or FAILURE, or None when the probe errored (its result is thrown away)."""
        spec = probe_spec(container, kind)
        if spec is None:
            return SUCCESS
        title = _KIND_TITLE[kind]
        try:
            outcome = await self._run_with_retries(spec, pod, container, container_id)
        except ProbeError as e:
            log.debug("%s probe of %s errored: %s", title, container_id, e)
            await self._event(
                pod,
                container,
                CONTAINER_UNHEALTHY,
                f"{title} probe errored and resulted in unknown state: {e}",
            )
            return None
        if outcome.result == ProbeResult.SUCCESS:
            return SUCCESS
        if outcome.result == ProbeResult.WARNING:
            await self._event(
                pod, container, CONTAINER_PROBE_WARNING, f"{title} probe warning: {outcome.output}"
            )
            return SUCCESS
        if outcome.result == ProbeResult.FAILURE:
            await self._event(
                pod, container, CONTAINER_UNHEALTHY, f"{title} probe failed: {outcome.output}"
            )
        return FAILURE

    async def _run_with_retries(
        self, spec: Obj, pod: Obj, container: Obj, container_id: str
    ) -> Outcome:
        for _ in range(MAX_PROBE_RETRIES - 1):
            with contextlib.suppress(ProbeError):
                return await self._run(spec, pod, container, container_id)
        return await self._run(spec, pod, container, container_id)

    def _host(self, pod: Obj, given: str | None) -> str:
        host = given or self.pod_ip(pod["metadata"].get("uid", ""))
        if not host:
            raise ProbeError(f"pod {format_pod(pod)} has no IP address yet")
        return host

    async def _run(self, spec: Obj, pod: Obj, container: Obj, container_id: str) -> Outcome:
        """runProbe: one attempt with the handler the probe names."""
        timeout = float(spec.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
        if (action := spec.get("exec")) is not None:
            command = probe_command(action, container)
            return await exec_probe(self.runtime, container_id, command, timeout)
        if (action := spec.get("httpGet")) is not None:
            host = self._host(pod, action.get("host"))
            request = new_request(action, container, host, "probe")
            return await http_probe(request, timeout)
        if (action := spec.get("tcpSocket")) is not None:
            port = resolve_port(action.get("port"), container)
            return await tcp_probe(self._host(pod, action.get("host")), port, timeout)
        if (action := spec.get("grpc")) is not None:
            port = resolve_port(action.get("port"), container)
            service = action.get("service") or ""
            return await grpc_probe(self._host(pod, None), port, service, timeout)
        raise ProbeError(f"missing probe handler for {format_pod(pod)}:{container.get('name')}")

    async def _event(self, pod: Obj, container: Obj, reason: str, message: str) -> None:
        try:
            await self.record(pod, "Warning", reason, message, field_path(pod, container["name"]))
        except Exception:
            # An event that cannot be written must not stop the probing.
            log.exception("recording probe event %s for %s failed", reason, format_pod(pod))
