"""The TTL-after-finished controller: deletes finished Jobs once their time to live is up.

Kubernetes' `pkg/controller/ttlafterfinished`. A Job with `spec.ttlSecondsAfterFinished` that has
finished (Complete or Failed, counted from that condition's lastTransitionTime) is deleted that
many seconds later, with foreground propagation so that its pods go first. Before deleting, the
Job is read again from the API: its TTL may have been changed or removed meanwhile, and the
delete names the uid it checked, so a new Job under the same name is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from kubelite.api import meta, propagation
from kubelite.api.resources import JOBS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APINotFoundError
from kubelite.client.informer import key_of
from kubelite.client.informers import SharedInformerFactory
from kubelite.client.workqueue import WorkQueue, process
from kubelite.controllers import job_status

log = logging.getLogger(__name__)

WORKERS = 2


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def seconds_left(job: Obj, now: dt.datetime) -> float | None:
    """Seconds until a finished Job expires (<= 0: due now); None when it never does:
    no TTL, not finished, or already being deleted."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or job["metadata"].get("deletionTimestamp"):
        return None
    condition = job_status.finished_condition(job)
    if condition is None:
        return None
    finished = meta.parse_time(condition.get("lastTransitionTime") or "")
    if finished is None:
        return None
    return (finished + dt.timedelta(seconds=int(ttl)) - now).total_seconds()


class TTLAfterFinishedController:
    """Deletes finished Jobs whose `ttlSecondsAfterFinished` has passed, so that they do not pile
    up."""

    component = "ttl-after-finished-controller"

    def __init__(
        self,
        client: APIClient,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.client = client
        self.informers = informers or SharedInformerFactory(client)
        self.workers = workers
        self.clock = clock
        self.queue = WorkQueue("ttl_jobs_to_delete")
        self.jobs = self.informers.informer(JOBS)
        self.jobs.add_handler(self._on_job)

    def _on_job(self, event_type: str, job: Obj) -> None:
        if event_type != "DELETED" and seconds_left(job, self.clock()) is not None:
            self.queue.add(key_of(job))

    async def run(self) -> None:
        self.informers.start()
        try:
            await self.informers.wait_synced(self.jobs)
            await asyncio.gather(
                *(process(self.queue, self.sync, what=self.component) for _ in range(self.workers))
            )
        finally:
            self.queue.shut_down()

    async def sync(self, key: str) -> float | None:
        cached = self.jobs.get(key)
        if cached is None:
            return None
        left = seconds_left(cached, self.clock())
        if left is None:
            return None
        if left > 0:
            return left
        namespace, name = meta.namespace_of(cached), meta.name_of(cached)
        try:
            fresh = await self.client.get(JOBS, name, namespace=namespace)
        except APINotFoundError:
            return None
        left = seconds_left(fresh, self.clock())
        if left is None:
            return None
        if left > 0:
            return left
        log.info("job %s: time to live after finishing has passed; deleting it", key)
        with contextlib.suppress(APINotFoundError):
            await self.client.delete(
                JOBS,
                name,
                namespace=namespace,
                propagation_policy=propagation.FOREGROUND,
                preconditions={"uid": fresh["metadata"]["uid"]},
            )
        return None
