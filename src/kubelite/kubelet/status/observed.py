"""What the kubelet has observed of a pod, the input of the status computation.

Kubernetes' kubelet computes a pod's status from three things: the pod, the runtime's view of
its sandboxes and containers (`kubecontainer.PodStatus`, built from CRI calls), and facts only
the kubelet holds: why it last failed to start a container (its reason cache), the probe
results, the node's IPs, and whether the pod worker has finished the pod. These dataclasses
carry all of that, so that the computation itself stays pure and testable without a runtime.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.types import Obj
from kubelite.kubelet.status import reasons
from kubelite.runtime import cri


@dataclass(frozen=True, slots=True)
class ContainerRuntimeState:
    """One container of the pod (by its name in the spec), as the kubelet sees it.

    `current` is the newest container of that name in the runtime and `previous` the one before
    it: the kubelet keeps the last dead container so that `lastState` can show how it ended.
    `current.metadata.attempt` is the restart count, as the kubelet writes it at creation.
    """

    current: cri.ContainerStatus | None = None
    previous: cri.ContainerStatus | None = None
    # What the container wrote to its terminationMessagePath (or the tail of its log, under
    # FallbackToLogsOnError), read by the kubelet once it exited; appended to the message.
    termination_message: str = ""
    previous_termination_message: str = ""
    # The image as a digest reference (`docker.io/library/nginx@sha256:...`); when empty, the
    # runtime's image id is shown, as containerd would when the image has no repo digest.
    image_id: str = ""
    # Why the kubelet last failed to start this container (its reason cache): CrashLoopBackOff,
    # ErrImagePull, CreateContainerConfigError... Shown as the waiting state while the container
    # is due to be started again.
    waiting_reason: str = ""
    waiting_message: str = ""
    # Probe results for the current container. None: the container has no such probe. False:
    # the probe has failed or not succeeded yet.
    startup_probe: bool | None = None
    readiness_probe: bool | None = None


@dataclass(frozen=True, slots=True)
class Eviction:
    """A pod the kubelet itself ends (a PodSyncHandler's ShouldEvict): phase Failed, with why."""

    reason: str
    message: str


# The verdict of the active deadline handler on a pod past spec.activeDeadlineSeconds.
DEADLINE_EXCEEDED = Eviction(reasons.DEADLINE_EXCEEDED, reasons.DEADLINE_EXCEEDED_MESSAGE)


@dataclass(frozen=True, slots=True)
class PodRuntimeState:
    """Everything the kubelet knows of one pod beside the pod object itself."""

    containers: Mapping[str, ContainerRuntimeState] = field(default_factory=dict)
    # The pod's sandboxes, newest first; only the newest one can be in use.
    sandboxes: Sequence[cri.PodSandboxStatus] = ()
    # The node's IPs, primary first (at most one per family counts).
    host_ips: Sequence[str] = ()
    # The pod worker has stopped every container for good (Kubernetes' podIsTerminal): the
    # containers' exits decide Succeeded or Failed whatever the restart policy.
    pod_is_terminal: bool = False
    eviction: Eviction | None = None
    # The `<type>` of `containerID: <type>://<id>` (the CRI runtime's name).
    runtime_name: str = "kubelite"
    # In-place resize: each resizable container's allocated resources (by name), and the
    # PodResizePending / PodResizeInProgress conditions the kubelet holds for the pod.
    allocated: Mapping[str, Obj] = field(default_factory=dict)
    resize_conditions: Sequence[Obj] = ()
    # The pod as allocated and its pod cgroup's settings (a PodResourceConfig, None when not
    # read), for the pod's own status.resources and status.allocatedResources; no pod: the
    # kubelet reports neither.
    allocated_pod: Obj | None = None
    pod_cgroup: Any = None

    def container(self, name: str) -> ContainerRuntimeState:
        return self.containers.get(name) or _NOTHING_YET


_NOTHING_YET = ContainerRuntimeState()


def containers_by_name(
    runtime_containers: Iterable[cri.ContainerStatus],
    facts: Mapping[str, ContainerRuntimeState] | None = None,
) -> dict[str, ContainerRuntimeState]:
    """The runtime's containers of one pod (in any order) as `PodRuntimeState.containers`.

    Containers of one name are ranked by creation time, newest first, as the kubelet ranks
    them (SortContainerStatusesByCreationTime): the newest is `current`, the next `previous`.
    `facts` holds the kubelet's own facts per name (probe results, waiting reason, termination
    messages, image id); their `current` and `previous` are replaced.
    """
    ranked: dict[str, list[cri.ContainerStatus]] = {}
    for container in sorted(runtime_containers, key=lambda c: c.created_at, reverse=True):
        ranked.setdefault(container.metadata.name, []).append(container)
    facts = facts or {}
    result = {}
    for name in ranked.keys() | facts.keys():
        runs = ranked.get(name, [])
        result[name] = dataclasses.replace(
            facts.get(name, _NOTHING_YET),
            current=runs[0] if runs else None,
            previous=runs[1] if len(runs) > 1 else None,
        )
    return result
