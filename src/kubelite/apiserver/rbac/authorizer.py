"""Authorization: may this user do this verb on this resource (or path)?

kube-apiserver asks a chain of authorizers; k3s runs `Node,RBAC` behind the privileged group
`system:masters`, which is allowed everything without looking at any policy. Here the chain is
the same: that group, then the Node authorizer (`node.py`, for kubelets only), then RBAC over
the policy cache. A refusal is a 403 whose message is Kubernetes' own,
word for word (`forbiddenMessage` in `endpoints/handlers/responsewriters/errors.go`), because
people paste it into searches and scripts match on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelite.api import errors
from kubelite.api.goformat import go_quote
from kubelite.apiserver.auth import User
from kubelite.apiserver.rbac import rules
from kubelite.apiserver.rbac.node import NodeAuthorizer
from kubelite.apiserver.rbac.policy import PolicyCache, user_keys
from kubelite.apiserver.request_info import RequestInfo

PRIVILEGED_GROUP = "system:masters"
# How many RBAC decisions are remembered at most before the memory is cleared.
DECISIONS_KEPT = 8192


@dataclass(frozen=True, slots=True)
class Attributes:
    """What is being asked (authorizer.Attributes)."""

    user: User
    verb: str
    is_resource: bool
    namespace: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    # A list or watch's fieldSelector, as sent (the Node authorizer reads `spec.nodeName`).
    field_selector: str = ""

    @classmethod
    def of_request(cls, user: User, info: RequestInfo, path: str) -> Attributes:
        if not info.is_resource:
            return cls(user, info.verb, False, path=path)
        return cls(
            user,
            info.verb,
            True,
            namespace=info.namespace,
            group=info.group,
            version=info.version,
            resource=info.resource,
            subresource=info.subresource,
            name=info.name or info.selected_name,
            path=path,
            field_selector=info.field_selector,
        )


def privileged(user: User) -> bool:
    return PRIVILEGED_GROUP in user.groups


class Authorizer:
    """The privileged group, then RBAC; `allowed` is the whole decision."""

    def __init__(self, policy: PolicyCache, nodes: NodeAuthorizer | None = None) -> None:
        self.policy = policy
        # The Node authorizer, asked before RBAC (k3s' `Node,RBAC`); None: RBAC alone.
        self.nodes = nodes
        # RBAC's decisions, remembered while the policy stays as it was (its generation): a
        # client repeats the same request, and with a thousand bindings in its namespace the
        # decision costs some 15 us that a lookup does not. Cleared whole when it grows.
        self._decided: dict[tuple[Any, ...], tuple[bool, str]] = {}
        self._decided_generation = -1

    def allowed(self, attrs: Attributes) -> bool:
        return self.decide(attrs)[0]

    def rules_for(self, user: User, namespace: str) -> list[rules.Rule]:
        """What the user may do in the namespace, as SelfSubjectRulesReview lists it: the
        RBAC rules it holds (the Node authorizer lists none, as in Kubernetes)."""
        return self.policy.rules_for(user, namespace)

    def decide(self, attrs: Attributes) -> tuple[bool, str]:
        """Whether the request is allowed, and why: RBAC names the binding that allowed it,
        or, refusing, the bindings it could not follow (a role that is not there)."""
        if privileged(attrs.user):
            return True, ""
        node_reason = ""
        if self.nodes is not None:
            node_decision, node_reason = self.nodes.decide(attrs)
            if node_decision:
                return True, node_reason
        allowed, reason = self._rbac(attrs)
        if allowed:
            return True, reason
        # The union of authorizers joins the reasons of those that had no opinion.
        return False, "\n".join(r for r in (node_reason, reason) if r)

    def _rbac(self, attrs: Attributes) -> tuple[bool, str]:
        generation = self.policy.generation
        if generation != self._decided_generation or len(self._decided) >= DECISIONS_KEPT:
            self._decided.clear()
            self._decided_generation = generation
        user = attrs.user
        key = (
            user.name,
            user.groups,
            attrs.verb,
            attrs.is_resource,
            attrs.namespace,
            attrs.group,
            attrs.resource,
            attrs.subresource,
            attrs.name,
            attrs.path,
        )
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decided[key] = self._evaluate(attrs)
        return decided

    def _evaluate(self, attrs: Attributes) -> tuple[bool, str]:
        policy = self.policy
        keys: set[str] | None = None
        problems: list[str] = []
        for binding, _ in policy.bindings_for(attrs.user, attrs.namespace):
            found = policy.role_rules(binding)
            if found is None:
                problem = policy.missing_role(binding)
                if problem not in problems:
                    problems.append(problem)
                continue
            for rule in found:
                if attrs.is_resource:
                    allows = rules.allows_resource(
                        rule,
                        attrs.verb,
                        attrs.group,
                        attrs.resource,
                        attrs.subresource,
                        attrs.name,
                    )
                else:
                    allows = rules.allows_url(rule, attrs.verb, attrs.path)
                if allows:
                    keys = keys if keys is not None else set(user_keys(attrs.user))
                    return True, f"RBAC: allowed by {binding.describe(keys)}"
        if not problems:
            return False, ""
        # utilerrors.NewAggregate's text: one error as it is, more in brackets.
        joined = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
        return False, f"RBAC: {joined}"

    def check(self, attrs: Attributes) -> None:
        """Raise Kubernetes' 403 unless the request is allowed."""
        allowed, reason = self.decide(attrs)
        if not allowed:
            raise forbidden(attrs, reason)


# responsewriters' sanitizer: what a browser would read as markup is escaped.
_SANITIZE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def forbidden_message(attrs: Attributes) -> str:
    return _forbidden_message(attrs).translate(_SANITIZE)


def _forbidden_message(attrs: Attributes) -> str:
    user = attrs.user.name
    if not attrs.is_resource:
        return f"User {go_quote(user)} cannot {attrs.verb} path {go_quote(attrs.path)}"
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = (
        f"in the namespace {go_quote(attrs.namespace)}"
        if attrs.namespace
        else "at the cluster scope"
    )
    return (
        f"User {go_quote(user)} cannot {attrs.verb} resource {go_quote(resource)} in API group "
        f"{go_quote(attrs.group)} {where}"
    )


def forbidden(attrs: Attributes, reason: str = "") -> errors.StatusError:
    """The Status of a refused request (`responsewriters.Forbidden`)."""
    message = forbidden_message(attrs)
    if reason:
        message = f"{message}: {reason}"
    if not attrs.is_resource:
        # NewForbidden of an empty GroupResource.
        return errors.StatusError(403, errors.REASON_FORBIDDEN, f"forbidden: {message}", {})
    return errors.forbidden(attrs.resource, attrs.name, message, attrs.group)


class AlwaysAllow(Authorizer):
    """`--authorization-mode AlwaysAllow`: every request is allowed, and the reviews say so
    (alwaysAllowAuthorizer); no policy is kept."""

    def __init__(self) -> None:
        self.nodes = None

    def decide(self, attrs: Attributes) -> tuple[bool, str]:
        return True, ""

    def rules_for(self, user: User, namespace: str) -> list[rules.Rule]:
        return [
            rules.Rule(("*",), ("*",), ("*",)),
            rules.Rule(("*",), non_resource_urls=("*",)),
        ]
