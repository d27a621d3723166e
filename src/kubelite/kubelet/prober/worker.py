"""One probe of one running container, run periodically: Kubernetes' probe worker.

pkg/kubelet/prober/worker.go, for one container instance (a restarted container gets new
workers, so there is no "on hold" state to leave):

- the result starts at the kind's initial value: readiness `failure` (not ready until a probe
  succeeds), liveness `success`, startup none;
- nothing is probed before `initialDelaySeconds` after the container started, and liveness and
  readiness are not probed before the startup probe succeeded; the readiness and liveness
  workers are woken the moment it does;
- then one probe every `periodSeconds`; a result is only published after `successThreshold`
  (liveness and startup: always 1) or `failureThreshold` identical results in a row, and an
  errored probe neither counts nor breaks the run;
- a published liveness or startup failure ends the worker: the pod worker kills the container,
  and probing it more could only race with that; a startup success ends the startup worker;
- once the pod is being deleted, liveness and startup publish `success` and stop, so that a
  container shutting down is not killed for failing them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api.types import Obj
from kubelite.kubelet.prober.prober import Prober, probe_spec
from kubelite.kubelet.prober.results import FAILURE, SUCCESS, ProbeKind, ResultsManager

log = logging.getLogger(__name__)


# The API's probe defaults (Probe in k8s.io/api/core/v1, SetDefaults_Probe).
DEFAULT_PERIOD_SECONDS = 10.0
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_FAILURE_THRESHOLD = 3

# What a container's result is before its first probe (newWorker's initialValue).
INITIAL_RESULT: dict[ProbeKind, str | None] = {
    "readiness": FAILURE,
    "liveness": SUCCESS,
    "startup": None,
}


@dataclass
class ProbeTarget:
    """One container instance that is probed: what its workers share."""

    pod_uid: str
    name: str
    container_id: str
    container: Obj
    started_at: float  # seconds since the epoch
    started: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False
    # Running before this kubelet started (a kubelet restart): no initial results.
    restored: bool = False
    # ...and the pod's status said it had started: it stays started, its startup probe unrun.
    inherited_start: bool = False


class Worker:
    """Probes one container for one kind on its period, and publishes a result once its thresholds
    are met."""

    def __init__(
        self,
        kind: ProbeKind,
        target: ProbeTarget,
        *,
        prober: Prober,
        results: ResultsManager,
        pod: Callable[[], Obj | None],
        clock: Callable[[], float],
    ) -> None:
        spec = probe_spec(target.container, kind) or {}
        self.kind = kind
        self.target = target
        self.prober = prober
        self.results = results
        self.pod = pod
        self.clock = clock
        self.period = float(spec.get("periodSeconds") or DEFAULT_PERIOD_SECONDS)
        self.initial_delay = float(spec.get("initialDelaySeconds") or 0)
        self.failure_threshold = int(spec.get("failureThreshold") or DEFAULT_FAILURE_THRESHOLD)
        # Validation holds liveness and startup to 1; kubelite does not rely on it.
        self.success_threshold = (
            int(spec.get("successThreshold") or DEFAULT_SUCCESS_THRESHOLD)
            if kind == "readiness"
            else 1
        )
        self.last_result: str | None = None
        self.run_length = 0

    def publish_initial(self) -> None:
        """Set the kind's starting result, before any probe ran."""
        initial = INITIAL_RESULT[self.kind]
        if initial is not None:
            self._publish(initial)

    async def run(self) -> None:
        delay = self.target.started_at + self.initial_delay - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)
        loop = asyncio.get_running_loop()
        while True:
            if self.kind != "startup":
                await self.target.started.wait()
            began = loop.time()
            try:
                keep_going = await self.probe_once()
            except Exception:
                # worker.go recovers from a panicking probe and carries on.
                log.exception("%s probe of %s crashed", self.kind, self.target.container_id)
                keep_going = True
            if not keep_going:
                return
            # A ticker, as Kubernetes': probes start every period, however long each took.
            await asyncio.sleep(max(0.0, began + self.period - loop.time()))

    async def probe_once(self) -> bool:
        """doProbe: probe, count, publish; False once this worker has nothing more to do."""
        pod = self.pod()
        if pod is None:
            return False
        if (pod.get("metadata") or {}).get("deletionTimestamp") and self.kind != "readiness":
            self._publish(SUCCESS)
            return False
        result = await self.prober.probe(
            self.kind, pod, self.target.container, self.target.container_id
        )
        if result is None:
            return True
        if result == self.last_result:
            self.run_length += 1
        else:
            self.last_result, self.run_length = result, 1
        threshold = self.failure_threshold if result == FAILURE else self.success_threshold
        if self.run_length < threshold:
            return True
        self._publish(result)
        if self.kind == "startup" and result == SUCCESS:
            self.target.started.set()
            return False
        return not (self.kind != "readiness" and result == FAILURE)

    def _publish(self, result: str) -> None:
        # A worker being stopped may still be between two awaits: its container is gone.
        if not self.target.stopped:
            self.results.set(self.target.container_id, self.kind, result, self.target.pod_uid)


async def cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
