"""ContainerShouldRestart and its rules (pkg/api/v1/pod/util.go), the one reading of a
container's exit code that the API server and the kubelet share."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import restart_rules as rr


def rule(action: str, operator: str, *values: int) -> dict[str, Any]:
    return {"action": action, "exitCodes": {"operator": operator, "values": list(values)}}


def container(policy: str | None = None, *rules: dict[str, Any]) -> dict[str, Any]:
    made: dict[str, Any] = {"name": "app", "image": "busybox"}
    if policy is not None:
        made["restartPolicy"] = policy
    if rules:
        made["restartPolicyRules"] = list(rules)
    return made


@pytest.mark.parametrize(
    ("pod_policy", "container_policy", "rules", "exit_code", "restarts"),
    [
        # The pod's policy alone, as before 1.34.
        ("Always", None, (), 0, True),
        ("OnFailure", None, (), 0, False),
        ("OnFailure", None, (), 3, True),
        ("Never", None, (), 3, False),
        # The container's own policy wins over the pod's, both ways.
        ("Always", "Never", (), 3, False),
        ("Never", "Always", (), 0, True),
        ("Never", "OnFailure", (), 3, True),
        ("Always", "OnFailure", (), 0, False),
        # A matching rule restarts whatever the policies; an unmatched one leaves them to decide.
        ("Never", "Never", (rule("Restart", "In", 42),), 42, True),
        ("Never", "Never", (rule("Restart", "In", 42),), 1, False),
        ("Never", "Never", (rule("Restart", "NotIn", 0, 1),), 7, True),
        ("Never", "Never", (rule("Restart", "NotIn", 0, 1),), 1, False),
        ("Never", "Never", (rule("RestartAllContainers", "In", 42),), 42, True),
        ("Never", "OnFailure", (rule("Restart", "In", 42),), 1, True),
    ],
)
def test_container_should_restart(
    pod_policy: str,
    container_policy: str | None,
    rules: tuple[dict[str, Any], ...],
    exit_code: int,
    restarts: bool,
) -> None:
    spec = {"restartPolicy": pod_policy}
    assert rr.container_should_restart(container(container_policy, *rules), spec, exit_code) is (
        restarts
    )


def test_rules_without_a_container_policy_are_not_read() -> None:
    # Validation refuses them; an object that has them anyway follows the pod's policy.
    unchecked = {"name": "app", "restartPolicyRules": [rule("Restart", "In", 42)]}
    assert not rr.container_should_restart(unchecked, {"restartPolicy": "Never"}, 42)


def test_the_first_matching_rule_decides() -> None:
    first = rule("RestartAllContainers", "In", 42)
    second = rule("Restart", "NotIn", 0)
    assert rr.find_matching_rule(container("Never", first, second), 42) is first
    assert rr.find_matching_rule(container("Never", first, second), 7) is second
    assert rr.find_matching_rule(container("Never", first, second), 0) is None
    assert rr.triggers_restart_all(container("Never", first, second), 42)
    assert not rr.triggers_restart_all(container("Never", first, second), 7)


def test_a_rule_without_exit_codes_or_with_another_operator_matches_nothing() -> None:
    broken = [{"action": "Restart"}, {"action": "Restart", "exitCodes": {"operator": "Eq"}}]
    assert rr.find_matching_rule({"restartPolicyRules": broken}, 0) is None


def test_all_containers_could_restart_looks_at_init_and_app_containers() -> None:
    trigger = container("Always", rule("RestartAllContainers", "In", 88))
    assert rr.all_containers_could_restart({"initContainers": [trigger], "containers": []})
    assert rr.all_containers_could_restart({"containers": [container(), trigger]})
    assert not rr.all_containers_could_restart(
        {"containers": [container("Never", rule("Restart", "In", 88))]}
    )
