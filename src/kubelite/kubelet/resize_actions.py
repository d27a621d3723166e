"""What an in-place resize asks of a pod's running containers (pure).

Kubernetes' `computePodResizeAction` (pkg/kubelet/kuberuntime/kuberuntime_manager.go) compares,
for each running app container and sidecar, the resources the kubelet allocated it with those it
last handed the runtime (the actuated resources), resource by resource (CPU and memory, request
and limit):

- no difference: nothing to do;
- a difference in a resource whose `resizePolicy` is `RestartContainer`: the container is
  killed (`Container app resize requires restart`) and started again with the new resources,
  its restart count going up;
- otherwise (`NotRequired`, also when the container names no policy): its cgroup is updated in
  place, listed under the resource that changed; decreases come before increases, so that the
  pod's total shrinks before anything grows.

A container never actuated before (made by a kubelite without resize) is taken as running with
its allocation: it was made from the very spec the allocation was taken from.

The pod's own resources (`spec.resources`, resizable in place since 1.36's
InPlacePodLevelResourcesVerticalScaling) are compared the same way, under the checkpoint key
`POD_RESOURCES`: a change there resizes the pod cgroup (`update_pod_resources`), with no
container touched. A container that inherits the pod's limits is not restarted for them:
`resizePolicy` is only read for the container's own resources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import pods as podutil
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.kubelet import pod_actions as pa
from kubelite.kubelet.allocation.manager import POD_RESOURCES, pod_resources_of, resources_equal
from kubelite.runtime.cri import ContainerState, ContainerStatus

NOT_REQUIRED = "NotRequired"
RESTART_CONTAINER = "RestartContainer"

# Looks up what a container was last actuated with: (container name) -> resources, or None.
ActuatedLookup = Callable[[str], Obj | None]


def restart_message(name: str) -> str:
    return f"Container {name} resize requires restart"


@dataclass(frozen=True, slots=True)
class ContainerResize:
    """One running container to update in place: its allocation and what it runs with."""

    name: str
    container_id: str
    desired: Obj
    current: Obj


@dataclass
class ResizeActions:
    """containersToUpdate by resource, restarts, and whether the pod's cgroup may change."""

    updates: dict[str, list[ContainerResize]] = field(default_factory=dict)
    # (container name, runtime status) of containers restarted for their resize policy.
    restarts: list[tuple[str, ContainerStatus]] = field(default_factory=list)
    update_pod_resources: bool = False
    # Containers with no actuated record yet: (name, allocation) to record as actuated.
    adopted: list[tuple[str, Obj]] = field(default_factory=list)
    # The pod's own resources to size its cgroup for, when they changed (else None).
    pod_resources: Obj | None = None

    @property
    def empty(self) -> bool:
        return not (self.updates or self.restarts or self.update_pod_resources)


def _value(resources: Obj, kind: str, name: str) -> int:
    raw = (resources.get(kind) or {}).get(name)
    if raw is None:
        return 0
    quantity = Quantity.from_json(raw)
    return quantity.milli_value() if name == "cpu" else quantity.value()


def memory_limit_of(resources: Obj) -> int:
    """A container's memory limit in bytes (0: none)."""
    return _value(resources, "limits", "memory")


def _policies(container: Obj) -> dict[str, str]:
    return {
        p.get("resourceName", ""): p.get("restartPolicy", NOT_REQUIRED)
        for p in container.get("resizePolicy") or ()
    }


def compute_container_resize(
    container: Obj, found: ContainerStatus, actuated: Obj | None, actions: ResizeActions
) -> bool:
    """computePodResizeAction for one running container: False when it must be restarted."""
    desired = container.get("resources") or {}
    name = container["name"]
    if actuated is None:
        actions.adopted.append((name, desired))
        return True
    policies = _policies(container)
    restart = False
    changed: dict[str, tuple[int, int]] = {}
    for resource in ("memory", "cpu"):
        for kind in ("limits", "requests"):
            want, have = _value(desired, kind, resource), _value(actuated, kind, resource)
            if want == have:
                continue
            if policies.get(resource, NOT_REQUIRED) == RESTART_CONTAINER:
                restart = True
            # The limit's direction orders the update when it changes, else the request's.
            changed.setdefault(resource, (want, have))
    if restart:
        actions.restarts.append((name, found))
        actions.update_pod_resources = True
        return False
    for resource, (want, have) in changed.items():
        update = ContainerResize(name, found.id, desired, actuated)
        queue = actions.updates.setdefault(resource, [])
        if want < have:
            queue.insert(0, update)
        else:
            queue.append(update)
    return True


def compute_resize_actions(
    pod: Obj, status: pa.PodRuntimeStatus, actions: pa.PodActions, actuated: ActuatedLookup
) -> ResizeActions:
    """The resize part of computePodActions, for `pod` as allocated, given the sync's other
    actions: containers already to be killed, started or replaced are left alone, and a pod
    being killed or given a new sandbox has nothing to resize. Restarts are added to
    `actions`."""
    resize = ResizeActions()
    if actions.kill_pod or actions.create_sandbox:
        return resize
    spec = podutil.spec_of(pod)
    killed = {k.container_id for k in actions.containers_to_kill}
    # Sidecars (restartable init containers) resize as the app containers do; a restart is
    # a start of the list the container is in, by its index there.
    sidecars = [
        (index, container)
        for index, container in enumerate(spec.get("initContainers") or ())
        if podutil.is_restartable_init_container(container)
    ]
    for containers, to_start in (
        (sidecars, actions.init_containers_to_start),
        (enumerate(spec.get("containers") or ()), actions.containers_to_start),
    ):
        for index, container in containers:
            found = status.latest(container["name"])
            if not _running(found, killed) or index in to_start:
                continue
            assert found is not None
            if not compute_container_resize(container, found, actuated(container["name"]), resize):
                actions.kill(found, restart_message(container["name"]))
                to_start.append(index)
    actions.init_containers_to_start.sort()
    _pod_level_resize(pod, actuated(POD_RESOURCES), resize)
    return resize


def _pod_level_resize(pod: Obj, actuated: Obj | None, resize: ResizeActions) -> None:
    """The pod's own cpu and memory against what its cgroup was last sized for: a difference
    resizes the pod cgroup; a pod never sized under this record is taken as sized as
    allocated."""
    wanted = pod_resources_of(pod)
    if actuated is None:
        resize.adopted.append((POD_RESOURCES, wanted))
    elif not resources_equal(wanted, actuated):
        resize.update_pod_resources = True
        resize.pod_resources = wanted


def _running(found: ContainerStatus | None, killed: set[str]) -> bool:
    return (
        found is not None
        and found.state == ContainerState.CONTAINER_RUNNING
        and found.id not in killed
    )
