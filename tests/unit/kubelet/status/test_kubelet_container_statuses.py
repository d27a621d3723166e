"""containerStatuses and initContainerStatuses: states, reasons, lastState, restart counts,
started/ready, and their order, as the kubelet writes them."""

from __future__ import annotations

from typing import Any

import pytest
from kubelet_status_builders import (
    NOW,
    at,
    created,
    exited,
    observed,
    pod,
    running,
    unknown,
)

from kubelite.kubelet.status import ContainerRuntimeState, containers_by_name, generate_pod_status

IMAGE_ID = "sha256:" + "b" * 64


def generate(p: dict[str, Any], o: Any, old: dict[str, Any] | None = None) -> dict[str, Any]:
    return generate_pod_status(p, o, now=NOW, old_status=old)


def by_name(status: dict[str, Any], key: str = "containerStatuses") -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in status.get(key) or []}


def test_a_container_not_created_yet_waits_as_container_creating() -> None:
    status = generate(pod(["app"]), observed())
    assert status["containerStatuses"] == [
        {
            "name": "app",
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": "busybox",
            "imageID": "",
            "started": False,
        }
    ]


def test_app_containers_wait_as_pod_initializing_in_a_pod_with_init_containers() -> None:
    status = generate(pod(["app"], init=["setup"]), observed())
    assert by_name(status)["app"]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert by_name(status, "initContainerStatuses")["setup"]["state"] == {
        "waiting": {"reason": "PodInitializing"}
    }


def test_a_running_container_shows_when_it_started_and_its_ids() -> None:
    status = generate(pod(["app"]), observed({"app": running("app", started=10, cid="abc")}))
    app = by_name(status)["app"]
    assert app["state"] == {"running": {"startedAt": at(10)}}
    assert app["containerID"] == "containerd://abc"
    assert app["imageID"] == IMAGE_ID
    assert app["started"] is True
    assert app["ready"] is True


def test_image_id_is_the_digest_reference_the_kubelet_passes() -> None:
    digest = "docker.io/library/busybox@sha256:" + "d" * 64
    state = ContainerRuntimeState(running("app"), image_id=digest)
    app = by_name(generate(pod(["app"]), observed({"app": state})))["app"]
    assert app["imageID"] == digest
    assert app["image"] == "busybox"


def test_container_id_carries_the_runtime_name() -> None:
    o = observed({"app": running("app", cid="abc")})
    o = type(o)(containers=o.containers, sandboxes=o.sandboxes, runtime_name="kubelite")
    assert by_name(generate(pod(["app"]), o))["app"]["containerID"] == "kubelite://abc"


def test_a_created_but_not_started_container_waits_without_reason() -> None:
    app = by_name(generate(pod(["app"]), observed({"app": created("app")})))["app"]
    assert app["state"] == {"waiting": {}}
    assert app["started"] is False


@pytest.mark.parametrize(
    ("exit_code", "runtime_reason", "reason"),
    [
        (0, "", "Completed"),
        (1, "", "Error"),
        (137, "OOMKilled", "OOMKilled"),
        (128, "ContainerCannotRun", "ContainerCannotRun"),
        (2, "Error", "Error"),
    ],
)
def test_terminated_reason_is_the_runtimes_or_completed_and_error(
    exit_code: int, runtime_reason: str, reason: str
) -> None:
    cs = exited("app", exit_code, reason=runtime_reason, started=10, finished=20)
    app = by_name(generate(pod(["app"], restart_policy="Never"), observed({"app": cs})))["app"]
    assert app["state"] == {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": at(10),
            "finishedAt": at(20),
            "containerID": "containerd://app-0",
        }
    }
    assert app["ready"] is False
    assert app["started"] is False


def test_termination_message_follows_the_runtimes_message() -> None:
    plain = ContainerRuntimeState(exited("a", 1), termination_message="disk full")
    both = ContainerRuntimeState(
        exited("b", 1, message="exec failed"), termination_message="disk full"
    )
    status = generate(pod(["a", "b"], restart_policy="Never"), observed({"a": plain, "b": both}))
    assert by_name(status)["a"]["state"]["terminated"]["message"] == "disk full"
    assert by_name(status)["b"]["state"]["terminated"]["message"] == "exec failed: disk full"


def test_termination_messages_are_cut_to_their_share_of_12_kib() -> None:
    state = ContainerRuntimeState(exited("a", 1), termination_message="x" * 20000)
    status = generate(pod(["a", "b", "c"], restart_policy="Never"), observed({"a": state}))
    assert len(by_name(status)["a"]["state"]["terminated"]["message"]) == 12 * 1024 // 3


def test_the_run_before_the_current_one_is_the_last_state() -> None:
    state = ContainerRuntimeState(
        current=running("app", started=30, attempt=1),
        previous=exited("app", 1, started=10, finished=20),
        previous_termination_message="boom",
    )
    app = by_name(generate(pod(["app"]), observed({"app": state})))["app"]
    assert app["restartCount"] == 1
    assert app["state"] == {"running": {"startedAt": at(30)}}
    assert app["lastState"] == {
        "terminated": {
            "exitCode": 1,
            "reason": "Error",
            "message": "boom",
            "startedAt": at(10),
            "finishedAt": at(20),
            "containerID": "containerd://app-0",
        }
    }


def test_a_crash_looping_container_waits_with_its_last_run_as_last_state() -> None:
    message = "back-off 10s restarting failed container=app pod=web_default(uid)"
    state = ContainerRuntimeState(
        current=exited("app", 1, attempt=2),
        waiting_reason="CrashLoopBackOff",
        waiting_message=message,
    )
    app = by_name(generate(pod(["app"]), observed({"app": state})))["app"]
    assert app["state"] == {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    assert app["lastState"]["terminated"]["exitCode"] == 1
    assert app["lastState"]["terminated"]["reason"] == "Error"
    assert app["restartCount"] == 2


@pytest.mark.parametrize(
    "reason",
    [
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    ],
)
def test_a_container_the_kubelet_failed_to_start_waits_with_the_kubelets_reason(
    reason: str,
) -> None:
    state = ContainerRuntimeState(waiting_reason=reason, waiting_message="details")
    app = by_name(generate(pod(["app"]), observed({"app": state})))["app"]
    assert app["state"] == {"waiting": {"reason": reason, "message": "details"}}
    assert app["lastState"] == {}


def test_a_container_that_will_not_be_restarted_keeps_its_terminated_state() -> None:
    never = ContainerRuntimeState(exited("app", 1), waiting_reason="CrashLoopBackOff")
    status = generate(pod(["app"], restart_policy="Never"), observed({"app": never}))
    assert "terminated" in by_name(status)["app"]["state"]
    done = ContainerRuntimeState(exited("app", 0), waiting_reason="CrashLoopBackOff")
    status = generate(pod(["app"], restart_policy="OnFailure"), observed({"app": done}))
    assert "terminated" in by_name(status)["app"]["state"]


def test_a_running_container_never_shows_a_stale_start_failure() -> None:
    state = ContainerRuntimeState(running("app"), waiting_reason="CrashLoopBackOff")
    assert "running" in by_name(generate(pod(["app"]), observed({"app": state})))["app"]["state"]


def test_a_pod_being_deleted_shows_no_start_failures() -> None:
    state = ContainerRuntimeState(exited("app", 1), waiting_reason="CrashLoopBackOff")
    status = generate(pod(["app"], deleted=True), observed({"app": state}))
    assert "terminated" in by_name(status)["app"]["state"]


def test_an_init_container_that_succeeded_is_never_shown_waiting_again() -> None:
    state = ContainerRuntimeState(exited("setup", 0), waiting_reason="CrashLoopBackOff")
    status = generate(pod(["app"], init=["setup"]), observed({"setup": state}))
    setup = by_name(status, "initContainerStatuses")["setup"]
    assert setup["state"]["terminated"]["reason"] == "Completed"
    assert setup["ready"] is True


def test_a_failed_init_container_crash_loops_under_restart_always() -> None:
    state = ContainerRuntimeState(exited("setup", 1), waiting_reason="CrashLoopBackOff")
    status = generate(pod(["app"], init=["setup"]), observed({"setup": state}))
    setup = by_name(status, "initContainerStatuses")["setup"]
    assert setup["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert setup["lastState"]["terminated"]["exitCode"] == 1
    assert setup["ready"] is False


PREVIOUS_RUNNING = {
    "containerStatuses": [
        {
            "name": "app",
            "state": {"running": {"startedAt": at(10)}},
            "lastState": {},
            "ready": True,
            "restartCount": 3,
            "image": "busybox",
            "imageID": IMAGE_ID,
            "containerID": "containerd://gone",
            "started": True,
        }
    ]
}
UNKNOWN_AFTER_DELETE = {
    "terminated": {
        "exitCode": 137,
        "reason": "ContainerStatusUnknown",
        "message": "The container could not be located when the pod was deleted.  "
        "The container used to be Running",
        "startedAt": None,
        "finishedAt": None,
    }
}


def test_a_running_container_the_runtime_lost_is_recorded_as_unknown_and_restarted() -> None:
    app = by_name(generate(pod(["app"]), observed(), PREVIOUS_RUNNING))["app"]
    assert app["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert app["lastState"] == UNKNOWN_AFTER_DELETE
    assert app["restartCount"] == 4


def test_a_lost_container_of_a_deleted_pod_counts_no_restart() -> None:
    app = by_name(generate(pod(["app"], deleted=True), observed(), PREVIOUS_RUNNING))["app"]
    assert app["lastState"] == UNKNOWN_AFTER_DELETE
    assert app["restartCount"] == 3


def test_a_container_in_unknown_state_that_was_running_is_terminated_unknown() -> None:
    o = observed({"app": unknown("app", attempt=3)})
    app = by_name(generate(pod(["app"]), o, PREVIOUS_RUNNING))["app"]
    assert app["state"] == {
        "terminated": {
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
            "startedAt": None,
            "finishedAt": None,
        }
    }
    assert app["restartCount"] == 4


def test_a_container_in_unknown_state_never_seen_running_waits() -> None:
    app = by_name(generate(pod(["app"]), observed({"app": unknown("app")})))["app"]
    assert app["state"] == {"waiting": {}}


def test_a_terminated_status_is_kept_when_the_runtime_forgot_the_container() -> None:
    previous = {
        "containerStatuses": [
            {
                "name": "app",
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": "busybox",
                "imageID": IMAGE_ID,
                "containerID": "containerd://old",
                "started": False,
            }
        ]
    }
    status = generate(pod(["app"], restart_policy="Never"), observed(), previous)
    assert by_name(status)["app"]["state"] == {"terminated": {"exitCode": 0, "reason": "Completed"}}
    assert status["phase"] == "Succeeded"


def test_app_statuses_are_sorted_by_name_and_init_statuses_follow_the_spec() -> None:
    status = generate(pod(["zeta", "alpha", "mid"], init=["second", "first"]), observed())
    assert [s["name"] for s in status["containerStatuses"]] == ["alpha", "mid", "zeta"]
    assert [s["name"] for s in status["initContainerStatuses"]] == ["second", "first"]


@pytest.mark.parametrize(
    ("startup", "readiness", "started", "ready"),
    [
        (None, None, True, True),
        (None, True, True, True),
        (None, False, True, False),
        (True, None, True, True),
        (False, None, False, False),
        (False, True, False, False),
    ],
)
def test_started_and_ready_follow_the_probes(
    startup: bool | None, readiness: bool | None, started: bool, ready: bool
) -> None:
    state = ContainerRuntimeState(running("app"), startup_probe=startup, readiness_probe=readiness)
    app = by_name(generate(pod(["app"]), observed({"app": state})))["app"]
    assert (app["started"], app["ready"]) == (started, ready)


def test_a_running_regular_init_container_is_started_but_not_ready() -> None:
    status = generate(pod(["app"], init=["setup"]), observed({"setup": running("setup")}))
    setup = by_name(status, "initContainerStatuses")["setup"]
    assert (setup["started"], setup["ready"]) == (True, False)


def test_a_sidecar_is_ready_while_it_runs_and_passes_its_readiness_probe() -> None:
    spec = pod(["app"], sidecars=["proxy"])
    ok = generate(spec, observed({"proxy": running("proxy")}))
    assert by_name(ok, "initContainerStatuses")["proxy"]["ready"] is True
    probing = ContainerRuntimeState(running("proxy"), readiness_probe=False)
    not_yet = generate(spec, observed({"proxy": probing}))
    assert by_name(not_yet, "initContainerStatuses")["proxy"]["ready"] is False


def test_volume_mounts_are_listed_with_read_only_ones_not_recursive() -> None:
    container = {
        "name": "app",
        "image": "busybox",
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "token", "mountPath": "/var/run/secrets", "readOnly": True},
        ],
    }
    app = by_name(generate(pod([container]), observed()))["app"]
    assert app["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {
            "name": "token",
            "mountPath": "/var/run/secrets",
            "readOnly": True,
            "recursiveReadOnly": "Disabled",
        },
    ]
    # Once the container exists the kubelet carries the mounts over from its last status.
    later = by_name(
        generate(pod([container]), observed({"app": running("app")}), {"containerStatuses": [app]})
    )["app"]
    assert later["volumeMounts"] == app["volumeMounts"]


def test_runtime_containers_are_grouped_by_name_newest_first() -> None:
    first = exited("app", 1, started=10, attempt=0)
    second = exited("app", 2, started=30, attempt=1)
    third = running("app", started=50, attempt=2)
    facts = {"app": ContainerRuntimeState(readiness_probe=False), "web": ContainerRuntimeState()}
    grouped = containers_by_name([second, running("side"), third, first], facts)
    assert grouped["app"].current is third
    assert grouped["app"].previous is second
    assert grouped["app"].readiness_probe is False
    assert grouped["side"].current is not None and grouped["side"].previous is None
    assert grouped["web"].current is None
