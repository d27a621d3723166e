"""Requests through the real application with an audit log: the events each stage writes, as
kube-apiserver's audit filters write them (RequestReceived, ResponseStarted for long-running
requests, ResponseComplete, Panic), with the decision, the user acted as, the objects, and the
Audit-ID on every answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from apiserver_fixtures import ADMIN_TOKEN, VIEWER_TOKEN, Api, Stores, seed_default_policy

from kubelite.apiserver.audit import Auditor
from kubelite.apiserver.audit.log_backend import LogBackend
from kubelite.apiserver.audit.policy import parse_policy
from kubelite.apiserver.auth import Authenticator
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.policy import PolicyCache
from kubelite.apiserver.server import Serving, assemble

POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*"]
- level: RequestResponse
  verbs: [create, update, patch, delete]
  resources: [{group: "", resources: [pods]}]
- level: RequestResponse
  omitManagedFields: true
  resources: [{group: "", resources: [configmaps]}]
- level: Metadata
"""

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
}

Obj = dict[str, Any]


@dataclass
class Audited:
    api: Api
    backend: LogBackend
    path: Path

    def events(self, where: Callable[[Obj], bool] = lambda e: True) -> list[Obj]:
        self.backend.flush()
        return [e for e in map(orjson.loads, self.path.read_bytes().splitlines()) if where(e)]

    def of(self, audit_id: str) -> list[Obj]:
        return self.events(lambda e: e["auditID"] == audit_id)


@pytest.fixture
async def audited(stores: Stores, tmp_path: Path) -> AsyncIterator[Audited]:
    policy = PolicyCache(stores.store)
    await policy.start()
    seed_default_policy(policy)
    tokens = tmp_path / "tokens.csv"
    tokens.write_text(
        f'{ADMIN_TOKEN},system:admin,system:admin,"system:masters"\n'
        f'{VIEWER_TOKEN},viewer,viewer,"viewers"\n'
    )
    log_path = tmp_path / "audit.log"
    backend = LogBackend.open(str(log_path))
    serving = Serving(
        authenticator=Authenticator(tokens),
        server_address="127.0.0.1:6443",
        ready=lambda: True,
        authorizer=Authorizer(policy),
        auditor=Auditor(parse_policy(POLICY), backend),
    )
    assembly = assemble(stores.store, serving, stores=stores.by_resource)
    client = TestClient(TestServer(assembly.application.build()))
    await client.start_server()
    await stores.namespace("audited")
    try:
        yield Audited(Api(client, stores, assembly.metrics, policy), backend, log_path)
    finally:
        await client.close()
        await policy.stop()
        backend.close()


async def test_a_pod_create_is_logged_with_its_request_and_response_objects(
    audited: Audited,
) -> None:
    response = await audited.api.request(
        "POST",
        "/api/v1/namespaces/audited/pods",
        body=POD,
        headers={"User-Agent": "kubectl/v1.33.0 (linux/amd64)"},
    )
    assert response.status == 201
    created = orjson.loads(await response.read())
    audit_id = response.headers["Audit-ID"]
    received, complete = audited.of(audit_id)
    assert received["stage"] == "RequestReceived"
    assert received["stageTimestamp"] == received["requestReceivedTimestamp"]
    # Nothing of the body is known when the request arrives.
    assert "requestObject" not in received and "responseStatus" not in received
    assert complete["stage"] == "ResponseComplete"
    assert complete["level"] == "RequestResponse"
    assert complete["verb"] == "create"
    assert complete["requestURI"] == "/api/v1/namespaces/audited/pods"
    assert complete["user"] == {
        "username": "system:admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    assert complete["sourceIPs"] == ["127.0.0.1"]
    assert complete["userAgent"] == "kubectl/v1.33.0 (linux/amd64)"
    # The name comes from the request object, as LogRequestObject fills it.
    assert complete["objectRef"] == {
        "resource": "pods",
        "namespace": "audited",
        "name": "web",
        "apiVersion": "v1",
    }
    assert complete["responseStatus"] == {"metadata": {}, "code": 201}
    assert complete["requestObject"] == POD
    assert complete["responseObject"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert complete["annotations"] == {
        "authorization.k8s.io/decision": "allow",
        "authorization.k8s.io/reason": "",
        "pod-security.kubernetes.io/enforce-policy": "privileged:latest",
    }


async def test_a_client_audit_id_is_kept_and_echoed(audited: Audited) -> None:
    response = await audited.api.request(
        "GET", "/api/v1/namespaces/audited/pods", headers={"Audit-ID": "my-own-id"}
    )
    assert response.headers["Audit-ID"] == "my-own-id"
    stages = [e["stage"] for e in audited.of("my-own-id")]
    assert stages == ["RequestReceived", "ResponseComplete"]


async def test_a_forbidden_request_is_logged_with_the_decision_and_the_status(
    audited: Audited,
) -> None:
    response = await audited.api.request(
        "GET", "/api/v1/namespaces/audited/pods", token=VIEWER_TOKEN
    )
    assert response.status == 403
    complete = audited.of(response.headers["Audit-ID"])[-1]
    assert complete["level"] == "Metadata"
    assert complete["verb"] == "list"
    assert complete["annotations"] == {
        "authorization.k8s.io/decision": "forbid",
        "authorization.k8s.io/reason": "",
    }
    assert complete["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": 'pods is forbidden: User "viewer" cannot list resource "pods" in API group '
        '"" in the namespace "audited"',
        "reason": "Forbidden",
        "details": {"kind": "pods"},
        "code": 403,
    }
    assert "responseObject" not in complete


async def test_an_allowed_request_says_which_binding_allowed_it(audited: Audited) -> None:
    response = await audited.api.request("GET", "/version", token=VIEWER_TOKEN)
    assert response.status == 200
    complete = audited.of(response.headers["Audit-ID"])[-1]
    assert complete["verb"] == "get"
    assert "objectRef" not in complete
    assert complete["annotations"]["authorization.k8s.io/reason"] == (
        'RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole '
        '"system:discovery" to Group "system:authenticated"'
    )


async def test_refused_credentials_are_one_event_with_no_user(audited: Audited) -> None:
    response = await audited.api.request(
        "GET", "/api/v1/namespaces/audited/pods", token="not-a-token"
    )
    assert response.status == 401
    (event,) = audited.of(response.headers["Audit-ID"])
    assert event["stage"] == "ResponseStarted"
    assert event["user"] == {}
    assert "annotations" not in event
    assert event["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


async def test_a_watch_is_logged_when_it_starts_and_when_it_ends(audited: Audited) -> None:
    response = await audited.api.request(
        "GET",
        "/api/v1/namespaces/audited/pods",
        params={"watch": "true", "timeoutSeconds": "1"},
    )
    assert response.status == 200
    audit_id = response.headers["Audit-ID"]
    # While the watch runs, its start is already in the log.
    started = audited.of(audit_id)
    assert [e["stage"] for e in started] == ["RequestReceived", "ResponseStarted"]
    assert started[1]["verb"] == "watch"
    assert started[1]["responseStatus"] == {"metadata": {}, "code": 200}
    await response.read()
    await asyncio.sleep(0.05)
    stages = [e["stage"] for e in audited.of(audit_id)]
    assert stages == ["RequestReceived", "ResponseStarted", "ResponseComplete"]


async def test_a_forbidden_watch_still_starts_and_completes(audited: Audited) -> None:
    response = await audited.api.request(
        "GET", "/api/v1/namespaces/audited/pods", params={"watch": "1"}, token=VIEWER_TOKEN
    )
    assert response.status == 403
    events = audited.of(response.headers["Audit-ID"])
    assert [e["stage"] for e in events] == [
        "RequestReceived",
        "ResponseStarted",
        "ResponseComplete",
    ]
    assert events[1]["responseStatus"]["code"] == 403


async def test_impersonation_logs_both_users(audited: Audited) -> None:
    response = await audited.api.request(
        "GET",
        "/api/v1/namespaces/audited/configmaps",
        headers={"Impersonate-User": "bob", "Impersonate-Group": "team"},
    )
    assert response.status == 403
    complete = audited.of(response.headers["Audit-ID"])[-1]
    assert complete["user"]["username"] == "system:admin"
    assert complete["impersonatedUser"] == {
        "username": "bob",
        "groups": ["team", "system:authenticated"],
    }
    assert complete["annotations"]["authorization.k8s.io/decision"] == "forbid"


async def test_omit_managed_fields_drops_them_from_logged_objects(audited: Audited) -> None:
    body = {"metadata": {"name": "cm"}, "data": {"a": "b"}}
    response = await audited.api.request("POST", "/api/v1/namespaces/audited/configmaps", body=body)
    assert response.status == 201
    assert orjson.loads(await response.read())["metadata"]["managedFields"]
    complete = audited.of(response.headers["Audit-ID"])[-1]
    assert "managedFields" not in complete["responseObject"]["metadata"]
    listed = await audited.api.request("GET", "/api/v1/namespaces/audited/configmaps")
    listing = audited.of(listed.headers["Audit-ID"])[-1]["responseObject"]
    assert listing["items"] and "managedFields" not in listing["items"][0]["metadata"]


async def test_an_update_at_metadata_level_names_the_objects_uid_and_version(
    audited: Audited,
) -> None:
    status, secret = await audited.api.json(
        "POST", "/api/v1/namespaces/audited/secrets", body={"metadata": {"name": "s"}}
    )
    assert status == 201
    response = await audited.api.request("PUT", "/api/v1/namespaces/audited/secrets/s", body=secret)
    assert response.status == 200
    complete = audited.of(response.headers["Audit-ID"])[-1]
    assert complete["level"] == "Metadata"
    assert complete["objectRef"] == {
        "resource": "secrets",
        "namespace": "audited",
        "name": "s",
        "uid": secret["metadata"]["uid"],
        "apiVersion": "v1",
        "resourceVersion": secret["metadata"]["resourceVersion"],
    }
    # Metadata: the body itself is not logged.
    assert "requestObject" not in complete


async def test_unlogged_paths_write_nothing_but_still_answer_with_an_audit_id(
    audited: Audited,
) -> None:
    response = await audited.api.request("GET", "/healthz")
    assert response.status == 200
    assert response.headers["Audit-ID"]
    assert audited.of(response.headers["Audit-ID"]) == []


async def test_an_unexpected_error_is_logged_at_stage_panic(
    audited: Audited, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubelite.apiserver.app import Application

    async def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Application, "route", broken)
    response = await audited.api.request("GET", "/api/v1/namespaces/audited/pods")
    assert response.status == 500
    events = audited.of(response.headers["Audit-ID"])
    assert [e["stage"] for e in events] == ["RequestReceived", "Panic"]
    assert events[1]["responseStatus"] == {
        "metadata": {},
        "status": "Failure",
        "message": "APIServer panic'd: boom",
        "reason": "InternalError",
        "code": 500,
    }


async def test_pod_security_audit_violations_are_annotated(audited: Audited) -> None:
    stores = audited.api.stores
    labels = {"pod-security.kubernetes.io/audit": "restricted"}
    await stores.of("namespaces").create(
        "", {"metadata": {"name": "restricted-audit", "labels": labels}}
    )
    await stores.of("serviceaccounts").create("restricted-audit", {"metadata": {"name": "default"}})
    response = await audited.api.request(
        "POST", "/api/v1/namespaces/restricted-audit/pods", body=POD
    )
    assert response.status == 201
    # Audit mode warns no one: the answer has no warning.
    assert "Warning" not in response.headers
    annotations = audited.of(response.headers["Audit-ID"])[-1]["annotations"]
    assert annotations["pod-security.kubernetes.io/enforce-policy"] == "privileged:latest"
    assert annotations["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "c" must set securityContext.allowPrivilegeEscalation=false)'
    )


async def test_every_answer_has_an_audit_id_without_an_audit_log(api: Api) -> None:
    first = await api.request("GET", "/api/v1/namespaces/default/pods")
    second = await api.request("GET", "/version")
    assert first.headers["Audit-ID"] != second.headers["Audit-ID"]
    assert len(first.headers["Audit-ID"]) == 36
