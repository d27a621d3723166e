"""What a Pod Security check is, what it answers, and how answers add up to one message.

Kubernetes' `pod-security-admission/policy` (checks.go, helpers.go, visitor.go). A check looks at
a pod's metadata and spec (a pod's own, or a workload's pod template) and either allows it or
names why not: a short `forbidden_reason` ("host namespaces") and a `forbidden_detail` with the
values at fault ("hostNetwork=true"). The checks of one evaluation aggregate, in the order the
registry runs them, to the text of refusals and warnings:

    >>> aggregate([forbidden("hostPort", 'container "a" uses hostPort 80'), ALLOWED,
    ...            forbidden("privileged")]).forbidden_detail()
    'hostPort (container "a" uses hostPort 80), privileged'

Checks read the pod as JSON, where Go reads typed structs: a field that is absent or null is
Go's nil pointer, and a present object (even `{}`) is set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.types import Obj
from kubelite.apiserver.podsecurity.levels import Version

# The reason of a check that refused without saying why (UnknownForbiddenReason).
UNKNOWN_FORBIDDEN_REASON = "unknown forbidden reason"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's answer; the reason and detail are only set when it refuses."""

    allowed: bool
    forbidden_reason: str = ""
    forbidden_detail: str = ""


ALLOWED = CheckResult(True)


def forbidden(reason: str, detail: str = "") -> CheckResult:
    return CheckResult(False, reason, detail)


# A check of one policy version: (pod metadata, pod spec) -> result.
CheckPod = Callable[[Obj, Obj], CheckResult]


@dataclass(frozen=True, slots=True)
class VersionedCheck:
    """One revision of a check, in force from `minimum_version` until the next revision.

    A restricted check may stand in for baseline checks (`overrides`, Kubernetes'
    OverrideCheckIDs): at the restricted level those baseline checks are not run.
    """

    minimum_version: Version
    check_pod: CheckPod
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """A policy check: its ID, its level (baseline or restricted) and its revisions, oldest
    first."""

    id: str
    level: str
    versions: tuple[VersionedCheck, ...]


@dataclass(slots=True)
class AggregateCheckResult:
    """The refusals of every check run on one pod, in the order the checks ran."""

    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.reasons

    def forbidden_reason(self) -> str:
        """The reasons alone: `host ports, privileged` (a namespace's pods are summed up so)."""
        return ", ".join(self.reasons)

    def forbidden_detail(self) -> str:
        """Each reason with its detail in parentheses: `hostPort (container "a" uses hostPort
        80), privileged`."""
        return ", ".join(
            f"{reason} ({detail})" if detail else reason
            for reason, detail in zip(self.reasons, self.details, strict=True)
        )


def aggregate(results: list[CheckResult]) -> AggregateCheckResult:
    """AggregateCheckResults: the refusals among `results`, in order."""
    total = AggregateCheckResult()
    for result in results:
        if not result.allowed:
            total.reasons.append(result.forbidden_reason or UNKNOWN_FORBIDDEN_REASON)
            total.details.append(result.forbidden_detail)
    return total


# --- helpers the checks share (helpers.go, visitor.go) ---------------------------------------


def join_quote(items: list[str]) -> str:
    """joinQuote: `"a", "b"` (no escaping, as in Kubernetes)."""
    if not items:
        return ""
    return '"' + '", "'.join(items) + '"'


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def containers_phrase(names: list[str]) -> str:
    """`container "a"` or `containers "a", "b"`."""
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def containers(spec: Obj) -> Iterator[Obj]:
    """visitContainers: init containers, then containers, then ephemeral containers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                yield container


def name_of(container: Obj) -> str:
    return str(container.get("name") or "")


def child(obj: Any, *path: str) -> Any:
    """The value at `path` under a JSON object, or None where any step is absent or null."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def is_windows(spec: Obj) -> bool:
    """spec.os.name is windows: the restricted checks that Windows pods cannot meet (their
    fields are Linux-only) let such a pod through from policy v1.25 on."""
    return bool(child(spec, "os", "name") == "windows")


def in_user_namespace(spec: Obj) -> bool:
    """relaxPolicyForUserNamespacePod: `spec.hostUsers: false`. Root in a user namespace is not
    root on the node, so from policy v1.35 some checks let such a pod through (KEP-127); before
    1.35 this was behind the alpha UserNamespacesPodSecurityStandards gate, so the older revisions
    never relax (kubernetes/kubernetes#132157)."""
    return spec.get("hostUsers") is False


def is_zero(value: Any) -> bool:
    """An integer field set to 0 (a bool is not an integer here, as it is not in Go)."""
    return isinstance(value, int) and not isinstance(value, bool) and value == 0
