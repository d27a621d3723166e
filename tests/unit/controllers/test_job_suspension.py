"""The Job controller and suspension, as Kubernetes 1.37 does it: the start time goes when the
Job is suspended (MutableSchedulingDirectivesForSuspendedJobs, beta and on), so a queue
controller may then change the template and pods made after the resume run the new one; a
suspended Job with nothing to complete completes (kubernetes#132614)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from batch_cluster import RESOURCES, ClusterAPI, Harness, new_job
from testcluster import TestCluster

from kubelite.controllers.job import JobController

Obj = dict[str, Any]


@pytest.fixture
def api(kube: TestCluster) -> ClusterAPI:
    return ClusterAPI(kube)


@pytest.fixture
def h(api: ClusterAPI) -> Harness:
    return Harness(api, JobController)


def job_status(api: ClusterAPI) -> Obj:
    status: Obj = api.find("jobs", "work")["status"]
    return status


def conditions(api: ClusterAPI) -> list[tuple[str, str, str]]:
    return [
        (c["type"], c["status"], c.get("reason", ""))
        for c in job_status(api).get("conditions") or ()
    ]


async def test_suspending_a_running_job_clears_its_start_time(api: ClusterAPI, h: Harness) -> None:
    new_job(api)
    await h.sync()
    assert job_status(api)["startTime"] == "2025-01-01T00:00:00Z"
    (pod,) = api.pods()
    api.run(pod)
    await h.sync()

    api.now += dt.timedelta(seconds=10)
    api.set_spec("jobs", "work", suspend=True)
    await h.sync()
    assert conditions(api) == [("Suspended", "True", "JobSuspended")]
    assert "startTime" not in job_status(api)
    assert not job_status(api).get("active")
    assert ("delete", "pods", pod["metadata"]["name"], None) in api.writes

    # Nothing runs the old template now, so the API server takes a new one...
    job = api.find("jobs", "work")
    job["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "250m"}}
    job["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    api.kube.blocking.update(RESOURCES["jobs"], job, namespace=api.namespace)

    # ...and the pods made after the resume run it, with a fresh start time.
    api.now += dt.timedelta(seconds=20)
    api.set_spec("jobs", "work", suspend=False)
    await h.sync()
    assert conditions(api) == [("Suspended", "False", "JobResumed")]
    assert job_status(api)["startTime"] == "2025-01-01T00:00:30Z"
    fresh = [p for p in api.pods() if not p["metadata"].get("deletionTimestamp")]
    assert fresh[-1]["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert fresh[-1]["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "250m"}}


async def test_a_suspended_job_with_no_completions_completes(api: ClusterAPI, h: Harness) -> None:
    new_job(api, suspend=True, completions=0)
    await h.sync()
    await h.sync()
    status = job_status(api)
    assert ("Complete", "True", "CompletionsReached") in conditions(api)
    assert ("SuccessCriteriaMet", "True", "CompletionsReached") in conditions(api)
    assert status["completionTime"] == "2025-01-01T00:00:00Z"
    # Suspended all along: it never started (kubernetes#132614 lets it finish so).
    assert "startTime" not in status
    assert api.pods() == []
