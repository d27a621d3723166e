"""RBAC's escalation check through the real REST storage: nobody grants what they do not hold
(Kubernetes' `pkg/registry/rbac/*/policybased/storage.go` and `ConfirmNoEscalation`).

The storage is the server's (`resource_stores` with an authorizer) over a SqliteStore, and the
policy cache follows that store; the RBAC objects a test starts from are written with no user
(the server's own writes, never checked), then the test acts as a user through the
`current_user` context variable, as a request's handler would.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from apiserver_fixtures import Stores
from testcluster import wait_for

from kubelite.api.errors import StatusError
from kubelite.api.types import Obj
from kubelite.apiserver.auth import User, current_user
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.policy import PolicyCache
from kubelite.apiserver.registry import DeleteOptions, ResourceStore
from kubelite.apiserver.server import resource_stores
from kubelite.storage.sqlite import SqliteStore

GROUP = "rbac.authorization.k8s.io"
ALICE = User("alice", ("dev", "system:authenticated"))
ATTEMPTING = (
    'user "alice" (groups=["dev" "system:authenticated"]) is attempting to grant RBAC '
    "permissions not currently held:\n"
)
GET_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
LIST_PODS = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
CREATE_DEPLOYMENTS = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]}
EVERYTHING = [
    {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
    {"nonResourceURLs": ["*"], "verbs": ["*"]},
]
AGGREGATION = {"clusterRoleSelectors": [{"matchLabels": {"aggregate-to-agg": "true"}}]}


@dataclass
class Rbac:
    stores: Stores
    policy: PolicyCache

    def of(self, plural: str) -> ResourceStore:
        return self.stores.of(plural, GROUP)

    async def grant(self, *objs: Obj) -> None:
        """Write objects as the server does (no user), and wait for the cache to see them."""
        written = 0
        with acting_as(None):
            for obj in objs:
                plural = PLURALS[obj["kind"]]
                namespace = obj["metadata"].get("namespace", "")
                created = await self.of(plural).create(namespace, obj)
                written = int(created["metadata"]["resourceVersion"])
        await wait_for(lambda: self.policy.revision >= written, what="the policy cache")


PLURALS = {
    "Role": "roles",
    "ClusterRole": "clusterroles",
    "RoleBinding": "rolebindings",
    "ClusterRoleBinding": "clusterrolebindings",
}


@contextlib.contextmanager
def acting_as(user: User | None) -> Iterator[None]:
    token = current_user.set(user)
    try:
        yield
    finally:
        current_user.reset(token)


def role(name: str, rules: list[Obj], namespace: str = "", **extra: object) -> Obj:
    metadata: Obj = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    kind = "Role" if namespace else "ClusterRole"
    obj: Obj = {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": metadata, "rules": rules}
    return obj | extra


def binding(name: str, role_kind: str, role_name: str, who: str = "alice", ns: str = "") -> Obj:
    metadata: Obj = {"name": name}
    if ns:
        metadata["namespace"] = ns
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": GROUP, "kind": role_kind, "name": role_name},
        "subjects": [{"kind": "User", "apiGroup": GROUP, "name": who}],
    }


@pytest.fixture
async def rbac(store: SqliteStore) -> AsyncIterator[Rbac]:
    policy = PolicyCache(store)
    await policy.start()
    stores = Stores(store)
    stores.by_resource.update(resource_stores(store, authorizer=Authorizer(policy)))
    with acting_as(None):
        await stores.namespace("dev")
    try:
        yield Rbac(stores, policy)
    finally:
        await policy.stop()


async def holds(rbac: Rbac, rules: list[Obj], namespace: str = "dev") -> None:
    """Give alice `rules`: a Role and RoleBinding in `namespace`, or cluster-wide for ""."""
    name = f"held-{len(rbac.policy.roles) + len(rbac.policy.cluster_roles)}"
    kind = "Role" if namespace else "ClusterRole"
    await rbac.grant(role(name, rules, namespace), binding(name, kind, name, ns=namespace))


async def refused(make: Callable[[], Awaitable[object]]) -> StatusError:
    with pytest.raises(StatusError) as caught:
        await make()
    return caught.value


async def update(
    store: ResourceStore, namespace: str, name: str, change: Callable[[Obj], None]
) -> Obj:
    async def mutate(obj: Obj | None) -> Obj | None:
        assert obj is not None
        change(obj)
        return obj

    return (await store.update(namespace, name, mutate))[0]


# --- roles ---------------------------------------------------------------------------------


async def test_a_role_with_rules_the_user_lacks_is_refused_with_what_is_missing(
    rbac: Rbac,
) -> None:
    await holds(rbac, [GET_PODS])
    wanted = role("deployer", [GET_PODS | {"verbs": ["get", "list"]}, CREATE_DEPLOYMENTS], "dev")
    with acting_as(ALICE):
        error = await refused(lambda: rbac.of("roles").create("dev", wanted))
    status = error.to_status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'roles.rbac.authorization.k8s.io "deployer" is forbidden: '
        + ATTEMPTING
        + '{APIGroups:[""], Resources:["pods"], Verbs:["list"]}\n'
        '{APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}'
    )
    assert status["details"] == {"name": "deployer", "group": GROUP, "kind": "roles"}
    with pytest.raises(StatusError):
        await rbac.of("roles").get("dev", "deployer")


async def test_missing_verbs_of_one_resource_are_listed_together(rbac: Rbac) -> None:
    wanted = role("r", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch"]}])
    with acting_as(ALICE):
        error = await refused(lambda: rbac.of("clusterroles").create("", wanted))
    assert error.message == (
        'clusterroles.rbac.authorization.k8s.io "r" is forbidden: '
        + ATTEMPTING
        + '{APIGroups:[""], Resources:["pods"], Verbs:["get" "watch"]}'
    )


async def test_a_role_within_what_the_user_holds_is_created(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS | {"verbs": ["get", "list"]}])
    with acting_as(ALICE):
        created = await rbac.of("roles").create("dev", role("reader", [LIST_PODS], "dev"))
    assert created["metadata"]["name"] == "reader"


async def test_cluster_wide_rules_cover_a_namespaced_role(rbac: Rbac) -> None:
    await holds(rbac, [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}], namespace="")
    with acting_as(ALICE):
        await rbac.of("roles").create("dev", role("reader", [GET_PODS], "dev"))


async def test_rules_held_in_a_namespace_do_not_cover_a_cluster_role(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS])
    with acting_as(ALICE):
        error = await refused(lambda: rbac.of("clusterroles").create("", role("r", [GET_PODS])))
    assert error.code == 403
    assert error.message.endswith('\n{APIGroups:[""], Resources:["pods"], Verbs:["get"]}')


async def test_the_escalate_verb_allows_any_role(rbac: Rbac) -> None:
    await holds(rbac, [{"apiGroups": [GROUP], "resources": ["roles"], "verbs": ["escalate"]}])
    with acting_as(ALICE):
        await rbac.of("roles").create("dev", role("everything", EVERYTHING[:1], "dev"))


async def test_escalate_on_roles_is_not_escalate_on_cluster_roles(rbac: Rbac) -> None:
    await holds(rbac, [{"apiGroups": [GROUP], "resources": ["roles"], "verbs": ["escalate"]}], "")
    with acting_as(ALICE):
        error = await refused(lambda: rbac.of("clusterroles").create("", role("r", [GET_PODS])))
    assert error.code == 403


async def test_an_update_that_grants_more_is_checked(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS])
    await rbac.grant(role("reader", [GET_PODS], "dev"))
    with acting_as(ALICE):
        error = await refused(
            lambda: update(
                rbac.of("roles"), "dev", "reader", lambda r: r["rules"].append(CREATE_DEPLOYMENTS)
            )
        )
    assert error.message == (
        'roles.rbac.authorization.k8s.io "reader" is forbidden: '
        + ATTEMPTING
        + '{APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}'
    )


async def test_an_update_of_only_finalizers_and_owners_is_not_checked(rbac: Rbac) -> None:
    """IsOnlyMutatingGCFields: what the garbage collector writes needs no rights."""
    await rbac.grant(role("powerful", EVERYTHING[:1], "dev"))

    def gc_fields(obj: Obj) -> None:
        obj["metadata"]["finalizers"] = ["example.com/hold"]
        obj["metadata"]["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1"}
        ]

    with acting_as(ALICE):
        updated = await update(rbac.of("roles"), "dev", "powerful", gc_fields)
    assert updated["metadata"]["finalizers"] == ["example.com/hold"]


async def test_an_update_of_labels_is_checked_as_kubernetes_does(rbac: Rbac) -> None:
    await rbac.grant(role("powerful", EVERYTHING[:1], "dev"))
    with acting_as(ALICE):
        error = await refused(
            lambda: update(
                rbac.of("roles"),
                "dev",
                "powerful",
                lambda r: r["metadata"].setdefault("labels", {}).update({"team": "a"}),
            )
        )
    assert error.message == (
        'roles.rbac.authorization.k8s.io "powerful" is forbidden: '
        + ATTEMPTING
        + '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}'
    )


async def test_deleting_a_role_is_not_checked(rbac: Rbac) -> None:
    await rbac.grant(role("powerful", EVERYTHING[:1], "dev"))
    with acting_as(ALICE):
        await rbac.of("roles").delete("dev", "powerful", DeleteOptions())


async def test_escalate_limited_to_a_name_does_not_allow_creating_it(rbac: Rbac) -> None:
    await holds(
        rbac,
        [
            {
                "apiGroups": [GROUP],
                "resources": ["roles"],
                "verbs": ["escalate"],
                "resourceNames": ["everything"],
            }
        ],
    )
    with acting_as(ALICE):
        error = await refused(
            lambda: rbac.of("roles").create("dev", role("everything", EVERYTHING[:1], "dev"))
        )
    assert error.code == 403


# --- aggregation ---------------------------------------------------------------------------


async def test_an_aggregation_rule_needs_full_authority(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS], namespace="")
    with acting_as(ALICE):
        error = await refused(
            lambda: rbac.of("clusterroles").create("", role("agg", [], aggregationRule=AGGREGATION))
        )
    status = error.to_status()
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: '
        "must have cluster-admin privileges to use the aggregationRule"
    )
    assert status["details"] == {"name": "agg", "group": GROUP, "kind": "clusterroles"}


async def test_full_authority_may_set_an_aggregation_rule(rbac: Rbac) -> None:
    await holds(rbac, EVERYTHING, namespace="")
    with acting_as(ALICE):
        await rbac.of("clusterroles").create("", role("agg", [], aggregationRule=AGGREGATION))


async def test_changing_an_aggregation_rule_needs_full_authority(
    rbac: Rbac,
) -> None:
    await rbac.grant(role("agg", [], aggregationRule=AGGREGATION))
    with acting_as(ALICE):
        error = await refused(
            lambda: update(
                rbac.of("clusterroles"),
                "",
                "agg",
                lambda r: r.update(aggregationRule={"clusterRoleSelectors": [{}]}),
            )
        )
    assert error.message.endswith("must have cluster-admin privileges to use the aggregationRule")


async def test_missing_rules_are_reported_before_the_aggregation_rule(rbac: Rbac) -> None:
    with acting_as(ALICE):
        error = await refused(
            lambda: rbac.of("clusterroles").create(
                "", role("agg", [GET_PODS], aggregationRule=AGGREGATION)
            )
        )
    assert error.message == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: '
        + ATTEMPTING
        + '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}'
    )


async def test_removing_an_aggregation_rule_needs_full_authority(rbac: Rbac) -> None:
    await rbac.grant(role("agg", [], aggregationRule=AGGREGATION))
    with acting_as(ALICE):
        error = await refused(
            lambda: update(rbac.of("clusterroles"), "", "agg", lambda r: r.pop("aggregationRule"))
        )
    assert error.message.endswith("must have cluster-admin privileges to use the aggregationRule")


async def test_changing_the_rules_of_an_aggregated_role_needs_full_authority(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS], namespace="")
    await rbac.grant(role("agg", [], aggregationRule=AGGREGATION))
    with acting_as(ALICE):
        error = await refused(
            lambda: update(rbac.of("clusterroles"), "", "agg", lambda r: r.update(rules=[GET_PODS]))
        )
    assert error.message.endswith("must have cluster-admin privileges to use the aggregationRule")


# --- bindings ------------------------------------------------------------------------------


async def test_binding_a_role_the_user_holds_is_allowed(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS, LIST_PODS])
    await rbac.grant(role("reader", [GET_PODS], "dev"))
    with acting_as(ALICE):
        await rbac.of("rolebindings").create(
            "dev", binding("bob-reads", "Role", "reader", "bob", "dev")
        )


async def test_binding_a_role_with_rules_the_user_lacks_is_refused(rbac: Rbac) -> None:
    await holds(rbac, [GET_PODS])
    await rbac.grant(role("deployer", [GET_PODS, CREATE_DEPLOYMENTS]))
    with acting_as(ALICE):
        error = await refused(
            lambda: rbac.of("rolebindings").create(
                "dev", binding("bob-deploys", "ClusterRole", "deployer", "bob", "dev")
            )
        )
    status = error.to_status()
    assert status["code"] == 403
    assert status["message"] == (
        'rolebindings.rbac.authorization.k8s.io "bob-deploys" is forbidden: '
        + ATTEMPTING
        + '{APIGroups:["apps"], Resources:["deployments"], Verbs:["create"]}'
    )
    assert status["details"] == {"name": "bob-deploys", "group": GROUP, "kind": "rolebindings"}


async def test_the_bind_verb_on_the_role_name_allows_binding_it(rbac: Rbac) -> None:
    await holds(
        rbac,
        [
            {
                "apiGroups": [GROUP],
                "resources": ["clusterroles"],
                "verbs": ["bind"],
                "resourceNames": ["deployer"],
            }
        ],
    )
    await rbac.grant(role("deployer", [CREATE_DEPLOYMENTS]), role("admin-ish", EVERYTHING[:1]))
    with acting_as(ALICE):
        await rbac.of("rolebindings").create(
            "dev", binding("bob-deploys", "ClusterRole", "deployer", "bob", "dev")
        )
        error = await refused(
            lambda: rbac.of("rolebindings").create(
                "dev", binding("bob-admin", "ClusterRole", "admin-ish", "bob", "dev")
            )
        )
    assert error.code == 403
    # bind held in one namespace does not reach a ClusterRoleBinding.
    with acting_as(ALICE):
        error = await refused(
            lambda: rbac.of("clusterrolebindings").create(
                "", binding("bob-deploys", "ClusterRole", "deployer", "bob")
            )
        )
    assert error.message.startswith(
        'clusterrolebindings.rbac.authorization.k8s.io "bob-deploys" is forbidden: '
    )


async def test_binding_a_missing_role_without_bind_is_not_found(rbac: Rbac) -> None:
    with acting_as(ALICE):
        error = await refused(
            lambda: rbac.of("rolebindings").create(
                "dev", binding("b", "Role", "nope", "bob", "dev")
            )
        )
        assert error.to_status() | {"details": None} == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'roles.rbac.authorization.k8s.io "nope" not found',
            "reason": "NotFound",
            "details": None,
            "code": 404,
        }
        error = await refused(
            lambda: rbac.of("clusterrolebindings").create("", binding("b", "ClusterRole", "nope"))
        )
    assert (error.code, error.message) == (
        404,
        'clusterroles.rbac.authorization.k8s.io "nope" not found',
    )


async def test_binding_a_missing_role_with_bind_is_allowed(rbac: Rbac) -> None:
    await holds(rbac, [{"apiGroups": [GROUP], "resources": ["roles"], "verbs": ["bind"]}])
    with acting_as(ALICE):
        await rbac.of("rolebindings").create("dev", binding("b", "Role", "later", "bob", "dev"))


async def test_changing_the_subjects_of_a_binding_is_checked(rbac: Rbac) -> None:
    await rbac.grant(
        role("powerful", EVERYTHING[:1]), binding("b", "ClusterRole", "powerful", "bob")
    )

    def add_alice(obj: Obj) -> None:
        obj["subjects"].append({"kind": "User", "apiGroup": GROUP, "name": "alice"})

    with acting_as(ALICE):
        error = await refused(lambda: update(rbac.of("clusterrolebindings"), "", "b", add_alice))
    assert error.code == 403


async def test_an_update_of_a_binding_labels_is_checked_as_kubernetes_does(rbac: Rbac) -> None:
    await rbac.grant(
        role("powerful", EVERYTHING[:1]), binding("b", "ClusterRole", "powerful", "bob", "dev")
    )
    with acting_as(ALICE):
        error = await refused(
            lambda: update(
                rbac.of("rolebindings"),
                "dev",
                "b",
                lambda r: r["metadata"].setdefault("labels", {}).update({"team": "a"}),
            )
        )
    assert error.code == 403


# --- who is never checked ------------------------------------------------------------------


async def test_the_server_itself_writing_with_no_user_is_not_checked(rbac: Rbac) -> None:
    with acting_as(None):
        await rbac.of("clusterroles").create(
            "", role("agg", EVERYTHING, aggregationRule=AGGREGATION)
        )
        await rbac.of("clusterrolebindings").create("", binding("b", "ClusterRole", "missing"))


async def test_system_masters_is_not_checked(rbac: Rbac) -> None:
    root = User("root", ("system:masters", "system:authenticated"))
    with acting_as(root):
        await rbac.of("clusterroles").create(
            "", role("agg", EVERYTHING, aggregationRule=AGGREGATION)
        )
        await rbac.of("rolebindings").create("dev", binding("b", "Role", "missing", ns="dev"))
