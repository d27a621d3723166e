"""The kubelet's allocation manager: what each pod was given, and the decisions on resizes.

Since in-place resize (KEP-1287, GA in 1.35) a pod's spec is what its owner *wants*; what the
kubelet runs it with is its allocation (Kubernetes' `pkg/kubelet/allocation`):

- a pod is allocated its spec's resources when it is admitted; a kubelet that restarts finds the
  allocation in its checkpoint (`state`) and keeps it, whatever the spec says by then;
- a spec that differs from the allocation is a resize. It is checked (`feasibility`): an
  Infeasible or Deferred resize leaves the allocation as it was and sets the `PodResizePending`
  condition; one that fits becomes the allocation, and `PodResizeInProgress` is set until the
  runtime has carried it out (`resize_in_progress`). A Deferred resize is tried again when a pod
  leaves the node, and every three minutes (`retryPeriod`);
- the containers are made, and resized, from the allocated pod (`allocated_pod`), never from
  the spec directly; what was last handed to the runtime per container is the actuated state,
  checkpointed too, so a resize is never done twice nor missed across a restart;
- the pod's own resources (`spec.resources`, KEP-2837) are allocated and actuated the same way
  (InPlacePodLevelResourcesVerticalScaling, beta and on since 1.36): they are kept in both
  checkpoints under `POD_RESOURCES`, a key no container can have (container names are DNS
  labels, which have no dot), and their actuation is the pod cgroup's.

The resize conditions are the kubelet's own (the status manager's `podResizeConditions`): they
carry the pod generation they were decided for as observedGeneration, their transition time
moves when their reason does, and the kubelet writes them with every status it sends.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.api import meta
from kubelite.api import pods as podutil
from kubelite.api.podlevel import pod_resources as pod_resources_of
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.kubelet.allocation import feasibility
from kubelite.kubelet.allocation.state import (
    ACTUATED_PODS_STATE,
    ALLOCATED_PODS_STATE,
    ResourceCheckpoint,
)

# core/v1 condition types and the reason of a failed actuation.
POD_RESIZE_PENDING = "PodResizePending"
POD_RESIZE_IN_PROGRESS = "PodResizeInProgress"
REASON_ERROR = "Error"

# How often Deferred resizes are tried again with nothing else to prompt it (allocation
# manager's retryPeriod).
RETRY_PERIOD = 180.0

# The resources a resize may change (the others are immutable in the spec).
RESIZABLE = ("cpu", "memory")

# The checkpoints' key of the pod's own resources (allocationFromPod's PodLevelResources).
POD_RESOURCES = "spec.resources"


def resizable_containers(pod: Obj) -> list[Obj]:
    """The containers whose resources can change in place: app containers and sidecars
    (IsResizableContainer; plain init containers and ephemeral containers cannot)."""
    spec = podutil.spec_of(pod)
    sidecars = [
        c for c in spec.get("initContainers") or () if podutil.is_restartable_init_container(c)
    ]
    return [*sidecars, *(spec.get("containers") or ())]


def allocation_of(pod: Obj) -> dict[str, Obj]:
    """allocationFromPod: each resizable container's resources, as the spec has them, and the
    pod's own (under POD_RESOURCES, `{}` for none)."""
    allocation = {
        c["name"]: copy.deepcopy(c.get("resources") or {}) for c in resizable_containers(pod)
    }
    allocation[POD_RESOURCES] = copy.deepcopy(pod_resources_of(pod))
    return allocation


def with_allocation(pod: Obj, allocation: Mapping[str, Obj]) -> tuple[Obj, bool]:
    """updatePodFromAllocation: `pod` with each container's resources, and its own, replaced by
    their allocation; the same object, and False, when nothing differs. An allocation made
    before pod-level resources were checkpointed has no POD_RESOURCES: the spec's stand."""
    differs = [
        c["name"]
        for c in resizable_containers(pod)
        if c["name"] in allocation and (c.get("resources") or {}) != allocation[c["name"]]
    ]
    pod_level = allocation.get(POD_RESOURCES)
    pod_level_differs = pod_level is not None and pod_resources_of(pod) != pod_level
    if not differs and not pod_level_differs:
        return pod, False
    result = copy.deepcopy(pod)
    for container in resizable_containers(result):
        if container["name"] in differs:
            container["resources"] = copy.deepcopy(allocation[container["name"]])
    if pod_level_differs:
        spec = result.setdefault("spec", {})
        if pod_level:
            spec["resources"] = copy.deepcopy(pod_level)
        else:
            spec.pop("resources", None)
    return result, True


def _quantities_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(Quantity.from_json(a) == Quantity.from_json(b))


def resources_equal(a: Obj | None, b: Obj | None) -> bool:
    """Whether two containers' cpu and memory requests and limits are the same amounts."""
    a, b = a or {}, b or {}
    for kind in ("requests", "limits"):
        for name in RESIZABLE:
            if not _quantities_equal((a.get(kind) or {}).get(name), (b.get(kind) or {}).get(name)):
                return False
    return True


@dataclass
class _ResizeConditions:
    pending: Obj | None = None
    in_progress: Obj | None = None


def _resize_condition(
    type_: str, old: Obj | None, reason: str, message: str, generation: int, now: dt.datetime
) -> Obj:
    """updatedPodResizeCondition: status True; the transition time moves when the reason does.
    An unchanged condition is kept as it was (so an unchanged verdict writes nothing)."""
    if (
        old is not None
        and old.get("reason", "") == reason
        and old.get("message", "") == message
        and old.get("observedGeneration") == (generation or None)
    ):
        return old
    stamp = meta.format_time(now)
    transition = (
        stamp if old is None or old.get("reason", "") != reason else old["lastTransitionTime"]
    )
    condition: Obj = {
        "type": type_,
        "status": "True",
        "lastProbeTime": stamp,
        "lastTransitionTime": transition,
    }
    if generation:
        condition["observedGeneration"] = generation
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


@dataclass
class ResizeOutcome:
    """What handling a pod's resize did: whether the allocation changed, the verdict, and
    whether the PodResizePending condition changed with it (what the kubelet's ResizeDeferred
    and ResizeInfeasible events are sent for)."""

    allocated: bool = False
    verdict: feasibility.Verdict = field(default_factory=feasibility.Verdict)
    pending_changed: bool = False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AllocationManager:
    """Allocated and actuated resources per pod, and the resize conditions."""

    def __init__(
        self,
        checkpoint_dir: Path | None,
        *,
        capacity: Callable[[], Mapping[str, Any]],
        allocatable: Callable[[], Mapping[str, Any]],
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.allocated = ResourceCheckpoint(
            checkpoint_dir / ALLOCATED_PODS_STATE if checkpoint_dir else None
        )
        self.actuated = ResourceCheckpoint(
            checkpoint_dir / ACTUATED_PODS_STATE if checkpoint_dir else None
        )
        self._capacity = capacity
        self._allocatable = allocatable
        self._clock = clock
        self._conditions: dict[str, _ResizeConditions] = {}
        # Pods whose resize was Deferred, in the order they are to be tried again.
        self.pending: list[str] = []

    # --- allocations ----------------------------------------------------------------------

    def is_allocated(self, pod: Obj) -> bool:
        return self.allocated.has_pod(_uid(pod))

    def allocated_pod(self, pod: Obj) -> tuple[Obj, bool]:
        """UpdatePodFromAllocation: the pod as allocated, and whether that differs from it."""
        # with_allocation copies what it takes from the allocation.
        allocation = self.allocated.pod_view(_uid(pod))
        if allocation is None:
            return pod, False
        return with_allocation(pod, allocation)

    def add_pod(self, pod: Obj) -> None:
        """AddPod, once the pod is admitted: a pod already allocated (a kubelet that restarted)
        keeps its allocation; a new one is allocated what its spec asks."""
        if not self.is_allocated(pod):
            self.allocated.set_pod(_uid(pod), allocation_of(pod))

    def remove_pod(self, uid: str) -> None:
        self.allocated.remove_pod(uid)
        self.actuated.remove_pod(uid)
        self._conditions.pop(uid, None)
        if uid in self.pending:
            self.pending.remove(uid)

    def remove_orphans(self, keep: Iterable[str]) -> None:
        keep = set(keep)
        self.allocated.remove_orphans(keep)
        self.actuated.remove_orphans(keep)
        for uid in [u for u in self._conditions if u not in keep]:
            del self._conditions[uid]

    def allocated_resources(self, uid: str, name: str) -> Obj | None:
        return self.allocated.container(uid, name)

    # --- actuated state -------------------------------------------------------------------

    def set_actuated(self, pod: Obj, name: str, resources: Obj) -> None:
        self.actuated.set_container(_uid(pod), name, resources)

    def actuated_resources(self, uid: str, name: str) -> Obj | None:
        return self.actuated.container(uid, name)

    # --- resizes --------------------------------------------------------------------------

    def handle_resize(self, pod: Obj, others: Iterable[Obj]) -> ResizeOutcome:
        """handlePodResourcesResize: allocate the spec's resources if they fit; otherwise say
        why in PodResizePending. `others` are the node's other active pods, as allocated."""
        uid = _uid(pod)
        _, differs = self.allocated_pod(pod)
        if not differs:
            self._clear(uid, pending=True)
            return ResizeOutcome()
        verdict = feasibility.check_resize(
            pod,
            capacity=self._capacity(),
            allocatable=self._allocatable(),
            others=[o for o in others if _uid(o) != uid],
        )
        if verdict.fits:
            self.allocated.set_pod(uid, allocation_of(pod))
            self._clear(uid, pending=True)
            # A new allocation starts a new resize: errors of an earlier one go.
            self._clear(uid, in_progress=True)
            self.set_in_progress(pod)
            if uid in self.pending:
                self.pending.remove(uid)
            return ResizeOutcome(allocated=True, verdict=verdict)
        changed = self._set(uid, pod, POD_RESIZE_PENDING, verdict.reason, verdict.message)
        if verdict.reason == feasibility.DEFERRED and uid not in self.pending:
            self.pending.append(uid)
        elif verdict.reason == feasibility.INFEASIBLE and uid in self.pending:
            self.pending.remove(uid)
        return ResizeOutcome(verdict=verdict, pending_changed=changed)

    def is_deferred(self, uid: str) -> bool:
        pending = self._conditions.get(uid, _ResizeConditions()).pending
        return pending is not None and pending.get("reason") == feasibility.DEFERRED

    def set_in_progress(self, pod: Obj, reason: str = "", message: str = "") -> bool:
        """SetPodResizeInProgressCondition (reason Error with the runtime's message when an
        actuation failed); whether the condition changed."""
        return self._set(_uid(pod), pod, POD_RESIZE_IN_PROGRESS, reason, message)

    def in_progress_generation(self, uid: str) -> int:
        """The pod generation the PodResizeInProgress condition was set for (0: none), which
        the resize events name."""
        found = self._conditions.get(uid, _ResizeConditions()).in_progress
        return int((found or {}).get("observedGeneration") or 0)

    def clear_in_progress(self, uid: str) -> bool:
        """ClearPodResizeInProgressCondition; True when there was one."""
        had = self._conditions.get(uid, _ResizeConditions()).in_progress is not None
        self._clear(uid, in_progress=True)
        return had

    def clear_all(self, uid: str) -> None:
        """A pod that reached a terminal phase has no resize to report."""
        self._conditions.pop(uid, None)

    def conditions(self, uid: str) -> list[Obj]:
        """GetPodResizeConditions: PodResizePending, then PodResizeInProgress, as set."""
        found = self._conditions.get(uid)
        if found is None:
            return []
        return [copy.deepcopy(c) for c in (found.pending, found.in_progress) if c is not None]

    def _set(self, uid: str, pod: Obj, type_: str, reason: str, message: str) -> bool:
        """Set one resize condition; whether it changed (an identical one is kept as it is)."""
        conditions = self._conditions.setdefault(uid, _ResizeConditions())
        generation = int(meta.metadata(pod).get("generation") or 0)
        if type_ == POD_RESIZE_PENDING:
            old = conditions.pending
            conditions.pending = _resize_condition(
                type_, old, reason, message, generation, self._clock()
            )
            return conditions.pending is not old
        old = conditions.in_progress
        conditions.in_progress = _resize_condition(
            type_, old, reason, message, generation, self._clock()
        )
        return conditions.in_progress is not old

    def _clear(self, uid: str, *, pending: bool = False, in_progress: bool = False) -> None:
        conditions = self._conditions.get(uid)
        if conditions is None:
            return
        if pending:
            conditions.pending = None
        if in_progress:
            conditions.in_progress = None
        if conditions.pending is None and conditions.in_progress is None:
            del self._conditions[uid]


def _uid(pod: Obj) -> str:
    return str(meta.metadata(pod).get("uid", ""))
