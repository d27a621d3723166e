"""The conditions of a Job's status, and when its success criteria are met.

Kubernetes 1.33 finishes a Job in two steps (JobManagedBy and JobPodReplacementPolicy are on):
first an interim condition records the verdict, `SuccessCriteriaMet` or `FailureTarget`, while
the controller deletes what still runs and counts what finished; once no pod is left terminating
and no finished pod is left uncounted, the terminal condition `Complete` (with
`status.completionTime`) or `Failed` follows, with the interim one's reason and message. Clients
that wait for `condition=complete` therefore see a Job complete only when all its pods are
accounted for.

The reasons and messages are Kubernetes' (`pkg/apis/batch/types.go`, `job_controller.go`).
"""

from __future__ import annotations

import datetime as dt

from kubelite.api import jobindexes, meta
from kubelite.api.types import Obj

COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDED = "Suspended"
FAILURE_TARGET = "FailureTarget"
SUCCESS_CRITERIA_MET = "SuccessCriteriaMet"

REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
MESSAGE_BACKOFF_LIMIT = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
REASON_MAX_FAILED_INDEXES = "MaxFailedIndexesExceeded"
MESSAGE_MAX_FAILED_INDEXES = "Job has exceeded the specified maximal number of failed indexes"
REASON_FAILED_INDEXES = "FailedIndexes"
MESSAGE_FAILED_INDEXES = "Job has failed indexes"
REASON_SUCCESS_POLICY = "SuccessPolicy"
REASON_COMPLETIONS_REACHED = "CompletionsReached"
MESSAGE_COMPLETIONS_REACHED = "Reached expected number of succeeded pods"


def new_condition(type_: str, status: str, reason: str, message: str, now: dt.datetime) -> Obj:
    stamp = meta.format_time(now)
    return {
        "type": type_,
        "status": status,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def find(job: Obj, type_: str) -> Obj | None:
    return meta.find_condition((job.get("status") or {}).get("conditions"), type_)


def is_true(job: Obj, type_: str) -> bool:
    condition = find(job, type_)
    return condition is not None and condition.get("status") == "True"


def is_finished(job: Obj) -> bool:
    """IsJobFinished: Complete or Failed is True."""
    return is_true(job, COMPLETE) or is_true(job, FAILED)


def finished_condition(job: Obj) -> Obj | None:
    for type_ in (COMPLETE, FAILED):
        condition = find(job, type_)
        if condition is not None and condition.get("status") == "True":
            return condition
    return None


def ensure(
    conditions: list[Obj], type_: str, status: str, reason: str, message: str, now: dt.datetime
) -> bool:
    """ensureJobConditionStatus, in place: True when the list changed. A condition that
    changes gets new transition times; a False one is never added, only updated."""
    for i, condition in enumerate(conditions):
        if condition.get("type") != type_:
            continue
        if (
            condition.get("status") != status
            or condition.get("reason") != reason
            or condition.get("message") != message
        ):
            conditions[i] = new_condition(type_, status, reason, message, now)
            return True
        return False
    if status != "False":
        conditions.append(new_condition(type_, status, reason, message, now))
        return True
    return False


def terminal_for(interim: Obj, now: dt.datetime) -> Obj:
    """The terminal condition an interim one leads to, with its reason and message."""
    type_ = COMPLETE if interim["type"] == SUCCESS_CRITERIA_MET else FAILED
    return new_condition(type_, "True", interim.get("reason", ""), interim.get("message", ""), now)


def match_success_policy(policy: Obj | None, completions: int, succeeded: set[int]) -> str | None:
    """matchSuccessPolicy: the message of the first rule the succeeded indexes meet."""
    if not policy or not succeeded:
        return None
    for index, rule in enumerate(policy.get("rules") or ()):
        count = rule.get("succeededCount")
        indexes_text = rule.get("succeededIndexes")
        if indexes_text is not None:
            required = jobindexes.parse(indexes_text, completions)
            if not required:
                continue
            done = len(required & succeeded)
            if (count is None and done == len(required)) or (count is not None and done >= count):
                return f"Matched rules at index {index}"
        elif count is not None and len(succeeded) >= count:
            return f"Matched rules at index {index}"
    return None
