"""The RBAC authorizer over its policy cache: which bindings apply to whom, the reason an allow
gives (`rbac.go`'s describers), and the 403 a refusal is, word for word
(`responsewriters.forbiddenMessage` and `apierrors.NewForbidden`)."""

from __future__ import annotations

import orjson
import pytest
from apiserver_fixtures import Stores
from testcluster import wait_for

from kubelite.api.errors import StatusError
from kubelite.api.types import Obj
from kubelite.apiserver import request_info
from kubelite.apiserver.auth import User
from kubelite.apiserver.rbac.authorizer import (
    Attributes,
    Authorizer,
    forbidden,
    forbidden_message,
)
from kubelite.apiserver.rbac.policy import PolicyCache
from kubelite.apiserver.rbac.rules import Rule
from kubelite.apiserver.registry import DeleteOptions
from kubelite.storage.sqlite import SqliteStore

GROUP = "rbac.authorization.k8s.io"
POD_READER = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]

ALICE = User("alice", ("dev", "system:authenticated"))
BOB = User("bob", ("system:authenticated",))
BUILDER = User("system:serviceaccount:dev:builder", ("system:serviceaccounts",))


def user(name: str) -> Obj:
    return {"kind": "User", "apiGroup": GROUP, "name": name}


def group(name: str) -> Obj:
    return {"kind": "Group", "apiGroup": GROUP, "name": name}


def account(name: str, namespace: str | None = None) -> Obj:
    subject: Obj = {"kind": "ServiceAccount", "name": name}
    if namespace is not None:
        subject["namespace"] = namespace
    return subject


def role(name: str, rules: list[Obj], namespace: str = "") -> Obj:
    kind = "Role" if namespace else "ClusterRole"
    metadata: Obj = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": metadata, "rules": rules}


def binding(name: str, role_kind: str, role_name: str, subjects: list[Obj], ns: str = "") -> Obj:
    kind = "RoleBinding" if ns else "ClusterRoleBinding"
    metadata: Obj = {"name": name}
    if ns:
        metadata["namespace"] = ns
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role_name},
        "subjects": subjects,
    }


def key_of(obj: Obj) -> str:
    """The store key of an RBAC object, as the REST storage writes it."""
    plural = {
        "Role": "roles",
        "ClusterRole": "clusterroles",
        "RoleBinding": "rolebindings",
        "ClusterRoleBinding": "clusterrolebindings",
    }[obj["kind"]]
    md = obj["metadata"]
    if "namespace" in md:
        return f"/registry/{plural}/{md['namespace']}/{md['name']}"
    return f"/registry/{plural}/{md['name']}"


def put(policy: PolicyCache, *objs: Obj) -> None:
    for obj in objs:
        policy.apply(key_of(obj), orjson.dumps(obj))


def delete(policy: PolicyCache, obj: Obj) -> None:
    policy.apply(key_of(obj), None)


def pods(who: User, verb: str = "list", namespace: str = "dev", name: str = "") -> Attributes:
    return Attributes(who, verb, True, namespace, "", "v1", "pods", "", name)


@pytest.fixture
def policy(store: SqliteStore) -> PolicyCache:
    """A cache fed by hand (`apply`), as its watches would feed it."""
    return PolicyCache(store)


@pytest.fixture
def authorizer(policy: PolicyCache) -> Authorizer:
    return Authorizer(policy)


# --- who a binding applies to --------------------------------------------------------------


def test_a_cluster_role_binding_to_a_group_allows_its_members_everywhere(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("readers", "ClusterRole", "pod-reader", [group("dev")]),
    )
    assert authorizer.decide(pods(ALICE)) == (
        True,
        'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "dev"',
    )
    assert authorizer.allowed(pods(ALICE, namespace="other"))
    assert authorizer.allowed(pods(ALICE, namespace=""))
    assert authorizer.decide(pods(BOB)) == (False, "")
    assert not authorizer.allowed(pods(ALICE, verb="delete"))


def test_a_role_binding_to_a_user_allows_in_its_namespace_only(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER, namespace="dev"),
        binding("alice-reads", "Role", "pod-reader", [user("alice")], ns="dev"),
    )
    assert authorizer.decide(pods(ALICE)) == (
        True,
        'RBAC: allowed by RoleBinding "alice-reads/dev" of Role "pod-reader" to User "alice"',
    )
    assert not authorizer.allowed(pods(ALICE, namespace="other"))
    assert not authorizer.allowed(pods(ALICE, namespace=""))
    assert not authorizer.allowed(pods(BOB))


def test_a_role_binding_of_a_cluster_role_grants_it_in_the_binding_namespace(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("alice-reads", "ClusterRole", "pod-reader", [user("alice")], ns="dev"),
    )
    assert authorizer.decide(pods(ALICE)) == (
        True,
        'RBAC: allowed by RoleBinding "alice-reads/dev" of ClusterRole "pod-reader" '
        'to User "alice"',
    )
    assert not authorizer.allowed(pods(ALICE, namespace="other"))
    assert not authorizer.allowed(pods(ALICE, namespace=""))


def test_a_role_is_looked_up_in_the_binding_namespace(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER, namespace="other"),
        binding("alice-reads", "Role", "pod-reader", [user("alice")], ns="dev"),
    )
    assert not authorizer.allowed(pods(ALICE))
    assert not authorizer.allowed(pods(ALICE, namespace="other"))


def test_a_service_account_subject_names_its_namespace(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("builders", "ClusterRole", "pod-reader", [account("builder", "dev")]),
    )
    assert authorizer.decide(pods(BUILDER, namespace="ci")) == (
        True,
        'RBAC: allowed by ClusterRoleBinding "builders" of ClusterRole "pod-reader" '
        'to ServiceAccount "builder/dev"',
    )
    other = User("system:serviceaccount:ci:builder", ("system:serviceaccounts",))
    assert not authorizer.allowed(pods(other))


def test_a_service_account_without_namespace_is_of_the_role_binding_namespace(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("builders", "ClusterRole", "pod-reader", [account("builder")], ns="dev"),
    )
    assert authorizer.decide(pods(BUILDER)) == (
        True,
        'RBAC: allowed by RoleBinding "builders/dev" of ClusterRole "pod-reader" '
        'to ServiceAccount "builder/dev"',
    )
    other = User("system:serviceaccount:ci:builder", ("system:serviceaccounts",))
    assert not authorizer.allowed(pods(other))


def test_a_service_account_without_namespace_in_a_cluster_role_binding_is_no_one(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("builders", "ClusterRole", "pod-reader", [account("builder")]),
    )
    assert not authorizer.allowed(pods(BUILDER))
    assert list(policy.bindings_for(BUILDER, "dev")) == []


def test_a_subject_of_unknown_kind_matches_no_one(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("odd", "ClusterRole", "pod-reader", [{"kind": "Robot", "name": "alice"}]),
    )
    assert not authorizer.allowed(pods(ALICE))


def test_a_binding_naming_the_user_twice_is_visited_once(policy: PolicyCache) -> None:
    put(policy, binding("both", "ClusterRole", "x", [user("alice"), group("dev")]))
    assert [b.name for b, _ in policy.bindings_for(ALICE, "dev")] == ["both"]


def test_cluster_role_bindings_come_before_role_bindings(policy: PolicyCache) -> None:
    put(
        policy,
        binding("local", "ClusterRole", "x", [user("alice")], ns="dev"),
        binding("global", "ClusterRole", "x", [user("alice")]),
    )
    assert [b.name for b, _ in policy.bindings_for(ALICE, "dev")] == ["global", "local"]
    assert [b.name for b, _ in policy.bindings_for(ALICE, "")] == ["global"]


def test_rules_for_unites_cluster_and_namespace_rules(policy: PolicyCache) -> None:
    put(
        policy,
        role("a", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        role(
            "b", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}], "dev"
        ),
        binding("a", "ClusterRole", "a", [user("alice")]),
        binding("b", "Role", "b", [group("dev")], ns="dev"),
        binding("c", "ClusterRole", "missing", [user("alice")]),
    )
    assert policy.rules_for(ALICE, "dev") == [
        Rule(("get",), ("",), ("pods",)),
        Rule(("list",), ("apps",), ("deployments",)),
    ]
    assert policy.rules_for(ALICE, "") == [Rule(("get",), ("",), ("pods",))]


# --- keeping the index current -------------------------------------------------------------


def test_a_deleted_binding_leaves_the_index(policy: PolicyCache, authorizer: Authorizer) -> None:
    readers = binding("readers", "ClusterRole", "pod-reader", [group("dev")])
    local = binding("alice-reads", "ClusterRole", "pod-reader", [user("alice")], ns="dev")
    put(policy, role("pod-reader", POD_READER), readers, local)
    delete(policy, readers)
    assert [b.name for b, _ in policy.bindings_for(ALICE, "dev")] == ["alice-reads"]
    delete(policy, local)
    assert list(policy.bindings_for(ALICE, "dev")) == []
    assert not authorizer.allowed(pods(ALICE))


def test_a_rebinding_to_new_subjects_unindexes_the_old(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("readers", "ClusterRole", "pod-reader", [user("alice")], ns="dev"),
    )
    put(policy, binding("readers", "ClusterRole", "pod-reader", [user("bob")], ns="dev"))
    assert not authorizer.allowed(pods(ALICE))
    assert list(policy.bindings_for(ALICE, "dev")) == []
    assert authorizer.decide(pods(BOB)) == (
        True,
        'RBAC: allowed by RoleBinding "readers/dev" of ClusterRole "pod-reader" to User "bob"',
    )


def test_a_deleted_role_grants_nothing_and_its_binding_waits_for_it(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    reader = role("pod-reader", POD_READER, namespace="dev")
    put(policy, reader, binding("r", "Role", "pod-reader", [user("alice")], ns="dev"))
    delete(policy, reader)
    assert not authorizer.allowed(pods(ALICE))
    put(policy, reader)
    assert authorizer.allowed(pods(ALICE))


def test_a_changed_role_changes_what_its_bindings_grant(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("readers", "ClusterRole", "pod-reader", [user("alice")]),
    )
    put(policy, role("pod-reader", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))
    assert not authorizer.allowed(pods(ALICE, verb="list"))
    assert authorizer.allowed(pods(ALICE, verb="get", name="web"))


# --- the privileged group ------------------------------------------------------------------


def test_system_masters_may_do_anything_without_any_policy(authorizer: Authorizer) -> None:
    root = User("root", ("system:masters",))
    assert authorizer.decide(pods(root, verb="deletecollection")) == (True, "")
    assert authorizer.allowed(Attributes(root, "get", False, path="/debug/pprof"))
    authorizer.check(Attributes(root, "escalate", True, "", GROUP, "v1", "clusterroles"))


def test_non_resource_requests_are_allowed_by_url_rules(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("health", [{"nonResourceURLs": ["/healthz", "/healthz/*"], "verbs": ["get"]}]),
        binding("health", "ClusterRole", "health", [group("system:authenticated")]),
    )
    assert authorizer.allowed(Attributes(BOB, "get", False, path="/healthz/ping"))
    assert not authorizer.allowed(Attributes(BOB, "get", False, path="/metrics"))
    assert not authorizer.allowed(Attributes(BOB, "post", False, path="/healthz"))


def test_attributes_of_a_request_are_its_request_info() -> None:
    info = request_info.parse("GET", "/apis/apps/v1/namespaces/dev/deployments/web/scale")
    attrs = Attributes.of_request(ALICE, info, "/apis/apps/v1/namespaces/dev/deployments/web/scale")
    assert attrs == Attributes(
        ALICE,
        "get",
        True,
        namespace="dev",
        group="apps",
        version="v1",
        resource="deployments",
        subresource="scale",
        name="web",
        path="/apis/apps/v1/namespaces/dev/deployments/web/scale",
    )
    info = request_info.parse("GET", "/healthz")
    assert Attributes.of_request(ALICE, info, "/healthz") == Attributes(
        ALICE, "get", False, path="/healthz"
    )


# --- the 403 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attrs", "message", "details"),
    [
        pytest.param(
            pods(ALICE),
            'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
            'in the namespace "dev"',
            {"kind": "pods"},
            id="namespaced",
        ),
        pytest.param(
            Attributes(ALICE, "get", True, "", "", "v1", "nodes", "", "n1"),
            'nodes "n1" is forbidden: User "alice" cannot get resource "nodes" in API group "" '
            "at the cluster scope",
            {"name": "n1", "kind": "nodes"},
            id="cluster-scoped-named",
        ),
        pytest.param(
            Attributes(ALICE, "get", True, "dev", "", "v1", "pods", "log", "web"),
            'pods "web" is forbidden: User "alice" cannot get resource "pods/log" in API group "" '
            'in the namespace "dev"',
            {"name": "web", "kind": "pods"},
            id="subresource",
        ),
        pytest.param(
            Attributes(ALICE, "delete", True, "dev", "apps", "v1", "deployments", "", "web"),
            'deployments.apps "web" is forbidden: User "alice" cannot delete resource '
            '"deployments" in API group "apps" in the namespace "dev"',
            {"name": "web", "group": "apps", "kind": "deployments"},
            id="grouped",
        ),
        pytest.param(
            Attributes(ALICE, "get", False, path="/x"),
            'forbidden: User "alice" cannot get path "/x"',
            {},
            id="non-resource",
        ),
    ],
)
def test_a_refusal_is_kubernetes_403(
    authorizer: Authorizer, attrs: Attributes, message: str, details: Obj
) -> None:
    with pytest.raises(StatusError) as refused:
        authorizer.check(attrs)
    status = refused.value.to_status()
    assert (status["code"], status["reason"], status["message"]) == (403, "Forbidden", message)
    assert status.get("details") == details


def test_forbidden_message_alone() -> None:
    assert forbidden_message(pods(ALICE, verb="watch", namespace="")) == (
        'User "alice" cannot watch resource "pods" in API group "" at the cluster scope'
    )
    assert forbidden(pods(ALICE), "because").message == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "dev": because'
    )


def test_check_lets_an_allowed_request_through(policy: PolicyCache, authorizer: Authorizer) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("readers", "ClusterRole", "pod-reader", [user("alice")]),
    )
    authorizer.check(pods(ALICE))


def test_a_non_resource_refusal_carries_empty_details(authorizer: Authorizer) -> None:
    with pytest.raises(StatusError) as refused:
        authorizer.check(Attributes(ALICE, "get", False, path="/x"))
    assert refused.value.to_status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'forbidden: User "alice" cannot get path "/x"',
        "reason": "Forbidden",
        "details": {},
        "code": 403,
    }


def test_a_binding_to_a_missing_role_is_named_in_the_refusal(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(policy, binding("readers", "ClusterRole", "missing", [user("alice")]))
    with pytest.raises(StatusError) as refused:
        authorizer.check(pods(ALICE))
    assert refused.value.message == (
        'pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
        'in the namespace "dev": RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found'
    )


def test_the_allow_reason_names_the_binding_first_matching_subject(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    put(
        policy,
        role("pod-reader", POD_READER),
        binding("readers", "ClusterRole", "pod-reader", [group("dev"), user("alice")]),
    )
    assert authorizer.decide(pods(ALICE)) == (
        True,
        'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" to Group "dev"',
    )


def test_the_forbidden_message_escapes_html(authorizer: Authorizer) -> None:
    with pytest.raises(StatusError) as refused:
        authorizer.check(Attributes(ALICE, "get", False, path="/a<b>&c"))
    assert refused.value.message == 'forbidden: User "alice" cannot get path "/a&lt;b&gt;&amp;c"'


# --- fed by the store ----------------------------------------------------------------------


async def test_the_cache_follows_bindings_written_through_the_rest_storage(
    stores: Stores,
) -> None:
    rbac = {p: stores.of(p, GROUP) for p in ("clusterroles", "clusterrolebindings")}
    # Present before the start: listed.
    await rbac["clusterroles"].create("", role("pod-reader", POD_READER))
    policy = PolicyCache(stores.store)
    await policy.start()
    authorizer = Authorizer(policy)
    try:
        assert policy.cluster_roles["pod-reader"] == (Rule(("get", "list"), ("",), ("pods",)),)
        assert not authorizer.allowed(pods(ALICE))
        # Written after the start: watched.
        await rbac["clusterrolebindings"].create(
            "", binding("readers", "ClusterRole", "pod-reader", [group("dev")])
        )
        await wait_for(lambda: authorizer.allowed(pods(ALICE)), what="the binding in the cache")
        assert authorizer.decide(pods(ALICE))[1] == (
            'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "pod-reader" '
            'to Group "dev"'
        )
        await rbac["clusterroles"].delete("", "pod-reader", DeleteOptions())
        await wait_for(lambda: not authorizer.allowed(pods(ALICE)), what="the role to go")
        assert "pod-reader" not in policy.cluster_roles
    finally:
        await policy.stop()


def test_a_remembered_decision_is_forgotten_when_the_policy_changes(
    policy: PolicyCache, authorizer: Authorizer
) -> None:
    readers = binding("readers", "ClusterRole", "pod-reader", [user("alice")])
    put(policy, role("pod-reader", POD_READER), readers)
    assert authorizer.allowed(pods(ALICE))
    assert authorizer.allowed(pods(ALICE))  # the second time from memory
    delete(policy, readers)
    assert not authorizer.allowed(pods(ALICE))
