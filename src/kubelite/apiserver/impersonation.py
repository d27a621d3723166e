"""Impersonation: `kubectl --as alice --as-group dev` (the `Impersonate-*` headers).

A user allowed the `impersonate` verb acts as someone else for one request, as kube-apiserver's
`WithImpersonation` filter does: each header is authorized on its own resource (`users`,
`groups` and `serviceaccounts` in the core group; `uids` and `userextras/<key>` in
authentication.k8s.io), and the request then runs, and is authorized, as the new user alone.
Asking for groups or extras without a user is a 400, since it would change what someone is
without saying who.
"""

from __future__ import annotations

from urllib.parse import unquote

from multidict import CIMultiDictProxy

from kubelite.api import errors
from kubelite.api.validation.names import is_dns1123_label, is_dns1123_subdomain
from kubelite.apiserver.auth import ANONYMOUS, User
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer, forbidden

USER_HEADER = "Impersonate-User"
GROUP_HEADER = "Impersonate-Group"
UID_HEADER = "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
AUTHENTICATION_GROUP = "authentication.k8s.io"


def _reference(kind: str, name: str, field_path: str = "") -> str:
    """A v1.ObjectReference as Go's %v prints it: its seven fields, space-separated."""
    return "{" + " ".join((kind, "", name, "", "", "", field_path)) + "}"


def _service_account(name: str) -> tuple[str, str] | None:
    """(namespace, name) of a `system:serviceaccount:<ns>:<name>` user whose parts are valid
    names (serviceaccount.SplitUsername); None for any other user name."""
    if not name.startswith(SERVICE_ACCOUNT_PREFIX):
        return None
    parts = name[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    namespace, account = parts
    if is_dns1123_label(namespace) or is_dns1123_subdomain(account):
        return None
    return namespace, account


def _extras(headers: CIMultiDictProxy[str]) -> dict[str, list[str]]:
    """`Impersonate-Extra-<key>` headers, keys lowercased then unescaped as Kubernetes reads
    them (a header may repeat, each one a value)."""
    out: dict[str, list[str]] = {}
    for key, value in headers.items():
        if key.lower().startswith(EXTRA_PREFIX.lower()):
            name = unquote(key[len(EXTRA_PREFIX) :].lower())
            out.setdefault(name, []).append(value)
    return out


def impersonate(user: User, headers: CIMultiDictProxy[str], authorizer: Authorizer) -> User:
    """The user a request acts as: `user` itself without impersonation headers, the
    impersonated one when `user` may be them; 403 naming the first refused header otherwise."""
    name = headers.get(USER_HEADER, "")
    groups: list[str] = list(headers.getall(GROUP_HEADER, []))
    uid = headers.get(UID_HEADER, "")
    extra = _extras(headers)
    if not name:
        if groups or extra or uid:
            requests = [_reference("Group", g) for g in groups]
            requests += [_reference("UserExtra", v, k) for k, vs in extra.items() for v in vs]
            if uid:
                requests.append(_reference("UID", uid))
            raise errors.bad_request(
                f"requested [{' '.join(requests)}] without impersonating a user"
            )
        return user
    checks: list[Attributes] = []
    namespace_of_account = ""
    account = _service_account(name)
    if account is not None:
        namespace_of_account, account_name = account
        checks.append(
            Attributes(
                user,
                "impersonate",
                True,
                namespace_of_account,
                "",
                "",
                "serviceaccounts",
                name=account_name,
            )
        )
    else:
        checks.append(Attributes(user, "impersonate", True, "", "", "", "users", name=name))
    for group in groups:
        checks.append(Attributes(user, "impersonate", True, "", "", "", "groups", name=group))
    if uid:
        checks.append(
            Attributes(user, "impersonate", True, "", AUTHENTICATION_GROUP, "", "uids", name=uid)
        )
    for key, values in extra.items():
        for value in values:
            checks.append(
                Attributes(
                    user,
                    "impersonate",
                    True,
                    "",
                    AUTHENTICATION_GROUP,
                    "",
                    "userextras",
                    subresource=key,
                    name=value,
                )
            )
    for attrs in checks:
        if not authorizer.allowed(attrs):
            raise forbidden(attrs)
    if namespace_of_account and not groups:
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace_of_account}"]
    if name == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return User(
        name,
        tuple(groups),
        uid=uid,
        extra=tuple(sorted((k, tuple(v)) for k, v in extra.items())),
    )
