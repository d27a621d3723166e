"""A pod's phase from its container statuses (Kubernetes' `getPhase`, pkg/kubelet/kubelet_pods.go,
as of 1.37: native sidecars, and each container's own restart policy and rules).

- Pending while a regular init container has not succeeded, or while a sidecar has not started
  before any app container ran, or while an app container waits for its first start;
- Failed at once when a regular init container failed and will not be restarted: its restart
  rules and own restartPolicy, else the pod's, say so of the exit code (ContainerShouldRestart);
- Running while every container has started and at least one runs: sidecars count as running
  containers, but a stopped or crash-looping sidecar neither holds the pod nor fails it;
- once no container runs: Running while any stopped app container will be restarted (by its
  rules, its own policy or the pod's, or by a RestartAllContainers reset under way), else
  Succeeded if every app container exited 0 and Failed if one did not (and, once the pod worker
  finished the pod, Succeeded or Failed whatever the policies say).

The kubelet never reports Unknown (the node lifecycle controller does, for lost nodes), and a pod
whose phase was Succeeded or Failed keeps it: `generate` enforces that.
"""

from __future__ import annotations

from kubelite.api import pods as podutil
from kubelite.api.restart_rules import container_should_restart
from kubelite.api.types import Obj
from kubelite.kubelet.status import reasons


def get_phase(pod: Obj, statuses: list[Obj], *, pod_is_terminal: bool = False) -> str:
    """The phase of `pod` given the statuses of all its containers, init and app alike.

    `pod_is_terminal`: the pod worker has stopped the pod for good, so stopped containers will
    not be restarted whatever the restart policy.
    """
    spec = podutil.spec_of(pod)
    init_containers = spec.get("initContainers") or []

    pending_regular_init = 0
    failed_for_good = 0
    for container in init_containers:
        if podutil.is_restartable_init_container(container):
            continue
        status = podutil.find_status(statuses, container["name"])
        if status is None:
            pending_regular_init += 1
            continue
        if podutil.state_of(status, "running") is not None:
            pending_regular_init += 1
        elif (terminated := podutil.state_of(status, "terminated")) is not None:
            if terminated.get("exitCode", 0) != 0 and not _restartable(container, spec, terminated):
                failed_for_good += 1
        elif podutil.state_of(status, "waiting") is not None:
            last = podutil.last_terminated(status)
            if last is None:
                pending_regular_init += 1
            elif last.get("exitCode", 0) != 0 and not _restartable(container, spec, last):
                failed_for_good += 1
        else:
            pending_regular_init += 1

    unknown = running = waiting = stopped = succeeded = 0
    # Stopped app containers that nothing will start again.
    stopped_for_good = 0
    pending_sidecars = 0
    for container in init_containers:
        if not podutil.is_restartable_init_container(container):
            continue
        status = podutil.find_status(statuses, container["name"])
        if status is None:
            unknown += 1
            continue
        if podutil.state_of(status, "running") is not None:
            if status.get("started") is not True:
                pending_sidecars += 1
            running += 1
        elif podutil.state_of(status, "terminated") is not None:
            pass  # a stopped sidecar does not decide the phase
        elif podutil.state_of(status, "waiting") is not None:
            if podutil.last_terminated(status) is None:
                pending_sidecars += 1
                waiting += 1
        else:
            pending_sidecars += 1
            unknown += 1

    for container in spec.get("containers") or []:
        status = podutil.find_status(statuses, container["name"])
        if status is None:
            unknown += 1
            continue
        if podutil.state_of(status, "running") is not None:
            running += 1
        elif (terminated := podutil.state_of(status, "terminated")) is not None:
            stopped += 1
            if not _restartable(container, spec, terminated):
                stopped_for_good += 1
            if terminated.get("exitCode", 0) == 0:
                succeeded += 1
        elif podutil.state_of(status, "waiting") is not None:
            if (last := podutil.last_terminated(status)) is not None:
                stopped += 1
                if not _restartable(container, spec, last):
                    stopped_for_good += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_for_good:
        return reasons.FAILED

    # A sidecar restarting after the app containers ran must not send the pod back to Pending.
    initialized = podutil.has_any_regular_container_started(spec, statuses)
    if pending_regular_init or (pending_sidecars and not initialized) or waiting:
        return reasons.PENDING
    if running and not unknown:
        return reasons.RUNNING
    if not running and stopped and not unknown:
        if pod_is_terminal:
            return reasons.SUCCEEDED if stopped == succeeded else reasons.FAILED
        if stopped != stopped_for_good:
            return reasons.RUNNING  # some will be restarted
        return reasons.SUCCEEDED if stopped == succeeded else reasons.FAILED
    return reasons.PENDING


def _restartable(container: Obj, spec: Obj, terminated: Obj) -> bool:
    """Whether the container that ended as `terminated` will be started again: by its policies
    and rules, or because a RestartAllContainers reset removed it (it restarts with the rest)."""
    if terminated.get("reason") == reasons.RESTARTING_ALL_CONTAINERS:
        return True
    return container_should_restart(container, spec, terminated.get("exitCode", 0))
