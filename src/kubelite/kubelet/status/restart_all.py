"""RestartAllContainers (KEP-5532, RestartAllContainersOnContainerExits, beta and on since 1.36):
when a container exits into a `RestartAllContainers` rule, the kubelet restarts every container
of the pod in place, init containers and sidecars included, keeping the sandbox (UID, IP,
volumes).

The pod's `AllContainersRestarting` condition is the record of it, so that a kubelet restarted
half-way picks it up again (Kubernetes' `ShouldAllContainersRestart` and
`AllContainersRestartCleanedUp` in pkg/kubelet/container/helpers.go,
`GenerateAllContainersRestartingCondition` in pkg/kubelet/status/generate.go):

1. a trigger exits: the condition turns True (`RestartAllContainersStarted`, "container exited
   with restart policy rule"), and the sync that sees it kills every container without grace
   and removes them all;
2. once the runtime has none of the pod's containers, the condition turns False (no reason),
   each removed container shows `waiting: RestartingAllContainers` with a `lastState` of exit
   137 and one more restart;
3. the next sync starts the pod over from its first init container.

The condition is only written for pods that have such a rule (AllContainersCouldRestart), and
is False with PodCompleted or PodFailed once the pod is Succeeded or Failed.
"""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api import pods as podutil
from kubelite.api import restart_rules as rr
from kubelite.api.types import Obj
from kubelite.kubelet.status import conditions as cond
from kubelite.kubelet.status import reasons
from kubelite.kubelet.status.observed import PodRuntimeState
from kubelite.runtime import cri


def should_all_containers_restart(
    pod: Obj, observed: PodRuntimeState | None, old_status: Obj | None
) -> bool:
    """ShouldAllContainersRestart: the condition is already True, or a container (the runtime's
    newest instance, or the status' terminated state) ended with a RestartAllContainers exit.

    A pod being deleted is never restarted.
    """
    if meta.get_path(pod, "metadata", "deletionTimestamp"):
        return False
    old_status = old_status or {}
    if is_restarting(old_status):
        return True
    api_statuses = {
        s.get("name"): s
        for s in (
            *(old_status.get("initContainerStatuses") or ()),
            *(old_status.get("containerStatuses") or ()),
        )
    }
    for container in podutil.all_containers(podutil.spec_of(pod)):
        name = container["name"]
        if observed is not None:
            current = observed.container(name).current
            if (
                current is not None
                and current.state is cri.ContainerState.CONTAINER_EXITED
                and rr.triggers_restart_all(container, current.exit_code)
            ):
                return True
        found = api_statuses.get(name)
        terminated = podutil.state_of(found, "terminated") if found is not None else None
        if terminated is not None and rr.triggers_restart_all(
            container, terminated.get("exitCode", 0)
        ):
            return True
    return False


def cleaned_up(pod: Obj, observed: PodRuntimeState) -> bool:
    """AllContainersRestartCleanedUp: the runtime has no instance of any init or app container."""
    return all(
        observed.container(c["name"]).current is None
        for c in podutil.all_containers(podutil.spec_of(pod))
    )


def restarting_condition(
    pod: Obj, observed: PodRuntimeState, old_status: Obj | None, phase: str
) -> Obj:
    """GenerateAllContainersRestartingCondition."""
    if phase == reasons.SUCCEEDED:
        return cond.condition(reasons.ALL_CONTAINERS_RESTARTING, cond.FALSE, reasons.POD_COMPLETED)
    if phase == reasons.FAILED:
        return cond.condition(reasons.ALL_CONTAINERS_RESTARTING, cond.FALSE, reasons.POD_FAILED)
    if not should_all_containers_restart(pod, observed, old_status) or cleaned_up(pod, observed):
        return cond.condition(reasons.ALL_CONTAINERS_RESTARTING, cond.FALSE)
    return cond.condition(
        reasons.ALL_CONTAINERS_RESTARTING,
        cond.TRUE,
        reasons.RESTART_ALL_CONTAINERS_STARTED,
        reasons.RESTART_ALL_CONTAINERS_STARTED_MESSAGE,
    )


def is_restarting(status: Obj) -> bool:
    """The status' AllContainersRestarting condition is True: the sync must reset the pod."""
    found = meta.find_condition(status.get("conditions"), reasons.ALL_CONTAINERS_RESTARTING)
    return found is not None and found.get("status") == cond.TRUE
