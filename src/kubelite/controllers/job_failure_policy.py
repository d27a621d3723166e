"""A Job's pod failure policy: what one failed pod means for the Job.

Kubernetes' `pkg/controller/job/pod_failure_policy.go`. The rules are tried in order; the first
that matches decides:

- `FailJob`: the whole Job fails at once (reason PodFailurePolicy), with a message naming the
  container and exit code, or the pod condition, and the rule's index;
- `FailIndex`: only the pod's index fails (backoffLimitPerIndex Jobs);
- `Ignore`: the failure is not counted against any limit, and the pod is replaced;
- `Count`: the failure is counted as usual.

`onExitCodes` looks at containers that terminated with a non-zero code (app containers first,
then init containers), optionally only one by name, with `In`/`NotIn` a list of codes;
`onPodConditions` at conditions of the pod, by type and status (DisruptionTarget: the pod was
evicted or preempted). A failure no rule matches is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.api.types import Obj

FAIL_JOB = "FailJob"
FAIL_INDEX = "FailIndex"
IGNORE = "Ignore"
COUNT = "Count"


@dataclass(frozen=True)
class Decision:
    """What a failed pod does: count it against the limits or not, and the matched action
    (None when no rule matched); `message` explains a FailJob."""

    counts: bool = True
    action: str | None = None
    message: str | None = None


NO_POLICY = Decision()


def _exit_code_matches(code: int, requirement: Obj) -> bool:
    values = requirement.get("values") or ()
    if requirement.get("operator") == "In":
        return code in values
    if requirement.get("operator") == "NotIn":
        return code not in values
    return False


def matching_container(pod: Obj, requirement: Obj) -> Obj | None:
    """The first container status whose non-zero exit matches the requirement."""
    status = pod.get("status") or {}
    wanted = requirement.get("containerName")
    for kind in ("containerStatuses", "initContainerStatuses"):
        statuses: list[Obj] = status.get(kind) or []
        for container in statuses:
            terminated = (container.get("state") or {}).get("terminated")
            if terminated is None:
                continue  # Still stopping: no exit code to match.
            if wanted is not None and container.get("name") != wanted:
                continue
            code = int(terminated.get("exitCode") or 0)
            if code != 0 and _exit_code_matches(code, requirement):
                return container
    return None


def matching_condition(pod: Obj, patterns: list[Obj]) -> Obj | None:
    conditions: list[Obj] = (pod.get("status") or {}).get("conditions") or []
    for condition in conditions:
        for pattern in patterns:
            if condition.get("type") == pattern.get("type") and condition.get(
                "status"
            ) == pattern.get("status", "True"):
                return condition
    return None


def decide(policy: Obj | None, pod: Obj) -> Decision:
    """matchPodFailurePolicy for one failed pod."""
    if not policy:
        return NO_POLICY
    md = pod.get("metadata") or {}
    where = f"{md.get('namespace', '')}/{md.get('name', '')}"
    for index, rule in enumerate(policy.get("rules") or ()):
        action = rule.get("action")
        on_exit = rule.get("onExitCodes")
        message = None
        if on_exit is not None:
            container = matching_container(pod, on_exit)
            if container is None:
                continue
            code = container["state"]["terminated"].get("exitCode")
            message = (
                f"Container {container.get('name')} for pod {where} failed with exit code "
                f"{code} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions"):
            condition = matching_condition(pod, rule["onPodConditions"])
            if condition is None:
                continue
            message = (
                f"Pod {where} has condition {condition.get('type')} matching {action} rule "
                f"at index {index}"
            )
        else:
            continue
        if action == IGNORE:
            return Decision(counts=False, action=IGNORE)
        if action == FAIL_JOB:
            return Decision(action=FAIL_JOB, message=message)
        if action in (FAIL_INDEX, COUNT):
            return Decision(action=action)
    return NO_POLICY


def fail_job_message(job: Obj, failed_pods: list[Obj]) -> str | None:
    """getFailJobMessage: the message of the first failed pod whose rule fails the Job."""
    policy = (job.get("spec") or {}).get("podFailurePolicy")
    if not policy:
        return None
    for pod in failed_pods:
        decision = decide(policy, pod)
        if decision.action == FAIL_JOB:
            return decision.message
    return None
