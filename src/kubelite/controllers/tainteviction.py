"""The taint eviction controller: deletes pods from nodes with NoExecute taints they do not
tolerate, at once or after their `tolerationSeconds`.

Kubernetes' `pkg/controller/tainteviction` (the "taint manager"). For a pod bound to a node
with NoExecute taints:

- a taint none of its tolerations matches: the pod is deleted now;
- all tolerated, some for a limited `tolerationSeconds`: deleted after the shortest of those,
  counted from when the controller first saw the pod so exposed (a pod that gets a shorter
  toleration is rescheduled earlier, never later);
- all tolerated for ever: left alone.

A deletion first sets the pod's `DisruptionTarget` condition (reason `DeletionByTaintManager`),
so that the pod's owner and `kubectl describe` can tell why it went, and records a
`TaintManagerEviction` event ("Marking for deletion Pod ns/name"). When the taint goes (the
node is back) before the time is up, the deletion is cancelled ("Cancelling deletion of Pod
ns/name"). The node lifecycle controller adds and removes the `not-ready` and `unreachable`
taints; the DefaultTolerationSeconds admission gives every pod 300 s of both.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubelite.api import meta, tolerations
from kubelite.api.pods import observed_by
from kubelite.api.resources import NODES, PODS
from kubelite.api.tolerations import NO_EXECUTE
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.events import NORMAL, EventRecorder
from kubelite.client.informer import by_node_name, key_of
from kubelite.client.informers import SharedInformerFactory

log = logging.getLogger(__name__)


COMPONENT = "taint-eviction-controller"
FOREVER = -1.0


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [
        t
        for t in ((node or {}).get("spec") or {}).get("taints") or ()
        if t.get("effect") == NO_EXECUTE
    ]


def toleration_time(pod: Obj, taints: list[Obj]) -> float | None:
    """Seconds the pod may stay: None if a taint is not tolerated (go now), FOREVER if every
    matching toleration is unlimited, else the shortest tolerationSeconds (getMinTolerationTime)."""
    if not taints:
        return FOREVER
    pod_tolerations = (pod.get("spec") or {}).get("tolerations") or []
    used: list[Obj] = []
    for taint in taints:
        matching = [t for t in pod_tolerations if tolerations.tolerates_taint(t, taint)]
        if not matching:
            return None
        used += matching
    seconds = [t["tolerationSeconds"] for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return FOREVER
    shortest = min(int(s) for s in seconds)
    return float(max(shortest, 0))


class TaintEvictionController:
    """Deletes pods from nodes with NoExecute taints they do not tolerate, at once or when their
    toleration runs out."""

    def __init__(self, client: APIClient, informers: SharedInformerFactory | None = None) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.recorder = EventRecorder(client, COMPONENT)
        self.nodes = self.informers.informer(NODES)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("node", by_node_name)
        self.nodes.add_handler(self._on_node, with_old=True)
        self.pods.add_handler(self._on_pod)
        # Pod key -> (when its deletion is due, monotonic; when it was first scheduled, the
        # timer that fires it).
        self._scheduled: dict[str, tuple[float, float, asyncio.TimerHandle]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._synced = False

    # --- handlers -------------------------------------------------------------------------------

    def _on_node(self, event_type: str, node: Obj, old: Obj | None) -> None:
        if not self._synced:
            return
        taints = [] if event_type == "DELETED" else no_execute_taints(node)
        if old is not None and event_type == "MODIFIED" and taints == no_execute_taints(old):
            return
        for pod in self.pods.by_index("node", meta.name_of(node)):
            self._process(pod, taints)

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        if not self._synced:
            return
        key = key_of(pod)
        node_name = (pod.get("spec") or {}).get("nodeName")
        if event_type == "DELETED" or not node_name or pod["metadata"].get("deletionTimestamp"):
            self._cancel(key, pod, quiet=True)
            return
        self._process(pod, no_execute_taints(self.nodes.get(node_name)))

    # --- decisions ------------------------------------------------------------------------------

    def _process(self, pod: Obj, taints: list[Obj]) -> None:
        """processPodOnNode."""
        key = key_of(pod)
        if pod["metadata"].get("deletionTimestamp"):
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._cancel(key, pod, quiet=True)
            return
        if not taints:
            self._cancel(key, pod)
            return
        seconds = toleration_time(pod, taints)
        if seconds == FOREVER:
            self._cancel(key, pod)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if seconds is None:
            seconds = 0.0
        scheduled = self._scheduled.get(key)
        if scheduled is not None:
            due, since, _ = scheduled
            if since + seconds >= due:
                return  # The deletion already due is as early or earlier.
            self._cancel(key, pod, quiet=True)
            now = since
        due = now + seconds
        timer = loop.call_at(due, self._fire, key)
        self._scheduled[key] = (due, now, timer)

    def _cancel(self, key: str, pod: Obj, *, quiet: bool = False) -> None:
        scheduled = self._scheduled.pop(key, None)
        if scheduled is None:
            return
        scheduled[2].cancel()
        if not quiet:
            self._event(pod, "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    def _fire(self, key: str) -> None:
        self._scheduled.pop(key, None)
        task = asyncio.create_task(self._evict(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _evict(self, key: str) -> None:
        """Set DisruptionTarget, then delete (addConditionAndDeletePod); retried a few times."""
        for attempt in range(5):
            pod = self.pods.get(key)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                return
            node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            if toleration_time(pod, no_execute_taints(node)) == FOREVER:
                return  # The taint went meanwhile.
            self._event(pod, "TaintManagerEviction", f"Marking for deletion Pod {key}")
            try:
                await self._mark_disruption(pod)
                await self.client.delete(
                    PODS,
                    meta.name_of(pod),
                    namespace=meta.namespace_of(pod),
                    preconditions={"uid": pod["metadata"]["uid"]},
                )
                return
            except APINotFoundError:
                return
            except (APIError, OSError) as e:
                log.warning("taint eviction of %s failed: %s; retrying", key, e)
                await asyncio.sleep(0.5 * 2**attempt)

    async def _mark_disruption(self, pod: Obj) -> None:
        condition = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": meta.format_time(meta.now()),
        }
        observed_by(condition, pod)
        await self.client.patch(
            PODS,
            meta.name_of(pod),
            {"status": {"conditions": [condition]}},
            patch_type=PatchType.STRATEGIC,
            namespace=meta.namespace_of(pod),
            subresource="status",
        )

    def _event(self, pod: Obj, reason: str, message: str) -> None:
        self.recorder.post({**pod, "apiVersion": "v1", "kind": "Pod"}, NORMAL, reason, message)

    # --- running --------------------------------------------------------------------------------

    async def run(self) -> None:
        self.informers.start()
        await self.informers.wait_synced(self.nodes, self.pods)
        self._synced = True
        for node in self.nodes.list():
            taints = no_execute_taints(node)
            if taints:
                for pod in self.pods.by_index("node", meta.name_of(node)):
                    self._process(pod, taints)
        try:
            await asyncio.Event().wait()
        finally:
            for _, _, timer in self._scheduled.values():
                timer.cancel()
            self._scheduled.clear()
