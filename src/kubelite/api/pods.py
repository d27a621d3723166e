"""Readers of Pod JSON that every component shares: the restart policies, sidecars, the
containers in the order they start, and the parts of a status (Kubernetes'
`pkg/api/v1/pod/util.go` and `pkg/kubelet/container/helpers.go`, for the parts that look only at
the API objects).

Go packages import this one as `podutil`, and so do kubelite's modules. Statuses are plain dicts
of Kubernetes JSON. A container state is present when its key holds a dict, even an empty one
(`"running": {}`), as Kubernetes tests the pointer, not its fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from kubelite.api.meta import find_condition
from kubelite.api.types import Obj

# An init container with this restart policy is a sidecar (core/v1 ContainerRestartPolicyAlways).
CONTAINER_RESTART_POLICY_ALWAYS = "Always"

RESTART_POLICY_ALWAYS = "Always"
RESTART_POLICY_ON_FAILURE = "OnFailure"
RESTART_POLICY_NEVER = "Never"


def observed_by(condition: Obj, pod: Obj) -> Obj:
    """`condition` marked with the pod's generation, as every writer of a pod condition marks
    it since PodObservedGenerationTracking (KEP-5067, GA in 1.35); a pod without a generation
    (a static pod's own object) leaves it unmarked. Returns the condition."""
    generation = (pod.get("metadata") or {}).get("generation")
    if generation:
        condition["observedGeneration"] = generation
    return condition


def spec_of(pod: Obj) -> Obj:
    spec = pod.get("spec")
    return spec if isinstance(spec, dict) else {}


def status_of(pod: Obj) -> Obj:
    status = pod.get("status")
    return status if isinstance(status, dict) else {}


def restart_policy(spec: Obj) -> str:
    """The pod's restartPolicy; Always when unset, as API defaulting makes it."""
    return spec.get("restartPolicy") or RESTART_POLICY_ALWAYS


def is_restartable_init_container(container: Obj) -> bool:
    """IsRestartableInitContainer: an init container that keeps running beside the app (a
    native sidecar, `restartPolicy: Always`)."""
    return container.get("restartPolicy") == CONTAINER_RESTART_POLICY_ALWAYS


def sidecars(spec: Obj) -> list[Obj]:
    """The restartable init containers, in the order they start."""
    return [c for c in spec.get("initContainers") or () if is_restartable_init_container(c)]


def all_containers(spec: Obj) -> Iterator[Obj]:
    """The init containers, then the app containers: the order they start in, and the order
    VisitContainers walks them (ephemeral containers are not part of it)."""
    yield from spec.get("initContainers") or ()
    yield from spec.get("containers") or ()


def ready_condition(pod: Obj) -> Obj | None:
    """GetPodReadyCondition: the pod's Ready condition, if it has one."""
    return find_condition(status_of(pod).get("conditions"), "Ready")


def is_pod_ready(pod: Obj) -> bool:
    """IsPodReady: the Ready condition is True (what Services, budgets and rollouts count)."""
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def find_status(statuses: Iterable[Obj], name: str) -> Obj | None:
    """GetContainerStatus: the first status with this container name."""
    for status in statuses:
        if status.get("name") == name:
            return status
    return None


def state_of(status: Obj, which: str) -> Obj | None:
    """The `waiting`, `running` or `terminated` part of a status' current state, or None."""
    value = (status.get("state") or {}).get(which)
    return value if isinstance(value, dict) else None


def last_terminated(status: Obj) -> Obj | None:
    """The `terminated` part of a status' lastState, or None."""
    value = (status.get("lastState") or {}).get("terminated")
    return value if isinstance(value, dict) else None


def has_any_regular_container_started(spec: Obj, statuses: Iterable[Obj]) -> bool:
    """HasAnyRegularContainerStarted: an app container has run, so the pod has initialized."""
    names = {c.get("name") for c in spec.get("containers") or []}
    return any(
        s.get("name") in names
        and (state_of(s, "running") is not None or state_of(s, "terminated") is not None)
        for s in statuses
    )
