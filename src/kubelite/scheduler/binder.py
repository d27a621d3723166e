"""What the scheduler writes: bindings, the PodScheduled condition, and its events."""

from __future__ import annotations

from kubelite.api import meta
from kubelite.api.pods import observed_by
from kubelite.api.resources import PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType

REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"


async def bind(client: APIClient, pod: Obj, node: str) -> None:
    """POST pods/<name>/binding: the API server sets spec.nodeName and PodScheduled=True.

    The pod's uid goes with it, so that a pod deleted and created again under the same name
    meanwhile is not bound by a decision made for the old one.
    """
    md = pod["metadata"]
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": md["name"], "namespace": md["namespace"], "uid": md.get("uid")},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }
    await client.create(
        PODS, body, namespace=md["namespace"], name=md["name"], subresource="binding"
    )


def scheduled_condition_changes(pod: Obj, reason: str, message: str) -> bool:
    """Whether PodScheduled=False with this reason and message is news for the pod."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "PodScheduled":
            return (
                condition.get("status") != "False"
                or condition.get("reason") != reason
                or condition.get("message") != message
            )
    return True


async def set_unscheduled(client: APIClient, pod: Obj, reason: str, message: str) -> None:
    """PodScheduled=False with why, through pods/<name>/status.

    The transition time moves only when the condition's status changes, as
    podutil.UpdatePodCondition keeps it.
    """
    now = meta.format_time(meta.now())
    transition = now
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            transition = condition.get("lastTransitionTime") or now
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "lastProbeTime": None,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
    observed_by(condition, pod)
    md = pod["metadata"]
    # Conditional on the version scheduled: a pod bound or changed meanwhile is not marked
    # unschedulable after the fact (409, which the caller lets pass; a pod still pending is
    # tried again and marked then).
    await client.patch(
        PODS,
        md["name"],
        {
            "metadata": {"resourceVersion": md["resourceVersion"]},
            "status": {"conditions": [condition]},
        },
        patch_type=PatchType.STRATEGIC,
        namespace=md["namespace"],
        subresource="status",
    )
