"""The scheduler: pending pods in, bindings out, over the API only.

Informers keep current: pending pods for this scheduler (into the queue), pods already on nodes
and the nodes themselves (into the cache), namespaces (their labels, for inter-pod affinity's
namespaceSelector), and Services, ReplicationControllers, ReplicaSets and StatefulSets (the
selectors of PodTopologySpread's default constraints; see listers.py). A single loop takes the
next pod from the queue and runs its scheduling cycle on the event loop, without awaiting, then
assumes the pod on the chosen node and sends the binding in the background: the next cycle
starts at once and already counts that pod against its node. A pod that fits nowhere gets
`PodScheduled=False` with reason `Unschedulable` and a `FailedScheduling` event whose message
counts the reasons; a binding gets a `Scheduled` event (`Successfully assigned default/web to
node-1`).

Cluster changes wake parked pods: a node added or changed, a pod deleted or finished (its
resources are free), a pod bound (it may satisfy another's affinity). See queue.py. Services
and workload controllers wake none, as in kube-scheduler: they only weigh in scoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from dataclasses import dataclass
from typing import Any

from kubelite.api.defaulting.pods import DEFAULT_SCHEDULER_NAME
from kubelite.api.resources import NAMESPACES, NODES
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIConflictError, APIConnectionError, APIError, APINotFoundError
from kubelite.client.events import EventRecorder
from kubelite.client.informers import SharedInformerFactory
from kubelite.scheduler import binder
from kubelite.scheduler.cache import Cache
from kubelite.scheduler.framework.events import (
    NODE_ADD,
    NODE_UPDATE,
    PERSISTENT_VOLUME_CLAIM_ADD,
    PERSISTENT_VOLUME_CLAIM_UPDATE,
    POD_ADD,
    POD_DELETE,
    POD_UPDATE,
)
from kubelite.scheduler.framework.interface import EnqueueExtensions, Snapshot, WorkloadListers
from kubelite.scheduler.framework.runtime import FitError, Framework
from kubelite.scheduler.framework.types import pod_key
from kubelite.scheduler.listers import InformerListers
from kubelite.scheduler.plugins import default_plugins
from kubelite.scheduler.queue import FLUSH_UNSCHEDULABLE_INTERVAL, QueuedPod, SchedulingQueue
from kubelite.scheduler.schedule_one import Algorithm, NoNodesAvailable, SchedulingError

log = logging.getLogger(__name__)


TERMINAL_PHASES = ("Succeeded", "Failed")


def _scheduling_properties(node: Obj | None) -> tuple[Any, ...]:
    """What of a node can change whether a pod fits on it (kube-scheduler ignores heartbeats)."""
    if node is None:
        return ()
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    md = node.get("metadata") or {}
    conditions = tuple((c.get("type"), c.get("status")) for c in status.get("conditions") or ())
    return (
        spec.get("unschedulable"),
        spec.get("taints"),
        md.get("labels"),
        status.get("allocatable"),
        conditions,
    )


@dataclass
class _Handle:
    snapshot: Snapshot
    listers: WorkloadListers | None = None


class Scheduler:
    """Takes pending pods addressed to it, picks a node for each through the framework, and binds
    them through the API; the refused wait in the queue."""

    def __init__(
        self,
        client: APIClient,
        *,
        scheduler_name: str = DEFAULT_SCHEDULER_NAME,
        percentage_of_nodes_to_score: int = 0,
        informers: SharedInformerFactory | None = None,
    ) -> None:
        """`informers`: the process' shared informers (kubelite control-plane's); without
        them the scheduler makes and stops its own."""
        self.client = client
        self._own_informers = informers is None
        self.informers = informers or SharedInformerFactory(client)
        self.name = scheduler_name
        self.cache = Cache()
        self.namespaces = self.informers.informer(NAMESPACES, metadata_only=True)
        # For PodTopologySpread's default constraints; full objects (their selectors), asked
        # for before the garbage collector's metadata-only informers of the same resources.
        self.listers = InformerListers(self.informers)
        plugins = default_plugins(_Handle(self.cache, self.listers), self._namespace_labels)
        self.framework = Framework(plugins, scheduler_name=scheduler_name)
        self.algorithm = Algorithm(
            self.framework, self.cache, percentage_of_nodes_to_score=percentage_of_nodes_to_score
        )
        events = {
            w.plugin.name: w.plugin.events_to_register()
            for w in plugins
            if isinstance(w.plugin, EnqueueExtensions)
        }
        self.queue = SchedulingQueue(plugin_events=events)
        self.recorder = EventRecorder(client, scheduler_name)
        self.pods = self.informers.informer(binder.PODS)
        self.nodes = self.informers.informer(NODES)
        self.pods.add_handler(self._on_pod)
        self.nodes.add_handler(self._on_node)
        self.listers.claims.add_handler(self._on_claim)
        self._tasks: set[asyncio.Task[None]] = set()
        self.scheduled = 0

    def _namespace_labels(self, name: str) -> dict[str, str] | None:
        ns = self.namespaces.get(name)
        if ns is None:
            return None
        return (ns.get("metadata") or {}).get("labels") or {}

    # --- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Schedule until cancelled."""
        self.informers.start()
        flusher = asyncio.create_task(self._flush_leftovers(), name="scheduler-flush")
        try:
            for informer in (self.namespaces, *self.listers.informers(), self.nodes, self.pods):
                await informer.wait_synced()
            log.info("scheduler %s started: %d nodes", self.name, len(self.cache))
            # The nodes and pods just listed mostly live as long as the scheduler: keep them out
            # of every later garbage collection's scan.
            gc.collect()
            gc.freeze()
            while True:
                queued = await self.queue.pop()
                if queued is None:
                    return
                self.schedule_one(queued)
                # Let watch events and bindings through between cycles.
                await asyncio.sleep(0)
        finally:
            flusher.cancel()
            self.queue.close()
            if self._own_informers:
                await self.informers.stop()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _flush_leftovers(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_UNSCHEDULABLE_INTERVAL)
            self.queue.flush_unschedulable_leftover()

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- informer events ------------------------------------------------------------------------

    def _on_claim(self, event_type: str, claim: Obj) -> None:
        """A claim made or bound may let a pod that waits for it (VolumeBinding) be placed."""
        if event_type == "ADDED":
            self.queue.move_all(PERSISTENT_VOLUME_CLAIM_ADD)
        elif event_type == "MODIFIED":
            self.queue.move_all(PERSISTENT_VOLUME_CLAIM_UPDATE)

    def _on_node(self, event_type: str, node: Obj) -> None:
        name = node["metadata"]["name"]
        if event_type == "DELETED":
            self.cache.remove_node(name)
            return
        known = self.cache.get(name)
        before = _scheduling_properties(known.node if known else None)
        self.cache.add_node(node)
        if known is None:
            self.queue.move_all(NODE_ADD)
        elif before != _scheduling_properties(node):
            self.queue.move_all(NODE_UPDATE)

    def _on_pod(self, event_type: str, pod: Obj) -> None:
        spec = pod.get("spec") or {}
        key = pod_key(pod)
        assigned = bool(spec.get("nodeName"))
        terminal = (pod.get("status") or {}).get("phase") in TERMINAL_PHASES
        uid = (pod.get("metadata") or {}).get("uid", "")
        known_uid = self.cache.uid_of(key)
        if known_uid is not None and known_uid != uid:
            # Deleted and made again under the same name while the watch was away: the old
            # pod's hold on its node goes with it.
            self.cache.remove_pod(pod)
            self.queue.move_all(POD_DELETE)
            known_uid = None
        if event_type == "DELETED" or (assigned and terminal) or (terminal and key in self.queue):
            if known_uid is not None:
                self.cache.remove_pod(pod)
                self.queue.move_all(POD_DELETE)
            self.queue.delete(pod)
            return
        if assigned:
            if key in self.queue:
                self.queue.forget(key)
            before = self.cache.confirmed_pod(key)
            self.cache.add_pod(pod)
            if before is None:
                # New on its node (or an assumed pod confirmed): it may satisfy affinities.
                self.queue.move_all(POD_ADD)
            elif before.labels != ((pod.get("metadata") or {}).get("labels") or {}):
                # Only a label change can help a parked pod (there is no in-place resize):
                # the status writes of every running pod wake nothing, as kube-scheduler's
                # queueing hints keep them from doing.
                self.queue.move_all(POD_UPDATE)
            return
        if spec.get("schedulerName", DEFAULT_SCHEDULER_NAME) != self.name or terminal:
            return
        if event_type == "ADDED":
            self.queue.add(pod)
        else:
            self.queue.update(pod)

    # --- one pod ------------------------------------------------------------------------------

    def schedule_one(self, queued: QueuedPod) -> None:
        """One scheduling cycle; the binding goes on in the background."""
        info = queued.info
        pod = info.pod
        if (pod.get("metadata") or {}).get("deletionTimestamp") or self.cache.is_assumed(info.key):
            self.queue.forget(info.key)
            return
        try:
            result = self.algorithm.schedule(info)
        except FitError as e:
            self.queue.requeue_unschedulable(queued, e.diagnosis.unschedulable_plugins)
            self._report_failure(pod, binder.REASON_UNSCHEDULABLE, e.message())
            return
        except NoNodesAvailable as e:
            self.queue.requeue_unschedulable(queued, set())
            self._report_failure(pod, binder.REASON_UNSCHEDULABLE, str(e))
            return
        except SchedulingError as e:
            log.warning("scheduling %s failed: %s", info.key, e)
            self.queue.requeue_error(queued)
            self._report_failure(pod, binder.REASON_SCHEDULER_ERROR, str(e))
            return
        except Exception as e:  # a bug in a plugin: the pod says so, the loop goes on
            log.exception("scheduling %s failed", info.key)
            self.queue.requeue_error(queued)
            self._report_failure(pod, binder.REASON_SCHEDULER_ERROR, f"scheduler error: {e}")
            return
        try:
            self.cache.assume_pod(info, result.node)
        except ValueError as e:  # the cache already holds the pod: try again later
            log.warning("assuming %s failed: %s", info.key, e)
            self.queue.requeue_error(queued)
            return
        self._spawn(self._bind(queued, result.node), f"bind {info.key}")

    async def _bind(self, queued: QueuedPod, node: str) -> None:
        pod = queued.info.pod
        key = queued.key
        try:
            await binder.bind(self.client, pod, node)
        except (APIError, APIConnectionError) as e:
            uid = pod["metadata"].get("uid", "")
            if self.cache.uid_of(key) == uid:
                self.cache.forget_pod(key)
                # What it held is free again: pods parked for want of it may fit now.
                self.queue.move_all(POD_DELETE)
            if isinstance(e, APINotFoundError | APIConflictError):
                # Gone, or bound meanwhile (the watch tells which): nothing to retry. A new
                # pod of the same name is another pod, and keeps its place.
                if self.queue.uid_of(key) == uid:
                    self.queue.forget(key)
                return
            log.warning("binding %s to %s failed: %s", key, node, e)
            self.queue.requeue_error(queued)
            await self._failure(pod, binder.REASON_SCHEDULER_ERROR, f"binding rejected: {e}")
            return
        self.cache.finish_binding(key)
        self.queue.forget(key)
        self.scheduled += 1
        md = pod["metadata"]
        await self.recorder.event(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {md['namespace']}/{md['name']} to {node}",
        )

    def _report_failure(self, pod: Obj, reason: str, message: str) -> None:
        self._spawn(self._failure(pod, reason, message), f"failed {pod_key(pod)}")

    async def _failure(self, pod: Obj, reason: str, message: str) -> None:
        await self.recorder.event(pod, "Warning", "FailedScheduling", message)
        if not binder.scheduled_condition_changes(pod, reason, message):
            return
        current = self.pods.get(pod_key(pod))
        if current is None or (current.get("spec") or {}).get("nodeName"):
            return  # gone, or bound meanwhile
        try:
            await binder.set_unscheduled(self.client, pod, reason, message)
        except (APINotFoundError, APIConflictError):
            pass
        except (APIError, APIConnectionError) as e:
            log.warning("could not set PodScheduled on %s: %s", pod_key(pod), e)
