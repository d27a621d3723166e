"""Defaults of batch/v1 Jobs and CronJobs (Kubernetes' `pkg/apis/batch/v1/defaults.go`, 1.33).

A Job left without completions and parallelism runs one pod to one success; parallelism alone
means a work queue (completions stay unset). The backoff limit is 6 retries, or "unlimited" when
failures are counted per index instead. A pod failure policy implies that failed pods are only
replaced once they are really gone (podReplacementPolicy Failed), since the policy must see
their final status. CronJobs allow concurrent runs and keep 3 successful and 1 failed Job.

The pod templates get the pod spec defaults, as every PodTemplateSpec does; the JobSpec inside a
CronJob's jobTemplate does not get the Job defaults (Kubernetes defaults only whole Jobs), which
is why `kubectl get cronjob -o yaml` shows no backoffLimit there.
"""

from __future__ import annotations

from kubelite.api.defaulting.apps import default_pod_template, workload_spec
from kubelite.api.defaulting.fields import set_if_empty, set_if_none
from kubelite.api.types import Obj

DEFAULT_BACKOFF_LIMIT = 6
# math.MaxInt32: the backoff limit of a Job that counts failures per index.
MAX_INT32 = 2**31 - 1
NON_INDEXED = "NonIndexed"
INDEXED = "Indexed"
# podReplacementPolicy values (JobPodReplacementPolicy is beta, on, in 1.33).
TERMINATING_OR_FAILED = "TerminatingOrFailed"
FAILED = "Failed"
ALLOW_CONCURRENT = "Allow"
DEFAULT_SUCCESSFUL_HISTORY = 3
DEFAULT_FAILED_HISTORY = 1


def default_job_spec(spec: Obj) -> None:
    """The JobSpec part of SetDefaults_Job."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    set_if_none(spec, "parallelism", 1)
    if spec.get("backoffLimit") is None:
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = MAX_INT32 if per_index else DEFAULT_BACKOFF_LIMIT
    set_if_empty(spec, "completionMode", NON_INDEXED)
    set_if_none(spec, "suspend", False)
    policy = spec.get("podFailurePolicy")
    if isinstance(policy, dict):
        for rule in policy.get("rules") or ():
            for pattern in (rule or {}).get("onPodConditions") or ():
                if isinstance(pattern, dict) and not pattern.get("status"):
                    pattern["status"] = "True"
    set_if_empty(
        spec, "podReplacementPolicy", FAILED if isinstance(policy, dict) else TERMINATING_OR_FAILED
    )
    set_if_none(spec, "manualSelector", False)


def default_job(obj: Obj) -> None:
    """SetDefaults_Job: the spec's defaults, and the template's labels as the Job's own when it
    has none."""
    spec = workload_spec(obj)
    default_job_spec(spec)
    copy_template_labels(obj)


def copy_template_labels(obj: Obj) -> None:
    """A Job without labels takes its pod template's (SetDefaults_Job)."""
    template_labels = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    template_labels = template_labels.get("labels")
    md = obj.setdefault("metadata", {})
    if template_labels and not md.get("labels"):
        md["labels"] = dict(template_labels)


def default_cron_job(obj: Obj) -> None:
    """SetDefaults_CronJob, and the pod defaults inside the job template."""
    spec = obj.setdefault("spec", {})
    job_template = spec.setdefault("jobTemplate", {})
    if isinstance(job_template, dict):
        job_spec = job_template.setdefault("spec", {})
        if isinstance(job_spec, dict):
            default_pod_template(job_spec)
    set_if_empty(spec, "concurrencyPolicy", ALLOW_CONCURRENT)
    set_if_none(spec, "suspend", False)
    set_if_none(spec, "successfulJobsHistoryLimit", DEFAULT_SUCCESSFUL_HISTORY)
    set_if_none(spec, "failedJobsHistoryLimit", DEFAULT_FAILED_HISTORY)
