"""The ReplicaSet controller: keeps `spec.replicas` pods of a template running.

Kubernetes' `pkg/controller/replicaset`. Handlers put ReplicaSet keys on the queue: a
ReplicaSet changed, or one of its pods was added, changed or deleted (found through the pod's
controller reference, or, for an orphan, every ReplicaSet whose selector matches it). `sync`:

1. claims the active pods of the namespace (podcontrol.claim: adopt matching orphans, release
   pods that no longer match);
2. if its earlier creates and deletes have all been seen (expectations), creates the missing
   pods in slow-start batches, or deletes the surplus, those ranked first for deletion
   (podutil.deletion_order);
3. writes `status`: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
   `minReadySeconds`), observedGeneration, and the `ReplicaFailure` condition while creates or
   deletes are refused; for a ReplicaSet also terminatingReplicas, its pods being deleted but
   not yet finished (DeploymentReplicaSetTerminatingReplicas, beta and on since 1.35).

The ReplicationController is the same controller on v1 ReplicationControllers, whose selector
is a plain label map (`replicationcontroller.py`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.resources import PODS, REPLICA_SETS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIError
from kubelite.client.events import WARNING, EventRecorder
from kubelite.client.informer import Informer, by_controller_uid, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers import podutil
from kubelite.controllers.expectations import Expectations
from kubelite.controllers.owners import (
    controller_of,
    owners_selecting,
    put_status,
    recheck_owner,
    typed,
)
from kubelite.controllers.podcontrol import (
    BURST_REPLICAS,
    PodControl,
    pod_from_template,
    slow_start_batch,
)
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


WORKERS = 5
# The condition set while the controller cannot create or delete pods.
REPLICA_FAILURE = "ReplicaFailure"


class ReplicaSetController(QueueController):
    """Keeps `spec.replicas` pods of each ReplicaSet's template running, adopting matching orphans
    and releasing pods that no longer match."""

    resource = REPLICA_SETS
    component = "replicaset-controller"
    queue_name = "replicaset"
    # ReplicaSetControllerFeatures.EnableStatusTerminatingReplicas: a ReplicationController has
    # no such status field.
    counts_terminating = True

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        burst_replicas: int = BURST_REPLICAS,
    ) -> None:
        super().__init__(client, informers, queue=self.queue_name, workers=workers)
        self.burst_replicas = burst_replicas
        self.expectations = Expectations()
        self.pod_control = PodControl(client, EventRecorder(client, self.component))
        self.owners = self.informers.informer(self.resource)
        self.owners.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.pods.add_indexer("controller", by_controller_uid)
        self.owners.add_handler(self._on_owner, with_old=True)
        self.pods.add_handler(self._on_pod, with_old=True)

    # --- what differs between ReplicaSets and ReplicationControllers ---------------------------

    def selector(self, owner: Obj) -> labels.Selector:
        """The owner's pod selector; raises labels.SelectorError if it is not valid."""
        selector = (owner.get("spec") or {}).get("selector")
        if not selector:
            return labels.nothing()
        return labels.from_label_selector(selector)

    # --- handlers -----------------------------------------------------------------------------

    def _on_owner(self, event_type: str, owner: Obj, old: Obj | None) -> None:
        key = key_of(owner)
        if event_type == "DELETED":
            self.expectations.forget(key)
        self.queue.add(key)

    def _owner_of(self, pod: Obj) -> Obj | None:
        """The cached owner of this kind that controls `pod`, matched by uid."""
        return controller_of(self.owners, pod, self.resource.kind)

    def _matching_owners(self, pod: Obj) -> list[Obj]:
        """Owners in the pod's namespace whose selector matches it (for an orphan)."""
        return owners_selecting(self.owners, pod, self.selector) if meta.labels_of(pod) else []

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        pod_key = key_of(pod)
        owner = self._owner_of(pod)
        if event_type == "DELETED":
            if owner is not None:
                self.expectations.deletion_observed(key_of(owner), pod_key)
                self.queue.add(key_of(owner))
            return
        if event_type == "ADDED":
            if podutil.is_terminating(pod):
                if owner is not None:
                    self.expectations.deletion_observed(key_of(owner), pod_key)
                    self.queue.add(key_of(owner))
                return
            if owner is not None:
                self.expectations.creation_observed(key_of(owner))
                self.queue.add(key_of(owner))
                return
            if podutil.controller_ref(pod) is None:
                for candidate in self._matching_owners(pod):
                    self.queue.add(key_of(candidate))
            return
        # MODIFIED
        if podutil.is_terminating(pod) and owner is not None:
            self.expectations.deletion_observed(key_of(owner), pod_key)
        if old is not None:
            old_owner = self._owner_of(old)
            if old_owner is not None and old_owner is not owner:
                self.queue.add(key_of(old_owner))
        if owner is not None:
            self.queue.add(key_of(owner))
            return
        orphan_changed = old is None or (
            meta.labels_of(old) != meta.labels_of(pod)
            or podutil.controller_ref(old) != podutil.controller_ref(pod)
        )
        if podutil.controller_ref(pod) is None and orphan_changed:
            # Released, or relabelled: a matching owner may adopt it.
            for candidate in self._matching_owners(pod):
                self.queue.add(key_of(candidate))

    # --- running ------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (self.owners, self.pods)

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.owners.get(key)
        if cached is None:
            self.expectations.forget(key)
            return None
        owner = typed(cached, self.resource)
        try:
            selector = self.selector(owner)
        except labels.SelectorError as e:
            self.pod_control.event(owner, WARNING, "InvalidSelector", str(e))
            return None
        needs_sync = self.expectations.satisfied(key)
        namespace = meta.namespace_of(owner)
        candidates = [p for p in self.pods.by_index("namespace", namespace) if podutil.is_active(p)]
        pods = await self.pod_control.claim(
            owner, selector, candidates, lambda: self._can_adopt(owner)
        )
        failure: APIError | None = None
        diff = 0
        if needs_sync and not owner["metadata"].get("deletionTimestamp"):
            diff = len(pods) - int((owner.get("spec") or {}).get("replicas", 1))
            failure = await self._manage_replicas(key, owner, pods, diff)
        now = meta.now()
        terminating = (
            len(self._terminating_pods(owner, selector)) if self.counts_terminating else None
        )
        status = self._status(owner, pods, failure, diff, now, terminating)
        await self._write_status(owner, status)
        if failure is not None:
            raise failure
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and status["readyReplicas"] != status["availableReplicas"]:
            # Look again when the next ready pod has been ready long enough to count.
            return podutil.next_available_in(pods, min_ready, now) or float(min_ready)
        return None

    def _terminating_pods(self, owner: Obj, selector: labels.Selector) -> list[Obj]:
        """FilterTerminatingPods then FilterClaimedPods: the owner's own pods (by controller
        reference; a terminating orphan is not adopted) that still match its selector and are
        being deleted without having finished (controller.IsPodTerminating)."""
        return [
            pod
            for pod in self.pods.by_index("controller", owner["metadata"].get("uid") or "")
            if pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and selector.matches(meta.labels_of(pod))
        ]

    async def _can_adopt(self, owner: Obj) -> bool:
        return await recheck_owner(self.client, self.resource, owner)

    def _related_pods(self, owner: Obj) -> list[Obj]:
        """Pods of this owner's siblings (same controlling Deployment), to spread deletions."""
        ref = podutil.controller_ref(owner)
        if ref is None:
            return []  # No siblings: every node ranks alike (getIndirectlyRelatedPods).
        related = []
        for sibling in self.owners.by_index("namespace", meta.namespace_of(owner)):
            sibling_ref = podutil.controller_ref(sibling)
            if sibling_ref is not None and sibling_ref.get("uid") == ref.get("uid"):
                related += self.pods.by_index("controller", sibling["metadata"]["uid"])
        return related

    async def _manage_replicas(
        self, key: str, owner: Obj, pods: list[Obj], diff: int
    ) -> APIError | None:
        """Create or delete pods towards spec.replicas; the first refusal, if any."""
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            template = (owner.get("spec") or {}).get("template") or {}
            generate_name = f"{meta.name_of(owner)}-"

            async def create_one() -> None:
                pod = pod_from_template(template, owner, generate_name=generate_name)
                await self.pod_control.create(owner, pod)

            created, error = await slow_start_batch(count, create_one)
            if created < count:
                self.expectations.creations_failed(key, count - created)
            if error is not None and not isinstance(error, APIError):
                raise error
            return error
        if diff > 0:
            count = min(diff, self.burst_replicas)
            ranks = podutil.ranks_on_same_node(pods, self._related_pods(owner))
            order = podutil.deletion_order(pods, ranks, meta.now())
            doomed = [pods[i] for i in order[:count]]
            self.expectations.expect_deletions(key, [key_of(p) for p in doomed])
            results = await asyncio.gather(
                *(self.pod_control.delete(owner, p) for p in doomed), return_exceptions=True
            )
            first: APIError | None = None
            for pod, result in zip(doomed, results, strict=True):
                if isinstance(result, BaseException):
                    self.expectations.deletion_failed(key, key_of(pod))
                    if not isinstance(result, APIError):
                        raise result
                    first = first or result
            return first
        return None

    def _status(
        self,
        owner: Obj,
        pods: list[Obj],
        failure: APIError | None,
        diff: int,
        now: Any,
        terminating: int | None = None,
    ) -> Obj:
        spec = owner.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        fully_labeled = ready = available = 0
        for pod in pods:
            pod_labels = meta.labels_of(pod)
            if all(pod_labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_pod_ready(pod):
                ready += 1
                if podutil.is_available(pod, min_ready, now):
                    available += 1
        previous = owner.get("status") or {}
        conditions = [
            c for c in previous.get("conditions") or () if c.get("type") != REPLICA_FAILURE
        ]
        existing = meta.find_condition(previous.get("conditions"), REPLICA_FAILURE)
        if failure is not None:
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            conditions.append(
                existing
                or {
                    "type": REPLICA_FAILURE,
                    "status": "True",
                    "lastTransitionTime": meta.format_time(now),
                    "reason": reason,
                    "message": str(failure),
                }
            )
        elif existing is not None and not self.expectations.satisfied(key_of(owner)):
            conditions.append(existing)  # Still waiting to see whether the retry worked.
        status: Obj = {
            "replicas": len(pods),
            "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
        }
        if terminating is not None:
            status["terminatingReplicas"] = terminating
        status["observedGeneration"] = owner["metadata"].get("generation", 0)
        if conditions:
            status["conditions"] = conditions
        return status

    async def _write_status(self, owner: Obj, status: Obj) -> None:
        """PUT the status if it changed; once more on a conflict (updateReplicaSetStatus)."""
        previous = owner.get("status") or {}
        fields = (
            "replicas",
            "fullyLabeledReplicas",
            "readyReplicas",
            "availableReplicas",
            "observedGeneration",
        )
        if (
            all(int(previous.get(f) or 0) == status[f] for f in fields)
            # A pointer in Go: absent and 0 differ, so the first count is written.
            and previous.get("terminatingReplicas") == status.get("terminatingReplicas")
            and (previous.get("conditions") or []) == status.get("conditions", [])
        ):
            return
        # Without conditions now (the last one went), the field goes too.
        drop = () if "conditions" in status else ("conditions",)
        await put_status(self.client, self.resource, owner, status, drop=drop)
