"""What a pod sync must kill and start, for every shape of pod and runtime state
(kuberuntime's computePodActions cases, re-expressed)."""

from __future__ import annotations

from typing import Any

import pytest
from pod_actions_builders import compute, ctr, sandbox

from kubelite.kubelet import pod_actions as pa
from kubelite.runtime.cri import (
    ContainerState,
)

RUNNING = ContainerState.CONTAINER_RUNNING
EXITED = ContainerState.CONTAINER_EXITED
CREATED = ContainerState.CONTAINER_CREATED
UNKNOWN = ContainerState.CONTAINER_UNKNOWN


def pod(
    containers: tuple[str, ...] = ("app",),
    init: tuple[str, ...] = (),
    sidecars: tuple[str, ...] = (),
    policy: str = "Always",
    **extra: Any,
) -> dict:
    def spec_of(name: str) -> dict:
        made = {"name": name, "image": "busybox"}
        if name in sidecars:
            made["restartPolicy"] = "Always"
        return made

    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {
            "containers": [spec_of(n) for n in containers],
            "initContainers": [spec_of(n) for n in init],
            "restartPolicy": policy,
            **extra,
        },
    }


def test_a_new_pod_gets_a_sandbox_and_all_its_containers() -> None:
    actions = compute(pod(("a", "b")), sandboxes=())
    assert actions.create_sandbox and actions.kill_pod and actions.attempt == 0
    assert actions.containers_to_start == [0, 1]


def test_a_new_pod_with_init_containers_starts_the_first_init_container_only() -> None:
    actions = compute(pod(("app",), init=("i1", "i2")), sandboxes=())
    assert actions.create_sandbox
    assert actions.init_containers_to_start == [0] and actions.containers_to_start == []


def test_a_dead_sandbox_is_made_again_with_the_next_attempt() -> None:
    actions = compute(pod(), ctr("app", EXITED, 137), sandboxes=(sandbox(ready=False),))
    assert actions.create_sandbox and actions.kill_pod and actions.attempt == 1
    assert actions.sandbox_id == "sb0" and actions.containers_to_start == [0]


def test_a_sandbox_without_an_ip_is_made_again_unless_host_network() -> None:
    assert compute(pod(), ctr("app", RUNNING), sandboxes=(sandbox(ip=""),)).create_sandbox
    host = compute(pod(hostNetwork=True), ctr("app", RUNNING), sandboxes=(sandbox(ip=""),))
    assert not host.create_sandbox


def test_a_finished_never_restart_pod_gets_no_new_sandbox() -> None:
    actions = compute(pod(policy="Never"), ctr("app", EXITED, 0), sandboxes=(sandbox(ready=False),))
    assert actions.kill_pod and not actions.create_sandbox


def test_onfailure_leaves_succeeded_containers_out_of_a_new_sandbox() -> None:
    actions = compute(
        pod(("done", "failed"), policy="OnFailure"),
        ctr("done", EXITED, 0),
        ctr("failed", EXITED, 1),
        sandboxes=(sandbox(ready=False),),
    )
    assert actions.create_sandbox and actions.containers_to_start == [1]


@pytest.mark.parametrize(
    ("policy", "exit_code", "restarted"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 1, False),
        ("Never", 0, False),
    ],
)
def test_an_exited_app_container_restarts_as_its_policy_says(
    policy: str, exit_code: int, restarted: bool
) -> None:
    actions = compute(
        pod(("a", "b"), policy=policy), ctr("a", EXITED, exit_code), ctr("b", RUNNING)
    )
    assert (0 in actions.containers_to_start) is restarted
    assert not actions.kill_pod  # b still runs


def test_a_pod_with_nothing_running_and_nothing_to_start_is_killed() -> None:
    actions = compute(pod(policy="Never"), ctr("app", EXITED, 0))
    assert actions.kill_pod and not actions.create_sandbox and actions.containers_to_start == []


def test_a_deleted_pod_restarts_nothing() -> None:
    spec = pod()
    spec["metadata"]["deletionTimestamp"] = "2026-12-02T00:00:00Z"
    actions = compute(spec, ctr("app", EXITED, 1))
    assert actions.containers_to_start == [] and actions.kill_pod


def test_a_failed_liveness_probe_kills_and_restarts_the_container() -> None:
    actions = compute(pod(), ctr("app", RUNNING), probes={("id-app", "liveness"): pa.FAILURE})
    assert actions.containers_to_start == [0]
    assert actions.containers_to_kill == [
        pa.ContainerToKill(
            "id-app",
            "app",
            "Container app failed liveness probe, will be restarted",
            "LivenessProbe",
        )
    ]


def test_a_failed_startup_probe_under_never_kills_without_restart() -> None:
    actions = compute(
        pod(policy="Never"), ctr("app", RUNNING), probes={("id-app", "startup"): pa.FAILURE}
    )
    assert actions.containers_to_kill[0].message == "Container app failed startup probe"
    assert actions.containers_to_start == [] and actions.kill_pod


def test_a_changed_spec_restarts_the_container_whatever_the_policy() -> None:
    actions = compute(pod(policy="Never"), ctr("app", RUNNING, spec_hash="old"))
    assert actions.containers_to_start == [0]
    assert actions.containers_to_kill[0].message == (
        "Container app definition changed, will be restarted"
    )


def test_an_unknown_container_is_killed_before_it_starts_again() -> None:
    actions = compute(pod(), ctr("app", UNKNOWN))
    assert actions.containers_to_start == [0]
    assert actions.containers_to_kill[0].reason == "Unknown"


def test_init_containers_run_one_after_another() -> None:
    spec = pod(("app",), init=("i1", "i2"))
    running = compute(spec, ctr("i1", RUNNING))
    assert running.init_containers_to_start == [] and running.containers_to_start == []
    first_done = compute(spec, ctr("i1", EXITED, 0))
    assert first_done.init_containers_to_start == [1] and first_done.containers_to_start == []
    all_done = compute(spec, ctr("i2", EXITED, 0), ctr("i1", EXITED, 0))
    assert all_done.init_containers_to_start == [] and all_done.containers_to_start == [0]


def test_a_failed_init_container_runs_again_or_fails_the_pod_under_never() -> None:
    again = compute(pod(("app",), init=("i1",)), ctr("i1", EXITED, 1))
    assert again.init_containers_to_start == [0] and not again.kill_pod
    never = compute(pod(("app",), init=("i1",), policy="Never"), ctr("i1", EXITED, 1))
    assert never.kill_pod and never.init_containers_to_start == []
    oom = compute(
        pod(("app",), init=("i1",), policy="Never"), ctr("i1", EXITED, 0, reason="OOMKilled")
    )
    assert oom.kill_pod


def test_once_app_containers_run_finished_init_containers_are_not_run_again() -> None:
    actions = compute(pod(("app",), init=("i1",)), ctr("app", RUNNING))
    assert actions.init_containers_to_start == [] and actions.containers_to_start == []
    assert not actions.kill_pod


def test_a_running_sidecar_lets_the_next_init_container_start() -> None:
    spec = pod(("app",), init=("side", "i2"), sidecars=("side",))
    actions = compute(spec, ctr("side", RUNNING))
    assert actions.init_containers_to_start == [1]


def test_a_sidecar_with_a_startup_probe_waits_for_it() -> None:
    spec = pod(("app",), init=("side", "i2"), sidecars=("side",))
    spec["spec"]["initContainers"][0]["startupProbe"] = {"exec": {"command": ["true"]}}
    assert compute(spec, ctr("side", RUNNING)).init_containers_to_start == []
    passed = compute(spec, ctr("side", RUNNING), probes={("id-side", "startup"): pa.SUCCESS})
    assert passed.init_containers_to_start == [1]


def test_sidecars_keep_running_beside_app_containers_and_restart_when_they_stop() -> None:
    spec = pod(("app",), init=("side",), sidecars=("side",))
    steady = compute(spec, ctr("app", RUNNING), ctr("side", RUNNING))
    assert steady.init_containers_to_start == [] and steady.containers_to_start == []
    stopped = compute(spec, ctr("app", RUNNING), ctr("side", EXITED, 1))
    assert stopped.init_containers_to_start == [0]


def test_sidecars_do_not_keep_a_finished_pod_alive() -> None:
    spec = pod(("app",), init=("side",), sidecars=("side",), policy="Never")
    # The app container is done and will not restart: the pod is killed, sidecar and all.
    actions = compute(spec, ctr("app", EXITED, 0), ctr("side", RUNNING))
    assert actions.kill_pod and actions.init_containers_to_start == []
