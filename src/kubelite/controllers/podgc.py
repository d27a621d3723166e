"""The pod garbage collector: deletes pods that nothing else will ever delete.

Kubernetes' `pkg/controller/podgc`. Every 20 s it looks at all pods and nodes in the informers
and force-deletes (grace period 0), after marking them Failed where they are not finished yet:

- terminated pods (Succeeded, Failed) beyond `--terminated-pod-gc-threshold`, evicted ones
  first, then the oldest;
- terminating pods on a node that is NotReady and tainted `node.kubernetes.io/out-of-service`
  (an administrator's word that the node is gone for good: its kubelet will not finish them);
- orphaned pods, bound to a node that no longer exists. A node missing from the informer is
  quarantined for 40 s first and then confirmed with a live GET, so that a node the informer
  has not caught up with is not taken for deleted. These pods get the DisruptionTarget
  condition, reason DeletionByPodGC;
- terminating pods that were never scheduled: no kubelet will confirm their deletion.

The decisions are plain functions of the pods and nodes, kept apart from the writes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable

from kubelite.api import meta
from kubelite.api.conditions import transition_time
from kubelite.api.nodes import is_node_ready
from kubelite.api.pods import observed_by
from kubelite.api.resources import NODES, PODS
from kubelite.api.tolerations import TAINT_NODE_OUT_OF_SERVICE
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIConnectionError, APIError, APINotFoundError
from kubelite.client.informer import key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.nodelifecycle_config import (  # noqa: F401 - re-exported
    GC_CHECK_PERIOD,
    QUARANTINE_TIME,
    TERMINATED_POD_GC_THRESHOLD,
    PodGCSettings,
)

log = logging.getLogger(__name__)


OUT_OF_SERVICE_TAINT = TAINT_NODE_OUT_OF_SERVICE
DISRUPTION_TARGET = "DisruptionTarget"
ORPHANED_REASON = "DeletionByPodGC"
ORPHANED_MESSAGE = "PodGC: node no longer exists"
_RUNNING_PHASES = ("Pending", "Running", "Unknown")


# --- decisions ----------------------------------------------------------------------------------


def is_terminated(pod: Obj) -> bool:
    """Neither Pending, Running nor Unknown (isPodTerminated)."""
    return meta.get_path(pod, "status", "phase") not in _RUNNING_PHASES


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_evicted(pod: Obj) -> bool:
    """Failed with reason Evicted: what the kubelet leaves of a pod it evicted."""
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def _created(pod: Obj) -> dt.datetime:
    when = meta.parse_time(pod["metadata"].get("creationTimestamp") or "")
    return when or dt.datetime.min.replace(tzinfo=dt.UTC)


def deletion_order(pods: Iterable[Obj]) -> list[Obj]:
    """Evicted pods first, then oldest first, names breaking ties
    (byEvictionAndCreationTimestamp)."""
    return sorted(pods, key=lambda p: (not is_evicted(p), _created(p), meta.name_of(p)))


def terminated_beyond_threshold(pods: Iterable[Obj], threshold: int) -> list[Obj]:
    """The terminated pods to delete so that `threshold` of them are left (gcTerminated)."""
    terminated = [p for p in pods if is_terminated(p)]
    excess = len(terminated) - threshold
    if threshold <= 0 or excess <= 0:
        return []
    return deletion_order(terminated)[:excess]


def is_out_of_service(node: Obj) -> bool:
    """NotReady and tainted out-of-service."""
    taints = meta.get_path(node, "spec", "taints") or []
    tainted = any(t.get("key") == OUT_OF_SERVICE_TAINT for t in taints)
    return tainted and not is_node_ready(node)


def terminating_out_of_service(pods: Iterable[Obj], nodes: dict[str, Obj]) -> list[Obj]:
    """Terminating pods on out-of-service nodes (gcTerminating)."""
    doomed = []
    for pod in pods:
        node = nodes.get(meta.get_path(pod, "spec", "nodeName") or "")
        if is_terminating(pod) and node is not None and is_out_of_service(node):
            doomed.append(pod)
    return deletion_order(doomed)


def unknown_nodes(pods: Iterable[Obj], nodes: Iterable[str]) -> set[str]:
    """The nodes pods are bound to that the informer does not know."""
    known = set(nodes)
    bound = {meta.get_path(p, "spec", "nodeName") or "" for p in pods}
    return {name for name in bound if name and name not in known}


def orphaned(pods: Iterable[Obj], deleted_nodes: set[str]) -> list[Obj]:
    return [p for p in pods if (meta.get_path(p, "spec", "nodeName") or "") in deleted_nodes]


def unscheduled_terminating(pods: Iterable[Obj]) -> list[Obj]:
    """Terminating pods bound to no node (gcUnscheduledTerminating)."""
    return [p for p in pods if is_terminating(p) and not meta.get_path(p, "spec", "nodeName")]


def failed_status_patch(pod: Obj, condition: Obj | None, now: dt.datetime) -> Obj | None:
    """The pods/status patch that marks a pod Failed before its deletion, with `condition`;
    None for a pod already finished (markFailedAndDeletePodWithCondition)."""
    if meta.get_path(pod, "status", "phase") in ("Succeeded", "Failed"):
        return None
    status: Obj = {"phase": "Failed"}
    if condition is not None:
        conditions = meta.get_path(pod, "status", "conditions")
        existing = meta.find_condition(conditions, condition["type"])
        since = transition_time(existing, condition["status"], meta.format_time(now))
        status["conditions"] = [
            observed_by(
                {
                    "type": condition["type"],
                    "status": condition["status"],
                    "lastProbeTime": None,
                    "lastTransitionTime": since,
                    "reason": condition.get("reason", ""),
                    "message": condition.get("message", ""),
                },
                pod,
            )
        ]
    # The uid makes the patch a precondition: a new pod of the same name is left alone.
    return {"metadata": {"uid": pod["metadata"].get("uid")}, "status": status}


class Quarantine:
    """Node names waiting before a live check (gcc.nodeQueue, a delaying queue): a name is
    ready `seconds` after it was first put in; putting it in again does not delay it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ready_at: dict[str, float] = {}

    def add(self, name: str, now: float) -> None:
        self._ready_at.setdefault(name, now + self.seconds)

    def take_ready(self, now: float) -> list[str]:
        ready = sorted(name for name, at in self._ready_at.items() if at <= now)
        for name in ready:
            del self._ready_at[name]
        return ready


# --- the controller -----------------------------------------------------------------------------


class PodGCController:
    """Deletes pods that no one else will: terminated pods beyond the threshold, pods bound to nodes
    that no longer exist, and terminating pods no kubelet will finish."""

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        settings: PodGCSettings | None = None,
    ) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.settings = settings or PodGCSettings()
        self.pods = self.informers.informer(PODS)
        self.nodes = self.informers.informer(NODES)
        self.quarantine = Quarantine(self.settings.quarantine)

    async def run(self) -> None:
        self.informers.start()
        await self.informers.wait_synced(self.pods, self.nodes)
        while True:
            try:
                await self.gc()
            except (APIError, APIConnectionError, OSError) as e:
                log.warning("pod-garbage-collector: %s", e)
            await asyncio.sleep(self.settings.period)

    async def gc(self) -> None:
        """One pass over every pod (PodGCController.gc)."""
        pods = self.pods.list()
        nodes = {meta.name_of(n): n for n in self.nodes.list()}
        threshold = self.settings.terminated_pod_threshold
        if threshold > 0:
            await self._delete_all(terminated_beyond_threshold(pods, threshold))
        await self._delete_all(terminating_out_of_service(pods, nodes))
        await self._gc_orphaned(pods, nodes)
        await self._delete_all(unscheduled_terminating(pods))

    async def _gc_orphaned(self, pods: list[Obj], nodes: dict[str, Obj]) -> None:
        now = time.monotonic()
        for name in unknown_nodes(pods, nodes):
            self.quarantine.add(name, now)
        deleted: set[str] = set()
        for name in self.quarantine.take_ready(now):
            if name in nodes or self.nodes.get(name) is not None:
                continue
            try:
                await self.client.get(NODES, name)
            except APINotFoundError:
                deleted.add(name)
            except (APIError, APIConnectionError) as e:
                # Quarantined again on the next pass if a pod is still bound to it.
                log.warning("pod-garbage-collector: could not get node %s: %s", name, e)
        condition = {
            "type": DISRUPTION_TARGET,
            "status": "True",
            "reason": ORPHANED_REASON,
            "message": ORPHANED_MESSAGE,
        }
        await self._delete_all(orphaned(pods, deleted), condition)

    async def _delete_all(self, pods: list[Obj], condition: Obj | None = None) -> None:
        if pods:
            await asyncio.gather(*(self._mark_failed_and_delete(p, condition) for p in pods))

    async def _mark_failed_and_delete(self, pod: Obj, condition: Obj | None) -> None:
        """Failed (with `condition`) through pods/status, then deleted with no grace period."""
        namespace, name = meta.namespace_of(pod), meta.name_of(pod)
        log.info("pod-garbage-collector: force deleting pod %s", key_of(pod))
        try:
            patch = failed_status_patch(pod, condition, meta.now())
            if patch is not None:
                await self.client.patch(
                    PODS,
                    name,
                    patch,
                    patch_type=PatchType.STRATEGIC,
                    namespace=namespace,
                    subresource="status",
                )
            await self.client.delete(
                PODS,
                name,
                namespace=namespace,
                grace_period_seconds=0,
                preconditions={"uid": pod["metadata"].get("uid")},
            )
        except APINotFoundError:
            return
        except (APIError, APIConnectionError) as e:
            log.warning("pod-garbage-collector: could not delete pod %s: %s", key_of(pod), e)
