"""The kubelet's probe manager: one worker per running container and probe, and their results.

Kubernetes' prober manager (pkg/kubelet/prober/prober_manager.go), driven by the kubelet:

- `add_pod(pod)` whenever the kubelet sees the pod (the newest copy is what probes read, so a
  deletion timestamp reaches the workers), `remove_pod(uid)` when it is gone;
- `container_started(...)` when a container (an app container or a native sidecar) is seen
  running, `container_stopped(container_id)` when it is not any more: the workers of that
  container instance start and stop with it, and its results go with them;
- the pod worker asks `result(container_id, "liveness" | "startup")` to decide on kills, and the
  status manager asks `ready(...)` and `started(...)` (UpdatePodStatus's rules: a container
  without a startup probe is started once running; one without a readiness probe is ready once
  started);
- `on_change(callback)` is told of every result that changes, to sync the pod again.

A kubelet restart does not change what the pod's status says of a container that kept running
(KEP-4781; ChangeContainerStatusOnKubeletRestart deprecated and off in 1.35, #134746). A container
that started more than 10 s before this kubelet did (kubeletRestartGracePeriod) was running under
the previous one, and:

- it gets no initial results (worker initializeResult publishes none for it), so it is not made
  not-ready before its readiness probe has reached its threshold;
- if the pod's status said it `started` (for this very container id: #141342), it stays started and
  its startup probe is not run again (isContainerStarted, the startup worker idling while the
  status says started);
- until its readiness probe gives a result, it is ready when it has none, and otherwise as ready as
  the pod's own Ready condition was (setReadyStateOnKubeletRestart).

Every method but `close` is synchronous and must be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from kubelite.api import pods as podutil
from kubelite.api.types import Obj
from kubelite.kubelet.prober.prober import EventRecorder, PodIP, Prober, probe_spec
from kubelite.kubelet.prober.results import (
    PROBE_KINDS,
    SUCCESS,
    ProbeKind,
    ResultsManager,
    Subscriber,
)
from kubelite.kubelet.prober.worker import ProbeTarget, Worker, cancel_and_wait
from kubelite.runtime.cri import RuntimeService

# kubeletRestartGracePeriod: a container started this long before the kubelet did was already
# running under the kubelet before it (prober_manager.go, 10 s).
KUBELET_RESTART_GRACE_PERIOD = 10.0


def _find_probed_container(pod: Obj, name: str) -> Obj | None:
    """The app container or native sidecar named `name` (plain init containers have no
    probes: validation refuses them)."""
    spec = pod.get("spec") or {}
    for container in spec.get("containers") or ():
        if container.get("name") == name:
            return container
    for container in spec.get("initContainers") or ():
        if container.get("name") == name and podutil.is_restartable_init_container(container):
            return container
    return None


def _status_of(pod: Obj, name: str, container_id: str) -> Obj | None:
    """The pod status' entry for this very container instance (its containerID is
    `<runtime>://<id>`), among the app and init containers' statuses."""
    status = pod.get("status") or {}
    for kind in ("containerStatuses", "initContainerStatuses"):
        for entry in status.get(kind) or ():
            if entry.get("name") != name:
                continue
            if str(entry.get("containerID") or "").partition("://")[2] == container_id:
                return entry
    return None


def _pod_is_ready(pod: Obj | None) -> bool:
    for condition in ((pod or {}).get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


class ProbeManager:
    """Starts and stops a probe worker per running container and probe kind, and holds their results
    for the pod workers and the status manager."""

    def __init__(
        self,
        runtime: RuntimeService,
        *,
        record: EventRecorder,
        pod_ip: PodIP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.results = ResultsManager()
        self._prober = Prober(runtime, record=record, pod_ip=pod_ip)
        self._clock = clock
        # When this kubelet started: containers started well before ran under the previous one.
        self.start = clock()
        self._pods: dict[str, Obj] = {}
        self._targets: dict[str, ProbeTarget] = {}  # by container id
        self._tasks: dict[str, list[asyncio.Task[None]]] = {}  # by container id
        self._alive: set[asyncio.Task[None]] = set()  # every worker not yet finished
        self._closed = False

    # --- what the kubelet tells ---------------------------------------------------------------

    def add_pod(self, pod: Obj) -> None:
        """Remember the newest copy of a pod; probes read it (AddPod)."""
        self._pods[pod["metadata"]["uid"]] = pod

    def remove_pod(self, uid: str) -> None:
        """Stop probing a pod's containers and forget their results (RemovePod)."""
        self._pods.pop(uid, None)
        for container_id, target in list(self._targets.items()):
            if target.pod_uid == uid:
                self.container_stopped(container_id)

    def container_started(
        self, pod: Obj, container_name: str, container_id: str, started_at: int
    ) -> None:
        """Start probing a running container; `started_at` is when it started, in nanoseconds
        since the epoch (CRI's ContainerStatus.started_at).

        Calling it again for the same container id does nothing; a new id for the same
        container (a restart) replaces the old instance's workers and results.
        """
        if self._closed:
            raise RuntimeError("the probe manager is closed")
        self.add_pod(pod)
        if container_id in self._targets:
            return
        uid = pod["metadata"]["uid"]
        for old_id, old in list(self._targets.items()):
            if old.pod_uid == uid and old.name == container_name:
                self.container_stopped(old_id)
        container = _find_probed_container(pod, container_name)
        if container is None:
            return
        target = ProbeTarget(uid, container_name, container_id, container, started_at / 1e9)
        target.restored = target.started_at < self.start - KUBELET_RESTART_GRACE_PERIOD
        if target.restored:
            previous = _status_of(pod, container_name, container_id)
            target.inherited_start = previous is not None and previous.get("started") is True
        if probe_spec(container, "startup") is None or target.inherited_start:
            target.started.set()
        self._targets[container_id] = target
        loop = asyncio.get_running_loop()
        tasks = self._tasks[container_id] = []
        for kind in PROBE_KINDS:
            if probe_spec(container, kind) is None:
                continue
            if kind == "startup" and target.inherited_start:
                continue  # started before the restart: its startup probe is not run again
            worker = Worker(
                kind,
                target,
                prober=self._prober,
                results=self.results,
                pod=lambda: self._pods.get(uid),
                clock=self._clock,
            )
            if not target.restored:
                worker.publish_initial()
            task = loop.create_task(worker.run(), name=f"probe {kind} {uid}/{container_name}")
            tasks.append(task)
            self._alive.add(task)
            task.add_done_callback(self._alive.discard)

    def container_stopped(self, container_id: str) -> None:
        """Stop probing a container that is not running any more and forget its results."""
        target = self._targets.pop(container_id, None)
        if target is not None:
            target.stopped = True
        for task in self._tasks.pop(container_id, ()):
            task.cancel()
        self.results.remove(container_id)

    def on_change(self, callback: Subscriber) -> None:
        """Call `callback(ProbeUpdate)` whenever a result changes; it must not block."""
        self.results.subscribe(callback)

    # --- what the kubelet asks ----------------------------------------------------------------

    def result(self, container_id: str, kind: ProbeKind) -> str | None:
        """The latest result: "success", "failure", or None while there is none
        (pod_actions.ProbeResult)."""
        return self.results.get(container_id, kind)

    def started(self, container_id: str) -> bool | None:
        """Whether the container passed its startup probe (True without one); None for a
        container the manager does not know as running."""
        target = self._targets.get(container_id)
        if target is None:
            return None
        if probe_spec(target.container, "startup") is None:
            return True
        result = self.results.get(container_id, "startup")
        if result is None and target.inherited_start:
            return True
        return result == SUCCESS

    def ready(self, container_id: str) -> bool:
        """Started, and passed its readiness probe (or has none)."""
        target = self._targets.get(container_id)
        if target is None or not self.started(container_id):
            return False
        if probe_spec(target.container, "readiness") is None:
            return True
        result = self.results.get(container_id, "readiness")
        if result is None and target.restored:
            # Not probed since the restart: as ready as the pod was.
            return _pod_is_ready(self._pods.get(target.pod_uid))
        return result == SUCCESS

    async def close(self) -> None:
        """Stop every worker and wait until they have."""
        self._closed = True
        for container_id in list(self._targets):
            self.container_stopped(container_id)
        await cancel_and_wait(list(self._alive))
