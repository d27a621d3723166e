"""What the workload controllers ask of a pod: active, ready, available, and which to delete.

These are Kubernetes' `pkg/api/v1/pod` and `pkg/controller/controller_utils.go` helpers, read
from the pod objects the informers hold. Times are compared as datetimes in UTC.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

from kubelite.api import meta

Obj = dict[str, Any]

# ActivePodsWithRanks' phase order: Pending < Unknown < Running.
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def is_active(pod: Obj) -> bool:
    """Not finished and not being deleted (controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def ready_condition(pod: Obj) -> Obj | None:
    return meta.find_condition((pod.get("status") or {}).get("conditions"), "Ready")


def is_ready(pod: Obj) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: Obj) -> dt.datetime | None:
    """When the pod last became ready (the Ready condition's lastTransitionTime)."""
    condition = ready_condition(pod)
    if condition is None or condition.get("status") != "True":
        return None
    return meta.parse_time(condition.get("lastTransitionTime") or "")


def is_available(pod: Obj, min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready, and for at least `min_ready_seconds` (podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) <= now


def next_available_in(pods: Iterable[Obj], min_ready_seconds: int, now: dt.datetime) -> float:
    """Seconds until the first ready pod that is not yet available becomes so (0: none)."""
    waits = []
    for pod in pods:
        since = ready_since(pod)
        if since is None or min_ready_seconds <= 0:
            continue
        left = (since + dt.timedelta(seconds=min_ready_seconds) - now).total_seconds()
        if left > 0:
            waits.append(left)
    return min(waits, default=0.0)


def controller_ref(obj: Obj) -> Obj | None:
    """The ownerReference with `controller: true`, if any."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def max_restarts(pod: Obj) -> int:
    status = pod.get("status") or {}
    statuses = [
        *(status.get("containerStatuses") or ()),
        *(status.get("initContainerStatuses") or ()),
    ]
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: Obj) -> int:
    text = (pod["metadata"].get("annotations") or {}).get(DELETION_COST_ANNOTATION, "")
    try:
        return int(text)
    except ValueError:
        return 0


def _log_rank(when: dt.datetime | None, now: dt.datetime) -> int:
    """log2 of the age in nanoseconds: pods of about the same age rank alike."""
    if when is None:
        return -1
    age = (now - when).total_seconds() * 1e9
    return int(math.log2(age)) if age > 0 else -1


def deletion_order(pods: Sequence[Obj], ranks: Sequence[int], now: dt.datetime) -> list[int]:
    """Indices of `pods`, the ones to delete first first (controller.ActivePodsWithRanks).

    Unscheduled before scheduled; Pending before Unknown before Running; not ready before
    ready; lower deletion cost first; more pods of the same owner on the node first (`ranks`);
    ready for less time first; more restarts first; newer first. Times are compared in
    logarithmic buckets (LogarithmicScaleDown), ties broken by uid.
    """

    def key(i: int) -> tuple[Any, ...]:
        pod = pods[i]
        status = pod.get("status") or {}
        ready = is_ready(pod)
        since = ready_since(pod) if ready else None
        created = meta.parse_time(pod["metadata"].get("creationTimestamp") or "")
        return (
            bool((pod.get("spec") or {}).get("nodeName")),
            _PHASE_ORDINAL.get(status.get("phase", ""), 0),
            ready,
            _deletion_cost(pod),
            -ranks[i],
            _log_rank(since, now) if ready else 0,
            -max_restarts(pod),
            _log_rank(created, now),
            pod["metadata"].get("uid", ""),
        )

    return sorted(range(len(pods)), key=key)


def ranks_on_same_node(pods: Sequence[Obj], related: Iterable[Obj]) -> list[int]:
    """For each pod, how many active `related` pods share its node (getPodsRankedByRelatedPods
    OnSameNode): deleting a pod doubled up on a node spreads what remains."""
    per_node: dict[str, int] = {}
    for pod in related:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and is_active(pod):
            per_node[node] = per_node.get(node, 0) + 1
    return [per_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods]
