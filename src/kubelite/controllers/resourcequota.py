"""The resource quota controller (`pkg/controller/resourcequota`).

Quota admission charges each object to the quotas of its namespace as it is created, but
nothing there gives quota back: this controller does. It copies each quota's `spec.hard` into
`status.hard` (the limits in force: admission reads the status) and recounts `status.used`
from the objects of the namespace, with the same evaluators admission uses
(`kubelite.api.quota`).

It recounts a quota when it is made or its limits change, when an object it counts is
deleted or stops counting (a pod that finished, a service that is no longer a LoadBalancer:
Kubernetes' replenishment), and every quota every five minutes
(kube-controller-manager's `--resource-quota-sync-period`), which also settles what a
refused or failed write had charged.

Pods, services and claims are watched from the start; anything else a quota counts
(`configmaps`, `count/deployments.apps`) is watched, for its metadata alone, from the first
time a quota names it, as Kubernetes' quota monitor watches every resource it can count.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from kubelite.api import meta
from kubelite.api.quota import evaluators, resources
from kubelite.api.resources import PERSISTENT_VOLUME_CLAIMS, PODS, SERVICES, Resource
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import Informer, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)

RESOURCE_QUOTAS = Resource("", "v1", "resourcequotas", kind="ResourceQuota")

# kube-controller-manager's --resource-quota-sync-period: every quota recounted this often.
FULL_RESYNC_SECONDS = 300.0
# --concurrent-resource-quota-syncs.
WORKERS = 5

_NAMESPACE_INDEX = "namespace"


def _namespace_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


class ResourceQuotaController(QueueController):
    """Keeps every quota's status (its limits and what is used of them) current."""

    component = "resourcequota-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        resync_seconds: float = FULL_RESYNC_SECONDS,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        super().__init__(client, informers, queue="resourcequota_primary", workers=WORKERS)
        self.resync_seconds = resync_seconds
        self.clock = clock
        self.quotas = self.informers.informer(RESOURCE_QUOTAS)
        self.quotas.add_indexer(_NAMESPACE_INDEX, by_namespace)
        self.quotas.add_handler(self._on_quota, with_old=True)
        # group resource -> the informer of what quota counts of it.
        self._counted: dict[str, Informer] = {}
        for resource in (PODS, SERVICES, PERSISTENT_VOLUME_CLAIMS, RESOURCE_QUOTAS):
            self._watch(resource.group_resource, self.informers.informer(resource))
        self._lock = asyncio.Lock()

    def caches(self) -> Sequence[Informer]:
        return (self.quotas, *self._counted.values())

    def alongside(self) -> list[Coroutine[Any, Any, None]]:
        return [self._resync()]

    # --- events -----------------------------------------------------------------------------

    def _on_quota(self, event_type: str, quota: Obj, old: Obj | None) -> None:
        """A new quota, or one whose limits changed, is counted at once; so is one whose
        status does not yet hold its limits (written meanwhile by someone else)."""
        if event_type == "DELETED":
            return
        spec_hard = resources.parse((quota.get("spec") or {}).get("hard"))
        if old is not None:
            old_hard = resources.parse((old.get("spec") or {}).get("hard"))
            if resources.equals(spec_hard, old_hard) and not _needs_status(quota):
                return
        self.queue.add(key_of(quota))

    def _watch(self, group_resource: str, informer: Informer) -> None:
        informer.add_indexer(_NAMESPACE_INDEX, by_namespace)
        self._counted[group_resource] = informer

        def on_change(event_type: str, obj: Obj, old: Obj | None) -> None:
            if event_type == "DELETED" or (
                event_type == "MODIFIED"
                and old is not None
                and self._stops_counting(group_resource, old, obj)
            ):
                self._replenish(_namespace_of(obj), group_resource)

        informer.add_handler(on_change, with_old=True)

    def _stops_counting(self, group_resource: str, old: Obj, new: Obj) -> bool:
        """DefaultUpdateFilter: the changes that give quota back short of a delete."""
        if group_resource == "pods":
            pods = evaluators.PodEvaluator(self.clock)
            return pods.counts_compute(old) and not pods.counts_compute(new)
        if group_resource == "services":
            return _quota_service_type(old) != _quota_service_type(new)
        if group_resource == "persistentvolumeclaims":
            return evaluators.PersistentVolumeClaimEvaluator().handles(
                evaluators.UPDATE, "status", new, old
            )
        return False

    def _replenish(self, namespace: str, group_resource: str) -> None:
        """replenishQuota: recount the namespace's quotas that count this resource."""
        evaluator = evaluators.evaluator_for(group_resource, self.clock)
        for quota in self.quotas.by_index(_NAMESPACE_INDEX, namespace):
            hard = (quota.get("status") or {}).get("hard") or {}
            if evaluator.matching_resources(hard):
                self.queue.add(key_of(quota))

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            for quota in self.quotas.list():
                self.queue.add(key_of(quota))

    # --- counting ---------------------------------------------------------------------------

    async def _informer_for(self, group_resource: str) -> Informer | None:
        """The synced informer of a counted resource, watched from now on if it was not; None
        for a resource the API server does not serve in namespaces."""
        informer = self._counted.get(group_resource)
        if informer is None:
            async with self._lock:
                informer = self._counted.get(group_resource)
                if informer is None:
                    resource = await self._discover(group_resource)
                    if resource is None:
                        return None
                    informer = self.informers.informer(resource, metadata_only=True)
                    self._watch(group_resource, informer)
                    self.informers.start()
        await informer.wait_synced()
        return informer

    async def _discover(self, group_resource: str) -> Resource | None:
        plural, _, group = group_resource.partition(".")
        for resource in await self.client.api_resources():
            if (
                resource.plural == plural
                and resource.group == group
                and resource.namespaced
                and "list" in resource.verbs
                and "watch" in resource.verbs
            ):
                return resource
        return None

    async def sync(self, key: str) -> float | None:
        """syncResourceQuota: the status's limits from the spec, its usage recounted."""
        quota = self.quotas.get(key)
        if quota is None:
            return None
        namespace = _namespace_of(quota)
        spec = quota.get("spec") or {}
        status = quota.get("status") or {}
        hard_json = dict(spec.get("hard") or {})
        hard = resources.parse(hard_json)
        dirty = (
            not resources.equals(hard, resources.parse(status.get("hard")))
            or status.get("hard") is None
            or status.get("used") is None
        )
        previous = resources.parse(status.get("used"))
        counters = evaluators.evaluators_for_quota(hard, self.clock)
        listed: dict[str, list[Obj] | None] = {}
        for evaluator in counters:
            if evaluator.matching_resources(hard):
                informer = await self._informer_for(evaluator.group_resource)
                listed[evaluator.group_resource] = (
                    informer.by_index(_NAMESPACE_INDEX, namespace) if informer else None
                )
        usage = evaluators.calculate_usage(
            hard,
            counters,
            lambda group_resource: listed.get(group_resource),
            [str(s) for s in spec.get("scopes") or ()],
            spec.get("scopeSelector"),
        )
        used = resources.mask({**previous, **usage}, hard)
        if not dirty and resources.equals(used, previous):
            return None
        body = meta.clone(quota)
        body["status"] = {"hard": hard_json, "used": resources.to_json(used)}
        with contextlib.suppress(APINotFoundError):  # deleted meanwhile
            await self.client.update(
                RESOURCE_QUOTAS, body, namespace=namespace, subresource="status"
            )
        return None


def _needs_status(quota: Obj) -> bool:
    """Whether the status lacks the spec's limits or a usage of one of them (the controller's
    missingUsageQueue)."""
    spec_hard = resources.parse((quota.get("spec") or {}).get("hard"))
    status = quota.get("status") or {}
    if not resources.equals(spec_hard, resources.parse(status.get("hard"))):
        return True
    used = status.get("used") or {}
    return any(name not in used for name in spec_hard)


def _quota_service_type(service: Obj) -> str:
    """GetQuotaServiceType: the types quota counts apart."""
    kind = (service.get("spec") or {}).get("type")
    return kind if kind in ("NodePort", "LoadBalancer") else ""
