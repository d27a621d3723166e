"""Authorization: may this user do this verb on this resource (or path)?

kube-apiserver asks a chain of authorizers; k3s runs `Node,RBAC` behind the privileged group
`system:masters`, which is allowed everything without looking at any policy. Here the chain is
that group, then RBAC over the policy cache. A refusal is a 403 whose message is Kubernetes' own,
word for word (`forbiddenMessage` in `endpoints/handlers/responsewriters/errors.go`), because
people paste it into searches and scripts match on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.api import errors
from kubelite.api.goformat import go_quote
from kubelite.apiserver.auth import User
from kubelite.apiserver.rbac import rules
from kubelite.apiserver.rbac.policy import PolicyCache
from kubelite.apiserver.request_info import RequestInfo

PRIVILEGED_GROUP = "system:masters"


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
            name=info.name,
            path=path,
        )


def privileged(user: User) -> bool:
    return PRIVILEGED_GROUP in user.groups


class Authorizer:
    """The privileged group, then RBAC; `allowed` is the whole decision."""

    def __init__(self, policy: PolicyCache) -> None:
        self.policy = policy

    def allowed(self, attrs: Attributes) -> bool:
        return self.decide(attrs)[0]

    def decide(self, attrs: Attributes) -> tuple[bool, str]:
        """Whether the request is allowed, and why (RBAC names the binding that allowed it)."""
        if privileged(attrs.user):
            return True, ""
        policy = self.policy
        for binding, key in policy.bindings_for(attrs.user, attrs.namespace):
            for rule in policy.role_rules(binding) or ():
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
                    return True, f"RBAC: allowed by {binding.describe(key)}"
        return False, ""

    def check(self, attrs: Attributes) -> None:
        """Raise Kubernetes' 403 unless the request is allowed."""
        if not self.allowed(attrs):
            raise forbidden(attrs)


def forbidden_message(attrs: Attributes) -> str:
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
