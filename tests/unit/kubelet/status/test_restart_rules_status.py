"""The status of pods whose containers have their own restart policy and rules: the phase
(getPhase with ContainerShouldRestart), and a RestartAllContainers reset as the status shows it
step by step (the AllContainersRestarting condition, the RestartingAllContainers container
states, restart counts, Initialized)."""

from __future__ import annotations

from typing import Any

import pytest
from kubelet_status_builders import NOW, exited, observed, pod, running
from tests.unit.kubelet.pod_actions_builders import c, rule

from kubelite.api import meta
from kubelite.kubelet.status import generate_pod_status, get_phase, illegal_container_transition


def terminated(name: str, exit_code: int, reason: str = "") -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code}
    if reason:
        state["reason"] = reason
    return {"name": name, "state": {"terminated": state}}


def waiting_after(name: str, exit_code: int, reason: str = "") -> dict[str, Any]:
    last: dict[str, Any] = {"exitCode": exit_code}
    if reason:
        last["reason"] = reason
    return {"name": name, "state": {"waiting": {}}, "lastState": {"terminated": last}}


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (terminated("app", 42), "Running"),  # the rule restarts it
        (waiting_after("app", 42), "Running"),  # crash-looping on the rule's exit code
        (terminated("app", 1), "Failed"),
        (terminated("app", 0), "Succeeded"),
    ],
)
def test_a_never_pod_runs_on_while_a_rule_restarts_its_container(
    status: dict[str, Any], phase: str
) -> None:
    spec = pod([c("app", "Never", rule())], restart_policy="Never")
    assert get_phase(spec, [status]) == phase


@pytest.mark.parametrize(
    ("statuses", "phase"),
    [
        ([terminated("once", 1), {"name": "web", "state": {"running": {}}}], "Running"),
        # The other container will be restarted by the pod's policy: the pod is not done.
        ([terminated("once", 1), terminated("web", 0)], "Running"),
    ],
)
def test_a_container_that_never_restarts_in_an_always_pod(
    statuses: list[dict[str, Any]], phase: str
) -> None:
    assert get_phase(pod([c("once", "Never"), c("web")]), statuses) == phase


@pytest.mark.parametrize(("exit_code", "phase"), [(0, "Succeeded"), (1, "Failed")])
def test_an_always_pod_whose_only_container_never_restarts_ends(exit_code: int, phase: str) -> None:
    assert get_phase(pod([c("once", "Never")]), [terminated("once", exit_code)]) == phase


@pytest.mark.parametrize(("exit_code", "phase"), [(1, "Failed"), (42, "Pending")])
def test_an_init_container_failure_ends_the_pod_only_when_nothing_restarts_it(
    exit_code: int, phase: str
) -> None:
    spec = pod([c("app")], init=[c("setup", "Never", rule())], restart_policy="Always")
    app = {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}
    assert get_phase(spec, [terminated("setup", exit_code), app]) == phase


def test_containers_removed_by_a_reset_keep_a_never_pod_running() -> None:
    removed = [
        waiting_after(name, 137, "RestartingAllContainers") for name in ("setup", "app", "trigger")
    ]
    assert get_phase(_reset_pod(), removed) == "Running"
    # Without the reason, the same exits would be failures for good.
    assert get_phase(_reset_pod(), [waiting_after(n, 137) for n in ("setup", "app")]) == "Failed"


# --- a RestartAllContainers reset, one status at a time ------------------------------------------


def _reset_pod() -> dict[str, Any]:
    return pod(
        [c("app"), c("trigger", "Never", rule("RestartAllContainers", 88))],
        init=["setup"],
        restart_policy="Never",
    )


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    found = meta.find_condition(status["conditions"], type_)
    assert found is not None, type_
    return found


def _container(status: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in (*status.get("initContainerStatuses", ()), *status.get("containerStatuses", ())):
        if entry["name"] == name:
            return entry
    raise AssertionError(name)


def test_a_reset_from_the_triggers_exit_to_the_pod_started_over() -> None:
    spec = _reset_pod()
    before = generate_pod_status(
        spec,
        observed(
            {"setup": exited("setup", 0), "app": running("app"), "trigger": running("trigger")}
        ),
        now=NOW,
    )
    assert _condition(before, "AllContainersRestarting")["status"] == "False"
    assert "reason" not in _condition(before, "AllContainersRestarting")

    # 1. The trigger exits into its rule: the condition says so, the pod is still Running.
    triggered = generate_pod_status(
        spec,
        observed(
            {"setup": exited("setup", 0), "app": running("app"), "trigger": exited("trigger", 88)}
        ),
        now=NOW,
        old_status=before,
    )
    condition = _condition(triggered, "AllContainersRestarting")
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "True",
        "RestartAllContainersStarted",
        "container exited with restart policy rule",
    )
    assert condition["lastTransitionTime"] == "2023-11-14T22:30:00Z"
    assert "observedGeneration" not in condition
    assert triggered["phase"] == "Running"

    # 2. Every container removed: the condition is False again, each container waits to
    #    start over, its last state the removal, one more restart counted.
    removed = generate_pod_status(spec, observed({}), now=NOW, old_status=triggered)
    assert _condition(removed, "AllContainersRestarting")["status"] == "False"
    assert "reason" not in _condition(removed, "AllContainersRestarting")
    for name in ("setup", "app", "trigger"):
        entry = _container(removed, name)
        assert entry["state"] == {
            "waiting": {
                "reason": "RestartingAllContainers",
                "message": "The container is removed because RestartAllContainers in place",
            }
        }
        assert entry["lastState"] == {
            "terminated": {
                "exitCode": 137,
                "reason": "RestartingAllContainers",
                "message": "The container is removed because RestartAllContainers in place",
                "startedAt": None,
                "finishedAt": None,
            }
        }
        assert entry["restartCount"] == 1, name
    assert removed["phase"] == "Running"
    # Once initialized, the pod stays so while its init containers run again.
    assert _condition(removed, "Initialized")["status"] == "True"

    # 3. Started over: the new instances are attempt 0 in the runtime, yet the counts go on.
    again = generate_pod_status(
        spec,
        observed(
            {"setup": exited("setup", 0), "app": running("app"), "trigger": running("trigger")}
        ),
        now=NOW,
        old_status=removed,
    )
    assert _condition(again, "AllContainersRestarting")["status"] == "False"
    for name in ("setup", "app", "trigger"):
        entry = _container(again, name)
        assert entry["restartCount"] == 1, name
        assert entry["lastState"]["terminated"]["reason"] == "RestartingAllContainers"
    assert again["phase"] == "Running"


def test_a_pod_without_a_restart_all_rule_has_no_condition() -> None:
    spec = pod([c("app", "Never", rule())], restart_policy="Never")
    status = generate_pod_status(spec, observed({"app": exited("app", 42)}), now=NOW)
    assert meta.find_condition(status["conditions"], "AllContainersRestarting") is None


@pytest.mark.parametrize(("exit_code", "reason"), [(0, "PodCompleted"), (1, "PodFailed")])
def test_a_finished_pod_says_it_is_not_restarting_and_why(exit_code: int, reason: str) -> None:
    spec = _reset_pod()
    status = generate_pod_status(
        spec,
        observed(
            {
                "setup": exited("setup", 0),
                "app": exited("app", exit_code),
                "trigger": exited("trigger", 0),
            }
        ),
        now=NOW,
    )
    assert status["phase"] in ("Succeeded", "Failed")
    condition = _condition(status, "AllContainersRestarting")
    assert (condition["status"], condition["reason"]) == ("False", reason)


def test_a_pod_being_deleted_is_not_restarted() -> None:
    spec = _reset_pod()
    spec["metadata"]["deletionTimestamp"] = "2023-11-14T22:29:00Z"
    status = generate_pod_status(
        spec,
        observed(
            {"setup": exited("setup", 0), "app": running("app"), "trigger": exited("trigger", 88)}
        ),
        now=NOW,
    )
    assert _condition(status, "AllContainersRestarting")["status"] == "False"


def test_the_status_manager_lets_a_rule_bring_a_container_back() -> None:
    spec = _reset_pod()["spec"]
    old = {"containerStatuses": [terminated("app", 1)]}
    new = {"containerStatuses": [{"name": "app", "state": {"running": {}}}]}
    assert illegal_container_transition(old, new, spec) == ""  # a RestartAllContainers pod
    plain = {"restartPolicy": "Never", "containers": [c("app", "Never", rule())]}
    assert illegal_container_transition(old, new, plain) != ""
    old42 = {"containerStatuses": [terminated("app", 42)]}
    assert illegal_container_transition(old42, new, plain) == ""
