"""Strategies of batch/v1 Jobs and CronJobs (`pkg/registry/batch/{job,cronjob}/strategy.go`).

A Job created without `manualSelector: true` gets a selector the API server makes unique to it:
`batch.kubernetes.io/controller-uid=<uid>`, with that label, `batch.kubernetes.io/job-name` and
their legacy unprefixed twins added to the pod template (a label the user already set is kept,
and validation then says whether it conflicts). A Job without labels of its own shows the
template's, as a Job read back from Kubernetes' storage does.

batch/v1 Jobs orphan their pods when a DELETE names no propagation policy (kept for backward
compatibility; kubectl always names one, background). CronJobs cascade to their Jobs.

A Job's `spec.scheduling` (and a CronJob's `spec.jobTemplate.spec.scheduling`) belongs to the
WorkloadWithJob feature, alpha and off in 1.37: a write drops it, unless the stored object
already has one (the Job registry's DropDisabledFields, shared by both kinds).
"""

from __future__ import annotations

from kubelite.api import meta, propagation
from kubelite.api.defaulting import batch as defaults
from kubelite.api.errors import FieldError
from kubelite.api.strategies.pods import drop_disabled_template_fields
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation import batch as validation


def drop_disabled_job_spec_fields(spec: object, old_spec: object) -> None:
    """DropDisabledFields of a JobSpec (`old_spec` None on create): `scheduling` goes while
    WorkloadWithJob is off, unless the old spec used it."""
    if not isinstance(spec, dict):
        return
    if isinstance(old_spec, dict) and old_spec.get("scheduling") is not None:
        return
    spec.pop("scheduling", None)


def generate_selector(job: Obj) -> None:
    """generateSelector: unique labels on the template, and a selector of the uid label."""
    md = meta.metadata(job)
    uid, name = md.get("uid") or "", md.get("name") or ""
    spec = job.setdefault("spec", {})
    template = spec.get("template")
    if not isinstance(template, dict):
        template = spec["template"] = {}
    template_md = template.get("metadata")
    if not isinstance(template_md, dict):
        template_md = template["metadata"] = {}
    labels = template_md.get("labels")
    if not isinstance(labels, dict):
        labels = template_md["labels"] = {}
    for key in (validation.LEGACY_JOB_NAME, validation.JOB_NAME):
        labels.setdefault(key, name)
    for key in (validation.LEGACY_CONTROLLER_UID, validation.CONTROLLER_UID):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(validation.CONTROLLER_UID, uid)


class JobStrategy(Strategy):
    """How the registry treats a Job: defaults, a generated selector and template labels unless
    `manualSelector` is set, and the update rules; deleting a Job orphans its pods unless the
    request says otherwise, as batch/v1 does."""

    tracks_generation = True
    has_status_subresource = True
    garbage_collection_policy = propagation.ORPHAN_DEPENDENTS

    def default(self, obj: Obj) -> None:
        defaults.default_job(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        if meta.get_path(obj, "spec", "manualSelector") is not True:
            generate_selector(obj)
        defaults.copy_template_labels(obj)
        drop_disabled_job_spec_fields(obj.get("spec"), None)
        drop_disabled_template_fields(meta.get_path(obj, "spec", "template"), None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        drop_disabled_job_spec_fields(new.get("spec"), old.get("spec"))
        drop_disabled_template_fields(
            meta.get_path(new, "spec", "template"), meta.get_path(old, "spec", "template")
        )

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_job(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # Jobs made before the prefixed labels existed are not held to them.
        old_labels = meta.get_path(old, "spec", "template", "metadata", "labels", default={}) or {}
        prefixed = validation.JOB_NAME in old_labels and validation.CONTROLLER_UID in old_labels
        return (
            super().validate_update(new, old)
            + validation.validate_job(new, require_prefixed_labels=prefixed)
            + validation.validate_job_update(new, old)
        )

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validation.validate_job_status(new)


class CronJobStrategy(Strategy):
    """How the registry treats a CronJob: defaults and validation of its schedule and job template;
    deleting it deletes its Jobs by default."""

    tracks_generation = True
    has_status_subresource = True
    garbage_collection_policy = propagation.DELETE_DEPENDENTS

    def default(self, obj: Obj) -> None:
        defaults.default_cron_job(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        drop_disabled_job_spec_fields(_job_spec_of_cron_job(obj), None)
        drop_disabled_template_fields(_pod_template_of_cron_job(obj), None)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        drop_disabled_job_spec_fields(_job_spec_of_cron_job(new), _job_spec_of_cron_job(old))
        drop_disabled_template_fields(
            _pod_template_of_cron_job(new), _pod_template_of_cron_job(old)
        )

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validation.validate_cron_job(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        old_spec = meta.dict_field(old, "spec")
        new_spec = meta.dict_field(new, "spec")
        return super().validate_update(new, old) + validation.validate_cron_job_spec(
            new_spec, old_spec
        )


def _job_spec_of_cron_job(cron_job: Obj) -> object:
    return meta.get_path(cron_job, "spec", "jobTemplate", "spec")


def _pod_template_of_cron_job(cron_job: Obj) -> object:
    return meta.get_path(cron_job, "spec", "jobTemplate", "spec", "template")
