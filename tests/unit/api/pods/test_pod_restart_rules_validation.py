"""A container's own restartPolicy and restartPolicyRules (ContainerRestartRules and
RestartAllContainersOnContainerExits, both on in 1.37): what pod validation accepts, what it
refuses with which message, and which container state changes a status update may make."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.defaulting.pods import default_pod
from kubelite.api.errors import invalid_object
from kubelite.api.validation.pods import validate_pod_create, validate_pod_status_update

RULES_NEED_POLICY = "Required value: must specify restartPolicy when restart rules are used"


def rule(action: str = "Restart", operator: str = "In", *values: int) -> dict[str, Any]:
    return {"action": action, "exitCodes": {"operator": operator, "values": list(values or (42,))}}


def _pod(containers: list[dict[str, Any]], init: list[dict[str, Any]] | None = None) -> dict:
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": containers}
    if init:
        spec["initContainers"] = init
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}
    default_pod(pod)
    return pod


def app(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "busybox", **fields}


def never(*rules: dict[str, Any], name: str = "app") -> dict[str, Any]:
    """An app container with its own policy Never and these rules."""
    return app(name=name, restartPolicy="Never", restartPolicyRules=list(rules))


def init(**fields: Any) -> dict[str, Any]:
    return {"name": "setup", "image": "busybox", **fields}


def errors(pod: dict) -> list[str]:
    return [str(e) for e in validate_pod_create(pod)]


@pytest.mark.parametrize(
    "pod",
    [
        _pod([never(rule())]),
        _pod([app(restartPolicy="Always"), app(name="b", restartPolicy="OnFailure")]),
        _pod([never(rule("RestartAllContainers"))]),
        _pod([never(*[rule("Restart", "NotIn", 0)] * 20)]),
        # A regular init container may override the pod's policy, and carry rules.
        _pod([app()], [init(restartPolicy="OnFailure")]),
        _pod([app()], [init(restartPolicy="Never", restartPolicyRules=[rule()])]),
        # A sidecar may carry rules too, RestartAllContainers among them.
        _pod([app()], [init(restartPolicy="Always", restartPolicyRules=[rule("Restart")])]),
        _pod(
            [app()],
            [init(restartPolicy="Always", restartPolicyRules=[rule("RestartAllContainers")])],
        ),
        # An empty list of values is "any exit code" for NotIn, "none" for In: both valid.
        _pod([never({"action": "Restart", "exitCodes": {"operator": "NotIn"}})]),
    ],
)
def test_valid_container_restart_policies_and_rules(pod: dict) -> None:
    assert errors(pod) == []


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (
            _pod([app(restartPolicyRules=[rule()])]),
            [f"spec.containers[0].restartPolicy: {RULES_NEED_POLICY}"],
        ),
        (
            # The rules of a regular container are checked even without its policy...
            _pod([app(restartPolicyRules=[rule("Ignore")])]),
            [
                f"spec.containers[0].restartPolicy: {RULES_NEED_POLICY}",
                'spec.containers[0].restartPolicyRules[0].action: Unsupported value: "Ignore": '
                'supported values: "Restart", "RestartAllContainers"',
            ],
        ),
        (
            # ...those of an init container are not.
            _pod([app()], [init(restartPolicyRules=[rule("Ignore")])]),
            [f"spec.initContainers[0].restartPolicy: {RULES_NEED_POLICY}"],
        ),
        (
            _pod([app(restartPolicy="Sometimes")]),
            [
                'spec.containers[0].restartPolicy: Unsupported value: "Sometimes": supported '
                'values: "Always", "Never", "OnFailure"'
            ],
        ),
        (
            _pod([app()], [init(restartPolicy="Sometimes")]),
            [
                'spec.initContainers[0].restartPolicy: Unsupported value: "Sometimes": supported '
                'values: "Always", "Never", "OnFailure"'
            ],
        ),
        (
            _pod([never(rule("Restart", "Equals"))]),
            [
                "spec.containers[0].restartPolicyRules[0].exitCodes.operator: Unsupported value: "
                '"Equals": supported values: "In", "NotIn"'
            ],
        ),
        (
            _pod([never({"action": "Restart", "exitCodes": {}})]),
            [
                "spec.containers[0].restartPolicyRules[0].exitCodes.operator: Unsupported value: "
                '"": supported values: "In", "NotIn"'
            ],
        ),
        (
            _pod([never({"action": "Restart"})]),
            [
                "spec.containers[0].restartPolicyRules[0].exitCodes: Required value: must be "
                "specified"
            ],
        ),
        (
            _pod([never(*[rule()] * 21)]),
            ["spec.containers[0].restartPolicyRules: Too many: 21: must have at most 20 items"],
        ),
        (
            _pod([never(rule("Restart", "In", *range(1, 257)))]),
            [
                "spec.containers[0].restartPolicyRules[0].exitCodes.values: Too many: 256: must "
                "have at most 255 items"
            ],
        ),
    ],
)
def test_invalid_container_restart_policies_and_rules(pod: dict, expected: list[str]) -> None:
    assert errors(pod) == expected


def test_the_message_kubectl_prints_for_rules_without_a_policy() -> None:
    problems = validate_pod_create(_pod([app(restartPolicyRules=[rule()])]))
    assert invalid_object("Pod", "web", problems).message == (
        'Pod "web" is invalid: spec.containers[0].restartPolicy: Required value: must specify '
        "restartPolicy when restart rules are used"
    )


def _status_update(
    spec_containers: list[dict[str, Any]], exit_code: int, *, pod_policy: str = "Never"
) -> list[str]:
    """Move container `app` from terminated(exit_code) to running, as the kubelet would."""
    old = _pod(spec_containers)
    old["spec"]["restartPolicy"] = pod_policy
    old["status"] = {
        "containerStatuses": [
            {"name": "app", "state": {"terminated": {"exitCode": exit_code}}},
        ]
    }
    new = copy.deepcopy(old)
    new["status"]["containerStatuses"][0]["state"] = {"running": {}}
    return [str(e) for e in validate_pod_status_update(new, old)]


ILLEGAL = (
    "status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state"
)


@pytest.mark.parametrize(
    ("containers", "exit_code", "pod_policy", "expected"),
    [
        ([never(rule())], 42, "Never", []),
        ([never(rule())], 1, "Never", [ILLEGAL]),
        ([app(restartPolicy="Never")], 1, "Always", [ILLEGAL]),
        ([app(restartPolicy="OnFailure")], 1, "Never", []),
        ([app()], 0, "Always", []),
        ([app()], 1, "Never", [ILLEGAL]),
        # Another container's RestartAllContainers rule lets any container run again.
        ([never(), never(rule("RestartAllContainers"), name="trigger")], 1, "Never", []),
    ],
)
def test_a_status_update_may_restart_a_container_only_as_its_rules_allow(
    containers: list[dict[str, Any]], exit_code: int, pod_policy: str, expected: list[str]
) -> None:
    assert _status_update(containers, exit_code, pod_policy=pod_policy) == expected


def test_an_init_container_status_follows_the_init_container_rules() -> None:
    old = _pod([app()], [init(restartPolicy="Never", restartPolicyRules=[rule()])])
    old["status"] = {
        "initContainerStatuses": [{"name": "setup", "state": {"terminated": {"exitCode": 1}}}]
    }
    new = copy.deepcopy(old)
    new["status"]["initContainerStatuses"][0]["state"] = {"running": {}}
    assert [str(e) for e in validate_pod_status_update(new, old)] == [
        "status.initContainerStatuses[0].state: Forbidden: may not be transitioned to "
        "non-terminated state"
    ]
    old["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] = 42
    assert validate_pod_status_update(new, old) == []
