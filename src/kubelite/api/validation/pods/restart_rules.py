"""A container's own `restartPolicy` and its `restartPolicyRules` (validateContainerRestartPolicy
and validateInitContainerRestartPolicy in Kubernetes' pkg/apis/core/validation/validation.go).

With ContainerRestartRules and RestartAllContainersOnContainerExits both on (1.37's defaults):

- a regular container may name Always, OnFailure or Never, overriding the pod's policy;
- an init container too: Always makes it a sidecar, OnFailure and Never override the pod's
  policy for a regular init container;
- any of them may carry up to 20 rules, each with the action Restart or RestartAllContainers and
  `exitCodes` (operator In or NotIn, at most 255 values); rules need the container's own policy,
  even one equal to the pod's ("must specify restartPolicy when restart rules are used").

Ephemeral containers may set neither (they are not validated by kubelite yet).
"""

from __future__ import annotations

from kubelite.api import restart_rules as rr
from kubelite.api.errors import FieldError, child, not_supported, required, too_many
from kubelite.api.types import Obj

# sets.List of the supported values: sorted, as Kubernetes prints them.
_POLICIES = (rr.ALWAYS, rr.NEVER, rr.ON_FAILURE)
_ACTIONS = (rr.ACTION_RESTART, rr.ACTION_RESTART_ALL_CONTAINERS)
_OPERATORS = (rr.OPERATOR_IN, rr.OPERATOR_NOT_IN)

MAX_RULES = 20
MAX_EXIT_CODES = 255

RULES_NEED_POLICY = "must specify restartPolicy when restart rules are used"


def validate_container_restart_policy(container: Obj, path: str) -> list[FieldError]:
    """validateContainerRestartPolicy: a container's policy and rules; `path` is the container's.

    A missing policy beside rules is reported, and the rules are still checked.
    """
    policy = container.get("restartPolicy")
    rules = container.get("restartPolicyRules") or []
    errs: list[FieldError] = []
    if policy is None:
        if not rules:
            return errs
        errs.append(required(child(path, "restartPolicy"), RULES_NEED_POLICY))
    elif policy not in _POLICIES:
        errs.append(not_supported(child(path, "restartPolicy"), policy, _POLICIES))
    rules_path = child(path, "restartPolicyRules")
    if len(rules) > MAX_RULES:
        errs.append(too_many(rules_path, len(rules), MAX_RULES))
    for i, rule in enumerate(rules):
        errs.extend(_validate_rule(rule, f"{rules_path}[{i}]"))
    return errs


def validate_init_container_restart_policy(container: Obj, path: str) -> list[FieldError]:
    """validateInitContainerRestartPolicy: as for any container, except that rules without a
    policy are the only thing reported then (the rules themselves are not looked at)."""
    if container.get("restartPolicy") is None:
        if container.get("restartPolicyRules"):
            return [required(child(path, "restartPolicy"), RULES_NEED_POLICY)]
        return []
    return validate_container_restart_policy(container, path)


def _validate_rule(rule: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    action = rule.get("action") or ""
    if action not in _ACTIONS:
        errs.append(not_supported(child(path, "action"), action, _ACTIONS))
    exit_codes = rule.get("exitCodes")
    if exit_codes is None:
        errs.append(required(child(path, "exitCodes"), "must be specified"))
        return errs
    exit_codes_path = child(path, "exitCodes")
    operator = exit_codes.get("operator") or ""
    if operator not in _OPERATORS:
        errs.append(not_supported(child(exit_codes_path, "operator"), operator, _OPERATORS))
    values = exit_codes.get("values") or []
    if len(values) > MAX_EXIT_CODES:
        errs.append(too_many(child(exit_codes_path, "values"), len(values), MAX_EXIT_CODES))
    return errs
