"""The whole pod status: the seed's scenarios end to end, the phase's stickiness, pod-level
fields, and the STATUS column `kubectl get pods` derives from it (cross-checked with
`kubelite.api.printers.pods`, which mirrors kubectl's printPod)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubelet_status_builders import (
    EARLIER_TEXT,
    NOW,
    NOW_TEXT,
    UID,
    at,
    exited,
    observed,
    pod,
    running,
    sandbox,
)

from kubelite.api.printers.pods import summarize
from kubelite.kubelet.status import (
    DEADLINE_EXCEEDED,
    ContainerRuntimeState,
    PodRuntimeState,
    crash_loop_back_off_message,
    generate_pod_status,
    illegal_container_transition,
    terminate_pod_status,
)
from kubelite.kubelet.status.messages import go_duration, image_pull_back_off_message


def generate(p: dict[str, Any], o: Any, old: dict[str, Any] | None = None) -> dict[str, Any]:
    return generate_pod_status(p, o, now=NOW, old_status=old)


def column(p: dict[str, Any], status: dict[str, Any]) -> str:
    """The STATUS cell kubectl would print for `p` carrying `status`."""
    shown = copy.deepcopy(p)
    shown["status"] = status
    return summarize(shown).status


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def crash_loop(name: str, exit_code: int = 1, attempt: int = 1) -> ContainerRuntimeState:
    return ContainerRuntimeState(
        exited(name, exit_code, attempt=attempt),
        waiting_reason="CrashLoopBackOff",
        waiting_message=f"back-off 10s restarting failed container={name} pod=web_default({UID})",
    )


# --- the seed's myapp-pod: two init containers waiting for Services ---------------------------

MYAPP = pod(["myapp-container"], init=["init-myservice", "init-mydb"])


def test_myapp_pod_waits_in_its_first_init_container() -> None:
    status = generate(MYAPP, observed({"init-myservice": running("init-myservice")}))
    assert status["phase"] == "Pending"
    assert condition(status, "Initialized")["message"] == (
        "containers with incomplete status: [init-myservice init-mydb]"
    )
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert column(MYAPP, status) == "Init:0/2"


def test_myapp_pod_moves_to_its_second_init_container() -> None:
    o = observed({"init-myservice": exited("init-myservice", 0), "init-mydb": running("init-mydb")})
    status = generate(MYAPP, o)
    assert status["phase"] == "Pending"
    assert column(MYAPP, status) == "Init:1/2"


def test_myapp_pod_runs_once_both_services_answered() -> None:
    o = observed(
        {
            "init-myservice": exited("init-myservice", 0),
            "init-mydb": exited("init-mydb", 0),
            "myapp-container": running("myapp-container", started=30),
        }
    )
    status = generate(MYAPP, o)
    assert status["phase"] == "Running"
    assert condition(status, "Initialized")["status"] == "True"
    assert condition(status, "Ready")["status"] == "True"
    assert column(MYAPP, status) == "Running"


def test_myapp_pod_between_init_and_app_shows_pod_initializing() -> None:
    o = observed(
        {"init-myservice": exited("init-myservice", 0), "init-mydb": exited("init-mydb", 0)}
    )
    status = generate(MYAPP, o)
    assert status["phase"] == "Pending"
    assert condition(status, "Initialized")["status"] == "True"
    assert column(MYAPP, status) == "PodInitializing"


def test_an_init_container_that_keeps_failing_shows_init_crash_loop_back_off() -> None:
    status = generate(MYAPP, observed({"init-myservice": crash_loop("init-myservice")}))
    assert status["phase"] == "Pending"
    assert column(MYAPP, status) == "Init:CrashLoopBackOff"


def test_an_init_container_that_just_failed_shows_init_error() -> None:
    status = generate(MYAPP, observed({"init-myservice": exited("init-myservice", 1)}))
    assert column(MYAPP, status) == "Init:Error"


def test_a_failed_init_container_fails_a_run_once_pod() -> None:
    spec = pod(["myapp-container"], init=["init-myservice", "init-mydb"], restart_policy="Never")
    status = generate(spec, observed({"init-myservice": exited("init-myservice", 1)}))
    assert status["phase"] == "Failed"
    assert condition(status, "Ready")["reason"] == "PodFailed"
    assert column(spec, status) == "Init:Error"


# --- the seed's nginx-sidecar: two app containers; and the same with a native sidecar ---------

NGINX_SIDECAR = pod(["nginx", "sidecar-access"])


def test_nginx_with_its_log_tailer_runs_both_containers() -> None:
    o = observed({"nginx": running("nginx"), "sidecar-access": running("sidecar-access")})
    status = generate(NGINX_SIDECAR, o)
    assert status["phase"] == "Running"
    assert summarize({**NGINX_SIDECAR, "status": status}).ready == 2
    assert column(NGINX_SIDECAR, status) == "Running"


def test_a_new_pod_shows_container_creating() -> None:
    status = generate(NGINX_SIDECAR, observed())
    assert status["phase"] == "Pending"
    assert column(NGINX_SIDECAR, status) == "ContainerCreating"


NATIVE = pod(["nginx"], sidecars=["log-tailer"])


def test_nginx_waits_for_its_native_sidecar_to_start() -> None:
    starting = ContainerRuntimeState(running("log-tailer"), startup_probe=False)
    status = generate(NATIVE, observed({"log-tailer": starting}))
    assert status["phase"] == "Pending"
    assert condition(status, "Initialized")["message"] == (
        "containers with incomplete status: [log-tailer]"
    )
    assert column(NATIVE, status) == "Init:0/1"


def test_nginx_with_a_started_native_sidecar_runs() -> None:
    o = observed({"log-tailer": running("log-tailer"), "nginx": running("nginx")})
    status = generate(NATIVE, o)
    assert status["phase"] == "Running"
    assert status["initContainerStatuses"][0]["started"] is True
    assert summarize({**NATIVE, "status": status}).ready == 2
    assert column(NATIVE, status) == "Running"


def test_a_job_like_pod_ends_when_its_app_exits_even_with_the_sidecar_running() -> None:
    spec = pod(["nginx"], sidecars=["log-tailer"], restart_policy="Never")
    o = observed({"log-tailer": running("log-tailer"), "nginx": exited("nginx", 0)})
    assert generate(spec, o)["phase"] == "Running"
    # The pod worker then stops the sidecar and reports the pod terminal.
    o = observed(
        {"log-tailer": exited("log-tailer", 143), "nginx": exited("nginx", 0)},
        sandbox_ready=False,
        pod_is_terminal=True,
    )
    status = generate(spec, o)
    assert status["phase"] == "Succeeded"
    assert column(spec, status) == "Completed"


# --- one container, run once ------------------------------------------------------------------

SIMPLE = pod(["nginx"], restart_policy="Never")


def test_a_run_once_container_exiting_1_fails_the_pod_with_error() -> None:
    status = generate(SIMPLE, observed({"nginx": exited("nginx", 1)}, sandbox_ready=False))
    assert status["phase"] == "Failed"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    assert column(SIMPLE, status) == "Error"


def test_a_run_once_container_exiting_0_completes_the_pod() -> None:
    status = generate(SIMPLE, observed({"nginx": exited("nginx", 0)}, sandbox_ready=False))
    assert status["phase"] == "Succeeded"
    assert column(SIMPLE, status) == "Completed"


def test_an_oom_killed_container_shows_oom_killed() -> None:
    cs = exited("nginx", 137, reason="OOMKilled")
    status = generate(SIMPLE, observed({"nginx": cs}, sandbox_ready=False))
    assert status["phase"] == "Failed"
    assert column(SIMPLE, status) == "OOMKilled"


def test_a_crash_looping_container_shows_crash_loop_back_off_and_the_pod_runs() -> None:
    spec = pod(["nginx"])
    status = generate(spec, observed({"nginx": crash_loop("nginx")}))
    assert status["phase"] == "Running"
    assert condition(status, "Ready")["message"] == "containers with unready status: [nginx]"
    assert column(spec, status) == "CrashLoopBackOff"


def test_an_image_that_cannot_be_pulled_shows_err_image_pull() -> None:
    spec = pod(["nginx"])
    state = ContainerRuntimeState(waiting_reason="ErrImagePull", waiting_message="not found")
    status = generate(spec, observed({"nginx": state}))
    assert status["phase"] == "Pending"
    assert column(spec, status) == "ErrImagePull"


def test_a_pod_with_one_container_done_and_one_running_shows_not_ready() -> None:
    spec = pod(["a", "b"], restart_policy="OnFailure")
    status = generate(spec, observed({"a": exited("a", 0), "b": running("b")}))
    assert status["phase"] == "Running"
    assert condition(status, "Ready")["message"] == "containers with unready status: [a]"
    assert column(spec, status) == "NotReady"
    # kubectl counts only ready containers as running: an unready one leaves `Completed`.
    probing = ContainerRuntimeState(running("b"), readiness_probe=False)
    status = generate(spec, observed({"a": exited("a", 0), "b": probing}))
    assert column(spec, status) == "Completed"


def test_a_pod_being_deleted_shows_terminating() -> None:
    spec = pod(["nginx"], deleted=True)
    status = generate(spec, observed({"nginx": running("nginx")}))
    assert status["phase"] == "Running"
    assert column(spec, status) == "Terminating"


# --- phase, reason and message over time ------------------------------------------------------


def test_a_pod_past_its_deadline_fails_with_deadline_exceeded() -> None:
    spec = pod(["nginx"], activeDeadlineSeconds=30)
    status = generate(spec, observed({"nginx": running("nginx")}, eviction=DEADLINE_EXCEEDED))
    assert status["phase"] == "Failed"
    assert status["reason"] == "DeadlineExceeded"
    assert status["message"] == "Pod was active on the node longer than the specified deadline"
    assert column(spec, status) == "DeadlineExceeded"


@pytest.mark.parametrize("where", ["api", "kubelet"])
def test_a_terminal_phase_is_never_left(where: str) -> None:
    done = {"phase": "Succeeded", "reason": "Test", "message": "test"}
    spec = pod(["nginx"], status=done if where == "api" else {"phase": "Running"})
    old = done if where == "kubelet" else None
    status = generate(spec, observed({"nginx": running("nginx")}), old)
    assert status["phase"] == "Succeeded"
    assert (status["reason"], status["message"]) == ("Test", "test")
    assert condition(status, "Ready")["reason"] == "PodCompleted"


def test_reason_and_message_belong_to_the_phase_they_came_with() -> None:
    spec = pod(["nginx"], status={"phase": "Pending", "reason": "Why", "message": "because"})
    same = generate(spec, observed())
    assert (same["phase"], same["reason"], same["message"]) == ("Pending", "Why", "because")
    moved = generate(spec, observed({"nginx": running("nginx")}))
    assert moved["phase"] == "Running"
    assert "reason" not in moved
    assert "message" not in moved


def test_a_running_pod_whose_container_vanished_stays_running() -> None:
    previous = generate(pod(["nginx"]), observed({"nginx": running("nginx")}))
    status = generate(pod(["nginx"], status=previous), observed())
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["lastState"]["terminated"]["reason"] == (
        "ContainerStatusUnknown"
    )


# --- pod-level fields -------------------------------------------------------------------------


def test_start_time_is_set_once() -> None:
    first = generate(pod(["nginx"]), observed())
    assert first["startTime"] == NOW_TEXT
    later = generate(pod(["nginx"], status={"startTime": EARLIER_TEXT}), observed())
    assert later["startTime"] == EARLIER_TEXT


def test_host_and_pod_ips_come_from_the_node_and_the_sandbox() -> None:
    status = generate(pod(["nginx"]), observed({"nginx": running("nginx")}))
    assert status["hostIP"] == "192.168.1.10"
    assert status["hostIPs"] == [{"ip": "192.168.1.10"}]
    assert status["podIP"] == "10.88.0.5"
    assert status["podIPs"] == [{"ip": "10.88.0.5"}]


def test_dual_stack_pod_ips_put_the_nodes_family_first() -> None:
    dual = sandbox(ip="fd00::5", extra=["10.88.0.5", "10.88.0.6"])
    o = PodRuntimeState(sandboxes=(dual,), host_ips=("192.168.1.10", "fd00::1"))
    status = generate(pod(["nginx"]), o)
    assert status["podIPs"] == [{"ip": "10.88.0.5"}, {"ip": "fd00::5"}]
    assert status["hostIPs"] == [{"ip": "192.168.1.10"}, {"ip": "fd00::1"}]


def test_a_finished_pod_keeps_the_ip_it_had() -> None:
    previous = generate(pod(["nginx"]), observed({"nginx": running("nginx")}))
    o = observed({"nginx": exited("nginx", 0)}, sandbox_ready=False)
    status = generate(pod(["nginx"], status=previous, restart_policy="Never"), o)
    assert status["podIP"] == "10.88.0.5"


def test_a_host_network_pod_has_the_nodes_ip() -> None:
    o = PodRuntimeState(sandboxes=(sandbox(ip=""),), host_ips=("192.168.1.10",))
    status = generate(pod(["nginx"], hostNetwork=True), o)
    assert status["podIP"] == "192.168.1.10"


def test_qos_class_is_computed_or_kept() -> None:
    assert generate(pod(["nginx"]), observed())["qosClass"] == "BestEffort"
    kept = pod(["nginx"], status={"qosClass": "Burstable"})
    assert generate(kept, observed())["qosClass"] == "Burstable"


def test_generating_changes_neither_the_pod_nor_the_old_status() -> None:
    spec = pod(
        ["nginx"], status={"phase": "Running", "conditions": [{"type": "X", "status": "True"}]}
    )
    old = generate(pod(["nginx"]), observed({"nginx": running("nginx")}))
    spec_before, old_before = copy.deepcopy(spec), copy.deepcopy(old)
    generate(spec, observed({"nginx": crash_loop("nginx")}), old)
    assert (spec, old) == (spec_before, old_before)


def test_a_full_status_reads_as_kubernetes_writes_it() -> None:
    spec = pod(
        ["nginx"],
        status={
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": EARLIER_TEXT,
                }
            ],
        },
    )
    status = generate(spec, observed({"nginx": running("nginx", started=10, cid="c1")}))
    assert status == {
        "phase": "Running",
        "conditions": [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": NOW_TEXT}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady")
        ]
        + [
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": EARLIER_TEXT,
            }
        ],
        "hostIP": "192.168.1.10",
        "hostIPs": [{"ip": "192.168.1.10"}],
        "podIP": "10.88.0.5",
        "podIPs": [{"ip": "10.88.0.5"}],
        "startTime": NOW_TEXT,
        "containerStatuses": [
            {
                "name": "nginx",
                "state": {"running": {"startedAt": at(10)}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": "busybox",
                "imageID": "sha256:" + "b" * 64,
                "containerID": "containerd://c1",
                "started": True,
            }
        ],
        "qosClass": "BestEffort",
    }


# --- TerminatePod -----------------------------------------------------------------------------


def test_terminating_a_running_pod_fails_it_and_marks_its_containers_gone() -> None:
    running_status = generate(pod(["nginx"]), observed({"nginx": running("nginx")}))
    spec = pod(["nginx"], status=running_status)
    status = terminate_pod_status(spec, now=NOW)
    assert status["phase"] == "Failed"
    assert status["containerStatuses"][0]["state"] == {
        "terminated": {
            "exitCode": 137,
            "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
            "startedAt": None,
            "finishedAt": None,
        }
    }
    assert spec["status"] == running_status


def test_terminating_keeps_a_terminal_phase_and_finished_containers() -> None:
    done = generate(SIMPLE, observed({"nginx": exited("nginx", 0)}, sandbox_ready=False))
    status = terminate_pod_status(pod(["nginx"], status=done, restart_policy="Never"), now=NOW)
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"] == done["containerStatuses"]


def test_terminating_an_uninitialized_pod_leaves_its_app_containers_waiting() -> None:
    pending = generate(MYAPP, observed({"init-myservice": running("init-myservice")}))
    status = terminate_pod_status({**MYAPP, "status": pending}, now=NOW)
    init = status["initContainerStatuses"]
    assert init[0]["state"]["terminated"]["reason"] == "ContainerStatusUnknown"
    assert init[1]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


# --- messages ---------------------------------------------------------------------------------


def test_crash_loop_back_off_message_names_the_container_and_the_pod() -> None:
    assert crash_loop_back_off_message(pod(["app"]), "app", 40) == (
        f"back-off 40s restarting failed container=app pod=web_default({UID})"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (10, "10s"),
        (80, "1m20s"),
        (160, "2m40s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (1.5, "1.5s"),
        (0.25, "250ms"),
        (0, "0s"),
    ],
)
def test_durations_print_as_go_prints_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


# --- the status manager's guard ---------------------------------------------------------------


def _one(state: dict[str, Any]) -> dict[str, Any]:
    return {"containerStatuses": [{"name": "app", "state": state}]}


@pytest.mark.parametrize(
    ("policy", "exit_code", "allowed"),
    [
        ("Never", 0, False),
        ("Never", 1, False),
        ("OnFailure", 0, False),
        ("OnFailure", 1, True),
        ("Always", 0, True),
    ],
)
def test_a_container_terminated_for_good_may_not_run_again(
    policy: str, exit_code: int, allowed: bool
) -> None:
    old = _one({"terminated": {"exitCode": exit_code}})
    spec = {"restartPolicy": policy, "containers": [{"name": "app", "image": "busybox"}]}
    error = illegal_container_transition(old, _one({"running": {}}), spec)
    assert (error == "") is allowed
    if not allowed:
        assert (
            error == "terminated container app attempted illegal transition to non-terminated state"
        )
    assert illegal_container_transition(old, old, spec) == ""


def test_image_pull_back_off_message_quotes_the_image() -> None:
    assert image_pull_back_off_message("nginx:nope") == 'Back-off pulling image "nginx:nope"'
