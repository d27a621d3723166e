"""Hollow pods that finish: a test asks, by annotation, for a pod whose containers exit.

A hollow node runs no process, so nothing would ever end a pod of a Job. Two annotations on a pod
(put them on a Job's pod template) say what its containers do once running, and the hollow node
then writes the status a kubelet would:

- `hollow.kubelite.io/exit-code`: the code every container exits with (a number, 0 to 255);
- `hollow.kubelite.io/run-seconds`: how long they run first (default 0; a decimal is allowed).

What follows the exit is what the kubelet does with the pod's restartPolicy
(`pkg/kubelet/kuberuntime` and `status.GeneratePodPhase`):

- `Never`, or `OnFailure` with exit code 0: the pod ends, phase Succeeded (all exited 0) or
  Failed; each container is `terminated` with reason Completed (0) or Error, its exit code,
  start and finish times; Ready and ContainersReady turn False with reason PodCompleted (or
  PodFailed);
- `Always`, or `OnFailure` with a non-zero code: the containers restart: restartCount goes up,
  `lastState.terminated` keeps the exit, and they run again for the same time (without the
  kubelet's crash-loop back-off, which a test would only wait through).

This is a feature of hollow nodes for tests, not of the pods' controllers: a pod without the
annotations runs for ever, as before.

A deleted pod that a finalizer keeps (a Job's pods carry `batch.kubernetes.io/job-tracking`)
is moved to a terminal phase before the hollow node lets it go, as the kubelet has done since
Kubernetes 1.27: its containers were killed, so they exit 137 and the pod is Failed
(`KILLED_EXIT_CODE`, `exited_status(..., final=True)`).
"""

from __future__ import annotations

import datetime as dt

from kubelite.api import pods as podutil
from kubelite.api.types import Obj

EXIT_CODE_ANNOTATION = "hollow.kubelite.io/exit-code"
RUN_SECONDS_ANNOTATION = "hollow.kubelite.io/run-seconds"
ANNOTATIONS = (EXIT_CODE_ANNOTATION, RUN_SECONDS_ANNOTATION)
# 128 + SIGKILL: what a container killed on deletion exits with.
KILLED_EXIT_CODE = 137


def _annotations(pod: Obj) -> Obj:
    return (pod.get("metadata") or {}).get("annotations") or {}


def exit_code(pod: Obj) -> int | None:
    """The exit code the pod's containers are asked to exit with; None: they run for ever."""
    text = _annotations(pod).get(EXIT_CODE_ANNOTATION)
    if text is None:
        return None
    try:
        code = int(str(text).strip())
    except ValueError:
        return None
    return code if 0 <= code <= 255 else None


def run_seconds(pod: Obj) -> float:
    text = _annotations(pod).get(RUN_SECONDS_ANNOTATION, "0")
    try:
        return max(0.0, float(text))
    except ValueError:
        return 0.0


def restarts(pod: Obj, code: int) -> bool:
    """Whether the kubelet restarts containers that exited with `code` (restartPolicy)."""
    policy = podutil.restart_policy(podutil.spec_of(pod))
    return policy == podutil.RESTART_POLICY_ALWAYS or (
        policy == podutil.RESTART_POLICY_ON_FAILURE and code != 0
    )


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def running_since(pod: Obj) -> dt.datetime | None:
    """When the containers last (re)started: the latest `running.startedAt`."""
    starts = [
        _parse(((s.get("state") or {}).get("running") or {}).get("startedAt"))
        for s in (pod.get("status") or {}).get("containerStatuses") or ()
    ]
    known = [s for s in starts if s is not None]
    return max(known) if known else _parse((pod.get("status") or {}).get("startTime"))


def seconds_left(pod: Obj, now: dt.datetime) -> float | None:
    """Seconds until the running pod's containers exit; None if they never do."""
    if exit_code(pod) is None:
        return None
    since = running_since(pod)
    if since is None:
        return None
    return max(0.0, (since - now).total_seconds() + run_seconds(pod))


def _terminated(status: Obj, code: int, finished: str) -> Obj:
    started = ((status.get("state") or {}).get("running") or {}).get("startedAt") or finished
    return {
        "exitCode": code,
        "reason": "Completed" if code == 0 else "Error",
        "startedAt": started,
        "finishedAt": finished,
        "containerID": status.get("containerID", ""),
    }


def _not_ready(conditions: list[Obj], reason: str, now: str) -> list[Obj]:
    out = []
    for condition in conditions:
        if condition.get("type") in ("Ready", "ContainersReady"):
            condition = {
                **condition,
                "status": "False",
                "reason": reason,
                "lastTransitionTime": now,
            }
            condition.pop("message", None)
        out.append(condition)
    return out


def exited_status(pod: Obj, code: int, now: str, *, final: bool = False) -> Obj:
    """The status fields to write once the containers exited with `code` (the pod's whole
    status as the API has it: `pod` must be the full object, not a trimmed one). `final`: the
    pod is being deleted, so nothing restarts."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    if not final and restarts(pod, code):
        restarted = []
        for s in statuses:
            restarted.append(
                {
                    **s,
                    "restartCount": int(s.get("restartCount") or 0) + 1,
                    "lastState": {"terminated": _terminated(s, code, now)},
                    "state": {"running": {"startedAt": now}},
                }
            )
        return {"containerStatuses": restarted}
    phase = "Succeeded" if code == 0 else "Failed"
    finished = [
        {
            **s,
            "ready": False,
            "started": False,
            "state": {"terminated": _terminated(s, code, now)},
        }
        for s in statuses
    ]
    reason = "PodCompleted" if code == 0 else "PodFailed"
    return {
        "phase": phase,
        "conditions": _not_ready(status.get("conditions") or [], reason, now),
        "containerStatuses": finished,
    }
