"""Jobs and CronJobs on a real server, run by its controllers on hollow nodes, seen by kubectl.

The server runs its scheduler and controllers; one `kubelite hollow-nodes` process gives it two
nodes for the whole module. Hollow pods run for ever unless asked to exit: the Jobs here put
`hollow.kubelite.io/exit-code` (and `run-seconds`) on their pod templates, so that their pods
succeed or fail as a kubelet would report them. Waits are on conditions, with timeouts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster
from test_hollow_nodes import get_json, hollow_nodes, wait_until

from kubelite.api import meta

Obj = dict[str, Any]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A server with its scheduler, and two hollow nodes to run the pods."""
    base = tmp_path_factory.mktemp("jobs")
    c = Cluster(base / "data", base / "cache")
    c.start()
    try:
        with hollow_nodes(c, "--count", "2", "--name-prefix", "hn-job-"):
            yield c
    finally:
        c.stop()


def job_manifest(
    name: str,
    *,
    exit_code: int,
    run_seconds: float = 1,
    completions: int = 1,
    parallelism: int = 1,
    backoff_limit: int = 6,
) -> str:
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                "completions": completions,
                "parallelism": parallelism,
                "backoffLimit": backoff_limit,
                "template": {
                    "metadata": {
                        "annotations": {
                            "hollow.kubelite.io/exit-code": str(exit_code),
                            "hollow.kubelite.io/run-seconds": str(run_seconds),
                        }
                    },
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "work", "image": "registry.local/work:1"}],
                    },
                },
            },
        }
    )


def events_of(cluster: Cluster, namespace: str, kind: str, name: str) -> list[Obj]:
    listing = get_json(
        cluster,
        "events",
        "-n",
        namespace,
        "--field-selector",
        f"involvedObject.kind={kind},involvedObject.name={name}",
    )
    return listing["items"]


def test_a_job_of_three_completions_two_at_a_time_completes(
    cluster: Cluster, namespace: str
) -> None:
    cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=job_manifest("three", exit_code=0, completions=3, parallelism=2),
    )
    job = get_json(cluster, "job", "three", "-n", namespace)
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    # Never more than two pods at once, as parallelism says.
    seen_running = wait_until(
        lambda: (
            len(
                [
                    p
                    for p in get_json(cluster, "pods", "-n", namespace, "-l", "job-name=three")[
                        "items"
                    ]
                    if p["status"].get("phase") in ("Pending", "Running")
                ]
            )
            or None
        ),
        "the job's first pods",
    )
    assert seen_running <= 2
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=complete",
        "job/three",
        "--timeout=90s",
        timeout=100,
    )
    job = get_json(cluster, "job", "three", "-n", namespace)
    status = job["status"]
    assert status["succeeded"] == 3
    assert "failed" not in status
    assert status["uncountedTerminatedPods"] == {}
    assert status["completionTime"] >= status["startTime"]
    types = [c["type"] for c in status["conditions"]]
    assert types == ["SuccessCriteriaMet", "Complete"]
    pods = get_json(cluster, "pods", "-n", namespace, "-l", "job-name=three")["items"]
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Succeeded" for p in pods)
    # Counted pods lose the tracking finalizer.
    assert all(
        "batch.kubernetes.io/job-tracking" not in (p["metadata"].get("finalizers") or ())
        for p in pods
    )
    table = cluster.kubectl("get", "job", "three", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert table[1].split()[:3] == ["three", "Complete", "3/3"]
    reasons = [e["reason"] for e in events_of(cluster, namespace, "Job", "three")]
    assert reasons.count("SuccessfulCreate") == 3
    assert "Completed" in reasons


def test_a_failing_job_stops_at_its_backoff_limit(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=job_manifest("doomed", exit_code=3, run_seconds=0.5, backoff_limit=1),
    )
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=failed",
        "job/doomed",
        "--timeout=90s",
        timeout=100,
    )
    status = get_json(cluster, "job", "doomed", "-n", namespace)["status"]
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["status"] == "True"
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert status["failed"] == 2
    assert "completionTime" not in status
    pods = get_json(cluster, "pods", "-n", namespace, "-l", "job-name=doomed")["items"]
    assert len(pods) == 2
    # The second pod came only after the 10 s back-off that follows a first failure.
    finished = min(
        p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] for p in pods
    )
    created = max(p["metadata"]["creationTimestamp"] for p in pods)
    gap = (meta.parse_time(created) - meta.parse_time(finished)).total_seconds()
    assert gap >= 9
    reasons = [e["reason"] for e in events_of(cluster, namespace, "Job", "doomed")]
    assert "BackoffLimitExceeded" in reasons
    row = cluster.kubectl("get", "job", "doomed", "-n", namespace).stdout.splitlines()[1]
    assert row.split()[:3] == ["doomed", "Failed", "0/1"]


def test_a_cron_job_every_minute_makes_a_job(cluster: Cluster, namespace: str) -> None:
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick"},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {"spec": json.loads(job_manifest("unused", exit_code=0))["spec"]},
        },
    }
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    cron_job = get_json(cluster, "cronjob", "tick", "-n", namespace)
    assert cron_job["spec"]["concurrencyPolicy"] == "Allow"
    assert cron_job["spec"]["successfulJobsHistoryLimit"] == 3

    def made() -> Obj | None:
        jobs = get_json(cluster, "jobs", "-n", namespace)["items"]
        return jobs[0] if jobs else None

    job = wait_until(made, "a Job of the CronJob", timeout=70)
    minutes = int(job["metadata"]["name"].rsplit("-", 1)[1])
    scheduled = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    assert meta.parse_time(scheduled).timestamp() == minutes * 60
    ref = job["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"]) == ("CronJob", "tick", True)
    wait_until(
        lambda: get_json(cluster, "cronjob", "tick", "-n", namespace)["status"].get(
            "lastScheduleTime"
        ),
        "the CronJob's lastScheduleTime",
    )
    table = cluster.kubectl("get", "cj", "tick", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    assert table[1].split()[:4] == ["tick", "*/1", "*", "*"]


def test_kubectl_create_job_from_a_cron_job(cluster: Cluster, namespace: str) -> None:
    manifest = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {
            "schedule": "0 3 * * *",
            "timeZone": "Europe/Berlin",
            "jobTemplate": {"spec": json.loads(job_manifest("unused", exit_code=0))["spec"]},
        },
    }
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    out = cluster.kubectl("create", "job", "-n", namespace, "--from=cronjob/nightly", "now")
    assert out.stdout.strip() == "job.batch/now created"
    job = get_json(cluster, "job", "now", "-n", namespace)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=complete",
        "job/now",
        "--timeout=60s",
        timeout=70,
    )


def test_bad_jobs_are_refused_with_field_errors(cluster: Cluster, namespace: str) -> None:
    always = json.loads(job_manifest("always", exit_code=0))
    always["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    result = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(always), check=False
    )
    assert result.returncode != 0
    assert (
        'The Job "always" is invalid: spec.template.spec.restartPolicy: Required value: '
        'valid values: "OnFailure", "Never"'
    ) in result.stderr
    bad_cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "bad"},
        "spec": {
            "schedule": "TZ=UTC 61 * * * *",
            "jobTemplate": {"spec": json.loads(job_manifest("unused", exit_code=0))["spec"]},
        },
    }
    result = cluster.kubectl(
        "create", "-n", namespace, "-f", "-", stdin=json.dumps(bad_cron), check=False
    )
    assert result.returncode != 0
    assert "end of range (61) above maximum (59): 61" in result.stderr
    assert "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" in result.stderr
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=job_manifest("fixed", exit_code=0))
    result = cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "job",
        "fixed",
        "--type=merge",
        "-p",
        '{"spec":{"completions":5}}',
        check=False,
    )
    assert result.returncode != 0
    assert "spec.completions: Invalid value: 5: field is immutable" in result.stderr


def test_apply_a_job_that_lives_for_its_ttl(cluster: Cluster, namespace: str) -> None:
    manifest = json.loads(job_manifest("brief", exit_code=0, run_seconds=0.5))
    manifest["spec"]["ttlSecondsAfterFinished"] = 1
    body = json.dumps(manifest)
    first = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=body)
    assert first.stdout.strip() == "job.batch/brief created"
    again = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=body)
    assert again.stdout.strip() == "job.batch/brief unchanged"
    # Complete, then deleted by the TTL-after-finished controller, its pods with it.
    wait_until(
        lambda: (
            cluster.kubectl("get", "job", "brief", "-n", namespace, check=False).returncode != 0
        ),
        "the job to be deleted after its TTL",
        timeout=60,
    )
    wait_until(
        lambda: not get_json(cluster, "pods", "-n", namespace, "-l", "job-name=brief")["items"],
        "the job's pods to go with it",
    )


def test_deleting_a_running_job_takes_its_pods(cluster: Cluster, namespace: str) -> None:
    manifest = json.loads(job_manifest("endless", exit_code=0, parallelism=2, completions=2))
    del manifest["spec"]["template"]["metadata"]  # Its pods never exit.
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))

    def running() -> int | None:
        pods = get_json(cluster, "pods", "-n", namespace, "-l", "job-name=endless")["items"]
        count = sum(1 for p in pods if p["status"].get("phase") == "Running")
        return count if count == 2 else None

    wait_until(running, "two running pods")
    assert get_json(cluster, "job", "endless", "-n", namespace)["status"]["ready"] == 2
    cluster.kubectl("delete", "job", "endless", "-n", namespace)
    # The tracking finalizer must not keep the pods once their Job is gone.
    wait_until(
        lambda: not get_json(cluster, "pods", "-n", namespace, "-l", "job-name=endless")["items"],
        "the job's pods to be deleted",
    )


def test_suspending_a_job_deletes_its_pods_and_resuming_restarts_them(
    cluster: Cluster, namespace: str
) -> None:
    manifest = json.loads(job_manifest("paused", exit_code=0))
    del manifest["spec"]["template"]["metadata"]
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))
    wait_until(
        lambda: get_json(cluster, "job", "paused", "-n", namespace)["status"].get("active"),
        "a running pod",
    )
    cluster.kubectl(
        "patch", "job", "paused", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=suspended",
        "job/paused",
        "--timeout=30s",
        timeout=40,
    )
    wait_until(
        lambda: (
            not get_json(cluster, "job", "paused", "-n", namespace)["status"].get("active")
            and not [
                p
                for p in get_json(cluster, "pods", "-n", namespace, "-l", "job-name=paused")[
                    "items"
                ]
                if p["status"].get("phase") in ("Pending", "Running")
            ]
        ),
        "no active pod while suspended",
    )
    row = cluster.kubectl("get", "job", "paused", "-n", namespace).stdout.splitlines()[1]
    assert row.split()[1] == "Suspended"
    cluster.kubectl(
        "patch",
        "job",
        "paused",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"suspend":false}}',
    )
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "--for=condition=suspended=false",
        "job/paused",
        "--timeout=30s",
        timeout=40,
    )
    # The pods deleted on suspension count as failures (deleted pods do, in Kubernetes), so
    # the new one waits out the first back-off (10 s) before it is made.
    wait_until(
        lambda: get_json(cluster, "job", "paused", "-n", namespace)["status"].get("active"),
        "a running pod again",
        timeout=60,
    )
