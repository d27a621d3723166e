"""The CronJob controller: when it runs a Job, what the Job looks like, concurrency, history,
and the TTL-after-finished controller that deletes finished Jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from batch_cluster import T0, ClusterAPI, Harness, new_cron_job, new_job
from testcluster import TestCluster

from kubelite.api import cron, meta
from kubelite.controllers.cronjob import (
    CronJobController,
    job_name,
    most_recent_schedule,
    next_sync_in,
    rfc3339_in,
)
from kubelite.controllers.ttlafterfinished import TTLAfterFinishedController

Obj = dict[str, Any]


@pytest.fixture
def api(kube: TestCluster) -> ClusterAPI:
    return ClusterAPI(kube)


@pytest.fixture
def h(api: ClusterAPI) -> Harness:
    return Harness(api, CronJobController)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def cron_job_at(schedule: str, created: dt.datetime, **status: Any) -> Obj:
    return {
        "metadata": {"name": "tick", "creationTimestamp": meta.format_time(created)},
        "spec": {"schedule": schedule},
        "status": status,
    }


@pytest.mark.parametrize(
    ("schedule", "created", "last", "now", "deadline", "expected", "missed"),
    [
        # Nothing due yet.
        ("*/5 * * * *", at(0), None, at(4), None, None, 0),
        # The first time after creation.
        ("*/5 * * * *", at(0), None, at(5.5), None, at(5), 0),
        # Since the last scheduled time: only the latest of several missed ones.
        ("*/5 * * * *", at(0), at(5), at(23), None, at(20), 3),
        # Already run: nothing new.
        ("*/5 * * * *", at(0), at(20), at(23), None, None, 0),
        # startingDeadlineSeconds moves the earliest time considered.
        ("*/5 * * * *", at(0), None, at(23), 120, None, 0),
        ("*/5 * * * *", at(0), None, at(21), 120, at(20), 0),
        # More than a hundred missed.
        ("* * * * *", at(0), None, at(150), None, at(150), 150),
    ],
)
def test_most_recent_schedule(
    schedule: str,
    created: dt.datetime,
    last: dt.datetime | None,
    now: dt.datetime,
    deadline: int | None,
    expected: dt.datetime | None,
    missed: int,
) -> None:
    cron_job = cron_job_at(
        schedule, created, **({"lastScheduleTime": meta.format_time(last)} if last else {})
    )
    if deadline is not None:
        cron_job["spec"]["startingDeadlineSeconds"] = deadline
    _, found, count = most_recent_schedule(
        cron_job, now, cron.parse_standard(schedule), with_deadline=True
    )
    assert (found, count) == (expected, missed)


def test_a_schedule_that_never_comes_twice_a_second_apart_is_refused() -> None:
    cron_job = cron_job_at("@every 1s", at(0))
    schedule = cron.Schedule(every=0.5)
    with pytest.raises(cron.CronError, match="less than 1 second"):
        most_recent_schedule(cron_job, at(1), schedule, with_deadline=False)


def test_next_sync_is_just_after_the_next_scheduled_time() -> None:
    cron_job = cron_job_at("*/5 * * * *", at(0), lastScheduleTime=meta.format_time(at(5)))
    assert next_sync_in(cron_job, at(6), cron.parse_standard("*/5 * * * *")) == pytest.approx(240.1)


def test_job_names_and_scheduled_timestamps() -> None:
    scheduled = dt.datetime(2024, 7, 1, 1, 0, tzinfo=dt.UTC)
    assert job_name({"metadata": {"name": "nightly"}}, scheduled) == "nightly-28663260"
    assert rfc3339_in(scheduled, dt.UTC) == "2024-07-01T01:00:00Z"
    assert rfc3339_in(scheduled, cron.load_zone("Europe/Berlin")) == "2024-07-01T03:00:00+02:00"
    assert rfc3339_in(scheduled, cron.load_zone("America/St_Johns")) == (
        "2024-06-30T22:30:00-02:30"
    )


async def test_a_job_is_made_at_the_scheduled_time(api: ClusterAPI, h: Harness) -> None:
    cron_job = new_cron_job(
        api,
        schedule="0 3 * * *",
        timeZone="Europe/Berlin",
        jobTemplate={
            "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
            "spec": {
                "backoffLimit": 2,
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
                },
            },
        },
    )
    again = await h.sync(h.key("tick"))
    # Created at midnight UTC, 01:00 in Berlin: the next run is 03:00 Berlin, 02:00 UTC.
    assert api.of("jobs") == []
    assert again == pytest.approx(2 * 3600 + 0.1)
    api.now = T0 + dt.timedelta(hours=2, seconds=1)
    await h.sync(h.key("tick"))
    (job,) = api.of("jobs")
    scheduled = dt.datetime(2025, 1, 1, 2, 0, tzinfo=dt.UTC)
    assert job["metadata"]["name"] == f"tick-{int(scheduled.timestamp()) // 60}"
    assert job["metadata"]["labels"] == {"team": "a"}
    assert job["metadata"]["annotations"] == {
        "note": "x",
        "batch.kubernetes.io/cronjob-scheduled-timestamp": "2025-01-01T03:00:00+01:00",
    }
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
        "CronJob",
        "tick",
        cron_job["metadata"]["uid"],
        True,
    )
    assert job["spec"]["backoffLimit"] == 2
    status = api.find("cronjobs", "tick")["status"]
    assert status["lastScheduleTime"] == "2025-01-01T02:00:00Z"
    assert [a["name"] for a in status["active"]] == [job["metadata"]["name"]]
    assert [e["reason"] for e in api.events] == ["SuccessfulCreate"]
    assert api.events[0]["message"] == f"Created job {job['metadata']['name']}"
    # The same time is never run twice.
    await h.sync(h.key("tick"))
    assert len(api.of("jobs")) == 1


async def test_a_finished_job_leaves_the_active_list(api: ClusterAPI, h: Harness) -> None:
    new_cron_job(api, schedule="*/1 * * * *")
    api.now = at(1)
    await h.sync(h.key("tick"))
    (job,) = api.of("jobs")
    api.set_status(
        "jobs",
        job["metadata"]["name"],
        {
            "conditions": [{"type": "Complete", "status": "True"}],
            "completionTime": "2025-01-01T00:01:30Z",
        },
    )
    api.now = at(1.6)
    await h.sync(h.key("tick"))
    status = api.find("cronjobs", "tick")["status"]
    assert "active" not in status
    assert status["lastSuccessfulTime"] == "2025-01-01T00:01:30Z"
    assert api.events[-1]["reason"] == "SawCompletedJob"
    assert api.events[-1]["message"] == (
        f"Saw completed job: {job['metadata']['name']}, condition: Complete"
    )


@pytest.mark.parametrize(
    ("policy", "jobs", "deleted", "reason"),
    [
        ("Allow", 2, False, "SuccessfulCreate"),
        ("Forbid", 1, False, "JobAlreadyActive"),
        # The replaced Job is deleted (in the background: it is gone at once here).
        ("Replace", 1, True, "SuccessfulCreate"),
    ],
)
async def test_concurrency_policy(
    api: ClusterAPI, h: Harness, policy: str, jobs: int, deleted: bool, reason: str
) -> None:
    new_cron_job(api, schedule="*/1 * * * *", concurrencyPolicy=policy)
    api.now = at(1)
    await h.sync(h.key("tick"))
    (first,) = api.of("jobs")
    api.now = at(2)
    await h.sync(h.key("tick"))
    assert len(api.of("jobs")) == jobs
    assert (("delete", "jobs", first["metadata"]["name"], "Background") in api.writes) is deleted
    assert api.events[-1]["reason"] == reason
    active = api.find("cronjobs", "tick")["status"]["active"]
    assert len(active) == (2 if policy == "Allow" else 1)


async def test_a_suspended_cron_job_makes_no_job(api: ClusterAPI, h: Harness) -> None:
    new_cron_job(api, schedule="*/1 * * * *", suspend=True)
    api.now = at(5)
    assert await h.sync(h.key("tick")) is None
    assert api.of("jobs") == []


async def test_a_missed_start_past_its_deadline_is_skipped(api: ClusterAPI, h: Harness) -> None:
    new_cron_job(api, schedule="0 * * * *", startingDeadlineSeconds=60)
    api.now = at(62)
    await h.sync(h.key("tick"))
    assert api.of("jobs") == []


async def test_too_many_missed_start_times_warn_and_the_latest_runs(
    api: ClusterAPI, h: Harness
) -> None:
    new_cron_job(api, schedule="* * * * *")
    api.now = at(200.5)
    await h.sync(h.key("tick"))
    assert [e["reason"] for e in api.events] == ["TooManyMissedTimes", "SuccessfulCreate"]
    assert api.events[0]["message"] == (
        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check "
        "clock skew"
    )
    (job,) = api.of("jobs")
    assert job["metadata"]["name"] == f"tick-{int(at(200).timestamp()) // 60}"


async def test_old_finished_jobs_are_deleted_beyond_the_history_limits(
    api: ClusterAPI, h: Harness
) -> None:
    cron_job = new_cron_job(
        api, schedule="0 0 1 1 *", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0
    )
    owner = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "name": "tick",
        "uid": cron_job["metadata"]["uid"],
        "controller": True,
    }
    for i, outcome in enumerate(["Complete", "Complete", "Failed"]):
        new_job(api, name=f"old-{i}", owner_references=[owner])
        api.set_status(
            "jobs",
            f"old-{i}",
            {
                "startTime": f"2024-12-0{i + 1}T00:00:00Z",
                "conditions": [{"type": outcome, "status": "True"}],
            },
        )
    api.now = at(1)
    await h.sync(h.key("tick"))
    deleted = [w[2] for w in api.writes if w[0] == "delete"]
    assert deleted == ["old-0", "old-2"]


async def test_a_finished_job_is_deleted_once_its_ttl_is_up(api: ClusterAPI) -> None:
    h = Harness(api, TTLAfterFinishedController)
    new_job(api, ttlSecondsAfterFinished=100)
    assert await h.sync() is None  # Not finished: nothing to wait for.
    api.set_status(
        "jobs",
        "work",
        {
            "conditions": [
                {"type": "Complete", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
            ]
        },
    )
    api.now = T0 + dt.timedelta(seconds=40)
    assert await h.sync() == pytest.approx(60)
    assert not any(w[0] == "delete" for w in api.writes)
    api.now = T0 + dt.timedelta(seconds=100)
    await h.sync()
    assert ("delete", "jobs", "work", "Foreground") in api.writes


async def test_an_active_reference_without_a_namespace_is_a_missing_job(
    api: ClusterAPI, h: Harness
) -> None:
    """A client may write any reference into `status.active`; the fuzzer's had no namespace,
    and the sync failed on it (ValueError) instead of dropping it as Kubernetes does."""
    new_cron_job(api, schedule="0 0 1 1 *")
    api.set_status("cronjobs", "tick", {"active": [{"kind": "Job", "name": "ghost", "uid": "u"}]})
    await h.sync(h.key("tick"))
    assert "active" not in api.find("cronjobs", "tick")["status"]
    assert api.events[-1]["reason"] == "MissingJob"
    assert api.events[-1]["message"] == "Active job went missing: ghost"
