"""What the Job controller asks of one pod: finished how, when, for which index.

Kubernetes' `pkg/controller/job` helpers, on the pod objects the informer holds:

- a pod counts as succeeded in phase Succeeded; as failed in phase Failed, or, unless the Job
  replaces only failed pods (podReplacementPolicy Failed, implied by a pod failure policy), as
  soon as it is being deleted without having succeeded: a deleted pod may never reach a phase;
- when it finished: the latest container exit, else the time Ready turned False, else its
  deletion; the back-off between re-creates counts from there;
- an Indexed Job's pod carries its completion index in the
  `batch.kubernetes.io/job-completion-index` annotation (and label); one outside
  `[0, completions)` or unreadable has no index;
- the `batch.kubernetes.io/job-tracking` finalizer keeps a finished pod until the controller has
  counted it in the Job's status.
"""

from __future__ import annotations

import datetime as dt

from kubelite.api import meta
from kubelite.api.types import Obj

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ())


def only_replace_failed(job: Obj) -> bool:
    """onlyReplaceFailedPods: the Job waits for a terminating pod to fail before replacing it."""
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def is_succeeded(pod: Obj) -> bool:
    return phase(pod) == "Succeeded"


def is_failed(pod: Obj, job: Obj) -> bool:
    """isPodFailed."""
    if phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) != "Succeeded"


def is_terminating(pod: Obj) -> bool:
    """Being deleted and not finished yet: status.terminating counts these."""
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) not in (
        "Succeeded",
        "Failed",
    )


def finished_at(pod: Obj) -> dt.datetime:
    """getFinishedTime."""
    status = pod.get("status") or {}
    latest: dt.datetime | None = None
    for kind in ("containerStatuses", "initContainerStatuses"):
        for s in status.get(kind) or ():
            terminated = (s.get("state") or {}).get("terminated") or {}
            when = meta.parse_time(terminated.get("finishedAt") or "")
            if when is not None and (latest is None or when > latest):
                latest = when
    if latest is not None:
        return latest
    ready = meta.find_condition(status.get("conditions"), "Ready")
    if ready is not None and ready.get("status") == "False":
        when = meta.parse_time(ready.get("lastTransitionTime") or "")
        if when is not None:
            return when
    for text in (
        pod["metadata"].get("deletionTimestamp"),
        pod["metadata"].get("creationTimestamp"),
    ):
        when = meta.parse_time(text or "")
        if when is not None:
            return when
    return meta.now()


def completion_index(pod: Obj, completions: int) -> int | None:
    """getCompletionIndex: the index annotation (the label as a fallback), if in range."""
    md = pod["metadata"]
    text = (md.get("annotations") or {}).get(COMPLETION_INDEX)
    if text is None:
        text = (md.get("labels") or {}).get(COMPLETION_INDEX)
    if text is None or not str(text).isdigit():
        return None
    index = int(text)
    return index if index < completions else None


def index_failure_count(pod: Obj) -> int:
    """The failures counted for the pod's index before this pod (backoffLimitPerIndex)."""
    text = (pod["metadata"].get("annotations") or {}).get(INDEX_FAILURE_COUNT, "0")
    return int(text) if str(text).isdigit() else 0


def index_ignored_failure_count(pod: Obj) -> int:
    text = (pod["metadata"].get("annotations") or {}).get(INDEX_IGNORED_FAILURE_COUNT, "0")
    return int(text) if str(text).isdigit() else 0


def restarts_of_running(pods: list[Obj]) -> int:
    """Container restarts of the pods still pending or running (pastBackoffLimitOnFailure)."""
    total = 0
    for pod in pods:
        if phase(pod) not in ("Running", "Pending"):
            continue
        status = pod.get("status") or {}
        for kind in ("initContainerStatuses", "containerStatuses"):
            total += sum(int(s.get("restartCount") or 0) for s in status.get(kind) or ())
    return total
