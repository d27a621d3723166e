"""The ResourceQuota admission plugin (`k8s.io/apiserver/pkg/admission/plugin/resourcequota`).

Validating, and the last validating check of every namespaced resource: by then the object is
what will be stored, so what it uses is what it will use. For each quota of the namespace
that counts the resource (and whose scopes take the object in), the request's usage (on an
update, only what it adds) is added to the quota's `status.used` and compared with its
`status.hard`:

- a pod that leaves unset a compute resource the quota tracks is refused:
  `pods "web" is forbidden: failed quota: q: must specify limits.cpu for: app`;
- a quota whose status does not yet say what is used of what it limits refuses everything it
  counts: `status unknown for quota: q, resources: pods` (a quota the controller has not yet
  seen at all has no `status.hard`, limits nothing yet, and refuses nothing);
- too much is refused: `exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`.

Otherwise the new usage is written to each quota's status before the object is stored, through
the quota's /status with the optimistic revision check: a concurrent create charged first makes
the write conflict, and the charge is checked again against the quota as that create left it.
That is how two creates at once cannot both take the last pod of a quota; Kubernetes gets the
same from its per-namespace work queue and its conflict retries. The quota controller later
recounts what is really used, which gives back what a refused or failed write had charged.

A dry run is checked like any other request but charged nothing (`current_dry_run`), as
Kubernetes skips the status write for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import errors, meta
from kubelite.api.kinds import ResourceType
from kubelite.api.quota import resources
from kubelite.api.quota.evaluators import IGNORED_RESOURCES, UPDATE, Evaluator, evaluator_for
from kubelite.api.quota.resources import ResourceList
from kubelite.api.types import Obj
from kubelite.apiserver import live_lookup
from kubelite.apiserver.auth import current_request
from kubelite.apiserver.registry.generic import ListOptions, ResourceStore, current_dry_run


@dataclass
class _Request:
    """One request as quota sees it: the object, what it was, and how it is counted."""

    resource: ResourceType
    evaluator: Evaluator
    operation: str
    subresource: str
    obj: Obj
    old: Obj | None
    _usage: ResourceList | None = field(default=None, init=False)

    def forbidden(self, message: str) -> errors.StatusError:
        """admission.NewForbidden: `pods "web" is forbidden: <message>`."""
        return errors.forbidden(
            self.resource.plural, meta.name_of(self.obj), message, self.resource.group
        )

    def admits(self, quota: Obj) -> bool:
        """Whether the quota counts this object at all; refuses when the object lacks what
        the quota insists on, or the quota's usage of it is not known yet."""
        if not self.evaluator.matches(quota, self.obj):
            return False
        status = quota.get("status") or {}
        hard = status.get("hard") or {}
        used = status.get("used") or {}
        restricted = self.evaluator.matching_resources(hard)
        name = meta.name_of(quota)
        problem = self.evaluator.constraints(restricted, self.obj)
        if problem:
            raise self.forbidden(f"failed quota: {name}: {problem}")
        # hasUsageStats: every limit this object counts under has a used amount.
        if any(r not in used for r in restricted):
            raise self.forbidden(
                f"status unknown for quota: {name}, resources: "
                f"{resources.pretty_print_names(restricted)}"
            )
        return True

    def usage(self) -> ResourceList:
        """What the object uses; never negative (a negative request would free quota)."""
        if self._usage is None:
            usage = self.evaluator.usage(self.obj)
            negative = resources.negative_names(usage)
            if negative:
                raise self.forbidden(
                    "quota usage is negative for resource(s): "
                    f"{resources.pretty_print_names(negative)}"
                )
            self._usage = usage
        return self._usage

    def delta(self, quota: Obj) -> ResourceList:
        """What this request adds to the quota: all of its usage, or on an update of an object
        the quota already counted, only what grew."""
        usage = self.usage()
        old = self.old
        if (
            self.operation == UPDATE
            and old is not None
            and meta.get_path(old, "metadata", "resourceVersion")
            and self.evaluator.matches(quota, old)
        ):
            usage = resources.subtract_with_non_negative_result(usage, self.evaluator.usage(old))
        return resources.remove_zeros(usage)

    def charge(self, quota: Obj, delta: ResourceList) -> ResourceList | None:
        """The quota's used amounts with `delta` added, or None when it limits none of it;
        refuses what goes beyond its hard limits (a /status write is charged, never refused)."""
        status = quota.get("status") or {}
        hard = resources.parse(status.get("hard"))
        used = resources.parse(status.get("used"))
        requested = resources.mask(delta, hard)
        if not requested:
            return None
        new_used = resources.add(used, requested)
        if self.subresource != "status":
            within, exceeded = resources.less_than_or_equal(
                resources.mask(new_used, requested), hard
            )
            if not within:
                raise self.forbidden(
                    f"exceeded quota: {meta.name_of(quota)}, "
                    f"requested: {resources.pretty_print(resources.mask(requested, exceeded))}, "
                    f"used: {resources.pretty_print(resources.mask(used, exceeded))}, "
                    f"limited: {resources.pretty_print(resources.mask(hard, exceeded))}"
                )
        return new_used


class ResourceQuotaAdmission:
    """The validating admission of quota, for every namespaced resource.

    `quotas` is the ResourceQuota storage, set once the server's storages exist (they are
    made after their admission checks).
    """

    def __init__(self, *, clock: Callable[[], dt.datetime] = meta.now) -> None:
        self.quotas: ResourceStore | None = None
        self.clock = clock
        # A namespace's quotas from the watch cache; live only when it has none (liveTTL).
        self._listings = live_lookup.EmptyListings()

    async def __call__(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        if self.quotas is None or not resource.namespaced:
            return
        if resource.group_resource in IGNORED_RESOURCES:
            return
        info = current_request.get()
        subresource = info.subresource if info is not None else ""
        evaluator = evaluator_for(resource.group_resource, self.clock)
        if not evaluator.handles(operation, subresource, obj, old):
            return
        namespace = meta.namespace_of(obj)
        quotas = self.quotas

        async def recent() -> list[Obj]:
            return (await quotas.list(namespace, ListOptions(resource_version="0"))).items

        async def live() -> list[Obj]:
            return (await quotas.list(namespace, ListOptions())).items

        items = await self._listings.items(namespace, recent, live)
        if not items:
            return
        request = _Request(resource, evaluator, operation, subresource, obj, old)
        # Every quota is checked before any is charged, so that a refusal charges nothing.
        counting = [q for q in items if request.admits(q)]
        charges = []
        for quota in counting:
            delta = request.delta(quota)
            if delta and request.charge(quota, delta) is not None:
                charges.append((meta.name_of(quota), delta))
        if current_dry_run.get():
            return  # checked, as Kubernetes checks a dry run, but not charged
        for name, delta in charges:
            await self._charge(self.quotas, namespace, name, request, delta)

    @staticmethod
    async def _charge(
        quotas: ResourceStore, namespace: str, name: str, request: _Request, delta: ResourceList
    ) -> None:
        """Write the charge to the quota's status, checked again against the quota as stored:
        a write that lost the race to another is retried on the newer quota."""

        async def mutate(current: Obj | None) -> Obj | None:
            if current is None or not request.admits(current):
                return None  # deleted, or changed so as not to count this any more
            new_used = request.charge(current, delta)
            if new_used is None:
                return None
            current.setdefault("status", {})["used"] = resources.to_json(new_used)
            # No precondition of our own: a conflict re-reads the quota and charges again.
            current["metadata"].pop("resourceVersion", None)
            return current

        try:
            await quotas.update(namespace, name, mutate, subresource="status")
        except errors.StatusError as e:
            if e.code != 404:
                raise
