"""Impersonation (`kubectl --as`): each `Impersonate-*` header authorized on its own, and the
user the request then acts as (after apiserver's `endpoints/filters/impersonation.go`)."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from kubelite.api.errors import StatusError
from kubelite.api.types import Obj
from kubelite.apiserver.auth import User
from kubelite.apiserver.impersonation import impersonate
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.policy import PolicyCache
from kubelite.storage.sqlite import SqliteStore

GROUP = "rbac.authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
VIEWER = User("viewer", ("viewers", "system:authenticated"))


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def impersonating(resource: str, group: str = "", names: tuple[str, ...] = ()) -> Obj:
    rule: Obj = {"apiGroups": [group], "resources": [resource], "verbs": ["impersonate"]}
    if names:
        rule["resourceNames"] = list(names)
    return rule


def grant(policy: PolicyCache, name: str, rules: list[Obj], namespace: str = "") -> None:
    """A role with `rules` bound to the viewer (in `namespace`, or cluster-wide)."""
    metadata: Obj = {"name": name}
    kind, role_key, binding_key = "ClusterRole", "clusterroles", "clusterrolebindings"
    if namespace:
        metadata["namespace"] = namespace
        kind, role_key, binding_key = "Role", "roles", "rolebindings"
    where = f"{namespace}/{name}" if namespace else name
    policy.apply(
        f"/registry/{role_key}/{where}", orjson.dumps({"metadata": metadata, "rules": rules})
    )
    policy.apply(
        f"/registry/{binding_key}/{where}",
        orjson.dumps(
            {
                "metadata": metadata,
                "roleRef": {"apiGroup": GROUP, "kind": kind, "name": name},
                "subjects": [{"kind": "User", "apiGroup": GROUP, "name": "viewer"}],
            }
        ),
    )


@pytest.fixture
def policy(store: SqliteStore) -> PolicyCache:
    return PolicyCache(store)


@pytest.fixture
def authorizer(policy: PolicyCache) -> Authorizer:
    return Authorizer(policy)


def refusal(authorizer: Authorizer, *pairs: tuple[str, str]) -> StatusError:
    with pytest.raises(StatusError) as caught:
        impersonate(VIEWER, headers(*pairs), authorizer)
    return caught.value


# --- allowed -------------------------------------------------------------------------------


def test_no_impersonation_headers_leave_the_user_as_is(authorizer: Authorizer) -> None:
    assert impersonate(VIEWER, headers(("Accept", "application/json")), authorizer) is VIEWER


def test_an_allowed_user_is_impersonated_and_authenticated(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-users", [impersonating("users")])
    assert impersonate(VIEWER, headers(("Impersonate-User", "alice")), authorizer) == User(
        "alice", ("system:authenticated",)
    )


def test_the_user_may_be_limited_by_name(policy: PolicyCache, authorizer: Authorizer) -> None:
    grant(policy, "as-alice", [impersonating("users", names=("alice",))])
    assert impersonate(VIEWER, headers(("Impersonate-User", "alice")), authorizer).name == "alice"
    error = refusal(authorizer, ("Impersonate-User", "bob"))
    assert error.message == (
        'users "bob" is forbidden: User "viewer" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )


def test_impersonated_groups_are_the_user_groups_with_authenticated_added(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-anyone", [impersonating("users"), impersonating("groups")])
    user = impersonate(
        VIEWER,
        headers(
            ("Impersonate-User", "alice"),
            ("Impersonate-Group", "dev"),
            ("impersonate-group", "ops"),
        ),
        authorizer,
    )
    assert user == User("alice", ("dev", "ops", "system:authenticated"))


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (("system:authenticated", "dev"), ("system:authenticated", "dev")),
        (("system:unauthenticated",), ("system:unauthenticated",)),
    ],
)
def test_authenticated_is_not_added_when_either_is_given(
    policy: PolicyCache, authorizer: Authorizer, groups: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    grant(policy, "as-anyone", [impersonating("users"), impersonating("groups")])
    pairs = [("Impersonate-User", "alice"), *(("Impersonate-Group", g) for g in groups)]
    assert impersonate(VIEWER, headers(*pairs), authorizer).groups == expected


def test_the_anonymous_user_is_unauthenticated(policy: PolicyCache, authorizer: Authorizer) -> None:
    grant(policy, "as-users", [impersonating("users")])
    user = impersonate(VIEWER, headers(("Impersonate-User", "system:anonymous")), authorizer)
    assert user == User("system:anonymous", ("system:unauthenticated",))
    assert user.anonymous


def test_a_service_account_is_authorized_in_its_namespace_and_gets_its_groups(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-ci-accounts", [impersonating("serviceaccounts")], namespace="ci")
    user = impersonate(
        VIEWER, headers(("Impersonate-User", "system:serviceaccount:ci:builder")), authorizer
    )
    assert user == User(
        "system:serviceaccount:ci:builder",
        ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"),
    )
    error = refusal(authorizer, ("Impersonate-User", "system:serviceaccount:prod:builder"))
    assert error.message == (
        'serviceaccounts "builder" is forbidden: User "viewer" cannot impersonate resource '
        '"serviceaccounts" in API group "" in the namespace "prod"'
    )
    assert error.to_status()["details"] == {"name": "builder", "kind": "serviceaccounts"}


def test_a_service_account_with_groups_given_has_those_groups_only(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-accounts", [impersonating("serviceaccounts"), impersonating("groups")])
    user = impersonate(
        VIEWER,
        headers(
            ("Impersonate-User", "system:serviceaccount:ci:builder"), ("Impersonate-Group", "x")
        ),
        authorizer,
    )
    assert user.groups == ("x", "system:authenticated")


def test_a_uid_and_extras_are_authorized_and_carried(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(
        policy,
        "as-everything",
        [
            impersonating("users"),
            impersonating("uids", AUTHENTICATION),
            impersonating("userextras/scopes", AUTHENTICATION),
            impersonating("userextras/example.com/team", AUTHENTICATION),
        ],
    )
    user = impersonate(
        VIEWER,
        headers(
            ("Impersonate-User", "alice"),
            ("Impersonate-Uid", "uid-1234"),
            ("Impersonate-Extra-Scopes", "view"),
            ("Impersonate-Extra-Scopes", "edit"),
            ("Impersonate-Extra-Example.com%2fTeam", "blue"),
        ),
        authorizer,
    )
    assert user == User(
        "alice",
        ("system:authenticated",),
        uid="uid-1234",
        extra=(("example.com/team", ("blue",)), ("scopes", ("view", "edit"))),
    )


# --- refused -------------------------------------------------------------------------------


def test_a_user_not_allowed_is_refused_in_kubernetes_words(authorizer: Authorizer) -> None:
    error = refusal(authorizer, ("Impersonate-User", "alice"))
    status = error.to_status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'users "alice" is forbidden: User "viewer" cannot impersonate resource "users" in API '
        'group "" at the cluster scope'
    )
    assert status["details"] == {"name": "alice", "kind": "users"}


def test_a_group_not_allowed_is_refused_in_kubernetes_words(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-users", [impersonating("users"), impersonating("groups", names=("dev",))])
    error = refusal(
        authorizer,
        ("Impersonate-User", "alice"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "system:masters"),
    )
    assert (error.code, error.message) == (
        403,
        'groups "system:masters" is forbidden: User "viewer" cannot impersonate resource '
        '"groups" in API group "" at the cluster scope',
    )


def test_a_uid_not_allowed_is_refused(policy: PolicyCache, authorizer: Authorizer) -> None:
    grant(policy, "as-users", [impersonating("users")])
    error = refusal(authorizer, ("Impersonate-User", "alice"), ("Impersonate-Uid", "1234"))
    assert error.message == (
        'uids.authentication.k8s.io "1234" is forbidden: User "viewer" cannot impersonate '
        'resource "uids" in API group "authentication.k8s.io" at the cluster scope'
    )


def test_an_extra_not_allowed_is_refused_on_its_subresource(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-users", [impersonating("users")])
    error = refusal(authorizer, ("Impersonate-User", "alice"), ("Impersonate-Extra-Scopes", "view"))
    assert error.message == (
        'userextras.authentication.k8s.io "view" is forbidden: User "viewer" cannot impersonate '
        'resource "userextras/scopes" in API group "authentication.k8s.io" at the cluster scope'
    )


@pytest.mark.parametrize(
    "pairs",
    [
        [("Impersonate-Group", "dev")],
        [("Impersonate-Uid", "1234")],
        [("Impersonate-Extra-Scopes", "view")],
    ],
    ids=["group", "uid", "extra"],
)
def test_anything_but_a_user_without_a_user_is_a_bad_request(
    policy: PolicyCache, authorizer: Authorizer, pairs: list[tuple[str, str]]
) -> None:
    grant(policy, "as-anything", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
    error = refusal(authorizer, *pairs)
    status = error.to_status()
    assert (status["code"], status["reason"]) == (400, "BadRequest")
    assert status["message"].endswith("without impersonating a user")


def test_groups_without_a_user_are_refused_in_kubernetes_words(authorizer: Authorizer) -> None:
    error = refusal(authorizer, ("Impersonate-Group", "dev"), ("Impersonate-Group", "ops"))
    assert error.message == (
        "requested [{Group  dev    } {Group  ops    }] without impersonating a user"
    )


def test_a_service_account_username_with_an_invalid_name_is_a_plain_user(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    grant(policy, "as-accounts", [impersonating("serviceaccounts")])
    error = refusal(authorizer, ("Impersonate-User", "system:serviceaccount:ci:Bad_Name"))
    assert error.message == (
        'users "system:serviceaccount:ci:Bad_Name" is forbidden: User "viewer" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    )
