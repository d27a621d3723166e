"""The disruption controller: keeps every PodDisruptionBudget's status true to its pods.

Kubernetes' `pkg/controller/disruption`. The eviction subresource allows an eviction only
while a budget's `status.disruptionsAllowed` is above zero and takes one off each time; this
controller recomputes that number from the pods (`disruption_status` has the arithmetic).
Handlers put budget keys on the queue: a budget changed, or a pod it selects was added,
changed or deleted. `sync` reads the budget and its pods from the informers, finds the scale
of the pods' controllers where a percentage or maxUnavailable needs it, and writes the status
through the status subresource when it differs. A budget that cannot be computed (a pod whose
controller cannot be found, a bad value) is failed safe: disruptionsAllowed 0 and the
DisruptionAllowed condition False with reason SyncFailed.

A second queue clears stale DisruptionTarget conditions: a pod marked for disruption (by an
eviction, say) that is still not being deleted two minutes later has its condition set to
False, so that it does not read as doomed for ever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Coroutine
from typing import Any

from kubelite.api import labels, meta
from kubelite.api import poddisruptionbudget as pdbs
from kubelite.api.pods import observed_by
from kubelite.api.resources import (
    DEPLOYMENTS,
    PODDISRUPTIONBUDGETS,
    PODS,
    REPLICA_SETS,
    REPLICATION_CONTROLLERS,
    STATEFUL_SETS,
)
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import (
    APIConflictError,
    APIError,
    APINotFoundError,
    UnknownResourceError,
)
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.client.informer import Informer, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process
from kubelite.controllers import disruption_status as arithmetic
from kubelite.controllers import podutil
from kubelite.controllers.owners import typed
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


# stalePodDisruptionTimeout: how long a DisruptionTarget condition may stand on a pod that is
# not being deleted.
STALE_POD_DISRUPTION_TIMEOUT = 120.0
DISRUPTION_TARGET = "DisruptionTarget"
# The kubelet's own reason, never stale: it may take long before such a pod is deleted.
TERMINATION_BY_KUBELET = "TerminationByKubelet"
WORKERS = 2


class SyncError(Exception):
    """A budget whose status cannot be computed; the message goes into its SyncFailed
    condition."""


class DisruptionController(QueueController):
    """Keeps each PodDisruptionBudget's status (healthy pods, disruptions allowed) current, which
    eviction reads before it lets a pod go."""

    component = "disruption-controller"
    # The source its Events carry, as Kubernetes' disruption controller records them.
    event_source = "controllermanager"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        stale_pod_disruption_timeout: float = STALE_POD_DISRUPTION_TIMEOUT,
    ) -> None:
        super().__init__(client, informers, queue="disruption", workers=workers)
        self.stale_timeout = stale_pod_disruption_timeout
        self.stale_queue = WorkQueue("disruption_recheck")
        self.recorder = EventRecorder(client, self.event_source)
        self.budgets = self.informers.informer(PODDISRUPTIONBUDGETS)
        self.budgets.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.replica_sets = self.informers.informer(REPLICA_SETS)
        self.deployments = self.informers.informer(DEPLOYMENTS)
        self.stateful_sets = self.informers.informer(STATEFUL_SETS)
        self.replication_controllers = self.informers.informer(REPLICATION_CONTROLLERS)
        self.budgets.add_handler(self._on_budget)
        self.pods.add_handler(self._on_pod, with_old=True)

    # --- handlers -----------------------------------------------------------------------------

    def _on_budget(self, event_type: str, pdb: Obj) -> None:
        self.queue.add(key_of(pdb))

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        for seen in (pod, old) if old is not None else (pod,):
            pdb = self._budget_for(seen, report=seen is pod)
            if pdb is not None:
                self.queue.add(key_of(pdb))
        if event_type != "DELETED":
            wait = self._stale_disruption_wait(pod, meta.now())
            if wait is not None:
                self.stale_queue.add_after(key_of(pod), wait)

    def _budget_for(self, pod: Obj, *, report: bool) -> Obj | None:
        """The budget that covers the pod; the first by name if several do (getPdbForPod)."""
        found = sorted(
            pdbs.budgets_for(self.budgets.by_index("namespace", meta.namespace_of(pod)), pod),
            key=meta.name_of,
        )
        if not found:
            return None
        if len(found) > 1 and report:
            self._event(
                typed(pod, PODS),
                WARNING,
                "MultiplePodDisruptionBudgets",
                f'Pod "{meta.namespace_of(pod)}"/"{meta.name_of(pod)}" matches multiple '
                f'PodDisruptionBudgets.  Chose "{meta.name_of(found[0])}" arbitrarily.',
            )
        return found[0]

    def _event(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Record an Event without waiting for it, from a handler (which cannot wait). Events
        of a sync are awaited instead, so that a repeated one finds its first and counts."""
        self.recorder.post(obj, event_type, reason, message)

    # --- running ------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (
            self.budgets,
            self.pods,
            self.replica_sets,
            self.deployments,
            self.stateful_sets,
            self.replication_controllers,
        )

    def alongside(self) -> list[Coroutine[Any, Any, None]]:
        # One worker for the pods whose DisruptionTarget condition went stale
        # (the recheck queue of Kubernetes' controller).
        return [process(self.stale_queue, self.sync_stale_pod, what=self.component)]

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self.stale_queue.shut_down()

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        """Bring one budget's status up to date; the seconds after which to look again."""
        cached = self.budgets.get(key)
        if cached is None:
            return None
        pdb = typed(cached, PODDISRUPTIONBUDGETS)
        try:
            return await self._try_sync(pdb)
        except APIConflictError:
            raise  # A newer budget is on its way: retry without failing safe.
        except (SyncError, APIError) as e:
            log.warning("disruption-controller %s: %s; failing safe", key, e)
            await self._write_status(pdb, arithmetic.failed_status(pdb, str(e), meta.now()))
            return None

    def _pods_of(self, pdb: Obj) -> list[Obj]:
        try:
            selector = labels.from_label_selector(meta.get_path(pdb, "spec", "selector"))
        except labels.SelectorError as e:
            raise SyncError(str(e)) from e
        return [
            pod
            for pod in self.pods.by_index("namespace", meta.namespace_of(pdb))
            if selector.matches(meta.labels_of(pod))
        ]

    async def _try_sync(self, pdb: Obj) -> float | None:
        pods = self._pods_of(pdb)
        if not pods:
            await self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        spec = pdb.get("spec") or {}
        expected_scale = 0
        if arithmetic.needs_scale(spec):
            expected_scale, unmanaged = await self._expected_scale(pdb, pods)
            if unmanaged:
                await self.recorder.event(
                    pdb,
                    WARNING,
                    "UnmanagedPods",
                    "Pods selected by this PodDisruptionBudget (selector: "
                    f"{arithmetic.go_label_selector(spec.get('selector'))}) were found to be "
                    "unmanaged. As a result, the status of the PDB cannot be calculated "
                    "correctly, which may result in undefined behavior. To account for these "
                    'pods please set ".spec.minAvailable" field of the PDB to an integer value.',
                )
        try:
            expected, desired = arithmetic.budget_numbers(spec, len(pods), expected_scale)
        except pdbs.IntOrPercentError as e:
            await self._calculation_failed(pdb, str(e))
            raise SyncError(str(e)) from e
        now = meta.now()
        recorded = meta.get_path(pdb, "status", "disruptedPods")
        disrupted, recheck, overdue = arithmetic.build_disrupted_pods(pods, recorded, now)
        for pod in overdue:
            await self.recorder.event(
                typed(pod, PODS),
                WARNING,
                "NotDeleted",
                # Kubernetes names the budget's namespace twice here.
                f"Pod was expected by PDB {meta.namespace_of(pdb)}/{meta.namespace_of(pdb)} "
                "to be deleted but it wasn't",
            )
        healthy = arithmetic.count_healthy(pods, disrupted, now)
        status = arithmetic.new_status(
            pdb,
            current_healthy=healthy,
            desired_healthy=desired,
            expected=expected,
            disrupted=disrupted,
            now=now,
        )
        if status is not None:
            await self._write_status(pdb, status)
        if recheck is None:
            return None
        return max((recheck - now).total_seconds(), 0.0)

    async def _calculation_failed(self, pdb: Obj, message: str) -> None:
        await self.recorder.event(
            pdb,
            WARNING,
            "CalculateExpectedPodCountFailed",
            f"Failed to calculate the number of expected pods: {message}",
        )

    async def _expected_scale(self, pdb: Obj, pods: list[Obj]) -> tuple[int, list[str]]:
        """The sum of the scales of the pods' controllers, and the pods with none
        (getExpectedScale)."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = podutil.controller_ref(pod)
            if ref is None:
                unmanaged.append(meta.name_of(pod))
                continue
            if ref.get("uid") in scales:
                continue
            try:
                found = await self._controller_scale(ref, meta.namespace_of(pod))
            except SyncError as e:
                await self._calculation_failed(pdb, str(e))
                raise
            if found is None:
                message = f'found no controllers for pod "{meta.name_of(pod)}"'
                await self._calculation_failed(pdb, message)
                raise SyncError(message)
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def _controller_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """(uid, replicas) of the workload a controller reference names: the pods' Deployment
        when their ReplicaSet has one, else the ReplicaSet, StatefulSet or
        ReplicationController itself, as the informers hold them; else, as Kubernetes' last
        finder does, whatever a live GET of its scale subresource says."""
        found = self._cached_scale(ref, namespace)
        if found is not None:
            return found
        return await self._scale_subresource(ref, namespace)

    def _cached_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        group = _group_of(ref)
        kind = ref.get("kind")
        name = ref.get("name", "")
        if kind == "ReplicationController" and group == "":
            return _scale_if_same(self.replication_controllers.get(f"{namespace}/{name}"), ref)
        if kind == "StatefulSet" and group == "apps":
            return _scale_if_same(self.stateful_sets.get(f"{namespace}/{name}"), ref)
        if kind != "ReplicaSet" or group not in ("apps", "extensions"):
            return None
        replica_set = self.replica_sets.get(f"{namespace}/{name}")
        if replica_set is None or _scale_if_same(replica_set, ref) is None:
            return None
        owner = podutil.controller_ref(replica_set)
        if owner is None or owner.get("kind") != "Deployment":
            return _scale_if_same(replica_set, ref)
        if _group_of(owner) not in ("apps", "extensions"):
            return None
        return _scale_if_same(self.deployments.get(f"{namespace}/{owner.get('name', '')}"), owner)

    async def _scale_subresource(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """getScaleController: any other kind, through its scale subresource."""
        try:
            resource = await self.client.resource_for_kind(
                ref.get("apiVersion", ""), ref.get("kind", "")
            )
        except UnknownResourceError as e:
            raise SyncError(str(e)) from e
        try:
            scale = await self.client.get(
                resource, ref.get("name", ""), namespace=namespace, subresource="scale"
            )
        except APINotFoundError:
            # Missing, or not scalable at all: discovery tells which (implementsScale).
            group_version = resource.api_version
            path = f"/apis/{group_version}" if resource.group else f"/api/{group_version}"
            listing = await self.client.request("GET", path)
            scalable = any(
                entry.get("name") == f"{resource.plural}/scale" and entry.get("kind") == "Scale"
                for entry in listing.get("resources") or ()
            )
            if not scalable:
                raise SyncError(
                    f"{resource.group_resource} does not implement the scale subresource"
                ) from None
            return None
        if meta.get_path(scale, "metadata", "uid") != ref.get("uid"):
            return None
        return ref.get("uid", ""), int(meta.get_path(scale, "spec", "replicas", default=0) or 0)

    async def _write_status(self, pdb: Obj, status: Obj) -> None:
        """PUT the status, once: a conflict goes back to the queue (writePdbStatus)."""
        try:
            await self.client.update(
                PODDISRUPTIONBUDGETS,
                {**pdb, "status": status},
                namespace=meta.namespace_of(pdb),
                subresource="status",
            )
        except APINotFoundError:
            return

    # --- stale DisruptionTarget conditions ---------------------------------------------------

    def _stale_disruption_wait(self, pod: Obj, now: dt.datetime) -> float | None:
        """Seconds until the pod's DisruptionTarget condition is stale (0: it is), or None
        when it has none that can go stale (nonTerminatingPodHasStaleDisruptionCondition)."""
        if pod["metadata"].get("deletionTimestamp"):
            return None
        condition = meta.find_condition(
            meta.get_path(pod, "status", "conditions"), DISRUPTION_TARGET
        )
        if (
            condition is None
            or condition.get("status") != "True"
            or condition.get("reason") == TERMINATION_BY_KUBELET
            or meta.get_path(pod, "status", "phase") in ("Succeeded", "Failed")
        ):
            return None
        since = meta.parse_time(condition.get("lastTransitionTime") or "") or now
        return max(self.stale_timeout - (now - since).total_seconds(), 0.0)

    async def sync_stale_pod(self, key: str) -> float | None:
        """Set a stale DisruptionTarget condition to False (syncStalePodDisruption)."""
        cached = self.pods.get(key)
        if cached is None:
            return None
        now = meta.now()
        wait = self._stale_disruption_wait(cached, now)
        if wait is None:
            return None
        if wait > 0:
            return wait
        pod = typed(meta.clone(cached), PODS)
        conditions = pod["status"]["conditions"]
        for i, condition in enumerate(conditions):
            if condition.get("type") == DISRUPTION_TARGET:
                conditions[i] = observed_by(
                    {
                        "type": DISRUPTION_TARGET,
                        "status": "False",
                        "lastProbeTime": None,
                        "lastTransitionTime": meta.format_time(now),
                    },
                    pod,
                )
        with contextlib.suppress(APINotFoundError):
            await self.client.update(
                PODS, pod, namespace=meta.namespace_of(pod), subresource="status"
            )
        return None


def _group_of(ref: Obj) -> str:
    api_version = ref.get("apiVersion") or ""
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _scale_if_same(workload: Obj | None, ref: Obj) -> tuple[str, int] | None:
    """(uid, spec.replicas) of the cached workload, if it is the one the reference names."""
    if workload is None or workload["metadata"].get("uid") != ref.get("uid"):
        return None
    replicas = meta.get_path(workload, "spec", "replicas", default=1)
    return workload["metadata"]["uid"], int(1 if replicas is None else replicas)
