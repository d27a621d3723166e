"""`kubectl get` columns of batch/v1 Jobs and CronJobs, as Kubernetes 1.33 prints them.

A Job shows one STATUS word from its conditions, in Kubernetes' order of precedence: Complete,
Failed, then Terminating (being deleted), Suspended, FailureTarget, SuccessCriteriaMet, and
Running otherwise. COMPLETIONS is `succeeded/completions`; a work-queue Job (no completions)
shows `n/1`, or `n/1 of <parallelism>` when several pods run at once. DURATION runs from the
start time to the completion time, or to now while the Job runs.

A CronJob shows its schedule, time zone, whether it is suspended, how many of its Jobs are
active and when it last scheduled one.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from kubelite.api import meta, schema
from kubelite.api.labels import format_label_selector
from kubelite.api.printers import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    PRINTERS,
    Column,
    Printer,
    age_of,
)
from kubelite.api.printers.apps import template_columns
from kubelite.api.types import Obj

# printBoolPtr's word for a *bool that is not set.
UNSET = "<unset>"


@functools.cache
def _doc(definition: str, field: str) -> str:
    """A field's description from the OpenAPI definitions (Go's SwaggerDoc, the same text)."""
    properties = schema.load().definitions[f"io.k8s.api.batch.v1.{definition}"]["properties"]
    return str(properties[field].get("description") or "")


def _job_columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Status", description="Status of the job."),
        Column("Completions", description=_doc("JobStatus", "succeeded")),
        Column("Duration", description="Time required to complete the job."),
        AGE_COLUMN,
        *template_columns(_doc("JobSpec", "selector")),
    )


def _cron_job_columns() -> tuple[Column, ...]:
    return (
        NAME_COLUMN,
        Column("Schedule", description=_doc("CronJobSpec", "schedule")),
        Column("Timezone", description=_doc("CronJobSpec", "timeZone")),
        Column("Suspend", type="boolean", description=_doc("CronJobSpec", "suspend")),
        Column("Active", type="integer", description=_doc("CronJobStatus", "active")),
        Column("Last Schedule", description=_doc("CronJobStatus", "lastScheduleTime")),
        AGE_COLUMN,
        *template_columns(_doc("JobSpec", "selector")),
    )


def _has_condition(job: Obj, type_: str) -> bool:
    """hasJobCondition: the condition is there and True."""
    condition = meta.find_condition(meta.get_path(job, "status", "conditions"), type_)
    return condition is not None and condition.get("status") == "True"


def job_status_word(job: Obj) -> str:
    """The STATUS cell."""
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if meta.get_path(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    for condition in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(job, condition):
            return condition
    return "Running"


def job_completions(job: Obj) -> str:
    """The COMPLETIONS cell."""
    spec = job.get("spec") or {}
    succeeded = meta.get_path(job, "status", "succeeded", default=0) or 0
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism")
    if parallelism is not None and parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj, now: dt.datetime) -> str:
    """The DURATION cell: empty until the Job starts."""
    start = meta.parse_time(meta.get_path(job, "status", "startTime") or "")
    if start is None:
        return ""
    end = meta.parse_time(meta.get_path(job, "status", "completionTime") or "") or now
    return meta.human_duration((end - start).total_seconds())


def _template_cells(pod_spec: Obj) -> list[str]:
    containers = pod_spec.get("containers") or []
    return [
        ",".join(c.get("name") or "" for c in containers),
        ",".join(c.get("image") or "" for c in containers),
    ]


def job_cells(job: Obj, now: dt.datetime) -> list[Any]:
    pod_spec = meta.get_path(job, "spec", "template", "spec", default={}) or {}
    return [
        meta.name_of(job),
        job_status_word(job),
        job_completions(job),
        job_duration(job, now),
        age_of(job, now),
        *_template_cells(pod_spec),
        format_label_selector(meta.get_path(job, "spec", "selector")),
    ]


def _bool_cell(value: Any) -> str:
    """printBoolPtr."""
    if value is None:
        return UNSET
    return "True" if value else "False"


def cron_job_cells(cron_job: Obj, now: dt.datetime) -> list[Any]:
    spec = cron_job.get("spec") or {}
    status = cron_job.get("status") or {}
    job_spec = meta.get_path(spec, "jobTemplate", "spec", default={}) or {}
    last = status.get("lastScheduleTime")
    return [
        meta.name_of(cron_job),
        spec.get("schedule") or "",
        spec.get("timeZone") if spec.get("timeZone") is not None else NONE,
        _bool_cell(spec.get("suspend")),
        len(status.get("active") or []),
        meta.age(last, now) if last else NONE,
        age_of(cron_job, now),
        *_template_cells(job_spec.get("template", {}).get("spec") or {}),
        format_label_selector(job_spec.get("selector")),
    ]


PRINTERS.update(
    {
        ("batch", "Job"): Printer(_job_columns(), job_cells),
        ("batch", "CronJob"): Printer(_cron_job_columns(), cron_job_cells),
    }
)
