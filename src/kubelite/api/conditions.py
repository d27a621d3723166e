"""Setting a status condition, the one way Kubernetes sets them all: a condition's
lastTransitionTime moves only when its status changes.

Every status with conditions follows that rule (Pods, Nodes, Namespaces, Deployments, Jobs,
PodDisruptionBudgets); kubelite's components each write their own conditions, with the extra
fields of their kind (a Node's lastHeartbeatTime, a Deployment's lastUpdateTime), but take the
transition time from `transition_time`. `update_pod_condition` is podutil.UpdatePodCondition,
for a pod's conditions; `set_status_condition` is apimeta.SetStatusCondition, for the
conditions of the `metav1.Condition` shape (with observedGeneration). Finding a condition by
type is `kubelite.api.meta.find_condition`.
"""

from __future__ import annotations

import datetime as dt

from kubelite.api import meta
from kubelite.api.types import Obj

# What UpdatePodCondition compares to tell whether a condition changed.
_POD_CONDITION_FIELDS = ("status", "reason", "message", "lastProbeTime", "lastTransitionTime")


def transition_time(previous: Obj | None, status: str, now: str) -> str:
    """The lastTransitionTime of a condition that now has `status`: the previous one's while
    the status holds, `now` (a formatted time) when it changes or there was none."""
    if previous is not None and previous.get("status") == status:
        since = previous.get("lastTransitionTime")
        if since:
            return str(since)
    return now


def update_pod_condition(pod: Obj, condition: Obj, now: dt.datetime) -> bool:
    """podutil.UpdatePodCondition: put `condition` in the pod's status in place of the one of
    its type (or add it), with its lastTransitionTime kept while the status holds; whether
    anything changed."""
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    existing = meta.find_condition(conditions, condition["type"])
    stamp = meta.format_time(now)
    wanted = {
        **condition,
        "lastTransitionTime": transition_time(existing, condition["status"], stamp),
    }
    if existing is None:
        conditions.append(wanted)
        return True
    changed = any(existing.get(key) != wanted.get(key) for key in _POD_CONDITION_FIELDS)
    existing.clear()
    existing.update(wanted)
    return changed


def set_status_condition(conditions: list[Obj], condition: Obj, now: dt.datetime) -> None:
    """apimeta.SetStatusCondition: add or replace the condition of its type, in place; its
    lastTransitionTime moves only when its status changes."""
    existing = meta.find_condition(conditions, condition["type"])
    if existing is None:
        conditions.append(
            {
                "type": condition["type"],
                "status": condition["status"],
                "observedGeneration": condition.get("observedGeneration", 0),
                "lastTransitionTime": meta.format_time(now),
                "reason": condition.get("reason", ""),
                "message": condition.get("message", ""),
            }
        )
        return
    if existing.get("status") != condition["status"]:
        existing["status"] = condition["status"]
        existing["lastTransitionTime"] = meta.format_time(now)
    existing["reason"] = condition.get("reason", "")
    existing["message"] = condition.get("message", "")
    existing["observedGeneration"] = condition.get("observedGeneration", 0)
