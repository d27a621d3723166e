"""The pod lifecycle of hollow nodes: bound pods go to Running, deleted pods go away.

One informer watches every bound pod (`spec.nodeName!=`: a field selector can name only one
node, and one watch for the whole fleet costs far less than one per node) and keeps those bound
to this process's nodes; the rest are cached as stubs of a few fields. Its handler only puts
`namespace/name` keys on a work queue, and a few workers reconcile each key, as every kubelite
controller does:

- a pod being deleted (deletionTimestamp set) is confirmed with a DELETE with
  `gracePeriodSeconds: 0` and the pod's uid as a precondition, which is what the kubelet sends
  once its containers have stopped (status manager `canBeDeleted`); a hollow pod has nothing to
  stop;
- a pod that is not running yet gets, in one pods/status write, the status of a pod whose
  containers all started (`pods.running_status`), with an address from its node's pod CIDR;
- a running pod is left alone, and its address is remembered: this is how a restarted process
  picks up the pods of an earlier run from the informer's first list; only its Ready condition
  is written again when a readiness gate it waits on changes (the kubelet's status manager
  does the same);
- a running pod asked to finish (`finishing`: an exit code by annotation, for tests) is looked
  at again when its containers are due to exit, and then gets the status of exited containers:
  phase Succeeded or Failed, or a restart, as its restartPolicy says;
- a pod that is gone gives its address back.

Sync is level-triggered and idempotent, so a lost event or a failed write only delays a pod.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping

from kubelite.api.resources import PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import Informer, key_of
from kubelite.client.workqueue import WorkQueue, process
from kubelite.hollow import finishing
from kubelite.hollow import pods as shapes
from kubelite.hollow.nodes import HollowNode, rfc3339
from kubelite.hollow.timing import Clock, SystemClock

log = logging.getLogger(__name__)


BOUND = "spec.nodeName!="
# The spec and status fields the lifecycle reads; everything else of a pod is dropped from
# the cache (10,000 whole pods would cost hundreds of megabytes).
_SPEC_FIELDS = ("nodeName", "containers", "initContainers", "hostNetwork", "readinessGates")
_STATUS_FIELDS = ("phase", "podIP", "conditions", "startTime")
_CONTAINER_FIELDS = ("name", "image", "volumeMounts", "resources", "restartPolicy")


class PodLifecycle:
    """Runs the pods bound to a set of hollow nodes, as far as their status can tell."""

    def __init__(
        self,
        client: APIClient,
        nodes: Mapping[str, HollowNode],
        *,
        workers: int = 16,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.nodes = nodes
        self.workers = workers
        self.clock = clock or SystemClock()
        self.addresses = {name: shapes.PodAddresses(n.pod_cidr) for name, n in nodes.items()}
        # Which node holds each key's address, and for which pod uid.
        self._holders: dict[str, tuple[str, str]] = {}
        self.started = 0
        self.deleted = 0
        self.queue = WorkQueue()
        self.informer = Informer(client, PODS, field_selector=BOUND, transform=self._trim)
        self.informer.add_handler(self._on_event)

    def _trim(self, pod: Obj) -> Obj:
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        kept_md = {
            "name": md.get("name"),
            "namespace": md.get("namespace"),
            "resourceVersion": md.get("resourceVersion"),
        }
        if spec.get("nodeName") not in self.nodes:
            return {"metadata": kept_md, "spec": {"nodeName": spec.get("nodeName")}}
        kept_md["uid"] = md.get("uid")
        if md.get("deletionTimestamp"):
            kept_md["deletionTimestamp"] = md["deletionTimestamp"]
        if md.get("finalizers"):
            kept_md["finalizers"] = md["finalizers"]
        status = pod.get("status") or {}
        kept_spec = {k: spec[k] for k in _SPEC_FIELDS if k in spec}
        kept_status = {k: status[k] for k in _STATUS_FIELDS if k in status}
        annotations = md.get("annotations") or {}
        asked = {k: annotations[k] for k in finishing.ANNOTATIONS if k in annotations}
        if asked:
            # A pod that is to finish (tests only): what deciding when and how needs.
            kept_md["annotations"] = asked
            kept_spec["restartPolicy"] = spec.get("restartPolicy")
            if "containerStatuses" in status:
                kept_status["containerStatuses"] = status["containerStatuses"]
        for kind in ("containers", "initContainers"):
            if kind in kept_spec:
                kept_spec[kind] = [
                    {k: c[k] for k in _CONTAINER_FIELDS if k in c} for c in kept_spec[kind]
                ]
        return {"metadata": kept_md, "spec": kept_spec, "status": kept_status}

    def _on_event(self, event_type: str, pod: Obj) -> None:
        key = key_of(pod)
        if pod["spec"].get("nodeName") in self.nodes or key in self._holders:
            self.queue.add(key)

    async def run(self) -> None:
        """Watch and reconcile until cancelled."""
        self.informer.start()
        try:
            await self.informer.wait_synced()
            await asyncio.gather(
                *(process(self.queue, self.sync, what="pod") for _ in range(self.workers))
            )
        finally:
            self.queue.shut_down()
            await self.informer.stop()

    async def sync(self, key: str) -> float | None:
        """Bring one pod where a kubelet would bring it; seconds until it is due again."""
        pod = self.informer.get(key)
        node = self.nodes.get(pod["spec"].get("nodeName") or "") if pod is not None else None
        if pod is None or node is None:
            self._release(key)
            return None
        md = pod["metadata"]
        held = self._holders.get(key)
        if held is not None and held[1] != md.get("uid"):
            self._release(key)  # a new pod under an old name
        if md.get("deletionTimestamp"):
            if md.get("finalizers") and not shapes.is_terminal(pod):
                await self._end(pod, finishing.KILLED_EXIT_CODE, final=True)
            await self._confirm_deletion(pod)
            return None
        if shapes.is_terminal(pod):
            return None
        if not shapes.is_running(pod):
            await self._start(key, node, pod)
            return None
        self._remember(key, node, pod)
        if shapes.needs_status(pod):
            await self._write_status(
                pod, {"conditions": shapes.running_conditions(pod, self._now())}
            )
            return None
        return await self._finish_if_due(pod)

    async def _finish_if_due(self, pod: Obj) -> float | None:
        """Exit the containers of a pod asked to finish, once they have run long enough."""
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        left = finishing.seconds_left(pod, now)
        code = finishing.exit_code(pod)
        if left is None or code is None:
            return None
        if left > 0:
            return left
        await self._end(pod, code)
        return None

    async def _end(self, pod: Obj, code: int, *, final: bool = False) -> None:
        """Write the status of the pod's containers exiting with `code` (read whole first:
        the cache keeps little of a pod)."""
        md = pod["metadata"]
        try:
            full = await self.client.get(PODS, md["name"], namespace=md["namespace"])
        except APINotFoundError:
            return
        if full["metadata"].get("uid") != md.get("uid") or shapes.is_terminal(full):
            return
        await self._write_status(
            full, finishing.exited_status(full, code, self._now(), final=final)
        )

    def _remember(self, key: str, node: HollowNode, pod: Obj) -> None:
        """Keep the address a running pod has, so that no other pod gets it."""
        if key in self._holders or pod["spec"].get("hostNetwork"):
            return
        if self.addresses[node.name].reserve(key, pod["status"]["podIP"]):
            self._holders[key] = (node.name, pod["metadata"].get("uid") or "")

    def _release(self, key: str) -> None:
        held = self._holders.pop(key, None)
        if held is not None:
            self.addresses[held[0]].release(key)

    def _address(self, key: str, node: HollowNode, pod: Obj) -> str:
        if pod["spec"].get("hostNetwork"):
            return node.internal_ip
        address = self.addresses[node.name].allocate(key)
        self._holders[key] = (node.name, pod["metadata"].get("uid") or "")
        return address

    async def _start(self, key: str, node: HollowNode, pod: Obj) -> None:
        """One status write: the pod runs, its containers started and are ready."""
        try:
            pod_ip = self._address(key, node, pod)
        except IndexError:
            log.warning("pod %s: node %s has no pod address left", key, node.name)
            return
        status = shapes.running_status(
            pod, host_ip=node.internal_ip, pod_ip=pod_ip, now=self._now()
        )
        if await self._write_status(pod, status):
            self.started += 1
        else:
            self._release(key)

    async def _write_status(self, pod: Obj, status: Obj) -> bool:
        """A merge patch of pods/status; False if the pod is gone."""
        md = pod["metadata"]
        try:
            await self.client.patch(
                PODS,
                md["name"],
                shapes.status_patch(pod, status),
                patch_type=PatchType.MERGE,
                namespace=md["namespace"],
                subresource="status",
            )
        except APINotFoundError:
            return False
        return True

    def _now(self) -> str:
        return rfc3339(self.clock.time())

    async def _confirm_deletion(self, pod: Obj) -> None:
        md = pod["metadata"]
        try:
            await self.client.delete(
                PODS,
                md["name"],
                namespace=md["namespace"],
                grace_period_seconds=0,
                preconditions={"uid": md.get("uid")},
            )
        except APINotFoundError:
            return
        self.deleted += 1
