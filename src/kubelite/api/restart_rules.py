"""Container restart policies and rules: what a container's exit code means for it and its pod.

Kubernetes' `pkg/api/v1/pod/util.go` (`ContainerShouldRestart`, `FindMatchingContainerRestartRule`,
`AllContainersCouldRestart`), shared by the API server's status-transition checks and the
kubelet's restart decision and phase, so that both read a rule the same way.

Since ContainerRestartRules (KEP-5307, beta and on since 1.35) a container may carry its own
`restartPolicy`, overriding the pod's, and `restartPolicyRules` evaluated in order on its exit
code; the first rule whose `exitCodes` match decides. Since RestartAllContainersOnContainerExits
(KEP-5532, beta and on since 1.36) a rule's action may be `RestartAllContainers`: the container
is restarted too, with every other container of the pod, in place.

Rules are read only when the container names its own policy: validation refuses rules without
one ("must specify restartPolicy when restart rules are used"), and an old pod that somehow has
them is treated as Kubernetes treats it, by the pod's policy alone.
"""

from __future__ import annotations

from kubelite.api import pods as podutil
from kubelite.api.types import Obj

# core/v1 ContainerRestartPolicy values (a container's own policy).
ALWAYS = "Always"
ON_FAILURE = "OnFailure"
NEVER = "Never"

# core/v1 ContainerRestartRuleAction values.
ACTION_RESTART = "Restart"
ACTION_RESTART_ALL_CONTAINERS = "RestartAllContainers"

# core/v1 ContainerRestartRuleOnExitCodesOperator values.
OPERATOR_IN = "In"
OPERATOR_NOT_IN = "NotIn"


def find_matching_rule(container: Obj, exit_code: int) -> Obj | None:
    """FindMatchingContainerRestartRule: the first rule whose exit codes match, or None.

    A rule without `exitCodes`, or with an operator other than In and NotIn, matches nothing
    (validation refuses both; an old object may still have them).
    """
    for rule in container.get("restartPolicyRules") or ():
        exit_codes = rule.get("exitCodes")
        if not isinstance(exit_codes, dict):
            continue
        listed = exit_code in (exit_codes.get("values") or ())
        operator = exit_codes.get("operator")
        if (operator == OPERATOR_IN and listed) or (operator == OPERATOR_NOT_IN and not listed):
            return rule
    return None


def container_should_restart(container: Obj, spec: Obj, exit_code: int) -> bool:
    """ContainerShouldRestart: whether a container that exited with `exit_code` is started again.

    The container's rules first (any matching rule restarts it, RestartAllContainers too: the
    container is part of "all"), then its own policy, then the pod's. A native sidecar is a
    container whose own policy is Always.
    """
    policy = container.get("restartPolicy")
    if policy is not None:
        rule = find_matching_rule(container, exit_code)
        if rule is not None and rule.get("action") in (
            ACTION_RESTART,
            ACTION_RESTART_ALL_CONTAINERS,
        ):
            return True
        if policy == ALWAYS:
            return True
        if policy == ON_FAILURE:
            return exit_code != 0
        if policy == NEVER:
            return False
    return _pod_policy_restarts(podutil.restart_policy(spec), exit_code)


def restarts_on_failure(container: Obj, spec: Obj) -> bool:
    """Whether a failed container may be run again when no exit code is known (a container in an
    unknown state, one killed for a failed probe): its own policy unless Never, else the pod's.

    The rules are not read: without an exit there is nothing for them to match.
    """
    policy = container.get("restartPolicy")
    if policy is not None:
        return bool(policy != NEVER)
    return podutil.restart_policy(spec) != podutil.RESTART_POLICY_NEVER


def runs_once(container: Obj, spec: Obj) -> bool:
    """Whether a container that succeeded is done for good when its pod starts over in a new
    sandbox: OnFailure, the container's own policy before the pod's."""
    policy = container.get("restartPolicy")
    if policy is None:
        policy = podutil.restart_policy(spec)
    return bool(policy == ON_FAILURE)


def all_containers_could_restart(spec: Obj) -> bool:
    """AllContainersCouldRestart: some container, init or regular, has a RestartAllContainers
    rule, so any container of the pod may come back from terminated, whatever its own policy."""
    return any(
        rule.get("action") == ACTION_RESTART_ALL_CONTAINERS
        for container in podutil.all_containers(spec)
        for rule in container.get("restartPolicyRules") or ()
    )


def triggers_restart_all(container: Obj, exit_code: int) -> bool:
    """Whether this exit of `container` asks for every container of the pod to restart."""
    rule = find_matching_rule(container, exit_code)
    return rule is not None and rule.get("action") == ACTION_RESTART_ALL_CONTAINERS


def _pod_policy_restarts(policy: str, exit_code: int) -> bool:
    if policy == podutil.RESTART_POLICY_ON_FAILURE:
        return exit_code != 0
    return policy != podutil.RESTART_POLICY_NEVER
