"""What one sync of a pod must do to its sandbox and containers (pure).

This is the decision half of Kubernetes' `kubeGenericRuntimeManager.SyncPod`: compare the pod's
spec with what the runtime has, and say what to kill and what to start, without doing it
(`computePodActions` and `computeInitContainerActions` in
pkg/kubelet/kuberuntime/kuberuntime_manager.go and kuberuntime_container.go,
`ShouldContainerBeRestarted` in pkg/kubelet/container/helpers.go, `PodSandboxChanged` in
pkg/kubelet/kuberuntime/util). The worker that carries the actions out lives in `sync.py`.

The rules, in short:

- No ready sandbox (or one without an IP, or more than one ready): kill everything and make a
  new sandbox, starting over from the first init container. A pod that must not restart
  (restartPolicy Never) and already ran containers is only killed.
- Init containers run one at a time, each to success before the next; a failed one is run
  again if its restart rules or policy say so (its own before the pod's), else the pod fails.
  Native sidecars (init containers with `restartPolicy: Always`) start in order, and the next
  init container starts once the sidecar runs (and passed its startup probe); they are
  restarted whenever they stop.
- After initialization, each app container is started when it never ran, or when it exited
  and ContainerShouldRestart says so: a matching restart rule, else the container's own
  restartPolicy, else the pod's (Always; OnFailure with a non-zero exit); a running one is killed
  (and restarted unless its policy is Never) when its spec changed or a liveness or startup
  probe failed.
- While the pod's AllContainersRestarting condition is True (RestartAllContainers), every
  container is killed without grace and removed, the sandbox kept; the next sync, finding no
  containers, starts the pod over from its first init container.
- When nothing is left running and nothing is to start, the pod is killed (its sidecars are not
  started again to keep it alive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from kubelite.api import pods as podutil
from kubelite.api import restart_rules as rr
from kubelite.api.types import Obj
from kubelite.kubelet.status.containers import should_container_be_restarted
from kubelite.runtime.cri import (
    ContainerState,
    ContainerStatus,
    PodSandboxState,
    PodSandboxStatus,
)

# The annotation where the kubelet keeps the hash of the container spec a container was made
# from (kubelet's `io.kubernetes.container.hash`): a different hash means the spec changed.
HASH_ANNOTATION = "io.kubernetes.container.hash"

# Reasons a container is killed for, as the kubelet gives them to killContainer.
KILL_REASON_LIVENESS = "LivenessProbe"
KILL_REASON_STARTUP = "StartupProbe"
KILL_REASON_UNKNOWN = "Unknown"

# Probe results the actions depend on (prober/results): a container with no result yet has
# None.
SUCCESS = "success"
FAILURE = "failure"

# (container id, probe kind) -> result; the actions ask for the two kinds that restart.
ProbeResult = Callable[[str, Literal["liveness", "startup"]], str | None]


@dataclass(frozen=True)
class PodRuntimeStatus:
    """What the runtime has of one pod: its sandboxes, newest first, and its containers,
    newest first (so that the first of a name is that container's latest instance)."""

    sandboxes: list[PodSandboxStatus] = field(default_factory=list)
    containers: list[ContainerStatus] = field(default_factory=list)

    def latest(self, name: str) -> ContainerStatus | None:
        for status in self.containers:
            if status.metadata.name == name:
                return status
        return None


@dataclass(frozen=True)
class ContainerToKill:
    """A container a pod sync must stop, with the reason and message its status and event will
    carry."""

    container_id: str
    name: str
    message: str
    reason: str = ""


@dataclass(frozen=True)
class ContainerToReset:
    """A container instance a RestartAllContainers reset removes from the runtime (killed first,
    without grace, when it still runs)."""

    container_id: str
    name: str
    kill: bool


@dataclass
class PodActions:
    """The outcome of comparing spec and runtime (kuberuntime `podActions`)."""

    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_containers_to_start: list[int] = field(default_factory=list)
    containers_to_start: list[int] = field(default_factory=list)
    containers_to_kill: list[ContainerToKill] = field(default_factory=list)
    # RestartAllContainers: every container instance to remove, the ones whose exit asked for
    # the reset last (kuberuntime's ContainersToReset).
    containers_to_reset: list[ContainerToReset] = field(default_factory=list)

    def kill(self, status: ContainerStatus, message: str, reason: str = "") -> None:
        self.containers_to_kill.append(
            ContainerToKill(status.id, status.metadata.name, message, reason)
        )


def should_restart_on_failure(pod: Obj) -> bool:
    """shouldRestartOnFailure (kuberuntime_manager.go): any policy but Never."""
    return podutil.restart_policy(podutil.spec_of(pod)) != podutil.RESTART_POLICY_NEVER


def sandbox_changed(pod: Obj, status: PodRuntimeStatus) -> tuple[bool, int, str]:
    """(make a new sandbox?, the attempt number, the current sandbox's id) (PodSandboxChanged)."""
    if not status.sandboxes:
        return True, 0, ""
    latest = status.sandboxes[0]
    ready = sum(1 for s in status.sandboxes if s.state == PodSandboxState.SANDBOX_READY)
    attempt = latest.metadata.attempt
    if ready > 1 or latest.state != PodSandboxState.SANDBOX_READY:
        return True, attempt + 1, latest.id
    host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
    if not host_network and not latest.ip:
        return True, attempt + 1, latest.id
    return False, attempt, latest.id


def container_succeeded(name: str, status: PodRuntimeStatus) -> bool:
    found = status.latest(name)
    return (
        found is not None
        and found.state == ContainerState.CONTAINER_EXITED
        and found.exit_code == 0
    )


def init_container_failed(status: ContainerStatus) -> bool:
    """isInitContainerFailed: an OOM kill, a non-zero exit, or an unknown state."""
    if status.reason == "OOMKilled":
        return True
    if status.state == ContainerState.CONTAINER_EXITED and status.exit_code != 0:
        return True
    return status.state == ContainerState.CONTAINER_UNKNOWN


def should_be_restarted(container: Obj, pod: Obj, status: PodRuntimeStatus) -> bool:
    """ShouldContainerBeRestarted, for an app container that is not running."""
    return should_container_be_restarted(container, pod, status.latest(container["name"]))


def spec_changed(container: Obj, status: ContainerStatus, spec_hash: Callable[[Obj], str]) -> bool:
    """containerChanged: the hash of the spec differs from the one the container was made
    from (containers made without one are never taken as changed)."""
    recorded = status.annotations.get(HASH_ANNOTATION)
    return recorded is not None and recorded != spec_hash(container)


def containers_to_reset(pod: Obj, status: PodRuntimeStatus) -> list[ContainerToReset]:
    """getContainersToReset: every instance the runtime has of the pod's init and app
    containers, running ones to be killed first; the exited ones whose exit code matched a
    RestartAllContainers rule go last, so that a reset cut short is found and done again."""
    targets: list[ContainerToReset] = []
    sources: list[ContainerToReset] = []
    for container in podutil.all_containers(podutil.spec_of(pod)):
        name = container["name"]
        for found in status.containers:
            if found.metadata.name != name:
                continue
            if found.state == ContainerState.CONTAINER_EXITED:
                entry = ContainerToReset(found.id, name, kill=False)
                if rr.triggers_restart_all(container, found.exit_code):
                    sources.append(entry)
                else:
                    targets.append(entry)
            else:
                targets.append(ContainerToReset(found.id, name, kill=True))
    return targets + sources


def _any_app_container_created(pod: Obj, status: PodRuntimeStatus) -> bool:
    """hasAnyRegularContainerCreated: any app container made, running or exited."""
    for container in (pod.get("spec") or {}).get("containers") or ():
        found = status.latest(container["name"])
        if found is not None and found.state != ContainerState.CONTAINER_UNKNOWN:
            return True
    return False


def compute_pod_actions(
    pod: Obj,
    status: PodRuntimeStatus,
    *,
    probe_result: ProbeResult,
    spec_hash: Callable[[Obj], str],
    restart_all: bool = False,
) -> PodActions:
    """computePodActions for one pod.

    `restart_all`: the pod's AllContainersRestarting condition is True (a container exited
    into a RestartAllContainers rule): every container is to be removed, nothing started; once
    none is left the next sync starts the pod over in its sandbox.
    """
    spec = pod.get("spec") or {}
    containers: list[Obj] = spec.get("containers") or []
    init_containers: list[Obj] = spec.get("initContainers") or []
    create, attempt, sandbox_id = sandbox_changed(pod, status)
    actions = PodActions(
        kill_pod=create, create_sandbox=create, sandbox_id=sandbox_id, attempt=attempt
    )
    if restart_all:
        actions.containers_to_reset = containers_to_reset(pod, status)
        return actions
    if create:
        if not should_restart_on_failure(pod) and attempt != 0 and status.containers:
            # Done and not to be restarted: kill what is left, make no new sandbox.
            actions.create_sandbox = False
            return actions
        # A container that succeeded and runs once (OnFailure, its own policy first) is done.
        to_start = [
            i
            for i, c in enumerate(containers)
            if not (rr.runs_once(c, spec) and container_succeeded(c["name"], status))
        ]
        if not to_start and _any_app_container_created(pod, status):
            actions.create_sandbox = False
            return actions
        if init_containers:
            actions.init_containers_to_start = [0]
            return actions
        actions.containers_to_start = to_start
        return actions

    initialized = _compute_init_container_actions(pod, status, actions, probe_result, spec_hash)
    if actions.kill_pod or not initialized:
        return actions

    keep = 0
    for index, container in enumerate(containers):
        found = status.latest(container["name"])
        if found is None or found.state != ContainerState.CONTAINER_RUNNING:
            if should_be_restarted(container, pod, status):
                actions.containers_to_start.append(index)
                if found is not None and found.state == ContainerState.CONTAINER_UNKNOWN:
                    actions.kill(
                        found,
                        'Container is in "Unknown" state, try killing it before restart',
                        KILL_REASON_UNKNOWN,
                    )
            continue
        restart = rr.restarts_on_failure(container, spec)
        name = container["name"]
        if spec_changed(container, found, spec_hash):
            message, reason = f"Container {name} definition changed", ""
            restart = True  # a changed spec is restarted whatever the policy
        elif probe_result(found.id, "liveness") == FAILURE:
            message, reason = f"Container {name} failed liveness probe", KILL_REASON_LIVENESS
        elif probe_result(found.id, "startup") == FAILURE:
            message, reason = f"Container {name} failed startup probe", KILL_REASON_STARTUP
        else:
            keep += 1
            continue
        if restart:
            message += ", will be restarted"
            actions.containers_to_start.append(index)
        actions.kill(found, message, reason)

    if keep == 0 and not actions.containers_to_start:
        actions.kill_pod = True
        # Sidecars alone do not keep a pod alive.
        actions.init_containers_to_start = []
    return actions


def _compute_init_container_actions(
    pod: Obj,
    status: PodRuntimeStatus,
    actions: PodActions,
    probe_result: ProbeResult,
    spec_hash: Callable[[Obj], str],
) -> bool:
    """computeInitContainerActions: fills the init container actions; True once the pod is
    initialized. Walks the init containers from the last, since finished ones may have been
    removed from the runtime: the last one found tells how far initialization got."""
    init_containers: list[Obj] = (pod.get("spec") or {}).get("initContainers") or []
    if not init_containers:
        return True
    initialized = False
    for container in (pod.get("spec") or {}).get("containers") or ():
        found = status.latest(container["name"])
        if found is not None and found.state in (
            ContainerState.CONTAINER_CREATED,
            ContainerState.CONTAINER_RUNNING,
        ):
            # An app container exists: initialization happened, even if the init containers'
            # records are gone. (Exited ones do not count: after a reboot every container has
            # exited, and a new sandbox must initialize again.)
            initialized = True
            break
    previously_initialized = initialized
    to_start: list[int] = []
    last = len(init_containers) - 1
    for i in range(last, -1, -1):
        container = init_containers[i]
        sidecar = podutil.is_restartable_init_container(container)
        found = status.latest(container["name"])
        if found is None:
            if previously_initialized and sidecar:
                to_start.append(i)
            continue
        if previously_initialized and not sidecar:
            continue  # after initialization only sidecars are kept running
        state = found.state
        if state == ContainerState.CONTAINER_CREATED:
            # Created but never started: the runtime failed to start it; try again.
            to_start.append(i)
        elif state == ContainerState.CONTAINER_RUNNING:
            started = sidecar and _sidecar_running(
                container,
                found,
                i,
                last,
                previously_initialized,
                actions,
                to_start,
                probe_result,
                spec_hash,
            )
            # A plain init container still running: wait for it to finish.
            initialized = initialized or (started and i == last)
        elif state == ContainerState.CONTAINER_EXITED:
            if sidecar:
                to_start.append(i)
            elif init_container_failed(found):
                # The container's own policy and rules decide, on the exit code it ended with.
                if not should_container_be_restarted(container, pod, found):
                    actions.kill_pod = True
                    actions.init_containers_to_start = []
                    return False
                to_start.append(i)
            elif i == last:
                initialized = True
            else:
                to_start.append(i + 1)
        else:  # unknown: no exit code for the rules, only the container's own policy counts
            if not sidecar and not rr.restarts_on_failure(container, podutil.spec_of(pod)):
                actions.kill_pod = True
                actions.init_containers_to_start = []
                return False
            actions.kill(
                found,
                'Init container is in "Unknown" state, try killing it before restart',
                KILL_REASON_UNKNOWN,
            )
            to_start.append(i)
        previously_initialized = True
    if not previously_initialized:
        to_start.append(0)
    actions.init_containers_to_start = list(reversed(to_start))
    return initialized


def _sidecar_running(
    container: Obj,
    found: ContainerStatus,
    index: int,
    last: int,
    previously_initialized: bool,
    actions: PodActions,
    to_start: list[int],
    probe_result: ProbeResult,
    spec_hash: Callable[[Obj], str],
) -> bool:
    """A running sidecar: True when it counts as started (the next init container may go)."""
    name = container["name"]
    if container.get("startupProbe") is not None:
        startup = probe_result(found.id, "startup")
        if startup is None:
            return False  # wait for the startup probe
        if startup != SUCCESS:
            if startup == FAILURE:
                actions.kill(found, f"Init container {name} failed startup probe", "StartupProbe")
                to_start.append(index)
            return False
    if index != last and not previously_initialized:
        to_start.append(index + 1)
    if spec_changed(container, found, spec_hash):
        actions.kill(found, f"Init container {name} definition changed")
        to_start.append(index)
        return True
    if container.get("livenessProbe") is not None:
        liveness = probe_result(found.id, "liveness")
        if liveness == FAILURE:
            actions.kill(found, f"Init container {name} failed liveness probe", "LivenessProbe")
            to_start.append(index)
    return True
