"""The review resources: questions a client POSTs and the server answers, storing nothing.

- authorization.k8s.io: SelfSubjectAccessReview (`kubectl auth can-i`), SubjectAccessReview and
  LocalSubjectAccessReview (the same question about someone else, for webhooks and proxies that
  authorize on the API server's word), SelfSubjectRulesReview (`kubectl auth can-i --list`);
- authentication.k8s.io: SelfSubjectReview (`kubectl auth whoami`) and TokenReview (who a
  bearer token belongs to).

Each answers with the object it was sent plus its `status`, as `pkg/registry/authorization/*`
and `pkg/registry/authentication/*` do; a malformed spec is a 422 naming the field.
"""

from __future__ import annotations

from typing import Any, Protocol

from kubelite.api import errors
from kubelite.api.errors import FieldError, invalid
from kubelite.api.types import Obj
from kubelite.apiserver.auth import Authenticator, User, current_user, user_info
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer
from kubelite.apiserver.rbac.rules import Rule

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"


class Reviewer(Protocol):
    """A review resource's storage: the answer to one posted review."""

    async def review(self, namespace: str, obj: Obj) -> Obj: ...


def _requester() -> User:
    user = current_user.get()
    if user is None:
        raise errors.internal_error("no user in the request")
    return user


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _attributes_errors(spec: Obj) -> list[FieldError]:
    """ValidateSubjectAccessReviewSpec's first rule: exactly one kind of attributes."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        return [
            invalid(
                "spec.nonResourceAttributes",
                non_resource,
                "cannot be specified in combination with resourceAttributes",
            )
        ]
    if resource is None and non_resource is None:
        return [
            invalid(
                "spec.resourceAttributes",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        ]
    return []


def _refuse(kind: str, group: str, problems: list[FieldError]) -> None:
    if problems:
        raise errors.invalid_object(kind, "", problems, group)


def _attributes(user: User, spec: Obj) -> Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(
            user,
            resource.get("verb") or "",
            True,
            namespace=resource.get("namespace") or "",
            group=resource.get("group") or "",
            version=resource.get("version") or "",
            resource=resource.get("resource") or "",
            subresource=resource.get("subresource") or "",
            name=resource.get("name") or "",
        )
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(
        user, non_resource.get("verb") or "", False, path=non_resource.get("path") or ""
    )


def _answer(authorizer: Authorizer, obj: Obj, user: User) -> Obj:
    allowed, reason = authorizer.decide(_attributes(user, _spec(obj)))
    status: Obj = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    obj["status"] = status
    return obj


def _extra(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple(sorted((str(k), tuple(str(x) for x in v or ())) for k, v in value.items()))


class SelfSubjectAccessReviews:
    """May I? The requester's own access to one resource or path."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def review(self, namespace: str, obj: Obj) -> Obj:
        _refuse("SelfSubjectAccessReview", AUTHORIZATION, _attributes_errors(_spec(obj)))
        return _answer(self.authorizer, obj, _requester())


class SubjectAccessReviews:
    """May this user (with these groups)? Asked on someone's behalf."""

    def __init__(self, authorizer: Authorizer, *, local: bool = False) -> None:
        self.authorizer = authorizer
        self.local = local

    async def review(self, namespace: str, obj: Obj) -> Obj:
        spec = _spec(obj)
        kind = "LocalSubjectAccessReview" if self.local else "SubjectAccessReview"
        problems = _attributes_errors(spec)
        if not spec.get("user") and not spec.get("groups"):
            problems.append(
                invalid(
                    "spec.user",
                    spec.get("user") or "",
                    "at least one of user or group must be specified",
                )
            )
        if self.local:
            attrs = spec.get("resourceAttributes")
            if isinstance(attrs, dict) and (attrs.get("namespace") or "") != namespace:
                problems.append(
                    invalid(
                        "spec.resourceAttributes.namespace",
                        attrs.get("namespace") or "",
                        "must match metadata.namespace",
                    )
                )
            if spec.get("nonResourceAttributes") is not None:
                problems.append(
                    invalid(
                        "spec.nonResourceAttributes",
                        spec.get("nonResourceAttributes"),
                        "disallowed on this kind of request",
                    )
                )
        _refuse(kind, AUTHORIZATION, problems)
        user = User(
            spec.get("user") or "",
            tuple(str(g) for g in spec.get("groups") or ()),
            uid=spec.get("uid") or "",
            extra=_extra(spec.get("extra")),
        )
        return _answer(self.authorizer, obj, user)


class SelfSubjectRulesReviews:
    """What may I do in this namespace? Every rule the requester holds there."""

    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    async def review(self, namespace: str, obj: Obj) -> Obj:
        spec = _spec(obj)
        target = spec.get("namespace") or ""
        if not target:
            raise errors.bad_request("no namespace on request")
        held = self.authorizer.rules_for(_requester(), target)
        obj["status"] = rules_status(held)
        return obj


def rules_status(held: list[Rule]) -> Obj:
    """SubjectRulesReviewStatus: the resource rules and the non-resource rules apart."""
    resource_rules: list[Obj] = []
    non_resource_rules: list[Obj] = []
    for rule in held:
        if rule.non_resource_urls:
            non_resource_rules.append(
                {"verbs": list(rule.verbs), "nonResourceURLs": list(rule.non_resource_urls)}
            )
        else:
            entry: Obj = {"verbs": list(rule.verbs)}
            if rule.api_groups:
                entry["apiGroups"] = list(rule.api_groups)
            if rule.resources:
                entry["resources"] = list(rule.resources)
            if rule.resource_names:
                entry["resourceNames"] = list(rule.resource_names)
            resource_rules.append(entry)
    return {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": False,
    }


class SelfSubjectReviews:
    """Who am I? The requester as the server authenticated it (after impersonation)."""

    async def review(self, namespace: str, obj: Obj) -> Obj:
        obj["status"] = {"userInfo": user_info(_requester())}
        return obj


class TokenReviews:
    """Whose is this token? Answered by the server's own authenticators."""

    def __init__(self, authenticator: Authenticator | None) -> None:
        # None: a server assembled without one (a unit test's) answers 503.
        self.authenticator = authenticator

    async def review(self, namespace: str, obj: Obj) -> Obj:
        if self.authenticator is None:
            raise errors.StatusError(
                503, "ServiceUnavailable", "this server does not answer TokenReviews"
            )
        token = _spec(obj).get("token") or ""
        if not token:
            raise errors.bad_request("token is required for TokenReview in authentication")
        user = await self.authenticator.authenticate_request(None, f"Bearer {token}")
        if user is None or user.anonymous:
            obj["status"] = {"user": {}}
        else:
            obj["status"] = {"authenticated": True, "user": user_info(user)}
        return obj
