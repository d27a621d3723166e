"""The CronJob controller: makes a Job at each time of a CronJob's schedule.

Kubernetes' `pkg/controller/cronjob` (the v2 controller, 1.37). Handlers put CronJob keys on
the queue (a CronJob changed, or a Job it controls did); `sync(key)`:

1. reconciles `status.active` with the Jobs it controls: a finished Job leaves the list
   (`SawCompletedJob`) and a succeeded one moves `lastSuccessfulTime`; a listed Job that no
   longer exists is dropped (`MissingJob`); an unfinished Job of its own that it does not list
   is reported (`UnexpectedJob`);
2. deletes the oldest finished Jobs beyond `successfulJobsHistoryLimit` and
   `failedJobsHistoryLimit`;
3. unless suspended (or its `timeZone` is unknown: `UnknownTimeZone`), finds the most recent
   scheduled time not yet run, since the last scheduled time (or creation), no older than
   `startingDeadlineSeconds` (`MissSchedule` when it is; more than 100 missed times make a
   `TooManyMissedTimes` warning);
4. applies `concurrencyPolicy`: Forbid skips the run while a Job is active (`JobAlreadyActive`),
   Replace deletes the active Jobs first, Allow runs side by side;
5. creates the Job `<cronjob>-<scheduled time in minutes since the epoch>` from the job template,
   with the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation (RFC 3339 in the
   CronJob's time zone) and the CronJob as controller; the name makes a second create of the
   same run fail with AlreadyExists, which is how a restart never runs a time twice (a Job of
   that name it controls but does not list, left by a sync whose status write was lost, is read
   back from the CronJob's namespace and listed: kubernetes#136920);
6. records the Job in `status.active` and the time in `status.lastScheduleTime`, and comes back
   100 ms after the next scheduled time.

Schedules are robfig/cron's (`kubelite.api.cron`); a schedule without `timeZone` is read in UTC
(kubelite's controllers run in UTC, as kube-controller-manager's image does).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from kubelite.api import cron, meta, propagation
from kubelite.api.resources import CRON_JOBS, JOBS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APIAlreadyExistsError, APIError, APINotFoundError
from kubelite.client.events import NORMAL, WARNING, EventRecorder
from kubelite.client.informer import Informer, by_controller_uid, key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers import job_status, podutil
from kubelite.controllers.owners import typed
from kubelite.controllers.podcontrol import owner_reference
from kubelite.controllers.queue_controller import QueueController

log = logging.getLogger(__name__)


WORKERS = 2
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
# nextScheduleDelta: look again a little after the scheduled time, not just before it.
NEXT_SCHEDULE_DELTA = 0.1
# Past this many missed start times the controller warns (and still runs the latest one).
MANY_MISSED = 100


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def job_name(cron_job: Obj, scheduled: dt.datetime) -> str:
    """getJobName: `<cronjob>-<minutes since the epoch>`."""
    return f"{meta.name_of(cron_job)}-{int(scheduled.timestamp()) // 60}"


def rfc3339_in(when: dt.datetime, zone: dt.tzinfo) -> str:
    """Go's time.RFC3339 of `when` in `zone`: the offset, or `Z` when it is zero."""
    local = when.astimezone(zone)
    offset = int((local.utcoffset() or dt.timedelta(0)).total_seconds()) // 60
    text = local.replace(tzinfo=None, microsecond=0).isoformat()
    if offset == 0:
        return text + "Z"
    sign = "+" if offset > 0 else "-"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


def schedule_of(cron_job: Obj) -> cron.Schedule:
    """The CronJob's schedule in its time zone (formatSchedule: a `TZ=` prefix from
    spec.timeZone unless the schedule carries one of its own)."""
    spec = cron_job.get("spec") or {}
    text = str(spec.get("schedule") or "")
    zone = spec.get("timeZone")
    if zone is not None and "TZ" not in text:
        text = f"TZ={zone} {text}"
    return cron.parse_standard(text)


def most_recent_schedule(
    cron_job: Obj, now: dt.datetime, schedule: cron.Schedule, *, with_deadline: bool
) -> tuple[dt.datetime, dt.datetime | None, int]:
    """mostRecentScheduleTime: (the earliest time considered, the latest scheduled time not
    after `now` if any, roughly how many were missed). Raises CronError for a schedule whose
    runs are less than a second apart or never come (`0 0 31 2 *`)."""
    spec = cron_job.get("spec") or {}
    status = cron_job.get("status") or {}
    earliest = meta.parse_time(status.get("lastScheduleTime") or "") or meta.parse_time(
        cron_job["metadata"].get("creationTimestamp") or ""
    )
    earliest = earliest or now
    deadline = spec.get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        limit = now - dt.timedelta(seconds=int(deadline))
        earliest = max(earliest, limit)
    t1 = schedule.next(earliest)
    t2 = schedule.next(t1) if t1 is not None else None
    if t1 is None or now < t1:
        return earliest, None, 0
    if t2 is None or now < t2:
        return earliest, t1, 0
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise cron.CronError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    start = t1 + dt.timedelta(seconds=(missed - 2) * between)
    latest: dt.datetime | None = None
    t = schedule.next(start)
    while t is not None and t <= now:
        latest = t
        t = schedule.next(t)
    return earliest, latest, missed


def next_sync_in(cron_job: Obj, now: dt.datetime, schedule: cron.Schedule) -> float | None:
    """nextScheduleTimeDuration: seconds until 100 ms after the next scheduled time."""
    try:
        earliest, latest, missed = most_recent_schedule(
            cron_job, now, schedule, with_deadline=False
        )
        base = latest or (earliest if missed == 0 else now)
    except cron.CronError:
        base = now
    upcoming = schedule.next(base)
    if upcoming is None:
        return None
    return max(0.0, (upcoming - now).total_seconds() + NEXT_SCHEDULE_DELTA)


def _is_succeeded(job: Obj) -> bool:
    return job_status.is_true(job, job_status.COMPLETE)


def _start_key(job: Obj) -> tuple[int, str, str]:
    """byJobStartTime: Jobs without a start time last, then by start time, then by name."""
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, start or "", meta.name_of(job))


class CronJobController(QueueController):
    """Creates each CronJob's Jobs when its schedule says, applies its concurrency policy, and trims
    the history of finished Jobs."""

    component = "cronjob-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        super().__init__(client, informers, queue="cronjob", workers=workers)
        self.clock = clock
        self.recorder = EventRecorder(client, "cronjob-controller")
        self.cron_jobs = self.informers.informer(CRON_JOBS)
        self.jobs = self.informers.informer(JOBS)
        self.jobs.add_indexer("controller", by_controller_uid)
        self.cron_jobs.add_handler(self._on_cron_job)
        self.jobs.add_handler(self._on_job, with_old=True)

    # --- handlers -----------------------------------------------------------------------------

    def _on_cron_job(self, event_type: str, cron_job: Obj) -> None:
        if event_type != "DELETED":
            self.queue.add(key_of(cron_job))

    def _owner_key(self, job: Obj) -> str | None:
        ref = podutil.controller_ref(job)
        if ref is None or ref.get("kind") != "CronJob":
            return None
        return f"{meta.namespace_of(job)}/{ref.get('name', '')}"

    @staticmethod
    def _controlled_by(job: Obj, cron_job: Obj) -> bool:
        """getJobsToBeReconciled (1.37, kubernetes#133313): a Job is this CronJob's when its
        controller reference names a CronJob by this one's name and uid, so a Job that another
        kind of owner of the same name controls is neither reported as an UnexpectedJob nor
        counted in the history."""
        ref = podutil.controller_ref(job)
        return (
            ref is not None
            and ref.get("kind") == "CronJob"
            and ref.get("name") == meta.name_of(cron_job)
            and ref.get("uid") == cron_job["metadata"].get("uid")
        )

    def _on_job(self, event_type: str, job: Obj, old: Obj | None) -> None:
        for obj in (job, old):
            if obj is not None:
                key = self._owner_key(obj)
                if key is not None:
                    self.queue.add(key)

    def event(self, obj: Obj, event_type: str, reason: str, message: str) -> None:
        """Record an Event without waiting for it."""
        self.recorder.post(obj, event_type, reason, message)

    # --- running ------------------------------------------------------------------------------

    def caches(self) -> tuple[Informer, ...]:
        return (self.cron_jobs, self.jobs)

    # --- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.cron_jobs.get(key)
        if cached is None:
            return None
        cron_job = typed(meta.clone(cached), CRON_JOBS)
        cron_job.setdefault("status", {})
        original = meta.clone(cron_job["status"])
        jobs = [
            typed(j, JOBS)
            for j in self.jobs.by_index("controller", cron_job["metadata"]["uid"])
            if self._controlled_by(j, cron_job)
        ]
        again = await self._sync(cron_job, jobs)
        if cron_job["status"] != original:
            await self._write_status(cron_job)
        await self._clean_up(cron_job, jobs)
        return again

    async def _sync(self, cron_job: Obj, jobs: list[Obj]) -> float | None:
        status = cron_job["status"]
        spec = cron_job.get("spec") or {}
        await self._reconcile_active(cron_job, jobs)
        if cron_job["metadata"].get("deletionTimestamp"):
            return None
        now = self.clock()
        zone = spec.get("timeZone")
        if zone is not None:
            try:
                cron.load_zone(str(zone))
            except cron.CronError as e:
                self.event(cron_job, WARNING, "UnknownTimeZone", f'invalid timeZone: "{zone}": {e}')
                return None
        if spec.get("suspend") is True:
            return None
        try:
            schedule = schedule_of(cron_job)
        except cron.CronError as e:
            self.event(
                cron_job,
                WARNING,
                "UnparseableSchedule",
                f'unparseable schedule: "{spec.get("schedule")}" : {e}',
            )
            return None
        try:
            _, scheduled, missed = most_recent_schedule(cron_job, now, schedule, with_deadline=True)
        except cron.CronError as e:
            self.event(
                cron_job,
                WARNING,
                "InvalidSchedule",
                f"invalid schedule: {spec.get('schedule')} : {e}",
            )
            return None
        if scheduled is None:
            return next_sync_in(cron_job, now, schedule)
        if missed > MANY_MISSED:
            self.event(
                cron_job,
                WARNING,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or "
                "check clock skew",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + dt.timedelta(seconds=int(deadline)) < now:
            self.event(
                cron_job,
                WARNING,
                "MissSchedule",
                "Missed scheduled time to start a job: "
                + scheduled.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"),
            )
            return next_sync_in(cron_job, now, schedule)
        name = job_name(cron_job, scheduled)
        active = status.get("active") or []
        last = meta.parse_time(status.get("lastScheduleTime") or "")
        if any(ref.get("name") == name for ref in active) or last == scheduled:
            return next_sync_in(cron_job, now, schedule)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if policy == "Forbid" and active:
            self.event(
                cron_job,
                NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is "
                "Forbid",
            )
            return next_sync_in(cron_job, now, schedule)
        if policy == "Replace":
            for ref in list(active):
                await self._delete_job(cron_job, ref.get("name", ""), ref.get("uid"))
        created = await self._create_job(cron_job, scheduled, name)
        if created is None:
            return None
        status.setdefault("active", []).append(_reference(created))
        status["lastScheduleTime"] = meta.format_time(scheduled)
        return next_sync_in(cron_job, now, schedule)

    async def _reconcile_active(self, cron_job: Obj, jobs: list[Obj]) -> None:
        status = cron_job["status"]
        active = status.get("active") or []
        listed = {ref.get("uid") for ref in active}
        children = set()
        for job in jobs:
            uid = job["metadata"].get("uid")
            children.add(uid)
            finished = job_status.finished_condition(job)
            if uid not in listed and finished is None:
                self.event(
                    cron_job,
                    WARNING,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {meta.name_of(job)}",
                )
            elif uid in listed and finished is not None:
                active = [ref for ref in active if ref.get("uid") != uid]
                self.event(
                    cron_job,
                    NORMAL,
                    "SawCompletedJob",
                    f"Saw completed job: {meta.name_of(job)}, condition: {finished.get('type')}",
                )
            if _is_succeeded(job):
                completed = (job.get("status") or {}).get("completionTime")
                previous = status.get("lastSuccessfulTime")
                if completed and (
                    not previous
                    or (meta.parse_time(completed) or dt.datetime.min.replace(tzinfo=dt.UTC))
                    > (meta.parse_time(previous) or dt.datetime.min.replace(tzinfo=dt.UTC))
                ):
                    status["lastSuccessfulTime"] = completed
        for ref in list(active):
            if ref.get("uid") in children:
                continue
            # A reference a client wrote without a namespace names no Job: Kubernetes' GET of
            # it (the cluster-wide path) is a NotFound too.
            missing = not ref.get("namespace")
            if not missing:
                try:
                    await self.client.get(JOBS, ref.get("name", ""), namespace=ref["namespace"])
                except APINotFoundError:
                    missing = True
            if missing:
                active = [r for r in active if r.get("uid") != ref.get("uid")]
                self.event(
                    cron_job, NORMAL, "MissingJob", f"Active job went missing: {ref.get('name')}"
                )
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _create_job(self, cron_job: Obj, scheduled: dt.datetime, name: str) -> Obj | None:
        """getJobFromTemplate2 and the create; the Job to record as active, None if none."""
        template = (cron_job.get("spec") or {}).get("jobTemplate") or {}
        template_md = template.get("metadata") or {}
        zone = cron.load_zone(str((cron_job.get("spec") or {}).get("timeZone") or ""))
        annotations = dict(template_md.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP_ANNOTATION] = rfc3339_in(scheduled, zone)
        job: Obj = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "annotations": annotations,
                "ownerReferences": [owner_reference(cron_job)],
            },
            "spec": meta.clone(template.get("spec") or {}),
        }
        if template_md.get("labels"):
            job["metadata"]["labels"] = dict(template_md["labels"])
        namespace = meta.namespace_of(cron_job)
        try:
            created = await self.client.create(JOBS, job, namespace=namespace)
        except APIAlreadyExistsError:
            try:
                existing = await self.client.get(JOBS, name, namespace=namespace)
            except APINotFoundError:
                return None
            ref = podutil.controller_ref(existing)
            if ref is None or ref.get("uid") != cron_job["metadata"]["uid"]:
                return None  # Someone else's: leave its status to them.
            listed = cron_job["status"].get("active") or ()
            if any(r.get("uid") == existing["metadata"].get("uid") for r in listed):
                return None
            log.info("cronjob %s: job %s already exists", key_of(cron_job), name)
            return existing
        except APIError as e:
            self.event(cron_job, WARNING, "FailedCreate", f"Error creating job: {e}")
            raise
        self.event(cron_job, NORMAL, "SuccessfulCreate", f"Created job {name}")
        return created

    async def _delete_job(self, cron_job: Obj, name: str, uid: str | None) -> bool:
        """deleteJob: background propagation; drops it from status.active."""
        namespace = meta.namespace_of(cron_job)
        try:
            await self.client.delete(
                JOBS,
                name,
                namespace=namespace,
                propagation_policy=propagation.BACKGROUND,
                preconditions={"uid": uid} if uid else None,
            )
        except APINotFoundError:
            pass
        except APIError as e:
            self.event(cron_job, WARNING, "FailedDelete", f"Deleted job: {e}")
            return False
        status = cron_job["status"]
        remaining = [r for r in status.get("active") or () if r.get("uid") != uid]
        if remaining:
            status["active"] = remaining
        else:
            status.pop("active", None)
        self.event(cron_job, NORMAL, "SuccessfulDelete", f"Deleted job {name}")
        return True

    async def _clean_up(self, cron_job: Obj, jobs: list[Obj]) -> None:
        """cleanupFinishedJobs: keep the newest finished Jobs up to the history limits."""
        spec = cron_job.get("spec") or {}
        succeeded_limit = spec.get("successfulJobsHistoryLimit")
        failed_limit = spec.get("failedJobsHistoryLimit")
        if succeeded_limit is None and failed_limit is None:
            return
        succeeded: list[Obj] = []
        failed: list[Obj] = []
        for job in jobs:
            condition = job_status.finished_condition(job)
            if condition is None or job["metadata"].get("deletionTimestamp"):
                continue
            (succeeded if condition.get("type") == job_status.COMPLETE else failed).append(job)
        for finished, limit in ((succeeded, succeeded_limit), (failed, failed_limit)):
            if limit is None or len(finished) <= limit:
                continue
            finished.sort(key=_start_key)
            for job in finished[: len(finished) - limit]:
                await self._delete_job(cron_job, meta.name_of(job), job["metadata"].get("uid"))

    async def _write_status(self, cron_job: Obj) -> None:
        try:
            await self.client.update(
                CRON_JOBS, cron_job, namespace=meta.namespace_of(cron_job), subresource="status"
            )
        except APINotFoundError:
            return


def _reference(job: Obj) -> Obj:
    """An ObjectReference to a Job, as status.active lists them."""
    md = job["metadata"]
    return {
        "kind": "Job",
        "namespace": md.get("namespace", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
        "apiVersion": "batch/v1",
        "resourceVersion": md.get("resourceVersion", ""),
    }
