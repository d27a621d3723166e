"""Job and CronJob rows of `kubectl get`, as Kubernetes 1.33 prints them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api.printers import printer_for
from kubelite.api.printers.batch import cron_job_cells, job_cells

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def job(status: Obj, *, deleting: bool = False, **spec: Any) -> Obj:
    md: Obj = {"name": "pi", "creationTimestamp": "2025-06-01T11:50:00Z"}
    if deleting:
        md["deletionTimestamp"] = "2025-06-01T11:59:00Z"
    return {
        "metadata": md,
        "spec": {
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}},
            **spec,
        },
        "status": status,
    }


def true(*types: str) -> list[Obj]:
    return [{"type": t, "status": "True"} for t in types]


def test_columns() -> None:
    names = [c.name for c in printer_for("batch", "Job").columns]
    assert names == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert [c.priority for c in printer_for("batch", "Job").columns][-3:] == [1, 1, 1]
    cron_names = [c.name for c in printer_for("batch", "CronJob").columns]
    assert cron_names == [
        "Name",
        "Schedule",
        "Timezone",
        "Suspend",
        "Active",
        "Last Schedule",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]


def test_a_complete_job_row() -> None:
    row = job_cells(
        job(
            {
                "succeeded": 3,
                "startTime": "2025-06-01T11:50:00Z",
                "completionTime": "2025-06-01T11:52:05Z",
                "conditions": true("SuccessCriteriaMet", "Complete"),
            },
            completions=3,
            parallelism=2,
        ),
        NOW,
    )
    assert row == [
        "pi",
        "Complete",
        "3/3",
        "2m5s",
        "10m",
        "pi",
        "perl:5.34",
        "batch.kubernetes.io/controller-uid=u1",
    ]


@pytest.mark.parametrize(
    ("conditions", "deleting", "word"),
    [
        (true("Failed"), False, "Failed"),
        (true("FailureTarget", "Failed"), True, "Failed"),
        ([], True, "Terminating"),
        (true("Suspended"), False, "Suspended"),
        ([{"type": "Suspended", "status": "False"}], False, "Running"),
        (true("FailureTarget"), False, "FailureTarget"),
        (true("SuccessCriteriaMet"), False, "SuccessCriteriaMet"),
        ([], False, "Running"),
    ],
)
def test_job_status_word(conditions: list[Obj], deleting: bool, word: str) -> None:
    assert job_cells(job({"conditions": conditions}, deleting=deleting), NOW)[1] == word


@pytest.mark.parametrize(
    ("spec", "completions"),
    [
        ({"completions": 5, "parallelism": 2}, "1/5"),
        ({"parallelism": 4}, "1/1 of 4"),
        ({"parallelism": 1}, "1/1"),
        ({}, "1/1"),
    ],
)
def test_job_completions(spec: Obj, completions: str) -> None:
    assert job_cells(job({"succeeded": 1}, **spec), NOW)[2] == completions


def test_a_running_jobs_duration_runs_to_now_and_an_unstarted_one_has_none() -> None:
    assert job_cells(job({"startTime": "2025-06-01T11:59:30Z"}), NOW)[3] == "30s"
    assert job_cells(job({}), NOW)[3] == ""


def test_cron_job_rows() -> None:
    cron_job = {
        "metadata": {"name": "tick", "creationTimestamp": "2025-06-01T10:00:00Z"},
        "spec": {
            "schedule": "*/5 * * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}
            },
        },
        "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2025-06-01T11:55:00Z"},
    }
    assert cron_job_cells(cron_job, NOW) == [
        "tick",
        "*/5 * * * *",
        "<none>",
        "False",
        1,
        "5m",
        "120m",
        "c",
        "i",
        "<none>",
    ]
    cron_job["spec"].update(timeZone="Europe/Berlin")
    del cron_job["spec"]["suspend"]
    cron_job["status"] = {}
    assert cron_job_cells(cron_job, NOW)[2:6] == ["Europe/Berlin", "<unset>", 0, "<none>"]
