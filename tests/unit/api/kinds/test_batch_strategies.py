"""Jobs and CronJobs: defaults, the generated selector, and Kubernetes' field errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import propagation
from kubelite.api.kinds import REGISTRY
from kubelite.api.strategies.batch import CronJobStrategy, JobStrategy
from kubelite.api.strategy import Strategy

Obj = dict[str, Any]
UID = "6b5a0ad2-8e3c-4f60-9d25-1b3e4f5a6c7d"


def job(**spec: Any) -> Obj:
    body: Obj = {
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
        },
        **spec,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": UID},
        "spec": body,
    }


def cron_job(**spec: Any) -> Obj:
    body: Obj = {
        "schedule": "*/5 * * * *",
        "jobTemplate": {"spec": job()["spec"]},
        **spec,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": "default", "uid": UID},
        "spec": body,
    }


def created(strategy: Strategy, obj: Obj) -> Obj:
    strategy.default(obj)
    strategy.prepare_for_create(obj)
    return obj


def errors(strategy: Strategy, obj: Obj) -> list[str]:
    return [str(e) for e in strategy.validate(obj)]


def update_errors(strategy: Strategy, new: Obj, old: Obj) -> list[str]:
    strategy.default(new)
    strategy.prepare_for_update(new, old)
    return [str(e) for e in strategy.validate_update(new, old)]


def test_the_registry_serves_both_with_kubectls_names() -> None:
    jobs = REGISTRY.lookup("batch", "v1", "jobs")
    cron_jobs = REGISTRY.lookup("batch", "v1", "cronjobs")
    assert jobs is not None and cron_jobs is not None
    assert (jobs.kind, jobs.categories, [s.name for s in jobs.subresources]) == (
        "Job",
        ("all",),
        ["status"],
    )
    assert (cron_jobs.short_names, cron_jobs.categories) == (("cj",), ("all",))
    # batch/v1 Jobs orphan their pods unless told otherwise; CronJobs cascade.
    assert jobs.strategy.garbage_collection_policy == propagation.ORPHAN_DEPENDENTS
    assert cron_jobs.strategy.garbage_collection_policy == propagation.DELETE_DEPENDENTS


def test_job_defaults_and_generated_selector() -> None:
    obj = created(JobStrategy(), job())
    spec = obj["spec"]
    assert {k: spec[k] for k in ("completions", "parallelism", "backoffLimit")} == {
        "completions": 1,
        "parallelism": 1,
        "backoffLimit": 6,
    }
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}}
    generated = {
        "batch.kubernetes.io/controller-uid": UID,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": UID,
        "job-name": "pi",
    }
    assert spec["template"]["metadata"]["labels"] == generated
    assert obj["metadata"]["labels"] == generated
    assert obj["status"] == {}
    assert obj["metadata"]["generation"] == 1
    assert errors(JobStrategy(), obj) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"parallelism": 3}, {"parallelism": 3, "backoffLimit": 6}),
        ({"completions": 5}, {"completions": 5, "parallelism": 1}),
        (
            {"completionMode": "Indexed", "completions": 2, "backoffLimitPerIndex": 1},
            {"backoffLimit": 2147483647},
        ),
        (
            {"podFailurePolicy": {"rules": []}},
            {"podReplacementPolicy": "Failed"},
        ),
    ],
)
def test_job_defaults_that_depend_on_the_spec(spec: Obj, expected: Obj) -> None:
    obj = created(JobStrategy(), job(**spec))
    assert {k: obj["spec"].get(k) for k in expected} == expected
    if "completions" not in spec and "parallelism" in spec:
        assert "completions" not in obj["spec"]


def test_a_users_template_labels_are_kept_and_become_the_jobs() -> None:
    obj = job()
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    created(JobStrategy(), obj)
    assert obj["metadata"]["labels"] == {"app": "pi"}
    assert obj["spec"]["template"]["metadata"]["labels"]["app"] == "pi"
    assert obj["spec"]["template"]["metadata"]["labels"]["job-name"] == "pi"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda s: s["template"]["spec"].pop("restartPolicy"),
            'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
        ),
        (
            lambda s: s["template"]["spec"].update(restartPolicy="Sometimes"),
            'spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"OnFailure", "Never"',
        ),
        (
            lambda s: s.update(completions=-1),
            "spec.completions: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            lambda s: s.update(backoffLimit=-2),
            "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
        ),
        (
            lambda s: s.update(completionMode="Indexed", completions=None, parallelism=2),
            "spec.completions: Required value: when completion mode is Indexed",
        ),
        (
            lambda s: s.update(completionMode="Sometimes"),
            'spec.completionMode: Unsupported value: "Sometimes": supported values: '
            '"NonIndexed", "Indexed"',
        ),
        (
            lambda s: s.update(backoffLimitPerIndex=1),
            "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
        ),
        (
            lambda s: s.update(
                podFailurePolicy={
                    "rules": [
                        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0]}}
                    ]
                }
            ),
            "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be "
            "0 for the In operator",
        ),
        (
            lambda s: s.update(podFailurePolicy={"rules": [{"action": "FailJob"}]}),
            "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and "
            "OnPodConditions is required",
        ),
        (
            lambda s: s.update(
                podFailurePolicy={
                    "rules": [
                        {
                            "action": "Explode",
                            "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                        }
                    ]
                }
            ),
            'spec.podFailurePolicy.rules[0].action: Unsupported value: "Explode": supported '
            'values: "Count", "FailIndex", "FailJob", "Ignore"',
        ),
        (
            lambda s: s.update(
                podFailurePolicy={
                    "rules": [
                        {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}
                    ]
                }
            ),
            'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the '
            "backoffLimitPerIndex to be set",
        ),
        (
            lambda s: s.update(successPolicy={"rules": [{"succeededCount": 1}]}),
            "spec.successPolicy: Invalid value: batch.SuccessPolicy{Rules:[]batch.SuccessPolicy"
            "Rule{...}}: requires indexed completion mode",
        ),
        (
            lambda s: s.update(
                completionMode="Indexed",
                completions=3,
                successPolicy={"rules": [{"succeededIndexes": "2-4"}]},
            ),
            'spec.successPolicy.rules[0].succeededIndexes: Invalid value: "2-4": error parsing '
            'succeededIndexes: too large index: "4"',
        ),
        (
            lambda s: s.update(podReplacementPolicy="Never"),
            'spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", '
            '"TerminatingOrFailed"',
        ),
    ],
)
def test_job_field_errors(change: Any, expected: str) -> None:
    obj = job()
    change(obj["spec"])
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    created(JobStrategy(), obj)
    assert expected in errors(JobStrategy(), obj)


def test_a_selector_the_server_did_not_generate_is_refused() -> None:
    obj = job(selector={"matchLabels": {"app": "x"}})
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    created(JobStrategy(), obj)
    found = errors(JobStrategy(), obj)
    assert any(e.startswith("spec.selector: Invalid value: v1.LabelSelector{") for e in found)
    assert any(e.endswith("`selector` not auto-generated") for e in found)


def test_a_manual_selector_must_match_the_template() -> None:
    obj = job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    obj["spec"]["template"]["metadata"] = {"labels": {"app": "y"}}
    created(JobStrategy(), obj)
    assert errors(JobStrategy(), obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: '
        "`selector` does not match template `labels`"
    ]


def _stored_job(**spec: Any) -> Obj:
    obj = created(JobStrategy(), job(**spec))
    obj["metadata"]["resourceVersion"] = "1"
    return obj


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda s: s.update(completions=4),
            "spec.completions: Invalid value: 4: field is immutable",
        ),
        (
            lambda s: s.update(completionMode="Indexed"),
            'spec.completionMode: Invalid value: "Indexed": field is immutable',
        ),
        (
            lambda s: s["template"]["spec"]["containers"][0].update(image="other"),
            "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable",
        ),
    ],
)
def test_what_a_job_may_not_change(change: Any, expected: str) -> None:
    old = _stored_job()
    new = copy.deepcopy(old)
    change(new["spec"])
    assert expected in update_errors(JobStrategy(), new, old)


def test_what_a_job_may_change() -> None:
    old = _stored_job(parallelism=1)
    new = copy.deepcopy(old)
    new["spec"].update(parallelism=3, suspend=True, activeDeadlineSeconds=60)
    assert update_errors(JobStrategy(), new, old) == []
    assert new["metadata"]["generation"] == 2


def test_an_indexed_job_scales_completions_with_parallelism() -> None:
    old = _stored_job(completionMode="Indexed", completions=2, parallelism=2)
    new = copy.deepcopy(old)
    new["spec"].update(completions=4, parallelism=4)
    assert update_errors(JobStrategy(), new, old) == []
    lone = copy.deepcopy(old)
    lone["spec"].update(completions=4)
    assert update_errors(JobStrategy(), lone, old) == [
        "spec.completions: Invalid value: 4: can only be modified in tandem with spec.parallelism"
    ]


def test_a_suspended_job_never_started_may_move_its_pods() -> None:
    old = _stored_job(suspend=True)
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert update_errors(JobStrategy(), new, old) == []
    started = copy.deepcopy(old)
    started["status"] = {"startTime": "2025-01-01T00:00:00Z"}
    new = copy.deepcopy(started)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert update_errors(JobStrategy(), new, started) == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
    ]


def test_status_counters_are_not_negative() -> None:
    old = _stored_job()
    new = copy.deepcopy(old)
    new["status"] = {"active": -1, "uncountedTerminatedPods": {"failed": ["a", "a"]}}
    found = [str(e) for e in JobStrategy().validate_status_update(new, old)]
    assert found == [
        "status.active: Invalid value: -1: must be greater than or equal to 0",
        'status.uncountedTerminatedPods.failed[1]: Duplicate value: "a"',
    ]


def test_cron_job_defaults() -> None:
    obj = created(CronJobStrategy(), cron_job())
    spec = obj["spec"]
    assert (
        spec["concurrencyPolicy"],
        spec["suspend"],
        spec["successfulJobsHistoryLimit"],
        spec["failedJobsHistoryLimit"],
    ) == ("Allow", False, 3, 1)
    # The job template gets pod defaults, not Job defaults.
    assert "backoffLimit" not in spec["jobTemplate"]["spec"]
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert errors(CronJobStrategy(), obj) == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"schedule": ""}, "spec.schedule: Required value"),
        (
            {"schedule": "* * *"},
            'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]',
        ),
        (
            {"schedule": "TZ=UTC * * * * *"},
            'spec.schedule: Invalid value: "TZ=UTC * * * * *": cannot use TZ or CRON_TZ in '
            "schedule, use timeZone field instead",
        ),
        (
            {"timeZone": "Mars/Olympus"},
            'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        ),
        (
            {"timeZone": ""},
            'spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string',
        ),
        (
            {"concurrencyPolicy": "Sometimes"},
            'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", '
            '"Forbid", "Replace"',
        ),
        (
            {"startingDeadlineSeconds": -1},
            "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            {"successfulJobsHistoryLimit": -1},
            "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal "
            "to 0",
        ),
    ],
)
def test_cron_job_field_errors(spec: Obj, expected: str) -> None:
    obj = created(CronJobStrategy(), cron_job(**spec))
    assert expected in errors(CronJobStrategy(), obj)


def test_a_cron_job_template_has_no_selector_and_a_valid_restart_policy() -> None:
    obj = cron_job()
    obj["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    obj["spec"]["jobTemplate"]["spec"]["manualSelector"] = True
    obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    found = errors(CronJobStrategy(), created(CronJobStrategy(), obj))
    assert (
        "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "
        '"OnFailure", "Never"'
    ) in found
    assert any(e.endswith("`selector` will be auto-generated") for e in found)
    assert (
        "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: "
        '"nil", "false"'
    ) in found


def test_a_cron_job_name_leaves_room_for_its_jobs_suffix() -> None:
    obj = cron_job()
    obj["metadata"]["name"] = "x" * 53
    found = errors(CronJobStrategy(), created(CronJobStrategy(), obj))
    assert f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters' in (
        found
    )


def test_a_stored_tz_schedule_may_stay_on_update() -> None:
    old = created(CronJobStrategy(), cron_job())
    old["spec"]["schedule"] = "TZ=UTC 0 * * * *"
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["suspend"] = True
    assert update_errors(CronJobStrategy(), new, old) == []


# --- spec.scheduling (WorkloadWithJob, alpha and off in 1.37) ---------------------------------

SCHEDULING = {"schedulingPolicy": {"gang": {"minCount": 2}}}


def test_a_jobs_scheduling_is_dropped_on_create_and_on_update_that_adds_it() -> None:
    obj = created(JobStrategy(), job(scheduling=copy.deepcopy(SCHEDULING)))
    assert "scheduling" not in obj["spec"]
    old = _stored_job()
    new = copy.deepcopy(old)
    new["spec"]["scheduling"] = copy.deepcopy(SCHEDULING)
    JobStrategy().prepare_for_update(new, old)
    assert "scheduling" not in new["spec"]


def test_a_jobs_scheduling_already_stored_is_kept_on_update() -> None:
    """DropDisabledFields keeps a disabled field the old object uses (schedulingInUse)."""
    old = _stored_job()
    old["spec"]["scheduling"] = copy.deepcopy(SCHEDULING)
    new = copy.deepcopy(old)
    JobStrategy().prepare_for_update(new, old)
    assert new["spec"]["scheduling"] == SCHEDULING


def test_a_cron_jobs_job_template_scheduling_is_dropped_unless_stored() -> None:
    body = cron_job()
    body["spec"]["jobTemplate"]["spec"]["scheduling"] = copy.deepcopy(SCHEDULING)
    obj = created(CronJobStrategy(), body)
    assert "scheduling" not in obj["spec"]["jobTemplate"]["spec"]
    old = copy.deepcopy(obj)
    old["spec"]["jobTemplate"]["spec"]["scheduling"] = copy.deepcopy(SCHEDULING)
    new = copy.deepcopy(old)
    CronJobStrategy().prepare_for_update(new, old)
    assert new["spec"]["jobTemplate"]["spec"]["scheduling"] == SCHEDULING
