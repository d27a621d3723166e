"""The Job controller: runs pods until enough of them succeed, or the Job gives up.

Kubernetes' `pkg/controller/job` (1.33). Handlers put Job keys on the queue (a Job changed, or
one of its pods did); `sync(key)` is level-triggered and idempotent:

1. claim the Job's pods (its selector, adoption and release as for ReplicaSets);
2. find the pods that finished since the last sync, still holding the
   `batch.kubernetes.io/job-tracking` finalizer: succeeded, failed (phase Failed, or being deleted
   unless the Job replaces only failed pods), and what the pod failure policy makes of each
   failure (`job_failure_policy`);
3. decide whether the Job is done: a FailJob rule, more failures than `backoffLimit` (or
   OnFailure restarts reaching it), `activeDeadlineSeconds` passed, too many failed indexes, a
   success policy met, or enough completions. A verdict is recorded first as the interim
   `FailureTarget` / `SuccessCriteriaMet` condition; the pods still running are deleted;
4. otherwise create or delete pods towards `parallelism` (never more than the completions
   left), after the back-off of recent failures (`job_backoff`); Indexed Jobs create the lowest
   pending indexes, each pod annotated and labelled with its index, given the hostname
   `<job>-<index>` and the `JOB_COMPLETION_INDEX` variable; a suspended Job deletes its pods
   and, once marked `Suspended`, loses its `startTime` (1.35+, so that its template may change
   until it resumes; a Job with nothing left to complete completes even while suspended);
5. account in two steps, so that no pod is counted twice or lost: the UIDs of newly finished
   pods go to `status.uncountedTerminatedPods` (Indexed Jobs: `status.completedIndexes`)
   in one status write, then their finalizers are removed, then they move to the
   `succeeded`/`failed` counters. Once nothing is uncounted or terminating, the terminal
   condition `Complete` or `Failed` is added (`job_status`), and an Event says so.

Expectations keep creates and deletes from being repeated before the informer shows them, as
for ReplicaSets; a per-Job set of pods whose finalizer was removed keeps a pod from being counted
again while the informer still shows its finalizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api import jobindexes, labels, meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.resources import JOBS, PODS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient, PatchType
from kubelite.client.errors import APIError, APINotFoundError
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.client.informer import Informer, by_controller_uid, by_namespace, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers import job_backoff, job_failure_policy, job_pods, job_status, podutil
from kubelite.controllers.expectations import Expectations
from kubelite.controllers.owners import controller_of, owners_selecting, recheck_owner, typed
from kubelite.controllers.podcontrol import PodControl, pod_from_template, slow_start_batch
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


WORKERS = 5
# MaxPodCreateDeletePerSync.
MAX_PODS_PER_SYNC = 500
# The managedBy value of Jobs this controller runs (others are left to their own controller).
JOB_CONTROLLER_NAME = "kubernetes.io/job-controller"
# names.MaxGeneratedNameLength: 63 less the 5 random characters.
MAX_GENERATE_NAME = 58
# Queue keys of orphaned pods whose tracking finalizer is to be removed.
ORPHAN_PREFIX = "orphan-pod:"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def generate_name_for(job_name: str, index: int | None) -> str:
    """The pods' generateName: `<job>-`, or `<job>-<index>-` cut to fit."""
    if index is None:
        return f"{job_name}-"
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATE_NAME:
        prefix = job_name[: MAX_GENERATE_NAME - len(suffix)] + suffix
    return prefix


def pod_template_for(job: Obj, index: int | None, failures: int = 0, ignored: int = 0) -> Obj:
    """The template of one pod of the Job: the tracking finalizer, and for Indexed Jobs the
    index (annotation, label, hostname, JOB_COMPLETION_INDEX) and, with a per-index backoff
    limit, the failures counted for the index so far."""
    template = meta.clone((job.get("spec") or {}).get("template") or {})
    md = template.setdefault("metadata", {})
    finalizers = md.setdefault("finalizers", [])
    if job_pods.TRACKING_FINALIZER not in finalizers:
        finalizers.append(job_pods.TRACKING_FINALIZER)
    if index is None:
        return template
    spec = template.setdefault("spec", {})
    annotations = md.setdefault("annotations", {})
    annotations[job_pods.COMPLETION_INDEX] = str(index)
    md.setdefault("labels", {})[job_pods.COMPLETION_INDEX] = str(index)
    if (job.get("spec") or {}).get("backoffLimitPerIndex") is not None:
        annotations[job_pods.INDEX_FAILURE_COUNT] = str(failures)
        if ignored:
            annotations[job_pods.INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    spec["hostname"] = f"{meta.name_of(job)}-{index}"
    field_path = f"metadata.annotations['{job_pods.COMPLETION_INDEX}']"
    for kind in ("initContainers", "containers"):
        for container in spec.get(kind) or ():
            env = container.setdefault("env", [])
            if not any(e.get("name") == job_pods.COMPLETION_INDEX_ENV for e in env):
                env.append(
                    {
                        "name": job_pods.COMPLETION_INDEX_ENV,
                        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": field_path}},
                    }
                )
    return template


@dataclass
class _Sync:
    """What one sync of one Job learned and decided (Kubernetes' syncJobCtx)."""

    key: str
    job: Obj
    pods: list[Obj]
    now: dt.datetime
    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    new_succeeded: list[Obj] = field(default_factory=list)
    new_failed: list[Obj] = field(default_factory=list)
    decisions: dict[str, job_failure_policy.Decision] = field(default_factory=dict)
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] | None = None
    finished: Obj | None = None
    backoff: job_backoff.BackoffRecord = field(default_factory=job_backoff.BackoffRecord)
    requeue: list[float] = field(default_factory=list)

    @property
    def spec(self) -> Obj:
        return self.job.get("spec") or {}

    @property
    def completions(self) -> int | None:
        return self.spec.get("completions")


class JobController(QueueController):
    """Runs each Job's pods until enough succeed or its limits are reached, tracking finished pods
    by finalizer so that none is counted twice."""

    resource = JOBS
    component = "job-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        super().__init__(client, informers, queue="job", workers=workers)
        self.clock = clock
        self.expectations = Expectations()
        self.backoff = job_backoff.BackoffStore()
        self.recorder = EventRecorder(client, self.component)
        self.pod_control = PodControl(client, self.recorder)
        # Pods whose tracking finalizer this controller removed, per Job key, until the
        # informer shows them without it.
        self._finalizers_removed: dict[str, set[str]] = {}
        self.jobs = self.informers.informer(JOBS)
        self.jobs.add_indexer("namespace", by_namespace)
        self.pods = self.informers.informer(PODS)
        self.pods.add_indexer("namespace", by_namespace)
        self.pods.add_indexer("controller", by_controller_uid)
        self.jobs.add_handler(self._on_job, with_old=True)
        self.pods.add_handler(self._on_pod, with_old=True)

    # --- handlers -----------------------------------------------------------------------------

    def _on_job(self, event_type: str, job: Obj, old: Obj | None) -> None:
        key = key_of(job)
        if event_type == "DELETED":
            self.expectations.forget(key)
            self.backoff.forget(key)
            self._finalizers_removed.pop(key, None)
            # Its pods lose their tracking finalizer, or they would stay for ever.
            for pod in self.pods.by_index("controller", job["metadata"].get("uid", "")):
                if job_pods.has_tracking_finalizer(pod):
                    self.queue.add(ORPHAN_PREFIX + key_of(pod))
            return
        self.queue.add(key)

    def _job_of(self, pod: Obj) -> Obj | None:
        return controller_of(self.jobs, pod, "Job")

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        job = self._job_of(pod)
        if job is None:
            orphan = podutil.controller_ref(pod) is None or self.jobs.synced
            if job_pods.has_tracking_finalizer(pod) and event_type != "DELETED" and orphan:
                self.queue.add(ORPHAN_PREFIX + key_of(pod))
            if event_type != "DELETED" and podutil.controller_ref(pod) is None:
                for candidate in self._matching_jobs(pod):
                    self.queue.add(key_of(candidate))
            return
        key = key_of(job)
        pod_key = key_of(pod)
        uid = pod["metadata"].get("uid", "")
        if event_type == "DELETED" or not job_pods.has_tracking_finalizer(pod):
            self._finalizers_removed.get(key, set()).discard(uid)
        if event_type == "DELETED" or podutil.is_terminating(pod):
            self.expectations.deletion_observed(key, pod_key)
        elif event_type == "ADDED":
            self.expectations.creation_observed(key)
        if old is not None and event_type == "MODIFIED":
            old_job = self._job_of(old)
            if old_job is not None and old_job is not job:
                self.queue.add(key_of(old_job))
        self.queue.add(key)

    def _matching_jobs(self, pod: Obj) -> list[Obj]:
        """Jobs in the pod's namespace whose selector matches it (GetPodJobs)."""
        return owners_selecting(self.jobs, pod) if meta.labels_of(pod) else []

    # --- running ------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (self.jobs, self.pods)

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        if key.startswith(ORPHAN_PREFIX):
            await self._release_orphan(key[len(ORPHAN_PREFIX) :])
            return None
        cached = self.jobs.get(key)
        if cached is None:
            self.expectations.forget(key)
            self.backoff.forget(key)
            return None
        job = typed(meta.clone(cached), JOBS)
        spec = job.get("spec") or {}
        try:
            selector = labels.from_label_selector(spec.get("selector"))
        except labels.SelectorError as e:
            self.pod_control.event(job, WARNING, "InvalidSelector", str(e))
            return None
        pods = await self._claim(job, selector)
        if job_status.is_finished(job):
            # Counted already: whatever still carries the finalizer may go.
            await self._remove_finalizers(
                key, [p for p in pods if job_pods.has_tracking_finalizer(p)]
            )
            return None
        managed_by = spec.get("managedBy")
        if managed_by and managed_by != JOB_CONTROLLER_NAME:
            return None
        ctx = _Sync(key=key, job=job, pods=pods, now=self.clock())
        await self._sync_job(ctx)
        return min(ctx.requeue) if ctx.requeue else None

    async def _claim(self, job: Obj, selector: labels.Selector) -> list[Obj]:
        candidates = self.pods.by_index("namespace", meta.namespace_of(job))
        return await self.pod_control.claim(
            job, selector, candidates, lambda: recheck_owner(self.client, JOBS, job)
        )

    async def _sync_job(self, ctx: _Sync) -> None:
        job, spec = ctx.job, ctx.spec
        status = job.setdefault("status", {})
        original = meta.clone(status)
        satisfied = self.expectations.satisfied(ctx.key)
        self._observe_pods(ctx)
        suspended = spec.get("suspend") is True
        if not status.get("startTime") and not suspended:
            status["startTime"] = meta.format_time(ctx.now)
        ctx.backoff = job_backoff.next_record(
            self.backoff.get(ctx.key), ctx.new_succeeded, ctx.new_failed
        )
        self._judge(ctx)
        if ctx.finished is not None:
            deleted = await self._delete_pods(ctx.key, job, ctx.active, expect=False)
            if deleted != len(ctx.active) or not satisfied:
                ctx.finished = None  # Not all gone yet: decide again next time.
            ctx.terminating += deleted
            active = len(ctx.active) - deleted
        else:
            active = len(ctx.active)
            managed = False
            if satisfied and not job["metadata"].get("deletionTimestamp"):
                active = await self._manage(ctx)
                managed = True
            completions = ctx.completions
            if completions is None:
                complete = ctx.succeeded > 0 and active == 0
            else:
                complete = ctx.succeeded >= completions and active == 0
            if complete:
                ctx.finished = job_status.new_condition(
                    job_status.SUCCESS_CRITERIA_MET,
                    "True",
                    job_status.REASON_COMPLETIONS_REACHED,
                    job_status.MESSAGE_COMPLETIONS_REACHED,
                    ctx.now,
                )
            elif managed:
                self._suspension(ctx, suspended)
        status["ready"] = sum(1 for p in ctx.active if is_pod_ready(p))
        _set_counter(status, "active", active)
        status["terminating"] = ctx.terminating
        await self._track(ctx, original)

    def _observe_pods(self, ctx: _Sync) -> None:
        """Sort the pods: active, terminating, and those finished but not yet counted."""
        job = ctx.job
        status = job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        counted_succeeded = set(uncounted.get("succeeded") or ())
        counted_failed = set(uncounted.get("failed") or ())
        removed = self._finalizers_removed.get(ctx.key, set())
        policy = ctx.spec.get("podFailurePolicy")
        completions = ctx.completions or 0
        indexed = is_indexed(job)
        if indexed:
            ctx.succeeded_indexes = jobindexes.parse(status.get("completedIndexes"), completions)
        per_index = ctx.spec.get("backoffLimitPerIndex")
        if indexed and per_index is not None:
            ctx.failed_indexes = jobindexes.parse(status.get("failedIndexes"), completions)
        for pod in ctx.pods:
            if podutil.is_active(pod):
                ctx.active.append(pod)
            if job_pods.is_terminating(pod):
                ctx.terminating += 1
            uid = pod["metadata"].get("uid", "")
            if not job_pods.has_tracking_finalizer(pod) or uid in removed:
                continue
            if job_pods.is_succeeded(pod):
                index = job_pods.completion_index(pod, completions) if indexed else None
                if indexed:
                    if index is not None and index not in ctx.succeeded_indexes:
                        ctx.succeeded_indexes.add(index)
                        ctx.new_succeeded.append(pod)
                elif uid not in counted_succeeded:
                    ctx.new_succeeded.append(pod)
            elif job_pods.is_failed(pod, job) and uid not in counted_failed:
                decision = job_failure_policy.decide(policy, pod)
                ctx.decisions[uid] = decision
                ctx.new_failed.append(pod)
                if ctx.failed_indexes is not None and per_index is not None:
                    index = job_pods.completion_index(pod, completions)
                    index_failed = decision.action == job_failure_policy.FAIL_INDEX or (
                        decision.counts and job_pods.index_failure_count(pod) >= per_index
                    )
                    if index is not None and index_failed:
                        ctx.failed_indexes.add(index)
        new_counted_failed = sum(1 for p in ctx.new_failed if ctx.decisions[_uid(p)].counts)
        if indexed:
            ctx.succeeded = len(ctx.succeeded_indexes)
        else:
            ctx.succeeded = (
                int(status.get("succeeded") or 0) + len(counted_succeeded) + len(ctx.new_succeeded)
            )
        ctx.failed = int(status.get("failed") or 0) + len(counted_failed) + new_counted_failed

    def _judge(self, ctx: _Sync) -> None:
        """Whether the Job has failed or met its success criteria (before managing pods)."""
        job, spec, now = ctx.job, ctx.spec, ctx.now
        met = job_status.find(job, job_status.SUCCESS_CRITERIA_MET)
        target = job_status.find(job, job_status.FAILURE_TARGET)
        if met is not None and met.get("status") == "True":
            ctx.finished = met
            return
        if target is not None and target.get("status") == "True":
            ctx.finished = target
            return
        failed_pods = [p for p in ctx.pods if job_pods.is_failed(p, job)]
        message = job_failure_policy.fail_job_message(job, failed_pods)
        if message is not None:
            ctx.finished = self._failure(job_status.REASON_POD_FAILURE_POLICY, message, now)
            return
        backoff_limit = int(spec.get("backoffLimit", 6))
        on_failure_restarts = (spec.get("template") or {}).get("spec", {}).get(
            "restartPolicy"
        ) == "OnFailure"
        restarts = job_pods.restarts_of_running(ctx.pods) if on_failure_restarts else 0
        past_restarts = on_failure_restarts and (
            restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit
        )
        suspended = spec.get("suspend") is True
        start = meta.parse_time((job.get("status") or {}).get("startTime") or "")
        deadline = spec.get("activeDeadlineSeconds")
        if ctx.failed > backoff_limit or past_restarts:
            ctx.finished = self._failure(
                job_status.REASON_BACKOFF_LIMIT, job_status.MESSAGE_BACKOFF_LIMIT, now
            )
        elif deadline is not None and start is not None and not suspended:
            left = deadline - (now - start).total_seconds()
            if left <= 0:
                ctx.finished = self._failure(
                    job_status.REASON_DEADLINE, job_status.MESSAGE_DEADLINE, now
                )
            else:
                ctx.requeue.append(left)
        if not is_indexed(job) or ctx.finished is not None:
            return
        completions = ctx.completions or 0
        if ctx.failed_indexes is not None:
            max_failed = spec.get("maxFailedIndexes")
            if max_failed is not None and len(ctx.failed_indexes) > max_failed:
                ctx.finished = self._failure(
                    job_status.REASON_MAX_FAILED_INDEXES,
                    job_status.MESSAGE_MAX_FAILED_INDEXES,
                    now,
                )
                return
            if (
                ctx.failed_indexes
                and len(ctx.failed_indexes) + len(ctx.succeeded_indexes) >= completions
            ):
                ctx.finished = self._failure(
                    job_status.REASON_FAILED_INDEXES, job_status.MESSAGE_FAILED_INDEXES, now
                )
                return
        matched = job_status.match_success_policy(
            spec.get("successPolicy"), completions, ctx.succeeded_indexes
        )
        if matched is not None:
            ctx.finished = job_status.new_condition(
                job_status.SUCCESS_CRITERIA_MET,
                "True",
                job_status.REASON_SUCCESS_POLICY,
                matched,
                now,
            )

    @staticmethod
    def _failure(reason: str, message: str, now: dt.datetime) -> Obj:
        return job_status.new_condition(job_status.FAILURE_TARGET, "True", reason, message, now)

    def _suspension(self, ctx: _Sync, suspended: bool) -> None:
        """The Suspended condition, its Events, and the start time: cleared when the Job is
        suspended (MutableSchedulingDirectivesForSuspendedJobs, beta and on in 1.37, so that the
        template may change while suspended and activeDeadlineSeconds starts over), set afresh on
        resume."""
        conditions = ctx.job["status"].setdefault("conditions", [])
        if suspended:
            if job_status.ensure(
                conditions, job_status.SUSPENDED, "True", "JobSuspended", "Job suspended", ctx.now
            ):
                self.pod_control.event(ctx.job, NORMAL, "Suspended", "Job suspended")
                ctx.job["status"].pop("startTime", None)
        elif job_status.ensure(
            conditions, job_status.SUSPENDED, "False", "JobResumed", "Job resumed", ctx.now
        ):
            self.pod_control.event(ctx.job, NORMAL, "Resumed", "Job resumed")
            # activeDeadlineSeconds counts the time the Job is continuously active.
            ctx.job["status"]["startTime"] = meta.format_time(ctx.now)
        if not conditions:
            ctx.job["status"].pop("conditions", None)

    # --- pods ---------------------------------------------------------------------------------

    async def _manage(self, ctx: _Sync) -> int:
        """manageJob: create or delete pods towards the wanted number; the active count."""
        job, spec, key = ctx.job, ctx.spec, ctx.key
        active = len(ctx.active)
        if spec.get("suspend") is True:
            deleted = await self._delete_pods(key, job, self._rank(ctx.active, active))
            ctx.terminating += deleted
            return active - deleted
        parallelism = int(spec.get("parallelism") or 0)
        completions = ctx.completions
        if completions is None:
            want = active if ctx.succeeded > 0 else parallelism
        else:
            left = completions - ctx.succeeded - len(ctx.failed_indexes or ())
            want = max(0, min(left, parallelism))
        doomed = self._for_removal(ctx, max(0, active - want))
        if doomed:
            deleted = await self._delete_pods(key, job, doomed[:MAX_PODS_PER_SYNC])
            ctx.terminating += deleted
            return active - deleted
        if active >= want:
            return active
        wait = job_backoff.remaining(
            ctx.backoff.failures_after_last_success, ctx.backoff.last_failure, ctx.now
        )
        if wait > 0:
            ctx.requeue.append(wait)
            return active
        blocking = ctx.terminating if job_pods.only_replace_failed(job) else 0
        count = min(want - active - blocking, MAX_PODS_PER_SYNC)
        if count <= 0:
            return active
        templates: list[tuple[Obj, str]]
        if is_indexed(job):
            templates = self._indexed_templates(ctx, count)
        else:
            templates = [(pod_template_for(job, None), generate_name_for(meta.name_of(job), None))]
            templates *= count
        if not templates:
            return active
        created = await self._create_pods(key, job, templates)
        return active + created

    def _indexed_templates(self, ctx: _Sync, count: int) -> list[tuple[Obj, str]]:
        """Templates for the lowest pending indexes, after each index's own back-off."""
        job = ctx.job
        completions = ctx.completions or 0
        busy = set(ctx.succeeded_indexes) | set(ctx.failed_indexes or ())
        replacing_failed_only = job_pods.only_replace_failed(job)
        for pod in ctx.pods:
            index = job_pods.completion_index(pod, completions)
            if index is None:
                continue
            if podutil.is_active(pod) or (replacing_failed_only and job_pods.is_terminating(pod)):
                busy.add(index)
        per_index = ctx.spec.get("backoffLimitPerIndex") is not None
        last_failed = self._last_failed_per_index(ctx) if per_index else {}
        templates: list[tuple[Obj, str]] = []
        for index in range(completions):
            if len(templates) >= count:
                break
            if index in busy:
                continue
            failures = ignored = 0
            previous = last_failed.get(index)
            if previous is not None:
                decision = job_failure_policy.decide(ctx.spec.get("podFailurePolicy"), previous)
                failures = job_pods.index_failure_count(previous) + (1 if decision.counts else 0)
                ignored = job_pods.index_ignored_failure_count(previous) + (
                    0 if decision.counts else 1
                )
                wait = (
                    job_backoff.remaining(failures, job_pods.finished_at(previous), ctx.now)
                    if decision.counts
                    else 0.0
                )
                if wait > 0:
                    ctx.requeue.append(wait)
                    continue
            template = pod_template_for(job, index, failures, ignored)
            templates.append((template, generate_name_for(meta.name_of(job), index)))
        return templates

    def _last_failed_per_index(self, ctx: _Sync) -> dict[int, Obj]:
        """The most recent failed pod of each index (its annotations carry the index's count)."""
        completions = ctx.completions or 0
        last: dict[int, Obj] = {}
        for pod in ctx.pods:
            if not job_pods.is_failed(pod, ctx.job):
                continue
            index = job_pods.completion_index(pod, completions)
            if index is None:
                continue
            known = last.get(index)
            if known is None or (
                job_pods.index_failure_count(pod) + job_pods.index_ignored_failure_count(pod),
                job_pods.finished_at(pod),
            ) > (
                job_pods.index_failure_count(known) + job_pods.index_ignored_failure_count(known),
                job_pods.finished_at(known),
            ):
                last[index] = pod
        return last

    def _rank(self, pods: list[Obj], count: int) -> list[Obj]:
        order = podutil.deletion_order(pods, [0] * len(pods), self.clock())
        return [pods[i] for i in order[:count]]

    def _for_removal(self, ctx: _Sync, at_least: int) -> list[Obj]:
        """activePodsForRemoval: for Indexed Jobs first the pods with no valid index, a
        duplicate one, or one already done; then the lowest-ranked to reach `at_least`."""
        remove: list[Obj] = []
        left = list(ctx.active)
        if is_indexed(ctx.job):
            completions = ctx.completions or 0
            done = set(ctx.succeeded_indexes) | set(ctx.failed_indexes or ())
            kept: dict[int, Obj] = {}
            left = []
            for pod in self._rank(ctx.active, len(ctx.active))[::-1]:
                index = job_pods.completion_index(pod, completions)
                if index is None or index in done or index in kept:
                    remove.append(pod)
                else:
                    kept[index] = pod
                    left.append(pod)
        if len(remove) < at_least:
            remove += self._rank(left, at_least - len(remove))
        return remove

    async def _create_pods(self, key: str, job: Obj, templates: list[tuple[Obj, str]]) -> int:
        self.expectations.expect_creations(key, len(templates))
        queue = list(templates)

        async def create_one() -> None:
            template, generate_name = queue.pop(0)
            pod = pod_from_template(template, job, generate_name=generate_name)
            await self.pod_control.create(job, pod)

        created, error = await slow_start_batch(len(templates), create_one)
        if created < len(templates):
            self.expectations.creations_failed(key, len(templates) - created)
        if error is not None:
            raise error
        return created

    async def _delete_pods(
        self, key: str, job: Obj, pods: list[Obj], *, expect: bool = True
    ) -> int:
        if not pods:
            return 0
        if expect:
            self.expectations.expect_deletions(key, [key_of(p) for p in pods])
        results = await asyncio.gather(
            *(self.pod_control.delete(job, p) for p in pods), return_exceptions=True
        )
        deleted = 0
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                if expect:
                    self.expectations.deletion_failed(key, key_of(pod))
                if not isinstance(result, APIError):
                    raise result
            else:
                deleted += 1
        return deleted

    # --- accounting ---------------------------------------------------------------------------

    async def _track(self, ctx: _Sync, original: Obj) -> None:
        """Record finished pods, remove their finalizers, count them; finish the Job."""
        job = ctx.job
        status = job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        pending_succeeded = list(uncounted.get("succeeded") or ())
        pending_failed = list(uncounted.get("failed") or ())
        indexed = is_indexed(job)
        release: list[Obj] = []
        for pod in ctx.new_succeeded:
            if not indexed:
                pending_succeeded.append(_uid(pod))
            release.append(pod)
        for pod in ctx.new_failed:
            if ctx.decisions[_uid(pod)].counts:
                pending_failed.append(_uid(pod))
            release.append(pod)
        # Every finished pod still holding the finalizer lets go of it once this status is
        # written: those recorded earlier whose removal failed then, an Indexed Job's pods
        # for an index already done or out of range, as well as the new ones.
        removed = self._finalizers_removed.get(ctx.key, set())
        releasing = {_uid(p) for p in release}
        for pod in ctx.pods:
            uid = _uid(pod)
            finished = job_pods.is_succeeded(pod) or job_pods.is_failed(pod, job)
            if (
                finished
                and uid not in releasing
                and job_pods.has_tracking_finalizer(pod)
                and uid not in removed
            ):
                release.append(pod)
        status["uncountedTerminatedPods"] = _uncounted(pending_succeeded, pending_failed)
        if indexed:
            _set_text(status, "completedIndexes", jobindexes.format(ctx.succeeded_indexes))
            if ctx.failed_indexes is not None:
                status["failedIndexes"] = jobindexes.format(ctx.failed_indexes)
        interim = ctx.finished
        if interim is not None and interim["type"] in (
            job_status.FAILURE_TARGET,
            job_status.SUCCESS_CRITERIA_MET,
        ):
            conditions = status.setdefault("conditions", [])
            job_status.ensure(
                conditions,
                interim["type"],
                "True",
                interim.get("reason", ""),
                interim.get("message", ""),
                ctx.now,
            )
        if status != original:
            written = await self._write_status(job)
            if written is None:
                return
            job = ctx.job = written
            status = job["status"]
        self.backoff.update(ctx.key, ctx.backoff)
        released = await self._remove_finalizers(ctx.key, release)
        # Count what is recorded and no longer held: released now, or gone from the cache.
        held = {_uid(p) for p in ctx.pods if job_pods.has_tracking_finalizer(p)} - released
        before = meta.clone(status)
        still_succeeded = [u for u in pending_succeeded if u in held]
        still_failed = [u for u in pending_failed if u in held]
        if not indexed:
            succeeded = int(status.get("succeeded") or 0)
            _set_counter(
                status, "succeeded", succeeded + len(pending_succeeded) - len(still_succeeded)
            )
        else:
            _set_counter(status, "succeeded", len(ctx.succeeded_indexes))
        failed = int(status.get("failed") or 0)
        _set_counter(status, "failed", failed + len(pending_failed) - len(still_failed))
        status["uncountedTerminatedPods"] = _uncounted(still_succeeded, still_failed)
        terminal: Obj | None = None
        if (
            interim is not None
            and not still_succeeded
            and not still_failed
            and ctx.terminating == 0
        ):
            terminal = job_status.terminal_for(interim, ctx.now)
            conditions = status.setdefault("conditions", [])
            job_status.ensure(
                conditions,
                terminal["type"],
                "True",
                terminal["reason"],
                terminal["message"],
                ctx.now,
            )
            if terminal["type"] == job_status.COMPLETE:
                status["completionTime"] = meta.format_time(ctx.now)
        if status != before:
            written = await self._write_status(job)
            if written is not None and terminal is not None:
                self._record_finished(written, terminal)

    def _record_finished(self, job: Obj, terminal: Obj) -> None:
        if terminal["type"] == job_status.COMPLETE:
            completions = (job.get("spec") or {}).get("completions")
            succeeded = (job.get("status") or {}).get("succeeded") or 0
            if completions is not None and succeeded > completions:
                self.pod_control.event(
                    job,
                    WARNING,
                    "TooManySucceededPods",
                    "Too many succeeded pods running after completion count reached",
                )
            self.pod_control.event(job, NORMAL, "Completed", "Job completed")
        else:
            self.pod_control.event(job, WARNING, terminal["reason"], terminal["message"])

    async def _write_status(self, job: Obj) -> Obj | None:
        """PUT /status; the Job as stored, None if it is gone. A conflict is raised, so that
        the key is synced again from a fresh cache."""
        try:
            written = await self.client.update(
                JOBS, job, namespace=meta.namespace_of(job), subresource="status"
            )
        except APINotFoundError:
            return None
        return typed(written, JOBS)

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> set[str]:
        """Strip the tracking finalizer; the UIDs whose finalizer is gone (or the pod)."""
        if not pods:
            return set()
        results = await asyncio.gather(
            *(self._remove_finalizer(p) for p in pods), return_exceptions=True
        )
        done: set[str] = set()
        first: BaseException | None = None
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                first = first or result
            else:
                done.add(_uid(pod))
        self._finalizers_removed.setdefault(key, set()).update(done)
        if first is not None:
            if not isinstance(first, APIError):
                raise first
            # The pods stay recorded as uncounted; the next sync tries again.
            log.warning("job %s: removing pod finalizers: %s", key, first)
        return done

    async def _remove_finalizer(self, pod: Obj) -> None:
        patch = {
            "metadata": {
                "$deleteFromPrimitiveList/finalizers": [job_pods.TRACKING_FINALIZER],
                "uid": pod["metadata"]["uid"],
            }
        }
        with contextlib.suppress(APINotFoundError):
            await self.client.patch(
                PODS,
                meta.name_of(pod),
                patch,
                patch_type=PatchType.STRATEGIC,
                namespace=meta.namespace_of(pod),
            )

    async def _release_orphan(self, pod_key: str) -> None:
        """A pod whose Job is gone keeps no tracking finalizer."""
        pod = self.pods.get(pod_key)
        if pod is None or not job_pods.has_tracking_finalizer(pod):
            return
        if self._job_of(pod) is not None:
            return
        await self._remove_finalizer(pod)


def _uid(pod: Obj) -> str:
    return str(pod["metadata"].get("uid", ""))


def _uncounted(succeeded: list[str], failed: list[str]) -> Obj:
    out: Obj = {}
    if succeeded:
        out["succeeded"] = succeeded
    if failed:
        out["failed"] = failed
    return out


def _set_counter(status: Obj, name: str, value: int) -> None:
    """Counters are `omitempty` in Kubernetes: a zero is not written."""
    if value:
        status[name] = value
    else:
        status.pop(name, None)


def _set_text(status: Obj, name: str, value: str) -> None:
    if value:
        status[name] = value
    else:
        status.pop(name, None)
