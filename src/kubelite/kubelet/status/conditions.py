"""The pod conditions the kubelet owns (Kubernetes' `pkg/kubelet/status/generate.go`) and how
their lastTransitionTime moves (`updateLastTransitionTime` in `status_manager.go`).

- PodReadyToStartContainers: the newest sandbox is ready (and has an IP, unless the pod uses
  the host's network): the kubelet could start containers without making a new sandbox;
- Initialized: every regular init container succeeded and every sidecar started, or an app
  container already ran; else `ContainersNotInitialized`,
  `containers with incomplete status: [a b]`;
- ContainersReady: every app container and sidecar is ready; else `ContainersNotReady`,
  `containers with unready status: [a]`; False with `PodCompleted` or `PodFailed` once the
  phase is terminal;
- Ready: ContainersReady, and every readiness gate's condition True; else the same reason as
  ContainersReady, or `ReadinessGatesNotReady`.

A condition's lastTransitionTime stays what it was while its status does not change, and is the
time of the sync when it does. lastProbeTime is always null: the kubelet does not set it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from kubelite.api import meta
from kubelite.api import pods as podutil
from kubelite.api.conditions import transition_time
from kubelite.api.types import Obj
from kubelite.kubelet.status import reasons
from kubelite.runtime import cri

TRUE = "True"
FALSE = "False"

# The conditions whose lastTransitionTime the status manager maintains (updateStatusInternal).
TRANSITION_TIMED = (
    reasons.CONTAINERS_READY,
    reasons.POD_READY,
    reasons.POD_INITIALIZED,
    reasons.POD_READY_TO_START_CONTAINERS,
    reasons.POD_SCHEDULED,
    reasons.DISRUPTION_TARGET,
    reasons.ALL_CONTAINERS_RESTARTING,
)


# The conditions the kubelet computes on every sync (generateAPIPodStatus).
_KUBELET_OWNED = frozenset(
    {
        reasons.POD_READY_TO_START_CONTAINERS,
        reasons.POD_INITIALIZED,
        reasons.POD_READY,
        reasons.CONTAINERS_READY,
        reasons.POD_SCHEDULED,
    }
)


def condition(type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    """A v1 PodCondition as the kubelet generates it, before its transition time is set."""
    result: Obj = {"type": type_, "status": status, "lastProbeTime": None}
    if reason:
        result["reason"] = reason
    if message:
        result["message"] = message
    return result


def pod_ready_to_start_containers(pod: Obj, sandboxes: Sequence[cri.PodSandboxStatus]) -> Obj:
    """GeneratePodReadyToStartContainersCondition: True unless a new sandbox is needed."""
    status = FALSE if _pod_sandbox_changed(pod, sandboxes) else TRUE
    return condition(reasons.POD_READY_TO_START_CONTAINERS, status)


def pod_initialized(
    pod: Obj, statuses: list[Obj], phase: str, old_conditions: Sequence[Obj] = ()
) -> Obj:
    """GeneratePodInitializedCondition over all the pod's container statuses.

    A pod once initialized stays so (RestartAllContainersOnContainerExits): its init containers
    run again after an in-place restart, and are waiting meanwhile, but `old_conditions` (the
    previous status') already said True.
    """
    spec = podutil.spec_of(pod)
    unknown, incomplete = _unknown_and_failing(
        spec.get("initContainers") or [], statuses, _init_container_initialized
    )
    if phase == reasons.SUCCEEDED and not unknown:
        return condition(reasons.POD_INITIALIZED, TRUE, reasons.POD_COMPLETED)
    # An app container that ran proves the pod initialized, even while a sidecar restarts.
    if podutil.has_any_regular_container_started(spec, statuses):
        return condition(reasons.POD_INITIALIZED, TRUE)
    message = _containers_message(unknown, "incomplete", incomplete)
    if message:
        previous = meta.find_condition(list(old_conditions), reasons.POD_INITIALIZED)
        if previous is not None and previous.get("status") == TRUE:
            return condition(reasons.POD_INITIALIZED, TRUE)
        return condition(
            reasons.POD_INITIALIZED, FALSE, reasons.CONTAINERS_NOT_INITIALIZED, message
        )
    return condition(reasons.POD_INITIALIZED, TRUE)


def containers_ready(pod: Obj, statuses: list[Obj], phase: str) -> Obj:
    """GenerateContainersReadyCondition: app containers and sidecars all ready."""
    spec = podutil.spec_of(pod)
    counted = [
        c for c in spec.get("initContainers") or [] if podutil.is_restartable_init_container(c)
    ]
    counted += spec.get("containers") or []
    unknown, unready = _unknown_and_failing(counted, statuses, _container_ready)
    if (phase == reasons.SUCCEEDED and not unknown) or phase == reasons.FAILED:
        return terminal_phase_condition(reasons.CONTAINERS_READY, phase)
    message = _containers_message(unknown, "unready", unready)
    if message:
        return condition(reasons.CONTAINERS_READY, FALSE, reasons.CONTAINERS_NOT_READY, message)
    return condition(reasons.CONTAINERS_READY, TRUE)


def pod_ready(pod: Obj, conditions: list[Obj], statuses: list[Obj], phase: str) -> Obj:
    """GeneratePodReadyCondition: ContainersReady, then every readiness gate.

    `conditions` are the pod's conditions so far, where the gates' conditions are looked up.
    """
    ready = containers_ready(pod, statuses, phase)
    if ready["status"] != TRUE:
        return condition(
            reasons.POD_READY, ready["status"], ready.get("reason", ""), ready.get("message", "")
        )
    messages = []
    for gate in podutil.spec_of(pod).get("readinessGates") or []:
        type_ = gate.get("conditionType", "")
        found = meta.find_condition(conditions, type_)
        if found is None:
            messages.append(
                f'corresponding condition of pod readiness gate "{type_}" does not exist.'
            )
        elif found.get("status") != TRUE:
            messages.append(
                f'the status of pod readiness gate "{type_}" is not "True", '
                f"but {found.get('status', '')}"
            )
    if messages:
        return condition(
            reasons.POD_READY, FALSE, reasons.READINESS_GATES_NOT_READY, ", ".join(messages)
        )
    return condition(reasons.POD_READY, TRUE)


def observe_generation(conditions: list[Obj], generation: int) -> None:
    """Mark the kubelet's own conditions with the pod generation this sync saw.

    PodObservedGenerationTracking (KEP-5067, GA in 1.35): each condition names the generation
    of the spec it was computed from; the other writers' conditions keep theirs.
    """
    for item in conditions:
        if item.get("type") in _KUBELET_OWNED:
            item["observedGeneration"] = generation


def terminal_phase_condition(type_: str, phase: str) -> Obj:
    """Ready or ContainersReady of a pod that will not run again (generate...ForTerminalPhase)."""
    reason = {reasons.FAILED: reasons.POD_FAILED, reasons.SUCCEEDED: reasons.POD_COMPLETED}
    return condition(type_, FALSE, reason.get(phase, ""))


def update_last_transition_times(
    conditions: list[Obj], old_conditions: list[Obj], now: dt.datetime
) -> None:
    """Keep a condition's lastTransitionTime while its status holds, else stamp `now`.

    Only the conditions the status manager times (TRANSITION_TIMED) are touched; the others
    keep what their owners wrote.
    """
    stamp = meta.format_time(now)
    for current in conditions:
        if current.get("type") not in TRANSITION_TIMED:
            continue
        old = meta.find_condition(old_conditions, current["type"])
        current["lastTransitionTime"] = transition_time(old, current.get("status", ""), stamp)


def _unknown_and_failing(
    containers: list[Obj], statuses: list[Obj], ok: Callable[[Obj, Obj], bool]
) -> tuple[list[str], list[str]]:
    """The names of the containers without a status, and of those whose status is not `ok`."""
    unknown: list[str] = []
    failing: list[str] = []
    for container in containers:
        status = podutil.find_status(statuses, container["name"])
        if status is None:
            unknown.append(container["name"])
        elif not ok(container, status):
            failing.append(container["name"])
    return unknown, failing


def _containers_message(unknown: list[str], adjective: str, failing: list[str]) -> str:
    """`containers with unknown status: [a], containers with <adjective> status: [b]`, the parts
    that apply; empty when none does."""
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_go_list(unknown)}")
    if failing:
        messages.append(f"containers with {adjective} status: {_go_list(failing)}")
    return ", ".join(messages)


def _container_ready(container: Obj, status: Obj) -> bool:
    return bool(status.get("ready"))


def _init_container_initialized(container: Obj, status: Obj) -> bool:
    """isInitContainerInitialized: a sidecar once started, a regular one once it succeeded."""
    if podutil.is_restartable_init_container(container):
        return status.get("started") is True
    return bool(status.get("ready"))


def _pod_sandbox_changed(pod: Obj, sandboxes: Sequence[cri.PodSandboxStatus]) -> bool:
    """PodSandboxChanged (pkg/kubelet/kuberuntime/util): must the kubelet make a new sandbox?

    Kubernetes also compares the sandbox's network namespace mode with the pod's hostNetwork;
    kubelite's sandbox status does not carry it.
    """
    if not sandboxes:
        return True
    ready = sum(1 for s in sandboxes if s.state is cri.PodSandboxState.SANDBOX_READY)
    newest = sandboxes[0]
    if ready > 1 or newest.state is not cri.PodSandboxState.SANDBOX_READY:
        return True
    host_network = bool(podutil.spec_of(pod).get("hostNetwork"))
    return not host_network and not newest.ip


def _go_list(names: list[str]) -> str:
    """A list of names as Go's `%s` prints a []string: `[a b]`."""
    return "[" + " ".join(names) + "]"
