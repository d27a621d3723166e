"""getPhase: Kubernetes' own phase cases (kubelet_pods_test.go TestPodPhaseWith...), re-expressed
as tables of container states, plus the rules they leave implicit."""

from __future__ import annotations

from typing import Any

import pytest
from kubelet_status_builders import pod

from kubelite.kubelet.status import get_phase


def waiting(name: str, reason: str = "") -> dict[str, Any]:
    return {"name": name, "state": {"waiting": {"reason": reason} if reason else {}}}


def waiting_after(name: str, exit_code: int) -> dict[str, Any]:
    """Waiting to restart after a run that ended with `exit_code` (a crash loop)."""
    return {
        "name": name,
        "state": {"waiting": {}},
        "lastState": {"terminated": {"exitCode": exit_code}},
    }


def running(name: str, started: bool | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "state": {"running": {}}}
    if started is not None:
        status["started"] = started
    return status


def stopped(name: str, exit_code: int = 0) -> dict[str, Any]:
    return {"name": name, "state": {"terminated": {"exitCode": exit_code}}}


def failed(name: str) -> dict[str, Any]:
    return stopped(name, -1)


TWO = ["a", "b"]

ALWAYS = [
    ("no statuses yet", [], False, "Pending"),
    ("all running", [running("a"), running("b")], False, "Running"),
    ("all stopped, restarting", [stopped("a"), stopped("b")], False, "Running"),
    ("all succeeded, pod terminal", [stopped("a"), stopped("b")], True, "Succeeded"),
    ("one failed, pod terminal", [stopped("a"), failed("b")], True, "Failed"),
    ("one running one stopped", [running("a"), stopped("b")], False, "Running"),
    ("one status missing", [running("a")], False, "Pending"),
    ("one waiting for its first start", [running("a"), waiting("b")], False, "Pending"),
    ("one crash looping", [running("a"), waiting_after("b", 0)], False, "Running"),
]

NEVER = [
    ("no statuses yet", [], "Pending"),
    ("all running", [running("a"), running("b")], "Running"),
    ("all succeeded", [stopped("a"), stopped("b")], "Succeeded"),
    ("all failed", [failed("a"), failed("b")], "Failed"),
    ("one failed one succeeded", [failed("a"), stopped("b")], "Failed"),
    ("one running one succeeded", [running("a"), stopped("b")], "Running"),
    ("one status missing", [running("a")], "Pending"),
    ("one waiting", [running("a"), waiting("b")], "Pending"),
]

ON_FAILURE = [
    ("no statuses yet", [], "Pending"),
    ("all running", [running("a"), running("b")], "Running"),
    ("all succeeded", [stopped("a"), stopped("b")], "Succeeded"),
    ("all failed, restarting", [failed("a"), failed("b")], "Running"),
    ("one running one succeeded", [running("a"), stopped("b")], "Running"),
    ("one status missing", [running("a")], "Pending"),
    ("one waiting", [running("a"), waiting("b")], "Pending"),
    ("one crash looping", [running("a"), waiting_after("b", 0)], "Running"),
]


@pytest.mark.parametrize(
    ("case", "statuses", "terminal", "phase"), ALWAYS, ids=[c[0] for c in ALWAYS]
)
def test_phase_with_restart_always(case: str, statuses: list, terminal: bool, phase: str) -> None:
    assert get_phase(pod(TWO), statuses, pod_is_terminal=terminal) == phase


@pytest.mark.parametrize(("case", "statuses", "phase"), NEVER, ids=[c[0] for c in NEVER])
def test_phase_with_restart_never(case: str, statuses: list, phase: str) -> None:
    assert get_phase(pod(TWO, restart_policy="Never"), statuses) == phase


@pytest.mark.parametrize(("case", "statuses", "phase"), ON_FAILURE, ids=[c[0] for c in ON_FAILURE])
def test_phase_with_restart_on_failure(case: str, statuses: list, phase: str) -> None:
    assert get_phase(pod(TWO, restart_policy="OnFailure"), statuses) == phase


RUNNING_APPS = [running("a"), running("b")]
INIT = [
    # (case, init status, app statuses, phase under Always, phase under Never)
    ("no statuses yet", None, [], "Pending", "Pending"),
    ("init container running", running("x"), [], "Pending", "Pending"),
    ("init container failed", failed("x"), [], "Pending", "Failed"),
    ("init container waiting after success", waiting_after("x", 0), [], "Pending", "Pending"),
    ("init container waiting after failure", waiting_after("x", 1), [], "Pending", "Failed"),
    ("init container waiting first time", waiting("x"), [], "Pending", "Pending"),
    ("init container succeeded", stopped("x"), RUNNING_APPS, "Running", "Running"),
]


@pytest.mark.parametrize(
    ("case", "init", "apps", "always", "never"), INIT, ids=[c[0] for c in INIT]
)
def test_pending_while_init_containers_run_and_failed_at_once_under_never(
    case: str, init: dict | None, apps: list, always: str, never: str
) -> None:
    statuses = ([init] if init else []) + apps
    assert get_phase(pod(TWO, init=["x"]), statuses) == always
    assert get_phase(pod(TWO, init=["x"], restart_policy="Never"), statuses) == never


SIDECAR_ALWAYS = [
    ("no statuses yet", None, [], False, "Pending"),
    ("sidecar running, not started", running("x"), [], False, "Pending"),
    ("sidecar stopped", failed("x"), [], False, "Pending"),
    ("sidecar crash looping before apps", waiting_after("x", 0), [], False, "Pending"),
    ("sidecar waiting first time", waiting("x"), [], False, "Pending"),
    ("sidecar started, one app running", running("x", True), [running("a")], False, "Pending"),
    ("sidecar started, apps running", running("x", True), RUNNING_APPS, False, "Running"),
    ("sidecar running, apps running", running("x"), RUNNING_APPS, False, "Running"),
    ("sidecar stopped, apps running", failed("x"), RUNNING_APPS, False, "Running"),
    ("sidecar crash looping, apps running", waiting_after("x", 1), RUNNING_APPS, False, "Running"),
    (
        "apps succeeded, sidecar failed, pod terminal",
        failed("x"),
        [stopped("a"), stopped("b")],
        True,
        "Succeeded",
    ),
    (
        "apps succeeded, sidecar succeeded, pod terminal",
        stopped("x"),
        [stopped("a"), stopped("b")],
        True,
        "Succeeded",
    ),
]


@pytest.mark.parametrize(
    ("case", "sidecar", "apps", "terminal", "phase"),
    SIDECAR_ALWAYS,
    ids=[c[0] for c in SIDECAR_ALWAYS],
)
def test_phase_with_sidecar_and_restart_always(
    case: str, sidecar: dict | None, apps: list, terminal: bool, phase: str
) -> None:
    statuses = ([sidecar] if sidecar else []) + apps
    assert get_phase(pod(TWO, sidecars=["x"]), statuses, pod_is_terminal=terminal) == phase


SUCCEEDED_APPS = [stopped("a"), stopped("b")]
SIDECAR_NEVER = [
    ("sidecar running", running("x"), [], "Pending"),
    ("sidecar stopped", failed("x"), [], "Pending"),
    ("sidecar started, one app running", running("x", True), [running("a")], "Pending"),
    ("sidecar started, apps succeeded", running("x", True), SUCCEEDED_APPS, "Running"),
    ("sidecar running, apps succeeded", running("x"), SUCCEEDED_APPS, "Running"),
    ("everything succeeded", stopped("x"), SUCCEEDED_APPS, "Succeeded"),
    ("sidecar failed, apps succeeded", failed("x"), SUCCEEDED_APPS, "Succeeded"),
    ("sidecar crash looping, apps succeeded", waiting_after("x", 0), SUCCEEDED_APPS, "Succeeded"),
    ("sidecar crashed, apps succeeded", waiting_after("x", 1), SUCCEEDED_APPS, "Succeeded"),
]


@pytest.mark.parametrize(
    ("case", "sidecar", "apps", "phase"), SIDECAR_NEVER, ids=[c[0] for c in SIDECAR_NEVER]
)
def test_sidecars_never_decide_the_end_of_a_run_once_pod(
    case: str, sidecar: dict, apps: list, phase: str
) -> None:
    spec = pod(TWO, sidecars=["x"], restart_policy="Never")
    assert get_phase(spec, [sidecar, *apps]) == phase


HAS_RUN = [
    (
        "init, sidecar and app all running",
        [running("x"), running("y")],
        [running("a")],
        "Pending",
    ),
    ("app stopped while init runs again", [running("x"), running("y")], [stopped("a")], "Pending"),
    (
        "init done, sidecar running, app stopped",
        [stopped("x"), running("y")],
        [stopped("a")],
        "Running",
    ),
    ("init done, sidecar and app running", [stopped("x"), running("y")], [running("a")], "Running"),
]


@pytest.mark.parametrize(("case", "init", "apps", "phase"), HAS_RUN, ids=[c[0] for c in HAS_RUN])
def test_a_regular_init_container_running_again_keeps_the_pod_pending(
    case: str, init: list, apps: list, phase: str
) -> None:
    spec = pod(["a"], init=["x"], sidecars=["y"])
    assert get_phase(spec, init + apps) == phase


def test_a_status_with_no_state_counts_as_unknown() -> None:
    assert get_phase(pod(TWO), [running("a"), {"name": "b", "state": {}}]) == "Pending"


def test_a_terminal_pod_whose_apps_all_stopped_follows_their_exit_codes_under_any_policy() -> None:
    for policy in ("Always", "OnFailure", "Never"):
        spec = pod(TWO, restart_policy=policy)
        assert get_phase(spec, SUCCEEDED_APPS, pod_is_terminal=True) == "Succeeded"
        assert get_phase(spec, [stopped("a"), failed("b")], pod_is_terminal=True) == "Failed"


def test_restart_policy_defaults_to_always() -> None:
    spec = pod(TWO)
    del spec["spec"]["restartPolicy"]
    assert get_phase(spec, [failed("a"), failed("b")]) == "Running"
