"""What a pod sync does with containers that have their own restartPolicy and restartPolicyRules,
and with a RestartAllContainers reset (kuberuntime's computePodActions and
computeInitContainerActions with ContainerRestartRules and RestartAllContainersOnContainerExits
on, as in 1.37)."""

from __future__ import annotations

from typing import Any

import pytest
from pod_actions_builders import c, compute, ctr, rule, sandbox

from kubelite.runtime.cri import ContainerState

RUNNING = ContainerState.CONTAINER_RUNNING
EXITED = ContainerState.CONTAINER_EXITED
UNKNOWN = ContainerState.CONTAINER_UNKNOWN


def pod(
    containers: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
    policy: str = "Never",
) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"containers": containers, "initContainers": init or [], "restartPolicy": policy},
    }


@pytest.mark.parametrize(("exit_code", "restarted"), [(42, True), (1, False), (0, False)])
def test_a_restart_rule_restarts_a_container_of_a_never_pod_on_its_exit_code(
    exit_code: int, restarted: bool
) -> None:
    spec = pod([c("app", "Never", rule()), c("keeper")])
    actions = compute(spec, ctr("app", EXITED, exit_code), ctr("keeper", RUNNING))
    assert actions.containers_to_start == ([0] if restarted else [])
    assert not actions.kill_pod


def test_a_lone_container_that_will_not_restart_ends_the_pod() -> None:
    actions = compute(pod([c("app", "Never", rule())]), ctr("app", EXITED, 1))
    assert actions.kill_pod and actions.containers_to_start == []


@pytest.mark.parametrize(
    ("pod_policy", "container_policy", "exit_code", "restarted"),
    [
        ("Always", "Never", 0, False),
        ("Always", "Never", 1, False),
        ("Always", "OnFailure", 0, False),
        ("Always", "OnFailure", 3, True),
        ("Never", "Always", 0, True),
        ("Never", "OnFailure", 3, True),
    ],
)
def test_a_container_policy_overrides_the_pods(
    pod_policy: str, container_policy: str, exit_code: int, restarted: bool
) -> None:
    spec = pod([c("app", container_policy), c("keeper")], policy=pod_policy)
    actions = compute(spec, ctr("app", EXITED, exit_code), ctr("keeper", RUNNING))
    assert actions.containers_to_start == ([0] if restarted else [])


def test_a_container_killed_for_its_liveness_probe_restarts_unless_its_own_policy_is_never() -> (
    None
):
    spec = pod([c("stays-down", "Never"), c("comes-back", "OnFailure")], policy="Always")
    failing = {("id-stays-down", "liveness"): "failure", ("id-comes-back", "liveness"): "failure"}
    actions = compute(spec, ctr("stays-down", RUNNING), ctr("comes-back", RUNNING), probes=failing)
    assert actions.containers_to_start == [1]
    assert [(k.name, k.message) for k in actions.containers_to_kill] == [
        ("stays-down", "Container stays-down failed liveness probe"),
        ("comes-back", "Container comes-back failed liveness probe, will be restarted"),
    ]


def test_a_new_sandbox_leaves_out_containers_that_succeeded_and_run_once() -> None:
    spec = pod([c("once", "OnFailure"), c("again")], policy="Always")
    actions = compute(
        spec, ctr("once", EXITED, 0), ctr("again", EXITED, 0), sandboxes=(sandbox(ready=False),)
    )
    assert actions.create_sandbox and actions.containers_to_start == [1]


def test_an_init_container_with_its_own_policy_is_run_again_in_a_never_pod() -> None:
    spec = pod([c("app")], init=[c("setup", "OnFailure")])
    actions = compute(spec, ctr("setup", EXITED, 1))
    assert actions.init_containers_to_start == [0] and not actions.kill_pod


@pytest.mark.parametrize(("exit_code", "fails_the_pod"), [(42, False), (1, True)])
def test_an_init_container_rule_decides_on_its_exit_code(
    exit_code: int, fails_the_pod: bool
) -> None:
    spec = pod([c("app")], init=[c("setup", "Never", rule())], policy="Always")
    actions = compute(spec, ctr("setup", EXITED, exit_code))
    assert actions.kill_pod is fails_the_pod
    assert actions.init_containers_to_start == ([] if fails_the_pod else [0])


def test_an_init_container_in_an_unknown_state_follows_its_own_policy_alone() -> None:
    spec = pod(
        [c("app")],
        init=[c("setup", "Never", rule("Restart", 0, operator="NotIn"))],
        policy="Always",
    )
    assert compute(spec, ctr("setup", UNKNOWN)).kill_pod


def test_a_reset_removes_every_instance_killing_the_running_and_the_trigger_last() -> None:
    trigger = c("trigger", "Never", rule("RestartAllContainers", 88))
    spec = pod([c("app"), trigger], init=[c("setup"), c("side", "Always")])
    actions = compute(
        spec,
        ctr("setup", EXITED, 0, created=1),
        ctr("side", RUNNING, created=2),
        ctr("app", EXITED, 1, cid="app-old", created=3),
        ctr("app", RUNNING, cid="app-new", created=5),
        ctr("trigger", EXITED, 88, created=4),
        restart_all=True,
    )
    assert [(r.name, r.container_id, r.kill) for r in actions.containers_to_reset] == [
        ("setup", "id-setup", False),
        ("side", "id-side", True),
        ("app", "app-new", True),
        ("app", "app-old", False),
        ("trigger", "id-trigger", False),
    ]
    assert not (actions.kill_pod or actions.containers_to_start or actions.containers_to_kill)
    assert not actions.init_containers_to_start


def test_after_a_reset_the_pod_starts_over_from_its_first_init_container() -> None:
    trigger = c("trigger", "Never", rule("RestartAllContainers", 88))
    actions = compute(pod([c("app"), trigger], init=[c("setup")]))
    assert not actions.create_sandbox and actions.init_containers_to_start == [0]
    assert compute(pod([c("app"), trigger])).containers_to_start == [0, 1]
