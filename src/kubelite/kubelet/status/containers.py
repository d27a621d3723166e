"""containerStatuses, initContainerStatuses and ephemeralContainerStatuses, as the kubelet
writes them (Kubernetes' `convertToAPIContainerStatuses` in `pkg/kubelet/kubelet_pods.go`, and
the prober manager's `UpdatePodStatus` for `started` and `ready`).

How a container's status is built, in the order the kubelet applies the rules:

1. every container in the spec starts as `waiting` with the default reason, ContainerCreating
   (PodInitializing in a pod with init containers), keeping the restart count and lastState of
   the previous status; a previous status that had terminated is kept whole;
2. a container the runtime no longer has, that the previous status showed running, gets a
   lastState `terminated` with reason ContainerStatusUnknown and exit code 137 (and a restart
   counted, unless the pod is being deleted);
3. the newest runtime container of each name becomes the state (`running`, `terminated`, or
   `waiting` while only created), the one before it the lastState;
4. a container that is due to be (re)started and that the kubelet failed to start shows the
   kubelet's reason (CrashLoopBackOff, ErrImagePull, ...) as `waiting`, its terminated state
   moving to lastState;
5. `started` and `ready` come from the probes: started when running and the startup probe (if
   any) succeeded, ready when started and the readiness probe (if any) succeeded; a regular init
   container is ready once it exited 0.

App and ephemeral containers' statuses are sorted by name, init containers' by spec order.
"""

from __future__ import annotations

import copy
import datetime as dt

from kubelite.api import meta
from kubelite.api import pods as podutil
from kubelite.api.restart_rules import container_should_restart
from kubelite.api.types import Obj
from kubelite.kubelet.status import reasons
from kubelite.kubelet.status.observed import ContainerRuntimeState, PodRuntimeState
from kubelite.runtime import cri

# The whole status may carry this much termination message, shared out among the containers
# (pkg/kubelet/container MaxPodTerminationMessageLogLength, 12 KiB).
MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH = 1024 * 12

# A readOnly volume mount's recursiveReadOnly in the status (core/v1 RecursiveReadOnlyDisabled):
# runc 1.1 here cannot make mounts recursively read-only, so every read-only mount reports it.
RECURSIVE_READ_ONLY_DISABLED = "Disabled"


def convert_container_statuses(
    pod: Obj,
    observed: PodRuntimeState,
    previous_statuses: list[Obj],
    containers: list[Obj],
    *,
    is_init: bool,
    pod_restarting: bool = False,
) -> list[Obj]:
    """The statuses of `containers` (one kind of the pod's containers), before the probes.

    `previous_statuses` are the same kind's statuses from the previous pod status.
    `pod_restarting`: a RestartAllContainers reset is under way (ShouldAllContainersRestart), so
    a container the runtime no longer has was removed by it, not lost.
    """
    spec = podutil.spec_of(pod)
    default_reason = (
        reasons.POD_INITIALIZING if spec.get("initContainers") else reasons.CONTAINER_CREATING
    )
    old_by_name = {s.get("name"): s for s in previous_statuses}
    statuses: dict[str, Obj] = {}

    for container in containers:
        name = container["name"]
        status = _new_status(container, default_reason)
        old = old_by_name.get(name)
        if old is not None:
            if podutil.state_of(old, "terminated") is not None:
                status = copy.deepcopy(old)
            else:
                status["restartCount"] = old.get("restartCount", 0)
                status["lastState"] = copy.deepcopy(old.get("lastState") or {})
        statuses[name] = status

    deleted = bool(meta.get_path(pod, "metadata", "deletionTimestamp"))
    for container in containers:
        name = container["name"]
        old = old_by_name.get(name)
        if observed.container(name).current is not None or old is None:
            continue
        if pod_restarting and podutil.state_of(old, "waiting") is None:
            statuses[name] = _removed_for_restart_all(statuses[name], old)
            continue
        # The runtime lost a container the last status showed running: it did stop, so record
        # that rather than let the default waiting state send the pod back to Pending.
        if podutil.state_of(old, "terminated") is not None:
            continue
        if podutil.state_of(old, "running") is None:
            continue
        status = statuses[name]
        waiting = podutil.state_of(status, "waiting")
        if waiting is None or waiting.get("reason") != default_reason:
            continue
        if podutil.last_terminated(status) is not None:
            continue
        status["lastState"] = {
            "terminated": _unknown_terminated(reasons.MESSAGE_NOT_LOCATED_DELETED),
        }
        if not deleted:
            status["restartCount"] = status.get("restartCount", 0) + 1

    for container in containers:
        name = container["name"]
        seen = observed.container(name)
        if seen.current is None:
            continue
        old = old_by_name.get(name)
        status = _convert(container, seen.current, old, seen, observed.runtime_name, newest=True)
        running = seen.current.state is cri.ContainerState.CONTAINER_RUNNING
        if old is not None:
            _keep_history(status, old, running)
        if running and old is not None and old.get("started") is not None:
            # What the kubelet already said of a running container's start holds until the
            # probes speak again (the phase is computed before they do).
            status["started"] = old["started"]
        if seen.previous is not None:
            before = _convert(container, seen.previous, old, seen, observed.runtime_name)
            status["lastState"] = before["state"]
        statuses[name] = status

    for container in containers:
        name = container["name"]
        seen = observed.container(name)
        current = seen.current
        if (
            is_init
            and current is not None
            and current.state is cri.ContainerState.CONTAINER_EXITED
            and current.exit_code == 0
        ):
            continue  # an init container that succeeded is never started again
        if not should_container_be_restarted(container, pod, current):
            continue
        if not seen.waiting_reason:
            # Without a recorded failure the container is simply about to start: keep its state.
            continue
        status = statuses[name]
        if podutil.state_of(status, "terminated") is not None:
            status["lastState"] = status["state"]
        back_off: Obj = {"reason": seen.waiting_reason}
        if seen.waiting_message:
            back_off["message"] = seen.waiting_message
        status["state"] = {"waiting": back_off}

    if is_init:
        return [statuses[c["name"]] for c in containers]
    return [statuses[name] for name in sorted(statuses)]


def should_container_be_restarted(
    container: Obj, pod: Obj, current: cri.ContainerStatus | None
) -> bool:
    """ShouldContainerBeRestarted (pkg/kubelet/container/helpers.go), given the newest runtime
    container of that name.

    An exited container is restarted as ContainerShouldRestart says of its exit code: its own
    restart rules, then its own restartPolicy (a sidecar's is Always), then the pod's.
    """
    if meta.get_path(pod, "metadata", "deletionTimestamp"):
        return False
    if current is None:
        return True
    if current.state is cri.ContainerState.CONTAINER_RUNNING:
        return False
    if current.state in (
        cri.ContainerState.CONTAINER_UNKNOWN,
        cri.ContainerState.CONTAINER_CREATED,
    ):
        return True
    return container_should_restart(container, podutil.spec_of(pod), current.exit_code)


def apply_probe_results(
    pod: Obj, observed: PodRuntimeState, container_statuses: list[Obj], init_statuses: list[Obj]
) -> None:
    """Set `started` and `ready` from the probes (the prober manager's UpdatePodStatus)."""
    for status in container_statuses:
        _apply_probes(status, observed.container(status["name"]))
    init_specs = {c["name"]: c for c in podutil.spec_of(pod).get("initContainers") or []}
    for status in init_statuses:
        seen = observed.container(status["name"])
        started = _is_started(status, seen)
        status["started"] = started
        spec = init_specs.get(status["name"])
        if spec is not None and not podutil.is_restartable_init_container(spec):
            terminated = podutil.state_of(status, "terminated")
            if terminated is not None and terminated.get("exitCode") == 0:
                status["ready"] = True
            continue
        if started:
            status["ready"] = seen.readiness_probe is not False


def normalize_messages(pod: Obj, statuses: list[Obj]) -> None:
    """Cut termination messages to their share of the pod's 12 KiB (normalizeStatus)."""
    spec = podutil.spec_of(pod)
    count = len(spec.get("containers") or []) + len(spec.get("initContainers") or [])
    limit = MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH // count if count else 0
    if not limit:
        limit = MAX_POD_TERMINATION_MESSAGE_LOG_LENGTH
    for status in statuses:
        for part in ("state", "lastState"):
            terminated = (status.get(part) or {}).get("terminated")
            if not isinstance(terminated, dict) or not terminated.get("message"):
                continue
            raw = terminated["message"].encode()
            if len(raw) > limit:
                # Go slices the bytes; its JSON encoder then replaces a split character.
                terminated["message"] = raw[:limit].decode(errors="replace")


def _apply_probes(status: Obj, seen: ContainerRuntimeState) -> None:
    started = _is_started(status, seen)
    status["started"] = started
    if started:
        status["ready"] = seen.readiness_probe is not False


def _is_started(status: Obj, seen: ContainerRuntimeState) -> bool:
    """isContainerStarted: running, and past its startup probe if it has one."""
    if podutil.state_of(status, "running") is None:
        return False
    return seen.startup_probe is not False


def _new_status(container: Obj, default_reason: str) -> Obj:
    status: Obj = {
        "name": container["name"],
        "state": {"waiting": {"reason": default_reason}},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": container.get("image", ""),
        "imageID": "",
    }
    mounts = _volume_mounts(container)
    if mounts:
        status["volumeMounts"] = mounts
    return status


def _volume_mounts(container: Obj) -> list[Obj]:
    """The spec's mounts as the status lists them (RecursiveReadOnlyMounts, GA in 1.33)."""
    mounts = []
    for mount in container.get("volumeMounts") or []:
        entry: Obj = {"name": mount.get("name", ""), "mountPath": mount.get("mountPath", "")}
        if mount.get("readOnly"):
            entry["readOnly"] = True
            entry["recursiveReadOnly"] = RECURSIVE_READ_ONLY_DISABLED
        mounts.append(entry)
    return mounts


def _convert(
    container: Obj,
    cs: cri.ContainerStatus,
    old: Obj | None,
    seen: ContainerRuntimeState,
    runtime_name: str,
    *,
    newest: bool = False,
) -> Obj:
    """convertContainerStatus: one runtime container as an API container status."""
    container_id = f"{runtime_name}://{cs.id}"
    image_id = (seen.image_id if newest else "") or cs.image_ref
    status: Obj = {
        "name": container["name"],
        "state": {},
        "lastState": {},
        "ready": False,
        "restartCount": cs.metadata.attempt,
        # The image as the spec names it; containerd and CRI-O would show their normalized
        # reference here, which kubelite's runtime does not keep.
        "image": container.get("image", ""),
        "imageID": image_id,
        "containerID": container_id,
    }
    if old is not None and old.get("volumeMounts"):
        status["volumeMounts"] = copy.deepcopy(old["volumeMounts"])
    if cs.state is cri.ContainerState.CONTAINER_RUNNING:
        status["state"] = {"running": {"startedAt": _time(cs.started_at)}}
    elif cs.state is cri.ContainerState.CONTAINER_CREATED:
        status["state"] = {"waiting": {}}
    elif cs.state is cri.ContainerState.CONTAINER_EXITED:
        message = seen.termination_message if newest else seen.previous_termination_message
        status["state"] = {"terminated": _terminated(cs, container_id, message)}
    elif old is not None and podutil.state_of(old, "running") is not None:
        # The runtime cannot say what became of a container last seen running: call it gone
        # rather than waiting, so that a run-once pod is not run twice.
        status["state"] = {
            "terminated": _unknown_terminated(reasons.MESSAGE_NOT_LOCATED_TERMINATED)
        }
        status["restartCount"] = old.get("restartCount", 0) + 1
    else:
        status["state"] = {"waiting": {}}
    return status


def _terminated(cs: cri.ContainerStatus, container_id: str, termination_message: str) -> Obj:
    terminated: Obj = {"exitCode": cs.exit_code}
    reason = cs.reason or (reasons.COMPLETED if cs.exit_code == 0 else reasons.ERROR)
    terminated["reason"] = reason
    message = cs.message
    if termination_message:
        message = f"{message}: {termination_message}" if message else termination_message
    if message:
        terminated["message"] = message
    terminated["startedAt"] = _time(cs.started_at)
    terminated["finishedAt"] = _time(cs.finished_at)
    terminated["containerID"] = container_id
    return terminated


def _removed_for_restart_all(status: Obj, old: Obj) -> Obj:
    """A container a RestartAllContainers reset removed: waiting to start again, its last state
    the removal (exit 137), one more restart counted."""
    status["state"] = {
        "waiting": {
            "reason": reasons.RESTARTING_ALL_CONTAINERS,
            "message": reasons.MESSAGE_REMOVED_FOR_RESTART_ALL,
        }
    }
    status["lastState"] = {
        "terminated": {
            "exitCode": reasons.EXIT_CODE_UNKNOWN,
            "reason": reasons.RESTARTING_ALL_CONTAINERS,
            "message": reasons.MESSAGE_REMOVED_FOR_RESTART_ALL,
            "startedAt": None,
            "finishedAt": None,
        }
    }
    status["restartCount"] = old.get("restartCount", 0) + 1
    return status


def _keep_history(status: Obj, old: Obj, running: bool) -> None:
    """What the previous status knew that the runtime forgot (convertContainerStatus).

    After a RestartAllContainers reset the runtime has no earlier instance: the new one starts
    at attempt 0 and has no predecessor to show. The restart count never goes down (and a
    container seen running again after a terminated status has restarted once more), and the
    last termination the status showed stays its lastState. When the runtime still has the
    previous instance, that one becomes the lastState afterwards, as before.
    """
    old_count = old.get("restartCount", 0)
    if old_count > status["restartCount"]:
        status["restartCount"] = old_count
    old_terminated = podutil.state_of(old, "terminated")
    if running and old_terminated is not None and old_count >= status["restartCount"]:
        status["restartCount"] = old_count + 1
    if old.get("containerID") != status.get("containerID") and old_terminated is not None:
        status["lastState"] = {"terminated": copy.deepcopy(old_terminated)}
    elif (last := podutil.last_terminated(old)) is not None:
        status["lastState"] = {"terminated": copy.deepcopy(last)}


def _unknown_terminated(message: str) -> Obj:
    return {
        "exitCode": reasons.EXIT_CODE_UNKNOWN,
        "reason": reasons.CONTAINER_STATUS_UNKNOWN,
        "message": message,
        "startedAt": None,
        "finishedAt": None,
    }


def _time(ns: int) -> str | None:
    """A CRI time (Unix ns) as metav1.Time; the zero time is `null`, as Go writes it."""
    if ns <= 0:
        return None
    return meta.format_time(dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC))
