"""RBAC through the HTTP API: the review resources (`kubectl auth can-i`, `whoami`), Kubernetes'
403s, bindings that take effect as soon as they are written, and impersonation headers.

The `api` fixture's application authorizes with RBAC over Kubernetes' default policy: the
admin token is in `system:masters`; the viewer (groups `viewers`, `auditors`) holds only what
every authenticated user holds (discovery, the self reviews) until a test binds it a role.
The official `kubernetes` client, against the session's real server, checks that the answers
parse in its typed models.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from apiserver_fixtures import (
    ADMIN_TOKEN,
    VIEWER_TOKEN,
    Api,
    Stores,
    build_application,
    official_client,
)
from kubernetes import client
from testcluster import ServerThread, wait_for

Obj = dict[str, Any]

AUTHORIZATION = "/apis/authorization.k8s.io/v1"
AUTHENTICATION = "/apis/authentication.k8s.io/v1"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
GROUP = "rbac.authorization.k8s.io"
VIEWER_GROUPS = ["viewers", "auditors", "system:authenticated"]
LIST_PODS = {"namespace": "default", "verb": "list", "resource": "pods"}


def review(kind: str, spec: Obj, group: str = "authorization.k8s.io") -> Obj:
    return {"apiVersion": f"{group}/v1", "kind": kind, "spec": spec}


async def post(api: Api, path: str, body: Obj, token: str = VIEWER_TOKEN, **kw: Any) -> Any:
    return await api.json("POST", path, body=body, token=token, **kw)


async def bind_role_to_viewer(api: Api, role: str, binding: str, rules: list[Obj]) -> Obj:
    """As the admin, through the API: a Role in `default` with `rules`, bound to the viewer;
    the RoleBinding as created."""
    status, _ = await post(
        api,
        f"{RBAC}/namespaces/default/roles",
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Role",
            "metadata": {"name": role},
            "rules": rules,
        },
        token=ADMIN_TOKEN,
    )
    assert status == 201
    status, created = await post(
        api,
        f"{RBAC}/namespaces/default/rolebindings",
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": binding},
            "roleRef": {"kind": "Role", "name": role},
            "subjects": [{"kind": "User", "name": "viewer"}],
        },
        token=ADMIN_TOKEN,
    )
    assert status == 201
    return dict(created)


async def bind_pod_reader_to_viewer(api: Api) -> None:
    """As the admin, through the API: a Role that reads pods in `default`, bound to the viewer."""
    rules: list[Obj] = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    created = await bind_role_to_viewer(api, "pod-reader", "viewer-reads-pods", rules)
    # Defaulted by the API (SetDefaults_RoleBinding, SetDefaults_Subject).
    assert created["roleRef"]["apiGroup"] == GROUP
    assert created["subjects"][0]["apiGroup"] == GROUP


# --- SelfSubjectAccessReview ---------------------------------------------------------------


async def test_a_self_subject_access_review_answers_no_for_the_viewer(api: Api) -> None:
    body = review("SelfSubjectAccessReview", {"resourceAttributes": LIST_PODS})
    status, answer = await post(api, f"{AUTHORIZATION}/selfsubjectaccessreviews", body)
    assert status == 201
    assert answer["kind"] == "SelfSubjectAccessReview"
    assert answer["apiVersion"] == "authorization.k8s.io/v1"
    assert answer["spec"] == {"resourceAttributes": LIST_PODS}
    assert answer["status"] == {"allowed": False}


async def test_a_self_subject_access_review_answers_yes_for_the_admin(api: Api) -> None:
    body = review("SelfSubjectAccessReview", {"resourceAttributes": LIST_PODS})
    status, answer = await post(
        api, f"{AUTHORIZATION}/selfsubjectaccessreviews", body, token=ADMIN_TOKEN
    )
    assert (status, answer["status"]) == (201, {"allowed": True})


async def test_a_non_resource_review_names_the_binding_that_allows_it(api: Api) -> None:
    body = review(
        "SelfSubjectAccessReview", {"nonResourceAttributes": {"path": "/api", "verb": "get"}}
    )
    status, answer = await post(api, f"{AUTHORIZATION}/selfsubjectaccessreviews", body)
    assert status == 201
    assert answer["status"] == {
        "allowed": True,
        "reason": 'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole '
        '"system:discovery" to Group "system:authenticated"',
    }


@pytest.mark.parametrize(
    ("spec", "field", "detail"),
    [
        (
            {
                "resourceAttributes": LIST_PODS,
                "nonResourceAttributes": {"path": "/", "verb": "get"},
            },
            "spec.nonResourceAttributes",
            "cannot be specified in combination with resourceAttributes",
        ),
        (
            {},
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ),
    ],
    ids=["both", "none"],
)
async def test_a_review_needs_exactly_one_kind_of_attributes(
    api: Api, spec: Obj, field: str, detail: str
) -> None:
    body = review("SelfSubjectAccessReview", spec)
    status, answer = await post(api, f"{AUTHORIZATION}/selfsubjectaccessreviews", body)
    assert (status, answer["reason"]) == (422, "Invalid")
    (cause,) = answer["details"]["causes"]
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", field)
    assert cause["message"].startswith("Invalid value: ")
    assert cause["message"].endswith(f": {detail}")


async def test_a_review_with_no_attributes_prints_the_missing_value_as_go_does(api: Api) -> None:
    body = review("SelfSubjectAccessReview", {})
    _, answer = await post(api, f"{AUTHORIZATION}/selfsubjectaccessreviews", body)
    assert answer["details"]["causes"][0]["message"] == (
        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
        "must be specified"
    )


# --- SelfSubjectRulesReview ----------------------------------------------------------------


async def test_a_self_subject_rules_review_lists_what_the_viewer_holds(api: Api) -> None:
    body = review("SelfSubjectRulesReview", {"namespace": "default"})
    status, answer = await post(api, f"{AUTHORIZATION}/selfsubjectrulesreviews", body)
    assert status == 201
    result = answer["status"]
    assert result["incomplete"] is False
    assert {
        "verbs": ["create"],
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    } in result["resourceRules"]
    assert not any("pods" in r.get("resources", []) for r in result["resourceRules"])
    paths = {p for r in result["nonResourceRules"] for p in r["nonResourceURLs"]}
    assert {"/api", "/apis/*", "/healthz"} <= paths
    assert all(set(r) == {"verbs", "nonResourceURLs"} for r in result["nonResourceRules"])

    await bind_pod_reader_to_viewer(api)

    async def lists_pods() -> bool:
        _, again = await post(api, f"{AUTHORIZATION}/selfsubjectrulesreviews", body)
        wanted = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
        return wanted in again["status"]["resourceRules"]

    await wait_for(lists_pods, what="the new rule in the rules review")


async def test_a_self_subject_rules_review_needs_a_namespace(api: Api) -> None:
    body = review("SelfSubjectRulesReview", {})
    status, answer = await post(api, f"{AUTHORIZATION}/selfsubjectrulesreviews", body)
    assert (status, answer["reason"], answer["message"]) == (
        400,
        "BadRequest",
        "no namespace on request",
    )


# --- SelfSubjectReview ---------------------------------------------------------------------


async def test_a_self_subject_review_says_who_the_requester_is(api: Api) -> None:
    body = review("SelfSubjectReview", {}, group="authentication.k8s.io")
    status, answer = await post(api, f"{AUTHENTICATION}/selfsubjectreviews", body)
    assert status == 201
    assert answer["kind"] == "SelfSubjectReview"
    assert answer["status"] == {"userInfo": {"username": "viewer", "groups": VIEWER_GROUPS}}


async def test_a_self_subject_review_says_whom_the_admin_impersonates(api: Api) -> None:
    body = review("SelfSubjectReview", {}, group="authentication.k8s.io")
    status, answer = await post(
        api,
        f"{AUTHENTICATION}/selfsubjectreviews",
        body,
        token=ADMIN_TOKEN,
        headers={"Impersonate-User": "alice", "Impersonate-Group": "dev"},
    )
    assert status == 201
    assert answer["status"]["userInfo"] == {
        "username": "alice",
        "groups": ["dev", "system:authenticated"],
    }


# --- SubjectAccessReview and LocalSubjectAccessReview -------------------------------------


async def test_a_subject_access_review_asks_about_someone_else(api: Api) -> None:
    spec = {"resourceAttributes": LIST_PODS, "user": "viewer", "groups": VIEWER_GROUPS}
    body = review("SubjectAccessReview", spec)
    status, answer = await post(
        api, f"{AUTHORIZATION}/subjectaccessreviews", body, token=ADMIN_TOKEN
    )
    assert (status, answer["status"]) == (201, {"allowed": False})

    await bind_pod_reader_to_viewer(api)

    async def allowed() -> bool:
        _, again = await post(api, f"{AUTHORIZATION}/subjectaccessreviews", body, token=ADMIN_TOKEN)
        return bool(again["status"]["allowed"])

    await wait_for(allowed, what="the binding to reach the review")
    _, answer = await post(api, f"{AUTHORIZATION}/subjectaccessreviews", body, token=ADMIN_TOKEN)
    assert answer["status"]["reason"] == (
        'RBAC: allowed by RoleBinding "viewer-reads-pods/default" of Role "pod-reader" '
        'to User "viewer"'
    )


async def test_a_subject_access_review_needs_a_user_or_a_group(api: Api) -> None:
    body = review("SubjectAccessReview", {"resourceAttributes": LIST_PODS})
    status, answer = await post(
        api, f"{AUTHORIZATION}/subjectaccessreviews", body, token=ADMIN_TOKEN
    )
    assert (status, answer["reason"]) == (422, "Invalid")
    (cause,) = answer["details"]["causes"]
    assert cause == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "": at least one of user or group must be specified',
        "field": "spec.user",
    }


async def test_the_viewer_may_not_ask_about_others(api: Api) -> None:
    body = review("SubjectAccessReview", {"resourceAttributes": LIST_PODS, "user": "x"})
    status, answer = await post(api, f"{AUTHORIZATION}/subjectaccessreviews", body)
    assert (status, answer["message"]) == (
        403,
        'subjectaccessreviews.authorization.k8s.io is forbidden: User "viewer" cannot create '
        'resource "subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
    )


async def test_a_local_subject_access_review_asks_within_its_namespace(api: Api) -> None:
    path = f"{AUTHORIZATION}/namespaces/default/localsubjectaccessreviews"
    spec = {"resourceAttributes": LIST_PODS, "groups": ["system:masters"]}
    body = review("LocalSubjectAccessReview", spec) | {"metadata": {"namespace": "default"}}
    status, answer = await post(api, path, body, token=ADMIN_TOKEN)
    assert (status, answer["status"]) == (201, {"allowed": True})


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"resourceAttributes": LIST_PODS | {"namespace": "other"}, "user": "x"},
            "spec.resourceAttributes.namespace",
            'Invalid value: "other": must match metadata.namespace',
        ),
        (
            {"nonResourceAttributes": {"path": "/api", "verb": "get"}, "user": "x"},
            "spec.nonResourceAttributes",
            "disallowed on this kind of request",
        ),
    ],
    ids=["other-namespace", "non-resource"],
)
async def test_a_local_subject_access_review_stays_in_its_namespace(
    api: Api, spec: Obj, field: str, message: str
) -> None:
    path = f"{AUTHORIZATION}/namespaces/default/localsubjectaccessreviews"
    status, answer = await post(
        api, path, review("LocalSubjectAccessReview", spec), token=ADMIN_TOKEN
    )
    assert (status, answer["reason"]) == (422, "Invalid")
    (cause,) = answer["details"]["causes"]
    assert cause["field"] == field
    assert cause["message"].endswith(message)


# --- TokenReview ---------------------------------------------------------------------------


async def test_a_token_review_says_whose_token_it_is(api: Api) -> None:
    body = review("TokenReview", {"token": VIEWER_TOKEN}, group="authentication.k8s.io")
    status, answer = await post(api, f"{AUTHENTICATION}/tokenreviews", body, token=ADMIN_TOKEN)
    assert status == 201
    assert answer["status"] == {
        "authenticated": True,
        "user": {"username": "viewer", "groups": VIEWER_GROUPS},
    }


async def test_a_token_review_of_an_unknown_token_is_not_authenticated(api: Api) -> None:
    body = review("TokenReview", {"token": "nobody-knows-me"}, group="authentication.k8s.io")
    status, answer = await post(api, f"{AUTHENTICATION}/tokenreviews", body, token=ADMIN_TOKEN)
    assert (status, answer["status"]) == (201, {"user": {}})


async def test_a_token_review_needs_a_token(api: Api) -> None:
    body = review("TokenReview", {}, group="authentication.k8s.io")
    status, answer = await post(api, f"{AUTHENTICATION}/tokenreviews", body, token=ADMIN_TOKEN)
    assert (status, answer["message"]) == (
        400,
        "token is required for TokenReview in authentication",
    )


# --- 403s and bindings ---------------------------------------------------------------------


async def test_the_viewer_is_refused_a_list_in_kubernetes_words(api: Api) -> None:
    status, answer = await api.json("GET", "/api/v1/namespaces/default/pods", token=VIEWER_TOKEN)
    assert status == 403
    assert answer == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods is forbidden: User "viewer" cannot list resource "pods" in API group "" '
        'in the namespace "default"',
        "reason": "Forbidden",
        "details": {"kind": "pods"},
        "code": 403,
    }


async def test_a_role_binding_written_by_the_admin_lets_the_viewer_in(api: Api) -> None:
    await bind_pod_reader_to_viewer(api)

    async def viewer_lists() -> bool:
        response = await api.request("GET", "/api/v1/namespaces/default/pods", token=VIEWER_TOKEN)
        return response.status == 200

    await wait_for(viewer_lists, what="the viewer to be let in")
    status, _ = await api.json("GET", "/api/v1/namespaces/kube-system/pods", token=VIEWER_TOKEN)
    assert status == 403
    status, answer = await api.json(
        "DELETE", "/api/v1/namespaces/default/pods/web", token=VIEWER_TOKEN
    )
    assert (status, answer["message"]) == (
        403,
        'pods "web" is forbidden: User "viewer" cannot delete resource "pods" in API group "" '
        'in the namespace "default"',
    )


async def test_the_admin_impersonating_the_viewer_is_refused_as_the_viewer(api: Api) -> None:
    status, answer = await api.json(
        "GET", "/api/v1/namespaces/default/pods", headers={"Impersonate-User": "viewer"}
    )
    assert (status, answer["message"]) == (
        403,
        'pods is forbidden: User "viewer" cannot list resource "pods" in API group "" '
        'in the namespace "default"',
    )


async def test_the_viewer_may_not_impersonate(api: Api) -> None:
    status, answer = await api.json(
        "GET",
        "/api/v1/namespaces/default/pods",
        token=VIEWER_TOKEN,
        headers={"Impersonate-User": "system:admin", "Impersonate-Group": "system:masters"},
    )
    assert (status, answer["reason"], answer["message"]) == (
        403,
        "Forbidden",
        'users "system:admin" is forbidden: User "viewer" cannot impersonate resource "users" '
        'in API group "" at the cluster scope',
    )


# --- the official client -------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_client(api_server: ServerThread) -> Iterator[client.ApiClient]:
    """The official client with the admin's certificate, as a kubeconfig would configure it."""
    with official_client(api_server.server) as api:
        yield api


def test_the_official_client_reads_a_self_subject_access_review(
    api_client: client.ApiClient,
) -> None:
    authorization = client.AuthorizationV1Api(api_client)
    answer = authorization.create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace="default", verb="create", group="apps", resource="deployments"
                )
            )
        )
    )
    assert isinstance(answer, client.V1SelfSubjectAccessReview)
    assert answer.status is not None and answer.spec.resource_attributes is not None
    assert answer.status.allowed is True
    assert answer.spec.resource_attributes.resource == "deployments"


def test_the_official_client_reads_a_self_subject_review(api_client: client.ApiClient) -> None:
    answer = client.AuthenticationV1Api(api_client).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    assert answer.status is not None and answer.status.user_info is not None
    assert answer.status.user_info.username == "system:admin"
    assert "system:masters" in (answer.status.user_info.groups or [])


async def test_with_authorization_off_the_reviews_say_everything_is_allowed(
    stores: Stores, tmp_path: Path
) -> None:
    """`--authorization-mode AlwaysAllow`: the viewer may do anything, and can-i says so."""
    application, metrics = build_application(stores, tmp_path)
    test_client = TestClient(TestServer(application.build()))
    await test_client.start_server()
    try:
        off = Api(test_client, stores, metrics)
        body = review(
            "SelfSubjectAccessReview",
            {"resourceAttributes": {"verb": "delete", "resource": "nodes"}},
        )
        status, answer = await post(off, f"{AUTHORIZATION}/selfsubjectaccessreviews", body)
        assert (status, answer["status"]) == (201, {"allowed": True})
        rules = review("SelfSubjectRulesReview", {"namespace": "default"})
        _, answer = await post(off, f"{AUTHORIZATION}/selfsubjectrulesreviews", rules)
        assert answer["status"]["resourceRules"] == [
            {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
        ]
    finally:
        await test_client.close()


async def bind_exec_verbs_to_viewer(api: Api, verbs: list[str]) -> None:
    """As the admin: a Role with `verbs` on pods/exec in `default`, bound to the viewer."""
    name = "exec-" + "-".join(verbs)
    rules: list[Obj] = [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": verbs}]
    await bind_role_to_viewer(api, name, name, rules)


EXEC = "/api/v1/namespaces/default/pods/web/exec?command=true&stdout=true"


async def test_a_websocket_exec_needs_create_not_only_get(api: Api) -> None:
    """AuthorizePodWebsocketUpgradeCreatePermission (beta, on since 1.35): the GET that a
    WebSocket upgrade is would otherwise let a read-only role run commands."""
    await bind_exec_verbs_to_viewer(api, ["get"])

    async def refused_for_create() -> bool:
        status, answer = await api.json("GET", EXEC, token=VIEWER_TOKEN)
        return status == 403 and "cannot create" in answer["message"]

    await wait_for(refused_for_create, what="the get-only exec to be refused for create")
    _, answer = await api.json("GET", EXEC, token=VIEWER_TOKEN)
    assert answer["message"] == (
        'pods "web" is forbidden: User "viewer" cannot create resource "pods/exec" in API group '
        '"" in the namespace "default"'
    )
    await bind_exec_verbs_to_viewer(api, ["create"])

    async def let_through() -> bool:
        # Authorized: the missing pod is what answers now.
        status, _ = await api.json("GET", EXEC, token=VIEWER_TOKEN)
        return status == 404

    await wait_for(let_through, what="get and create on pods/exec to let the viewer through")
