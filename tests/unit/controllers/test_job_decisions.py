"""The Job controller's pure decisions: pod failure policy, back-off, pod states, success policy,
index text, and the shape of the pods it creates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.api import jobindexes
from kubelite.controllers import job_backoff, job_failure_policy, job_pods, job_status
from kubelite.controllers.job import generate_name_for, pod_template_for

Obj = dict[str, Any]
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def failed_pod(
    *,
    exit_codes: dict[str, int] | None = None,
    init_exit_codes: dict[str, int] | None = None,
    conditions: list[Obj] | None = None,
    finished: dt.datetime = T0,
    name: str = "p",
) -> Obj:
    def statuses(codes: dict[str, int] | None) -> list[Obj]:
        return [
            {
                "name": n,
                "state": {
                    "terminated": {
                        "exitCode": c,
                        "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                },
            }
            for n, c in (codes or {}).items()
        ]

    return {
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "status": {
            "phase": "Failed",
            "containerStatuses": statuses(exit_codes),
            "initContainerStatuses": statuses(init_exit_codes),
            "conditions": conditions or [],
        },
    }


def rule(action: str, **matcher: Any) -> Obj:
    return {"action": action, **matcher}


EXIT_42 = {"operator": "In", "values": [42]}
NOT_0_OR_1 = {"operator": "NotIn", "values": [0, 1]}
DISRUPTED = [{"type": "DisruptionTarget", "status": "True"}]


@pytest.mark.parametrize(
    ("rules", "pod", "counts", "action", "message"),
    [
        # No policy, or no rule matching: counted.
        ([], failed_pod(exit_codes={"main": 42}), True, None, None),
        (
            [rule("FailJob", onExitCodes=EXIT_42)],
            failed_pod(exit_codes={"main": 1}),
            True,
            None,
            None,
        ),
        # FailJob names the container, pod, code, action and rule index.
        (
            [rule("Ignore", onPodConditions=DISRUPTED), rule("FailJob", onExitCodes=EXIT_42)],
            failed_pod(exit_codes={"main": 42}),
            True,
            "FailJob",
            "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1",
        ),
        # Ignore: not counted.
        (
            [rule("Ignore", onPodConditions=DISRUPTED)],
            failed_pod(
                exit_codes={"main": 137},
                conditions=[{"type": "DisruptionTarget", "status": "True"}],
            ),
            False,
            "Ignore",
            None,
        ),
        # A condition with another status does not match.
        (
            [rule("Ignore", onPodConditions=DISRUPTED)],
            failed_pod(conditions=[{"type": "DisruptionTarget", "status": "False"}]),
            True,
            None,
            None,
        ),
        # FailJob on a condition.
        (
            [rule("FailJob", onPodConditions=DISRUPTED)],
            failed_pod(conditions=[{"type": "DisruptionTarget", "status": "True"}]),
            True,
            "FailJob",
            "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0",
        ),
        # NotIn: any code but those; exit code 0 never matches.
        (
            [rule("Count", onExitCodes=NOT_0_OR_1)],
            failed_pod(exit_codes={"a": 0, "b": 3}),
            True,
            "Count",
            None,
        ),
        (
            [rule("FailJob", onExitCodes=NOT_0_OR_1)],
            failed_pod(exit_codes={"a": 1}),
            True,
            None,
            None,
        ),
        # containerName narrows the match; init containers are looked at after app containers.
        (
            [rule("FailJob", onExitCodes={**EXIT_42, "containerName": "setup"})],
            failed_pod(exit_codes={"main": 42}, init_exit_codes={"setup": 42}),
            True,
            "FailJob",
            "Container setup for pod ns/p failed with exit code 42 matching FailJob rule at "
            "index 0",
        ),
        (
            [rule("FailIndex", onExitCodes=EXIT_42)],
            failed_pod(exit_codes={"main": 42}),
            True,
            "FailIndex",
            None,
        ),
    ],
)
def test_pod_failure_policy(
    rules: list[Obj], pod: Obj, counts: bool, action: str | None, message: str | None
) -> None:
    decision = job_failure_policy.decide({"rules": rules} if rules else None, pod)
    assert (decision.counts, decision.action, decision.message) == (counts, action, message)


def test_a_container_still_stopping_matches_no_exit_code() -> None:
    pod = failed_pod()
    pod["status"]["containerStatuses"] = [{"name": "main", "state": {"running": {}}}]
    decision = job_failure_policy.decide({"rules": [rule("FailJob", onExitCodes=NOT_0_OR_1)]}, pod)
    assert decision.action is None


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0), (1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 360), (30, 360)],
)
def test_backoff_doubles_from_ten_seconds_to_six_minutes(failures: int, delay: float) -> None:
    assert job_backoff.delay_for(failures) == delay


@pytest.mark.parametrize(
    ("failures", "elapsed", "left"), [(1, 0, 10), (1, 4, 6), (1, 11, 0), (3, 39, 1), (0, 0, 0)]
)
def test_backoff_counts_from_the_last_failure(failures: int, elapsed: float, left: float) -> None:
    now = T0 + dt.timedelta(seconds=elapsed)
    assert job_backoff.remaining(failures, T0, now) == left


def _at(seconds: int, phase: str) -> Obj:
    pod = failed_pod(finished=T0 + dt.timedelta(seconds=seconds), exit_codes={"c": 1})
    pod["status"]["phase"] = phase
    return pod


@pytest.mark.parametrize(
    ("old", "succeeded", "failed", "expected"),
    [
        # Failures add up; the last one's finish time is remembered.
        ((0, None), [], [_at(5, "Failed"), _at(3, "Failed")], (2, 5)),
        ((2, 1), [], [_at(9, "Failed")], (3, 9)),
        ((2, 1), [], [], (2, 1)),
        # A success resets the count...
        ((4, 1), [_at(10, "Succeeded")], [], (0, None)),
        # ...except for failures after it.
        ((4, 1), [_at(10, "Succeeded")], [_at(8, "Failed"), _at(12, "Failed")], (1, 12)),
    ],
)
def test_backoff_record(
    old: tuple[int, int | None],
    succeeded: list[Obj],
    failed: list[Obj],
    expected: tuple[int, int | None],
) -> None:
    def when(seconds: int | None) -> dt.datetime | None:
        return None if seconds is None else T0 + dt.timedelta(seconds=seconds)

    record = job_backoff.next_record(
        job_backoff.BackoffRecord(old[0], when(old[1])), succeeded, failed
    )
    assert record == job_backoff.BackoffRecord(expected[0], when(expected[1]))


@pytest.mark.parametrize(
    ("phase", "deleting", "replacement", "failed", "terminating"),
    [
        ("Failed", False, "TerminatingOrFailed", True, False),
        ("Running", True, "TerminatingOrFailed", True, True),
        ("Running", True, "Failed", False, True),
        ("Succeeded", True, "TerminatingOrFailed", False, False),
        ("Running", False, "TerminatingOrFailed", False, False),
    ],
)
def test_which_pods_count_as_failed(
    phase: str, deleting: bool, replacement: str, failed: bool, terminating: bool
) -> None:
    pod = {"metadata": {}, "status": {"phase": phase}}
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    job = {"spec": {"podReplacementPolicy": replacement}}
    assert job_pods.is_failed(pod, job) is failed
    assert job_pods.is_terminating(pod) is terminating


def test_a_pod_failure_policy_means_only_failed_pods_are_replaced() -> None:
    pod = {
        "metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"},
        "status": {"phase": "Running"},
    }
    assert not job_pods.is_failed(pod, {"spec": {"podFailurePolicy": {"rules": []}}})


@pytest.mark.parametrize(
    ("annotations", "labels", "completions", "index"),
    [
        ({"batch.kubernetes.io/job-completion-index": "2"}, {}, 3, 2),
        ({"batch.kubernetes.io/job-completion-index": "3"}, {}, 3, None),
        ({}, {"batch.kubernetes.io/job-completion-index": "1"}, 3, 1),
        ({"batch.kubernetes.io/job-completion-index": "x"}, {}, 3, None),
        ({}, {}, 3, None),
    ],
)
def test_completion_index(
    annotations: Obj, labels: Obj, completions: int, index: int | None
) -> None:
    pod = {"metadata": {"annotations": annotations, "labels": labels}}
    assert job_pods.completion_index(pod, completions) == index


@pytest.mark.parametrize(
    ("indexes", "text"),
    [
        ([], ""),
        ([0], "0"),
        ([0, 1], "0,1"),
        ([0, 1, 2], "0-2"),
        ([7, 1, 3, 4, 5], "1,3-5,7"),
        ([0, 2, 3, 9, 10, 11, 12], "0,2,3,9-12"),
    ],
)
def test_index_text_round_trips(indexes: list[int], text: str) -> None:
    assert jobindexes.format(indexes) == text
    assert jobindexes.parse(text, 100) == set(indexes)


@pytest.mark.parametrize(
    ("text", "completions", "error"),
    [
        ("1,3-5", 6, None),
        ("5", 5, 'too large index: "5"'),
        ("3,1", 6, "non-increasing order, previous: 3, current: 1"),
        ("1-1", 6, "non-increasing order, previous: 1, current: 1"),
        ("a", 6, 'cannot convert string to integer for index: "a"'),
        (
            "1-2-3",
            6,
            'the fragment "1-2-3" violates the requirement that an index interval can '
            "have at most two parts separated by '-'",
        ),
    ],
)
def test_index_text_check(text: str, completions: int, error: str | None) -> None:
    if error is None:
        assert jobindexes.check(text, completions) == 4
    else:
        with pytest.raises(jobindexes.IndexesError) as caught:
            jobindexes.check(text, completions)
        assert str(caught.value) == error


@pytest.mark.parametrize(
    ("rules", "succeeded", "message"),
    [
        ([{"succeededIndexes": "0-2"}], {0, 1}, None),
        ([{"succeededIndexes": "0-2"}], {0, 1, 2}, "Matched rules at index 0"),
        ([{"succeededIndexes": "0-4", "succeededCount": 2}], {3, 7}, None),
        ([{"succeededIndexes": "0-4", "succeededCount": 2}], {3, 4}, "Matched rules at index 0"),
        ([{"succeededIndexes": "9"}, {"succeededCount": 2}], {3, 4}, "Matched rules at index 1"),
        ([{"succeededCount": 3}], set(), None),
    ],
)
def test_success_policy(rules: list[Obj], succeeded: set[int], message: str | None) -> None:
    assert job_status.match_success_policy({"rules": rules}, 10, succeeded) == message


def test_conditions_change_only_when_they_differ() -> None:
    conditions: list[Obj] = []
    assert not job_status.ensure(conditions, "Suspended", "False", "JobResumed", "m", T0)
    assert conditions == []
    assert job_status.ensure(conditions, "Suspended", "True", "JobSuspended", "Job suspended", T0)
    later = T0 + dt.timedelta(minutes=1)
    assert not job_status.ensure(
        conditions, "Suspended", "True", "JobSuspended", "Job suspended", later
    )
    assert job_status.ensure(conditions, "Suspended", "False", "JobResumed", "Job resumed", later)
    assert conditions == [
        {
            "type": "Suspended",
            "status": "False",
            "lastProbeTime": "2025-01-01T00:01:00Z",
            "lastTransitionTime": "2025-01-01T00:01:00Z",
            "reason": "JobResumed",
            "message": "Job resumed",
        }
    ]


def test_an_indexed_pod_carries_its_index_everywhere() -> None:
    job = {
        "metadata": {"name": "work"},
        "spec": {
            "completionMode": "Indexed",
            "backoffLimitPerIndex": 1,
            "template": {
                "metadata": {"labels": {"app": "w"}},
                "spec": {
                    "containers": [{"name": "c", "env": [{"name": "A", "value": "1"}]}],
                    "initContainers": [{"name": "i"}],
                },
            },
        },
    }
    template = pod_template_for(job, 4, failures=1)
    md, spec = template["metadata"], template["spec"]
    assert md["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    assert md["annotations"] == {
        "batch.kubernetes.io/job-completion-index": "4",
        "batch.kubernetes.io/job-index-failure-count": "1",
    }
    assert md["labels"] == {"app": "w", "batch.kubernetes.io/job-completion-index": "4"}
    assert spec["hostname"] == "work-4"
    index_env = {
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": {
            "fieldRef": {
                "apiVersion": "v1",
                "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']",
            }
        },
    }
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "1"}, index_env]
    assert spec["initContainers"][0]["env"] == [index_env]
    # The Job's own template is left as it was.
    assert "finalizers" not in job["spec"]["template"]["metadata"]


def test_pod_names() -> None:
    assert generate_name_for("work", None) == "work-"
    assert generate_name_for("work", 12) == "work-12-"
    long = "x" * 60
    assert generate_name_for(long, 3) == "x" * 55 + "-3-"
    assert len(generate_name_for(long, 3)) == 58
