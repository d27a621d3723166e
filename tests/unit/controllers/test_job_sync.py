"""The Job controller's sync against the real API server (`batch_cluster`): which pods it makes
and removes, how it counts them, and when and how the Job finishes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from batch_cluster import ClusterAPI, Harness, new_job
from testcluster import TestCluster

from kubelite.controllers.job import JobController

Obj = dict[str, Any]
TRACKING = "batch.kubernetes.io/job-tracking"


@pytest.fixture
def api(kube: TestCluster) -> ClusterAPI:
    return ClusterAPI(kube)


@pytest.fixture
def h(api: ClusterAPI) -> Harness:
    return Harness(api, JobController)


def job_status(api: ClusterAPI, name: str = "work") -> Obj:
    return api.find("jobs", name)["status"]


def conditions(api: ClusterAPI, name: str = "work") -> list[tuple[str, str, str]]:
    return [
        (c["type"], c["status"], c.get("reason", ""))
        for c in job_status(api, name).get("conditions") or ()
    ]


def reasons(api: ClusterAPI) -> list[str]:
    return [e["reason"] for e in api.events]


def later(api: ClusterAPI, seconds: float) -> None:
    api.now += dt.timedelta(seconds=seconds)


async def test_pods_are_made_up_to_parallelism_and_the_job_completes(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, completions=3, parallelism=2)
    await h.sync()
    pods = api.pods()
    assert len(pods) == 2
    pod = pods[0]
    assert pod["metadata"]["generateName"] == "work-"
    assert pod["metadata"]["finalizers"] == [TRACKING]
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "work"
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("Job", "work", True)
    status = job_status(api)
    assert status["active"] == 2
    assert status["startTime"] == "2025-01-01T00:00:00Z"
    assert (status["ready"], status["terminating"]) == (0, 0)
    assert status["uncountedTerminatedPods"] == {}

    # A sync before the informer shows the pods creates nothing more (expectations).
    for p in pods:
        api.run(p)
    await h.sync()
    assert len(api.pods()) == 2
    assert job_status(api)["ready"] == 2

    later(api, 5)
    api.finish(pods[0])
    await h.sync()
    assert len(api.pods()) == 3  # One more: 2 completions left, parallelism 2.
    status = job_status(api)
    assert (status["succeeded"], status["active"]) == (1, 2)
    assert TRACKING not in (
        api.find("pods", pods[0]["metadata"]["name"])["metadata"].get("finalizers") or ()
    )

    for p in api.pods():
        if p.get("status", {}).get("phase") != "Succeeded":
            api.finish(p)
    later(api, 5)
    await h.sync()
    status = job_status(api)
    assert status["succeeded"] == 3
    assert "active" not in status
    assert conditions(api) == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    complete = status["conditions"][1]
    assert complete["message"] == "Reached expected number of succeeded pods"
    assert status["completionTime"] == "2025-01-01T00:00:10Z"
    assert reasons(api).count("SuccessfulCreate") == 3
    assert "Completed" in reasons(api)
    # Done: nothing changes any more.
    writes = len(api.writes)
    await h.sync()
    assert len(api.writes) == writes


async def test_a_finished_pod_is_recorded_before_its_finalizer_goes_then_counted(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, completions=2, parallelism=2)
    await h.sync()
    first = api.pods()[0]
    api.finish(first)
    api.clear_writes()
    await h.sync()
    name = first["metadata"]["name"]
    # Status (uid uncounted), then the finalizer, then status (counted): never lost, never twice.
    assert api.writes[:3] == [
        ("status", "jobs", "work"),
        ("unfinalize", "pods", name),
        ("status", "jobs", "work"),
    ]
    assert job_status(api)["succeeded"] == 1
    assert job_status(api)["uncountedTerminatedPods"] == {}


async def test_a_pod_seen_again_with_its_finalizer_is_not_counted_twice(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, completions=3, parallelism=1)
    await h.sync()
    pod = api.pods()[0]
    api.finish(pod)
    await h.sync()
    assert job_status(api)["succeeded"] == 1
    # The pod informer lags: it still shows the pod with its finalizer, the Job as counted.
    stale = h.controller.pods._cache[h.key(pod["metadata"]["name"])]
    assert TRACKING in stale["metadata"]["finalizers"]
    h.refresh("jobs")
    await h.controller.sync(h.key())
    assert job_status(api)["succeeded"] == 1


async def test_a_failed_pod_is_replaced_after_the_back_off(api: ClusterAPI, h: Harness) -> None:
    new_job(api)
    await h.sync()
    api.finish(api.pods()[0], code=1)
    later(api, 1)
    again = await h.sync()
    assert job_status(api)["failed"] == 1
    assert len(api.pods()) == 1  # No replacement yet...
    assert again == pytest.approx(9)  # ...until 10 s after the failure.
    later(api, 9)
    await h.sync()
    assert len(api.pods()) == 2


async def test_more_failures_than_the_backoff_limit_fail_the_job(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, completions=2, parallelism=2, backoffLimit=1)
    await h.sync()
    first, second = api.pods()
    api.run(second)
    api.finish(first, code=2)
    await h.sync()
    assert conditions(api) == []  # One failure is within the limit.
    later(api, 10)
    await h.sync()
    earlier = (first["metadata"]["name"], second["metadata"]["name"])
    third = next(p for p in api.pods() if p["metadata"]["name"] not in earlier)
    api.finish(third, code=2)
    await h.sync()
    # Two failures > 1: the verdict first, and the pod still running is deleted.
    assert conditions(api) == [("FailureTarget", "True", "BackoffLimitExceeded")]
    assert ("delete", "pods", second["metadata"]["name"], None) in api.writes
    assert job_status(api)["terminating"] == 1
    # The deleted pod goes Failed (as a kubelet reports it) and is counted; then Failed.
    api.finish(api.find("pods", second["metadata"]["name"]), code=137)
    await h.sync()
    assert conditions(api) == [
        ("FailureTarget", "True", "BackoffLimitExceeded"),
        ("Failed", "True", "BackoffLimitExceeded"),
    ]
    failed = job_status(api)["conditions"][1]
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert job_status(api)["failed"] == 3
    assert "completionTime" not in job_status(api)
    assert "BackoffLimitExceeded" in reasons(api)


async def test_restarts_of_on_failure_pods_count_against_the_backoff_limit(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, restart_policy="OnFailure", backoffLimit=2)
    await h.sync()
    pod = api.pods()[0]
    api.run(pod, restarts=1)
    await h.sync()
    assert conditions(api) == []
    api.run(pod, restarts=2)
    await h.sync()
    assert conditions(api)[0] == ("FailureTarget", "True", "BackoffLimitExceeded")


async def test_a_fail_job_rule_fails_the_job_at_once(api: ClusterAPI, h: Harness) -> None:
    new_job(
        api,
        completions=5,
        parallelism=1,
        podFailurePolicy={
            "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]
        },
    )
    await h.sync()
    api.finish(api.pods()[0], code=42)
    await h.sync()
    assert conditions(api) == [
        ("FailureTarget", "True", "PodFailurePolicy"),
        ("Failed", "True", "PodFailurePolicy"),
    ]
    name = api.pods()[0]["metadata"]["name"]
    assert job_status(api)["conditions"][1]["message"] == (
        f"Container c for pod {api.namespace}/{name} failed with exit code 42 "
        "matching FailJob rule at index 0"
    )


async def test_an_ignored_failure_is_not_counted_and_the_pod_is_replaced(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(
        api,
        backoffLimit=0,
        podFailurePolicy={
            "rules": [
                {
                    "action": "Ignore",
                    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                }
            ]
        },
    )
    await h.sync()
    pod = api.pods()[0]
    api.finish(pod, code=137, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    await h.sync()
    assert "failed" not in job_status(api)
    assert conditions(api) == []
    assert TRACKING not in (
        api.find("pods", pod["metadata"]["name"])["metadata"].get("finalizers") or ()
    )
    later(api, 10)
    await h.sync()
    assert len(api.pods()) == 2


async def test_a_suspended_job_runs_nothing_until_resumed(api: ClusterAPI, h: Harness) -> None:
    new_job(api, suspend=True)
    await h.sync()
    assert api.pods() == []
    assert conditions(api) == [("Suspended", "True", "JobSuspended")]
    assert "startTime" not in job_status(api)
    assert reasons(api) == ["Suspended"]
    api.set_spec("jobs", "work", suspend=False)
    later(api, 30)
    await h.sync()
    assert len(api.pods()) == 1
    assert conditions(api) == [("Suspended", "False", "JobResumed")]
    assert job_status(api)["startTime"] == "2025-01-01T00:00:30Z"
    # Suspending again deletes the running pods.
    api.set_spec("jobs", "work", suspend=True)
    await h.sync()
    assert ("delete", "pods", api.pods()[0]["metadata"]["name"], None) in api.writes
    assert conditions(api) == [("Suspended", "True", "JobSuspended")]


async def test_a_job_past_its_active_deadline_fails(api: ClusterAPI, h: Harness) -> None:
    new_job(api, activeDeadlineSeconds=30)
    again = await h.sync()
    assert again == pytest.approx(30)
    later(api, 30)
    await h.sync()
    assert conditions(api) == [("FailureTarget", "True", "DeadlineExceeded")]
    assert job_status(api)["conditions"][0]["message"] == (
        "Job was active longer than specified deadline"
    )


async def test_an_indexed_job_runs_each_index_once(api: ClusterAPI, h: Harness) -> None:
    new_job(api, completions=4, parallelism=2, completionMode="Indexed")
    await h.sync()
    pods = api.pods()
    indexes = sorted(
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods
    )
    assert indexes == ["0", "1"]
    by_index = {
        p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods
    }
    assert by_index["1"]["metadata"]["generateName"] == "work-1-"
    assert by_index["1"]["spec"]["hostname"] == "work-1"
    api.finish(by_index["1"])
    await h.sync()
    assert job_status(api)["completedIndexes"] == "1"
    assert job_status(api)["succeeded"] == 1
    first_names = {p["metadata"]["name"] for p in pods}
    new = [p for p in api.pods() if p["metadata"]["name"] not in first_names]
    assert [p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] for p in new] == [
        "2"
    ]
    for p in api.pods():
        if p.get("status", {}).get("phase") != "Succeeded":
            api.finish(p)
    await h.sync()
    # Index 3 is the last one left.
    # Not started (the server makes every pod Pending at first).
    last = [p for p in api.pods() if p.get("status", {}).get("phase") == "Pending"]
    assert [p["spec"]["hostname"] for p in last] == ["work-3"]
    api.finish(last[0])
    await h.sync()
    assert job_status(api)["completedIndexes"] == "0-3"
    assert conditions(api)[-1] == ("Complete", "True", "CompletionsReached")


async def test_an_index_that_fails_past_its_own_limit_fails(api: ClusterAPI, h: Harness) -> None:
    new_job(
        api,
        completions=2,
        parallelism=2,
        completionMode="Indexed",
        backoffLimitPerIndex=1,
    )
    assert api.find("jobs", "work")["spec"]["backoffLimit"] == 2**31 - 1
    await h.sync()
    zero = next(
        p
        for p in api.pods()
        if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "0"
    )
    assert zero["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] == "0"
    api.finish(zero, code=1)
    await h.sync()
    assert job_status(api).get("failedIndexes", "") == ""
    later(api, 10)
    await h.sync()
    retry = next(
        p
        for p in api.pods()
        if p["metadata"]["name"] != zero["metadata"]["name"]
        and p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "0"
    )
    assert retry["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"] == "1"
    api.finish(retry, code=1)
    await h.sync()
    assert job_status(api)["failedIndexes"] == "0"
    one = next(
        p
        for p in api.pods()
        if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1"
    )
    api.finish(one)
    await h.sync()
    assert conditions(api) == [
        ("FailureTarget", "True", "FailedIndexes"),
        ("Failed", "True", "FailedIndexes"),
    ]


async def test_a_success_policy_completes_the_job_early(api: ClusterAPI, h: Harness) -> None:
    new_job(
        api,
        completions=3,
        parallelism=3,
        completionMode="Indexed",
        successPolicy={"rules": [{"succeededIndexes": "0"}]},
    )
    await h.sync()
    zero = next(p for p in api.pods() if p["spec"]["hostname"] == "work-0")
    api.finish(zero)
    await h.sync()
    assert conditions(api) == [("SuccessCriteriaMet", "True", "SuccessPolicy")]
    assert job_status(api)["conditions"][0]["message"] == "Matched rules at index 0"
    others = [p for p in api.pods() if p["metadata"]["name"] != zero["metadata"]["name"]]
    assert all(("delete", "pods", p["metadata"]["name"], None) in api.writes for p in others)
    for p in others:
        api.finish(api.find("pods", p["metadata"]["name"]), code=137)
    await h.sync()
    assert conditions(api)[-1] == ("Complete", "True", "SuccessPolicy")


async def test_a_work_queue_job_completes_once_one_pod_succeeded_and_none_run(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, parallelism=2)
    assert "completions" not in api.find("jobs", "work")["spec"]
    await h.sync()
    first, second = api.pods()
    api.finish(first)
    await h.sync()
    assert len(api.pods()) == 2  # No new pod once one succeeded; the other keeps running.
    assert conditions(api) == []
    api.finish(second)
    await h.sync()
    assert conditions(api)[-1] == ("Complete", "True", "CompletionsReached")


async def test_pods_of_a_deleted_job_lose_their_finalizer(api: ClusterAPI, h: Harness) -> None:
    new_job(api)
    await h.sync()
    pod = api.pods()[0]
    api.delete("jobs", "work")
    h.refresh()
    queued = list(h.controller.queue._queue)
    assert f"orphan-pod:{h.key(pod['metadata']['name'])}" in queued
    await h.controller.sync(f"orphan-pod:{h.key(pod['metadata']['name'])}")
    # No finalizer left (the server keeps an emptied list where Kubernetes omits it).
    assert not api.find("pods", pod["metadata"]["name"])["metadata"].get("finalizers")


async def test_a_second_pod_for_a_done_index_is_released_uncounted(
    api: ClusterAPI, h: Harness
) -> None:
    new_job(api, completions=2, parallelism=1, completionMode="Indexed")
    await h.sync()
    (zero,) = api.pods()
    # Another pod for index 0 (say, an adopted leftover) that succeeded too.
    twin = {
        **zero,
        "metadata": {
            **zero["metadata"],
            "name": "twin",
            "uid": "twin-uid",
            "finalizers": [TRACKING],
        },
    }
    api.add("pods", twin)
    api.finish(zero)
    api.finish(twin)
    await h.sync()
    assert job_status(api)["completedIndexes"] == "0"
    assert job_status(api)["succeeded"] == 1
    for name in (zero["metadata"]["name"], "twin"):
        assert not api.find("pods", name)["metadata"].get("finalizers")
