"""What the workload controllers ask of a pod: active, ready, available, and which to delete.

These are Kubernetes' `pkg/api/v1/pod` and `pkg/controller/controller_utils.go` helpers, read
from the pod objects the informers hold. Times are compared as datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Iterable, Sequence

from kubelite.api import meta
from kubelite.api.pods import is_pod_ready, is_restartable_init_container, ready_condition
from kubelite.api.types import Obj

# ActivePodsWithRanks' phase order: Pending < Unknown < Running.
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def is_active(pod: Obj) -> bool:
    """Not finished and not being deleted (controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def ready_since(pod: Obj) -> dt.datetime | None:
    """When the pod last became ready (the Ready condition's lastTransitionTime)."""
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    return meta.parse_time(condition.get("lastTransitionTime") or "")


def is_available(pod: Obj, min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready, and for at least `min_ready_seconds` (podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) <= now


def next_available_in(pods: Iterable[Obj], min_ready_seconds: int, now: dt.datetime) -> float:
    """Seconds until the first ready pod that is not yet available becomes so (0: none)."""
    return next_availability_check(pods, min_ready_seconds, now, now) or 0.0


def next_availability_check(
    pods: Iterable[Obj], min_ready_seconds: int, evaluated_at: dt.datetime, now: dt.datetime
) -> float | None:
    """FindMinNextPodAvailabilityCheck (1.34, kubernetes#132121): seconds from `now` until the
    first pod that was ready but not yet available when the owner's status was counted (at
    `evaluated_at`) becomes available; 0 when that time has already passed, None when no pod
    is waiting. Counting from the status's own time means no pod that turned available in
    between is missed."""
    if min_ready_seconds <= 0:
        return None
    first: dt.datetime | None = None
    for pod in pods:
        since = ready_since(pod)  # None unless the pod is ready.
        if since is None:
            continue
        at = since + dt.timedelta(seconds=min_ready_seconds)
        if at > evaluated_at and (first is None or at < first):
            first = at
    if first is None:
        return None
    return max(0.0, (first - now).total_seconds())


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with `controller: true`, if any."""
    refs: list[Obj] = obj["metadata"].get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return None


def max_restarts(pod: Obj) -> tuple[int, int]:
    """(most restarts of a regular container, of a sidecar): ordinary init containers do
    not count (maxContainerRestarts)."""
    status = pod.get("status") or {}
    regular = max(
        (int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or ()),
        default=0,
    )
    sidecars = {
        c.get("name")
        for c in (pod.get("spec") or {}).get("initContainers") or ()
        if is_restartable_init_container(c)
    }
    sidecar = max(
        (
            int(c.get("restartCount") or 0)
            for c in status.get("initContainerStatuses") or ()
            if c.get("name") in sidecars
        ),
        default=0,
    )
    return regular, sidecar


def _deletion_cost(pod: Obj) -> int:
    text = (pod["metadata"].get("annotations") or {}).get(DELETION_COST_ANNOTATION, "")
    try:
        return int(text)
    except ValueError:
        return 0


def _log_rank(when: dt.datetime, now: dt.datetime) -> int:
    """log2 of the age in nanoseconds: pods of about the same age rank alike."""
    age = (now - when).total_seconds() * 1e9
    return int(math.log2(age)) if age > 0 else -1


def _time_order(
    a: dt.datetime | None, b: dt.datetime | None, uids: tuple[str, str], now: dt.datetime
) -> int | None:
    """Newer first, in logarithmic buckets with ties by uid; None when the times are equal.

    A missing time comes first (afterOrZero). Within one bucket the uid decides at once, and
    the rules after this one are not consulted (LogarithmicScaleDown).
    """
    if a == b:
        return None
    if a is None or b is None:
        return -1 if a is None else 1
    diff = _log_rank(a, now) - _log_rank(b, now)
    if diff == 0:
        return -1 if uids[0] < uids[1] else (1 if uids[0] > uids[1] else 0)
    return -1 if diff < 0 else 1


def _compare_for_deletion(pi: Obj, pj: Obj, rank_i: int, rank_j: int, now: dt.datetime) -> int:
    """ActivePodsWithRanks.Less as a comparison: negative if `pi` goes first."""
    node_i = (pi.get("spec") or {}).get("nodeName") or ""
    node_j = (pj.get("spec") or {}).get("nodeName") or ""
    if node_i != node_j and (not node_i or not node_j):
        return -1 if not node_i else 1
    phase_i = _PHASE_ORDINAL.get((pi.get("status") or {}).get("phase", ""), 0)
    phase_j = _PHASE_ORDINAL.get((pj.get("status") or {}).get("phase", ""), 0)
    if phase_i != phase_j:
        return -1 if phase_i < phase_j else 1
    ready_i, ready_j = is_pod_ready(pi), is_pod_ready(pj)
    if ready_i != ready_j:
        return -1 if not ready_i else 1
    cost_i, cost_j = _deletion_cost(pi), _deletion_cost(pj)
    if cost_i != cost_j:
        return -1 if cost_i < cost_j else 1
    if rank_i != rank_j:
        return -1 if rank_i > rank_j else 1
    uids = (pi["metadata"].get("uid", ""), pj["metadata"].get("uid", ""))
    if ready_i and ready_j:
        order = _time_order(ready_since(pi), ready_since(pj), uids, now)
        if order is not None:
            return order
    restarts_i, restarts_j = max_restarts(pi), max_restarts(pj)
    for ri, rj in zip(restarts_i, restarts_j, strict=True):
        if ri != rj:
            return -1 if ri > rj else 1
    created_i = meta.parse_time(pi["metadata"].get("creationTimestamp") or "")
    created_j = meta.parse_time(pj["metadata"].get("creationTimestamp") or "")
    order = _time_order(created_i, created_j, uids, now)
    return order or 0


def deletion_order(pods: Sequence[Obj], ranks: Sequence[int], now: dt.datetime) -> list[int]:
    """Indices of `pods`, the ones to delete first first (controller.ActivePodsWithRanks).

    Unscheduled before scheduled; Pending before Unknown before Running; not ready before
    ready; lower deletion cost first; more pods of the same owner on the node first (`ranks`);
    ready for less time first; more restarts first (regular containers, then sidecars); newer
    first. Times are compared in logarithmic buckets (LogarithmicScaleDown), ties within a
    bucket broken by uid.
    """

    def compare(i: int, j: int) -> int:
        return _compare_for_deletion(pods[i], pods[j], ranks[i], ranks[j], now)

    return sorted(range(len(pods)), key=functools.cmp_to_key(compare))


def ranks_on_same_node(pods: Sequence[Obj], related: Iterable[Obj]) -> list[int]:
    """For each pod, how many active `related` pods share its node (getPodsRankedByRelatedPods
    OnSameNode): deleting a pod doubled up on a node spreads what remains."""
    per_node: dict[str, int] = {}
    for pod in related:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and is_active(pod):
            per_node[node] = per_node.get(node, 0) + 1
    return [per_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods]
