"""What one sync of a StatefulSet does: Kubernetes' `stateful_set_control.go`.

Given the set, the pods it owns and its ControllerRevisions, `StatefulSetControl.update`:

1. finds the update revision (the set's present template; a new ControllerRevision, or an
   equal older one renumbered) and the current revision (status.currentRevision);
2. sorts the pods into replicas (ordinals start .. start+replicas-1; missing ones are planned,
   at the current revision below the partition, else at the update revision) and condemned
   (valid ordinals outside that range, highest first);
3. goes through the replicas in ordinal order: a failed or succeeded pod is deleted (and made
   again on a later sync), a missing one is created (claims first), a pod whose identity,
   storage or claim owners drifted is repaired. With OrderedReady (monotonic) management the
   walk stops at the first pod it created, or that is terminating, not Running and Ready, or
   not available for minReadySeconds; with Parallel it does them all at once;
4. then fixes the condemned pods' claim owners and deletes the condemned: in monotonic mode one
   at a time from the highest ordinal, and only once every other pod is healthy;
5. under RollingUpdate, deletes pods (at or above the partition) that are not at the update
   revision, highest ordinal first, as long as no more than `rollingUpdate.maxUnavailable`
   replicas are unavailable (update_within_budget); OnDelete leaves that to the user;
6. once every replica is at the update revision and ready, makes it the current revision
   (under either strategy, kubernetes#136833), writes the status (when it changed) and prunes
   the history beyond revisionHistoryLimit.

A revision is the set's template when its recorded template equals it byte for byte, or,
failing that, semantically once both are defaulted (StatefulSetSemanticRevisionComparison, beta
and on, kubernetes#135017): a revision written before a field was defaulted, or
serialized differently, does not roll the pods.

MaxUnavailableStatefulSet is beta and on in 1.37 (#139466, after its 1.35 regression was fixed
by #137666), so step 5 is `updateStatefulSetAfterInvariantEstablished` whatever the field says
(unset, it is 1: one pod at a time).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from kubelite.api import meta
from kubelite.api.types import Obj
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.controllers import statefulset_pods as sp
from kubelite.controllers import statefulset_revisions as revs
from kubelite.controllers.deployment_util import scaled_value
from kubelite.controllers.podutil import is_terminating
from kubelite.controllers.statefulset_podcontrol import ClaimError, StatefulPodControl

log = logging.getLogger(__name__)

# The most pods one Parallel batch sends at once (MaxBatchSize).
MAX_BATCH_SIZE = 500
STATUS_COUNTERS = (
    "replicas",
    "readyReplicas",
    "currentReplicas",
    "updatedReplicas",
    "availableReplicas",
)


class History(Protocol):
    """ControllerRevision writes (history.Interface)."""

    async def create(self, sset: Obj, revision: Obj, collision_count: int) -> tuple[Obj, int]:
        """Create `revision`, renaming it while its name is taken by other data; the revision
        made (or an equal one found) and the collision count reached."""
        ...

    async def renumber(self, revision: Obj, number: int) -> Obj: ...

    async def delete(self, revision: Obj) -> None: ...


StatusWriter = Callable[[Obj, Obj], Awaitable[None]]
Step = Callable[[int], Awaitable[bool]]


async def run_for_all(count: int, step: Step, monotonic: bool) -> bool:
    """Run `step` for each index: in order, stopping when one says so (monotonic), or in
    slow-start batches of 1, 2, 4 ... that stop at the first batch with a failure. Whether the
    sync should stop here; a failure is raised."""
    if monotonic:
        for i in range(count):
            if await step(i):
                return True
        return False
    done, batch = 0, min(count, 1)
    while batch > 0:
        results = await asyncio.gather(
            *(step(i) for i in range(done, done + batch)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        done += batch
        batch = min(2 * batch, count - done, MAX_BATCH_SIZE)
    return False


def replica_status(
    pods: list[Obj], min_ready: int, current: str, update: str, now: dt.datetime
) -> dict[str, int]:
    """The counters of status from these pods (computeReplicaStatus)."""
    counts = dict.fromkeys(STATUS_COUNTERS, 0)
    for pod in pods:
        created = sp.is_created(pod)
        if created:
            counts["replicas"] += 1
        if sp.is_running_and_ready(pod):
            counts["readyReplicas"] += 1
            if sp.is_available(pod, min_ready, now):
                counts["availableReplicas"] += 1
        if created and not is_terminating(pod):
            revision = sp.pod_revision(pod)
            if revision == current:
                counts["currentReplicas"] += 1
            if revision == update:
                counts["updatedReplicas"] += 1
    return counts


def complete_rolling_update(sset: Obj, status: Obj) -> None:
    """Once every replica is updated and ready, the update revision becomes the current one,
    whatever the update strategy: with OnDelete too once the user has recreated every pod
    (kubernetes#136833, 1.37; before, an OnDelete set's currentRevision never moved)."""
    replicas = sp.replicas_of(sset)
    if (
        status["updatedReplicas"] == replicas
        and status["readyReplicas"] == replicas
        and status["replicas"] == replicas
    ):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = status["updateRevision"]


def inconsistent_status(sset: Obj, status: Obj) -> bool:
    """Whether the status differs from the set's in what the controller writes."""
    old = sset.get("status") or {}
    if int(status["observedGeneration"]) > int(old.get("observedGeneration") or 0):
        return True
    if any(int(old.get(name) or 0) != status[name] for name in STATUS_COUNTERS):
        return True
    return any(
        (old.get(name) or "") != status[name] for name in ("currentRevision", "updateRevision")
    )


def max_unavailable(sset: Obj) -> int:
    """getStatefulSetMaxUnavailable: `rollingUpdate.maxUnavailable` (1 when unset) against
    spec.replicas, a percentage rounded down, and never below 1. Raises ValueError on a value
    that is neither a number nor a percentage."""
    rolling = (sp.spec_of(sset).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable")
    scaled = scaled_value(1 if value is None else value, sp.replicas_of(sset), False)
    return max(scaled, 1)


def update_within_budget(
    sset: Obj, replicas: list[Obj], update_revision: str, now: dt.datetime
) -> list[Obj]:
    """The replicas a rolling update deletes in this sync, in order
    (updateStatefulSetAfterInvariantEstablished).

    Every replica that is unavailable (not ready for minReadySeconds, or terminating) uses up
    the maxUnavailable budget, wherever its ordinal; what is left of the budget goes to old
    pods at or above the partition, highest ordinal first. With Parallel management an old
    pod that is unavailable anyway does not hold the update back (#137666): those are
    replaced first (at most maxUnavailable of them per sync), then available old pods within
    what is left of the budget."""
    spec = sp.spec_of(sset)
    min_ready = int(spec.get("minReadySeconds") or 0)
    rolling = (spec.get("updateStrategy") or {}).get("rollingUpdate") or {}
    update_min = int(rolling.get("partition") or 0)
    budget = max_unavailable(sset)
    parallel = sp.allows_burst(sset)

    def old(pod: Obj) -> bool:
        return sp.pod_revision(pod) != update_revision and not is_terminating(pod)

    unavailable = [p for p in replicas if sp.is_unavailable(p, min_ready, now)]
    needing_update = [p for p in unavailable if parallel and old(p)]
    if len(unavailable) >= budget and not needing_update:
        return []
    candidates = [replicas[t] for t in range(len(replicas) - 1, update_min - 1, -1)]
    if parallel:
        broken = [p for p in candidates if old(p) and not sp.is_available(p, min_ready, now)]
        healthy = [p for p in candidates if old(p) and sp.is_available(p, min_ready, now)]
        return broken[:budget] + healthy[: max(budget - len(unavailable), 0)]
    return [p for p in candidates if old(p)][: budget - len(unavailable)]


class StatefulSetControl:
    """One sync of one StatefulSet: creates, replaces and deletes its pods in order, rolls out
    updates, and writes its status and revisions."""

    def __init__(
        self,
        pod_control: StatefulPodControl,
        history: History,
        write_status: StatusWriter,
        clock: Callable[[], dt.datetime] = meta.now,
    ) -> None:
        self.pod_control = pod_control
        self.history = history
        self.write_status = write_status
        self.clock = clock

    async def update(
        self, sset: Obj, pods: list[Obj], revisions: list[Obj], now: dt.datetime | None = None
    ) -> Obj | None:
        """One sync of `sset`; the status it wrote (or found current), None if it got none.
        Availability is judged at `now` (the clock's time when not given), which the caller
        needs to know when to look again."""
        revisions = revs.sort_revisions(revisions)
        current: Obj | None = None
        update: Obj | None = None
        status: Obj | None = None
        error: BaseException | None = None
        try:
            current, update, collisions = await self._revisions(sset, revisions)
            status, error = await self._update_set(
                sset, current, update, collisions, pods, now or self.clock()
            )
            if status is not None:
                complete_rolling_update(sset, status)
                if inconsistent_status(sset, status):
                    await self.write_status(sset, status)
        except (APIError, ClaimError) as e:
            error = error or e
        live = {meta.name_of(r) for r in (current, update) if r is not None}
        for revision in revs.history_to_prune(sset, pods, revisions, live):
            try:
                await self.history.delete(revision)
            except APINotFoundError:
                continue
        if error is not None:
            raise error
        return status

    # --- revisions ------------------------------------------------------------------------------

    async def _revisions(self, sset: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """(current, update, collision count): getStatefulSetRevisions."""
        collisions = int((sset.get("status") or {}).get("collisionCount") or 0)
        wanted = revs.new_revision(sset, revs.next_revision_number(revisions), collisions)
        equal = [r for r in revisions if revs.describes_set(r, wanted, sset)]
        if equal and revs.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]  # The template has not changed.
        elif equal:
            # Back to an earlier template: that revision becomes the newest.
            update = await self.history.renumber(equal[-1], int(wanted["revision"]))
        else:
            update, collisions = await self.history.create(sset, wanted, collisions)
        name = (sset.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if meta.name_of(r) == name), None)
        return current or update, update, collisions

    # --- pods -----------------------------------------------------------------------------------

    async def _update_set(
        self,
        sset: Obj,
        current: Obj,
        update: Obj,
        collisions: int,
        pods: list[Obj],
        now: dt.datetime,
    ) -> tuple[Obj, BaseException | None]:
        """updateStatefulSet: the status, and the first failure, if any."""
        spec = sp.spec_of(sset)
        min_ready = int(spec.get("minReadySeconds") or 0)
        current_set = revs.apply_revision(sset, current)
        update_set = revs.apply_revision(sset, update)
        current_name, update_name = meta.name_of(current), meta.name_of(update)
        status: Obj = {
            "observedGeneration": int((sset.get("metadata") or {}).get("generation") or 0),
            "currentRevision": current_name,
            "updateRevision": update_name,
            "collisionCount": collisions,
        }

        def recount(*lists: list[Obj]) -> None:
            counts = dict.fromkeys(STATUS_COUNTERS, 0)
            for pod_list in lists:
                for name, value in replica_status(
                    pod_list, min_ready, current_name, update_name, now
                ).items():
                    counts[name] += value
            status.update(counts)

        recount(pods)
        start, count = sp.start_ordinal(sset), sp.replicas_of(sset)
        replicas: list[Obj | None] = [None] * max(count, 0)
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = sp.ordinal_of(pod)
            if sp.in_ordinal_range(pod, sset):
                replicas[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        planned: list[Obj] = [
            pod
            if pod is not None
            else sp.new_versioned_pod(current_set, update_set, current_name, update_name, i + start)
            for i, pod in enumerate(replicas)
        ]
        condemned.sort(key=sp.ordinal_of, reverse=True)
        first_unhealthy = next(
            (p for p in planned if sp.is_unavailable(p, min_ready, now)), None
        ) or next((p for p in reversed(condemned) if sp.is_unavailable(p, min_ready, now)), None)

        if (sset.get("metadata") or {}).get("deletionTimestamp"):
            return status, None
        monotonic = not sp.allows_burst(sset)

        async def process_replica(i: int) -> bool:
            return await self._process_replica(sset, update_set, monotonic, planned[i], now)

        async def fix_claims(i: int) -> bool:
            if not self.pod_control.claims_match_retention_policy(update_set, condemned[i]):
                await self.pod_control.update_claims_for_retention(update_set, condemned[i])
            return False

        async def process_condemned(i: int) -> bool:
            return await self._process_condemned(
                sset, first_unhealthy, monotonic, condemned[i], min_ready, now
            )

        try:
            for step, items in (
                (process_replica, planned),
                (fix_claims, condemned),
                (process_condemned, condemned),
            ):
                if await run_for_all(len(items), step, monotonic):
                    recount(planned, condemned)
                    return status, None
        except (APIError, ClaimError) as e:
            recount(planned, condemned)
            return status, e
        recount(planned, condemned)

        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") == sp.ON_DELETE:
            return status, None
        try:
            doomed = update_within_budget(sset, planned, update_name, now)
        except ValueError as e:
            log.warning("StatefulSet %s/%s: %s", meta.namespace_of(sset), meta.name_of(sset), e)
            return status, None
        for pod in doomed:
            log.info(
                "StatefulSet %s/%s: terminating pod %s for update",
                meta.namespace_of(sset),
                meta.name_of(sset),
                meta.name_of(pod),
            )
            status["currentReplicas"] -= 1
            try:
                await self.pod_control.delete_pod(sset, pod)
            except APINotFoundError:
                pass
            except APIError as e:
                return status, e
        return status, None

    async def _process_replica(
        self, sset: Obj, update_set: Obj, monotonic: bool, pod: Obj, now: dt.datetime
    ) -> bool:
        """processReplica: whether a monotonic walk stops at this pod."""
        min_ready = int(sp.spec_of(sset).get("minReadySeconds") or 0)
        if sp.phase_of(pod) in ("Failed", "Succeeded"):
            # Replaced whatever its exit code: a pod of a set is meant to run for ever.
            if not is_terminating(pod):
                await self.pod_control.delete_pod(sset, pod)
            return True
        if not sp.is_created(pod):
            if self.pod_control.claim_is_stale(sset, pod):
                return True  # Its old claim is still being deleted.
            await self.pod_control.create_pod(sset, pod)
            if monotonic:
                return True
        if sp.phase_of(pod) == "Pending":
            await self.pod_control.create_missing_claims(sset, pod)
        if monotonic and (
            is_terminating(pod)
            or not sp.is_running_and_ready(pod)
            or not sp.is_available(pod, min_ready, now)
        ):
            return True
        if (
            sp.identity_matches(sset, pod)
            and sp.storage_matches(sset, pod)
            and self.pod_control.claims_match_retention_policy(update_set, pod)
        ):
            return False
        await self.pod_control.update_pod(update_set, pod)
        return False

    async def _process_condemned(
        self,
        sset: Obj,
        first_unhealthy: Obj | None,
        monotonic: bool,
        pod: Obj,
        min_ready: int,
        now: dt.datetime,
    ) -> bool:
        """processCondemned: delete one pod beyond the replicas, highest ordinal first."""
        if is_terminating(pod):
            return monotonic  # Wait for it to go before the next.
        healthy = sp.is_running_and_ready(pod) and sp.is_available(pod, min_ready, now)
        if monotonic and pod is not first_unhealthy and not healthy:
            return True  # An unhealthy pod goes first; a healthy one waits for the rest.
        log.info(
            "StatefulSet %s/%s: terminating pod %s for scale down",
            meta.namespace_of(sset),
            meta.name_of(sset),
            meta.name_of(pod),
        )
        await self.pod_control.delete_pod(sset, pod)
        return True
