"""How long a Job waits before it re-creates a failed pod.

Kubernetes' `pkg/controller/job/backoff_utils.go`: each failure since the last success doubles
the wait, from 10 s to at most six minutes (the cap Kubernetes' Job documentation gives),
counted from the last failure's finish time. A success resets the count, except for failures
that finished after it. The record lives in the controller (not in the Job), per Job key, and is
updated only once a sync's status write went through, so a failed write never counts a pod
twice. backoffLimitPerIndex Jobs wait per index instead, from the failures of that index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from kubelite.api.types import Obj
from kubelite.controllers import job_pods

DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0


@dataclass(frozen=True)
class BackoffRecord:
    """A Job's failures since its last success and when the latest one happened: what the delay
    before its next pod is computed from."""

    failures_after_last_success: int = 0
    last_failure: dt.datetime | None = None


def delay_for(failures: int, base: float = DEFAULT_BACKOFF, cap: float = MAX_BACKOFF) -> float:
    """The wait after `failures` failures in a row: 0, 10, 20, 40, ... capped."""
    if failures <= 0:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= cap:
            return cap
    return min(delay, cap)


def remaining(
    failures: int,
    last_failure: dt.datetime | None,
    now: dt.datetime,
    base: float = DEFAULT_BACKOFF,
    cap: float = MAX_BACKOFF,
) -> float:
    """getRemainingTimeForFailuresCount: seconds still to wait, 0 when it has passed."""
    if failures <= 0 or last_failure is None:
        return 0.0
    elapsed = (now - last_failure).total_seconds()
    wait = delay_for(failures, base, cap)
    return 0.0 if wait < elapsed else wait - elapsed


def next_record(
    old: BackoffRecord, new_succeeded: Iterable[Obj], new_failed: Iterable[Obj]
) -> BackoffRecord:
    """newBackoffRecord: the record once this sync's newly finished pods are seen."""
    succeeded = sorted(new_succeeded, key=job_pods.finished_at)
    failed = sorted(new_failed, key=job_pods.finished_at)
    if not succeeded:
        if not failed:
            return old
        return BackoffRecord(
            old.failures_after_last_success + len(failed), job_pods.finished_at(failed[-1])
        )
    last_success = job_pods.finished_at(succeeded[-1])
    after = [p for p in failed if job_pods.finished_at(p) > last_success]
    if not after:
        return BackoffRecord()
    return BackoffRecord(len(after), job_pods.finished_at(after[-1]))


class BackoffStore:
    """The records of every Job this controller runs, by key."""

    def __init__(self) -> None:
        self._records: dict[str, BackoffRecord] = {}

    def get(self, key: str) -> BackoffRecord:
        return self._records.get(key, BackoffRecord())

    def update(self, key: str, record: BackoffRecord) -> None:
        self._records[key] = record

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
