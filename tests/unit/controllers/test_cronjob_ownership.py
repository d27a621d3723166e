"""Which Jobs a CronJob calls its own (Kubernetes 1.37): a Job whose controller reference names
another kind, or another CronJob, is not an `UnexpectedJob` (kubernetes#133313); a Job the
controller made but failed to list is read back from the CronJob's namespace and listed
(kubernetes#136920)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from batch_cluster import T0, ClusterAPI, Harness, new_cron_job, new_job
from testcluster import TestCluster

from kubelite.controllers.cronjob import CronJobController, job_name

Obj = dict[str, Any]


@pytest.fixture
def api(kube: TestCluster) -> ClusterAPI:
    return ClusterAPI(kube)


@pytest.fixture
def h(api: ClusterAPI) -> Harness:
    return Harness(api, CronJobController)


def controller(kind: str, name: str, uid: str) -> Obj:
    return {
        "apiVersion": "batch/v1" if kind == "CronJob" else "example.com/v1",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
    }


def reasons(api: ClusterAPI) -> list[str]:
    return [e["reason"] for e in api.events]


async def test_a_job_of_its_own_it_does_not_list_is_unexpected(api: ClusterAPI, h: Harness) -> None:
    cron_job = new_cron_job(api, schedule="0 0 1 1 *")
    uid = cron_job["metadata"]["uid"]
    new_job(api, name="stray", owner_references=[controller("CronJob", "tick", uid)])
    await h.sync(h.key("tick"))
    assert reasons(api) == ["UnexpectedJob"]
    assert api.events[0]["message"] == (
        "Saw a job that the controller did not create or forgot: stray"
    )


@pytest.mark.parametrize(
    ("kind", "name"),
    [("Workflow", "tick"), ("CronJob", "other")],
    ids=["other-kind-same-name", "other-cronjob"],
)
async def test_a_job_someone_else_controls_is_not_its_own(
    api: ClusterAPI, h: Harness, kind: str, name: str
) -> None:
    cron_job = new_cron_job(
        api, schedule="0 0 1 1 *", successfulJobsHistoryLimit=0, failedJobsHistoryLimit=0
    )
    # The same uid as the CronJob's, so that only the kind or the name can tell them apart.
    ref = controller(kind, name, cron_job["metadata"]["uid"])
    new_job(api, name="theirs", owner_references=[ref])
    new_job(api, name="theirs-done", owner_references=[ref])
    api.set_status(
        "jobs",
        "theirs-done",
        {
            "startTime": "2024-12-01T00:00:00Z",
            "completionTime": "2024-12-01T00:01:00Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    )
    await h.sync(h.key("tick"))
    assert "UnexpectedJob" not in reasons(api)
    # Nor does it count in the CronJob's history, to be cleaned up or to set its times.
    assert not any(w[0] == "delete" for w in api.writes)
    assert "lastSuccessfulTime" not in (api.find("cronjobs", "tick").get("status") or {})


async def test_a_job_it_made_but_did_not_list_is_listed_at_its_time(
    api: ClusterAPI, h: Harness
) -> None:
    cron_job = new_cron_job(api, schedule="*/1 * * * *")
    scheduled = T0 + dt.timedelta(minutes=1)
    name = job_name(cron_job, scheduled)
    # As if an earlier sync created the Job and then lost its status write.
    made = new_job(
        api,
        name=name,
        owner_references=[controller("CronJob", "tick", cron_job["metadata"]["uid"])],
    )
    api.now = scheduled + dt.timedelta(seconds=5)
    h.refresh("cronjobs")  # The Job's create is not seen yet: the informer lags.
    await h.controller.sync(h.key("tick"))
    status = api.find("cronjobs", "tick")["status"]
    assert [(a["name"], a["uid"], a["namespace"]) for a in status["active"]] == [
        (name, made["metadata"]["uid"], api.namespace)
    ]
    assert status["lastScheduleTime"] == "2025-01-01T00:01:00Z"
    assert "SuccessfulCreate" not in reasons(api)
