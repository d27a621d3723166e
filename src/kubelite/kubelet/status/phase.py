"""A pod's phase from its container statuses (Kubernetes' `getPhase`, pkg/kubelet/kubelet_pods.go,
as of 1.30-1.33, with native sidecars).

- Pending while a regular init container has not succeeded, or while a sidecar has not started
  before any app container ran, or while an app container waits for its first start;
- Failed at once when a regular init container failed and the pod's restartPolicy is Never;
- Running while every container has started and at least one runs: sidecars count as running
  containers, but a stopped or crash-looping sidecar neither holds the pod nor fails it;
- once no container runs: Succeeded if every app container exited 0, Failed if one did not and
  it will not be restarted (Never; or any policy once the pod worker finished the pod), and
  Running while the kubelet restarts them (Always, or OnFailure after a failure).

The kubelet never reports Unknown (the node lifecycle controller does, for lost nodes), and a pod
whose phase was Succeeded or Failed keeps it: `generate` enforces that.
"""

from __future__ import annotations

from kubelite.api import pods as podutil
from kubelite.api.types import Obj
from kubelite.kubelet.status import reasons


def get_phase(pod: Obj, statuses: list[Obj], *, pod_is_terminal: bool = False) -> str:
    """The phase of `pod` given the statuses of all its containers, init and app alike.

    `pod_is_terminal`: the pod worker has stopped the pod for good, so stopped containers will
    not be restarted whatever the restart policy.
    """
    spec = podutil.spec_of(pod)
    policy = podutil.restart_policy(spec)
    init_containers = spec.get("initContainers") or []

    pending_regular_init = 0
    failed_initialization = 0
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
            if terminated.get("exitCode", 0) != 0:
                failed_initialization += 1
        elif podutil.state_of(status, "waiting") is not None:
            last = podutil.last_terminated(status)
            if last is None:
                pending_regular_init += 1
            elif last.get("exitCode", 0) != 0:
                failed_initialization += 1
        else:
            pending_regular_init += 1

    unknown = running = waiting = stopped = succeeded = 0
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
            if terminated.get("exitCode", 0) == 0:
                succeeded += 1
        elif podutil.state_of(status, "waiting") is not None:
            if podutil.last_terminated(status) is not None:
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1

    if failed_initialization and policy == podutil.RESTART_POLICY_NEVER:
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
        if policy == podutil.RESTART_POLICY_ALWAYS:
            return reasons.RUNNING
        if stopped == succeeded:
            return reasons.SUCCEEDED
        if policy == podutil.RESTART_POLICY_NEVER:
            return reasons.FAILED
        return reasons.RUNNING
    return reasons.PENDING
