"""pods/<name>/eviction: a delete that first asks the pod's PodDisruptionBudget.

Kubernetes' `pkg/registry/core/pod/storage/eviction.go` (EvictionREST), in the same steps:

1. A pod that has already caused its disruption (Succeeded, Failed), that is not running yet
   (Pending), or that is already being deleted is deleted without asking any budget. A Pending
   pod is deleted only at the resourceVersion read, so that it cannot become ready meanwhile.
2. Otherwise the budgets of its namespace whose selector matches it are found. More than one is
   a 500 Kubernetes leaves to the user to sort out; none, and the pod is simply deleted.
3. A pod that is not ready does not count as healthy, so deleting it takes nothing from the
   budget: with `unhealthyPodEvictionPolicy: AlwaysAllow` always, by default (IfHealthyBudget)
   only while the budget has the healthy pods it wants. Such a delete is again made at the
   resourceVersion read; if the pod changed meanwhile the answer is a 429 to retry.
4. Any other pod takes one disruption from the budget's status, in one conditional write that
   is retried against the newer budget when another writer got in first: refused with a 429
   when none is left (or the controller has not seen the budget's latest spec), else
   `disruptionsAllowed` goes down by one and the pod is recorded in `disruptedPods`, so that
   the disruption controller does not count it as healthy before it sees the delete.

Every delete is preceded by the pod's `DisruptionTarget` condition (reason
`EvictionByEvictionAPI`), written through the pod's status, as the PodDisruptionConditions
feature (on by default since 1.26, GA in 1.31) does. A dry run checks everything and writes
nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kubelite.api import errors, meta
from kubelite.api import poddisruptionbudget as pdbs
from kubelite.api.conditions import update_pod_condition
from kubelite.api.pods import is_pod_ready, observed_by
from kubelite.api.types import Obj
from kubelite.apiserver import fieldmanager, options
from kubelite.apiserver.registry.generic import DeleteOptions, ListOptions, ResourceStore
from kubelite.apiserver.registry.interfaces import KindRef, success

# MaxDisruptedPodSize: evictions approved but not yet seen by the disruption controller.
MAX_DISRUPTED_POD_SIZE = 2000
# EvictionsRetry: 20 tries, half a second apart, for conflicts on the pod.
RETRY_STEPS = 20
RETRY_INTERVAL = 0.5
# The condition the pod gets before it is deleted.
DISRUPTION_TARGET = "DisruptionTarget"
EVICTION_REASON = "EvictionByEvictionAPI"
EVICTION_MESSAGE = "Eviction API: evicting"
VIOLATION_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS_MESSAGE = (
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
    "support."
)
# The field manager Kubernetes records for a budget's status written by an eviction: the API
# server's own loopback client.
STATUS_MANAGER = "kube-apiserver"
EVICTION = KindRef("policy", "v1", "Eviction")
_TERMINAL = ("Succeeded", "Failed")


def can_ignore_budget(pod: Obj) -> bool:
    """Finished, not started, or already going: no budget is asked (canIgnorePDB)."""
    phase = meta.get_path(pod, "status", "phase")
    return phase in (*_TERMINAL, "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def should_enforce_resource_version(pod: Obj) -> bool:
    """Whether a budget-free delete must be of the pod as read: a Pending pod may become ready
    in between (shouldEnforceResourceVersion)."""
    phase = meta.get_path(pod, "status", "phase")
    return phase not in _TERMINAL and not pod["metadata"].get("deletionTimestamp")


def unhealthy_pod_may_go(pod: Obj, pdb: Obj) -> bool:
    """A pod that is not ready may be deleted without taking from the budget: always with
    AlwaysAllow, else while the budget has the healthy pods it wants."""
    if is_pod_ready(pod):
        return False
    if meta.get_path(pdb, "spec", "unhealthyPodEvictionPolicy") == pdbs.ALWAYS_ALLOW:
        return True
    status = pdb.get("status") or {}
    desired = int(status.get("desiredHealthy") or 0)
    return int(status.get("currentHealthy") or 0) >= desired and desired > 0


def too_many_requests(message: str, cause: str, retry_after: int = 0) -> errors.StatusError:
    """errors.NewTooManyRequests with a DisruptionBudget cause."""
    details: Obj = {"causes": [{"reason": pdbs.DISRUPTION_BUDGET_CAUSE, "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return errors.StatusError(429, errors.REASON_TOO_MANY_REQUESTS, message, details)


def still_processing(name: str) -> errors.StatusError:
    """The budget is behind its spec, or the pod changed under an unhealthy-pod delete."""
    return too_many_requests(
        VIOLATION_MESSAGE,
        f"The disruption budget {name} is still being processed by the server.",
        retry_after=10,
    )


def check_and_decrement(pdb: Obj, pod_name: str, now: Any) -> Obj:
    """The budget with one disruption taken for `pod_name` (checkAndDecrement), or the refusal.

    `pdb` is changed in place and returned; `disruptedPods` gets the pod at `now`.
    """
    name = meta.name_of(pdb)
    status = pdb.setdefault("status", {})
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
        raise still_processing(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise errors.forbidden(
            "poddisruptionbudget", name, "pdb disruptions allowed is negative", "policy"
        )
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        raise errors.forbidden(
            "poddisruptionbudget",
            name,
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            "policy",
        )
    if allowed == 0:
        raise too_many_requests(
            VIOLATION_MESSAGE,
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
            f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently",
        )
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        pdbs.update_disruption_allowed_condition(status, now)
    disrupted = status.get("disruptedPods")
    if not isinstance(disrupted, dict):
        disrupted = status["disruptedPods"] = {}
    disrupted[pod_name] = meta.format_time(now)
    return pdb


def mark_disruption_target(pod: Obj, now: Any) -> None:
    """Add (or refresh) the DisruptionTarget condition, in place (UpdatePodCondition)."""
    update_pod_condition(
        pod,
        observed_by(
            {
                "type": DISRUPTION_TARGET,
                "status": "True",
                "lastProbeTime": None,
                "reason": EVICTION_REASON,
                "message": EVICTION_MESSAGE,
            },
            pod,
        ),
        now,
    )


class Eviction:
    """One eviction request against the pods' and the budgets' storage."""

    def __init__(
        self,
        pods: ResourceStore,
        budgets: ResourceStore,
        namespace: str,
        name: str,
        opts: DeleteOptions,
        *,
        on_budget_written: Callable[[Obj, Obj | None], None] | None = None,
    ) -> None:
        self.pods = pods
        self.budgets = budgets
        self.namespace = namespace
        self.name = name
        self.opts = opts
        # Called with (new, old) before a budget's status is stored (managedFields).
        self.on_budget_written = on_budget_written

    async def run(self) -> Obj | None:
        """Evict; None when done, or the failure Status Kubernetes answers without an error."""
        pod = await self._delete_if_no_budget_applies()
        if pod is None:
            return None
        listing = await self.budgets.list(self.namespace, ListOptions())
        covering = pdbs.budgets_for(listing.items, pod)
        if len(covering) > 1:
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": MULTIPLE_BUDGETS_MESSAGE,
                "code": 500,
            }
        opts = self.opts
        at_read_version = False
        if covering:
            pdb = covering[0]
            if unhealthy_pod_may_go(pod, pdb):
                at_read_version = True
            else:
                await self._take_disruption(pdb)
        if at_read_version:
            opts = dataclasses.replace(opts, precondition_rv=pod["metadata"]["resourceVersion"])
        try:
            await self._mark_and_delete(opts)
        except errors.StatusError as e:
            if e.code == 409 and at_read_version and not self.opts.precondition_rv:
                raise still_processing(meta.name_of(covering[0])) from None
            raise
        return None

    async def _delete_if_no_budget_applies(self) -> Obj | None:
        """Delete a pod no budget guards (step 1); the pod read, when a budget must be asked."""
        retry = not self.opts.precondition_rv
        for attempt in range(RETRY_STEPS):
            pod = await self.pods.get(self.namespace, self.name)
            if not can_ignore_budget(pod):
                return pod
            opts = self.opts
            if should_enforce_resource_version(pod) and not opts.precondition_rv:
                opts = dataclasses.replace(opts, precondition_rv=pod["metadata"]["resourceVersion"])
            try:
                await self._mark_and_delete(opts)
                return None
            except errors.StatusError as e:
                if e.code != 409 or not retry or attempt == RETRY_STEPS - 1:
                    raise
            await asyncio.sleep(RETRY_INTERVAL)
        raise AssertionError("unreachable")

    async def _take_disruption(self, listed: Obj) -> None:
        """checkAndDecrement against the stored budget, retried on conflicts by the store."""
        now = meta.now()
        if self.opts.dry_run:
            check_and_decrement(meta.clone(listed), self.name, now)
            return
        budget_name = meta.name_of(listed)

        async def decrement(current: Obj | None) -> Obj:
            if current is None:
                raise self.budgets.not_found(budget_name)
            decremented = check_and_decrement(current, self.name, now)
            decremented["metadata"].pop("resourceVersion", None)
            return decremented

        await self.budgets.update(
            self.namespace,
            budget_name,
            decrement,
            subresource="status",
            on_prepared=self.on_budget_written,
        )

    async def _mark_and_delete(self, opts: DeleteOptions) -> None:
        """The DisruptionTarget condition on the latest pod, then the delete
        (addConditionAndDeletePod); a resourceVersion precondition follows our own write."""
        if not opts.dry_run:
            now = meta.now()

            async def mark(latest: Obj | None) -> Obj:
                if latest is None:
                    raise self.pods.not_found(self.name)
                md = latest["metadata"]
                if opts.precondition_uid and opts.precondition_uid != md.get("uid"):
                    raise errors.conflict(
                        "Pod",
                        self.name,
                        f"the UID in the precondition ({opts.precondition_uid}) does not match "
                        f"the UID in record ({md.get('uid')}). The object might have been "
                        "deleted and then recreated",
                    )
                if opts.precondition_rv and opts.precondition_rv != md.get("resourceVersion"):
                    raise errors.conflict(
                        "Pod",
                        self.name,
                        f"the ResourceVersion in the precondition ({opts.precondition_rv}) does "
                        f"not match the ResourceVersion in record ({md.get('resourceVersion')}). "
                        "The object might have been modified",
                    )
                mark_disruption_target(latest, now)
                md.pop("resourceVersion", None)
                return latest

            marked, _ = await self.pods.update(
                self.namespace, self.name, mark, subresource="status"
            )
            if opts.precondition_rv:
                opts = dataclasses.replace(
                    opts, precondition_rv=marked["metadata"]["resourceVersion"]
                )
        await self.pods.delete(self.namespace, self.name, opts)


class EvictionStore:
    """POST of `pods/<name>/eviction` over the pods' and the budgets' storage (EvictionREST)."""

    kind = EVICTION
    subresource = "eviction"

    def __init__(self, pods: ResourceStore, budgets: ResourceStore) -> None:
        self.pods = pods
        self.budgets = budgets

    async def create(
        self, namespace: str, name: str, body: Obj, query: Mapping[str, str]
    ) -> tuple[Obj, int]:
        """Evict the pod `name`: a 201 Status, or the refusal Kubernetes answers as a Status
        (a 500 for a pod under several budgets); a budget that allows no disruption is a 429
        raised as an error. DeleteOptions come from the query and the Eviction's own."""
        if meta.name_of(body) != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        opts = options.delete_options(query, body.get("deleteOptions"))
        budgets = self.budgets.resource
        failure = await Eviction(
            self.pods,
            self.budgets,
            namespace,
            name,
            opts,
            on_budget_written=lambda new, old: fieldmanager.track_update(
                budgets, old, new, STATUS_MANAGER, "status"
            ),
        ).run()
        if failure is not None:
            return failure, int(failure["code"])
        return success(201), 201
