"""Hollow pods asked by annotation to exit: when, and the status a kubelet would write."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kubelite.hollow import finishing

Obj = dict[str, Any]
STARTED = "2025-01-01T00:00:00Z"
T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def running(restart_policy: str = "Never", **annotations: str) -> Obj:
    return {
        "metadata": {"annotations": annotations},
        "spec": {"restartPolicy": restart_policy},
        "status": {
            "phase": "Running",
            "startTime": STARTED,
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": STARTED},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": STARTED},
            ],
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "containerID": "kubelite-hollow://abc",
                    "state": {"running": {"startedAt": STARTED}},
                }
            ],
        },
    }


def test_a_pod_without_the_annotations_runs_for_ever() -> None:
    assert finishing.seconds_left(running(), T0) is None


@pytest.mark.parametrize(
    ("annotations", "after", "left"),
    [
        ({"hollow.kubelite.io/exit-code": "0"}, 0, 0.0),
        ({"hollow.kubelite.io/exit-code": "1", "hollow.kubelite.io/run-seconds": "5"}, 2, 3.0),
        ({"hollow.kubelite.io/exit-code": "1", "hollow.kubelite.io/run-seconds": "5"}, 9, 0.0),
        ({"hollow.kubelite.io/exit-code": "999"}, 0, None),
        ({"hollow.kubelite.io/exit-code": "x"}, 0, None),
    ],
)
def test_when_the_containers_exit(
    annotations: dict[str, str], after: float, left: float | None
) -> None:
    pod = running(**annotations)
    assert finishing.seconds_left(pod, T0 + dt.timedelta(seconds=after)) == left


@pytest.mark.parametrize(
    ("policy", "code", "phase", "reason"),
    [
        ("Never", 0, "Succeeded", "Completed"),
        ("Never", 3, "Failed", "Error"),
        ("OnFailure", 0, "Succeeded", "Completed"),
    ],
)
def test_a_pod_that_ends(policy: str, code: int, phase: str, reason: str) -> None:
    status = finishing.exited_status(running(policy), code, "2025-01-01T00:00:07Z")
    assert status["phase"] == phase
    (container,) = status["containerStatuses"]
    assert container["state"] == {
        "terminated": {
            "exitCode": code,
            "reason": reason,
            "startedAt": STARTED,
            "finishedAt": "2025-01-01T00:00:07Z",
            "containerID": "kubelite-hollow://abc",
        }
    }
    assert (container["ready"], container["started"]) == (False, False)
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == ("PodCompleted" if code == 0 else "PodFailed")


@pytest.mark.parametrize(("policy", "code"), [("OnFailure", 2), ("Always", 0)])
def test_a_restarting_pod_keeps_running(policy: str, code: int) -> None:
    status = finishing.exited_status(running(policy), code, "2025-01-01T00:00:07Z")
    assert "phase" not in status
    (container,) = status["containerStatuses"]
    assert container["restartCount"] == 1
    assert container["lastState"]["terminated"]["exitCode"] == code
    assert container["state"] == {"running": {"startedAt": "2025-01-01T00:00:07Z"}}
    # It runs again for as long, from its restart.
    pod = running(policy, **{"hollow.kubelite.io/exit-code": "2"})
    pod["status"]["containerStatuses"] = status["containerStatuses"]
    assert finishing.seconds_left(pod, T0 + dt.timedelta(seconds=7)) == 0.0


def test_a_deleted_pod_ends_failed_whatever_its_restart_policy() -> None:
    status = finishing.exited_status(running("Always"), 137, "2025-01-01T00:00:07Z", final=True)
    assert status["phase"] == "Failed"
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 137
