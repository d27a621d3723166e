"""CSR admission through the HTTP API: CertificateApproval, CertificateSigning and
CertificateSubjectRestriction, with RBAC on, in Kubernetes' words.

The viewer (bearer token, groups viewers and auditors) is granted, in the policy cache, the
RBAC rights a test needs; approving and signing then also need `approve` or `sign` on the
synthetic `signers` resource named for the request's signer, or for `<domain>/*`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from apiserver_fixtures import (
    ADMIN_TOKEN,
    VIEWER_TOKEN,
    Api,
    Stores,
    build_application,
    seed_default_policy,
)
from csr_fixtures import CLIENT, b64, condition, csr_object, request_pem

from kubelite.api.kinds import REGISTRY
from kubelite.apiserver import admission
from kubelite.apiserver.certificates_admission import subject_restriction
from kubelite.apiserver.rbac.authorizer import Authorizer
from kubelite.apiserver.rbac.policy import CLUSTER_ROLE_BINDINGS, CLUSTER_ROLES, PolicyCache
from kubelite.apiserver.server import resource_stores
from kubelite.storage.sqlite import SqliteStore

Obj = dict[str, Any]
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
GROUP = "certificates.k8s.io"
_grants = iter(range(1_000_000))


def grant(policy: PolicyCache, rules: list[Obj], user: str = "viewer") -> None:
    """A ClusterRole of `rules` bound to `user`, straight into the authorizer's cache."""
    name = f"test-grant-{next(_grants)}"
    role = {"metadata": {"name": name}, "rules": rules}
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    policy.apply(f"{CLUSTER_ROLES}{name}", orjson.dumps(role))
    policy.apply(f"{CLUSTER_ROLE_BINDINGS}{name}", orjson.dumps(binding))


CSR_WRITER = [
    {"apiGroups": [GROUP], "resources": ["certificatesigningrequests"], "verbs": ["*"]},
    {
        "apiGroups": [GROUP],
        "resources": ["certificatesigningrequests/approval", "certificatesigningrequests/status"],
        "verbs": ["update", "patch", "get"],
    },
]


@pytest.fixture
async def csr_api(store: SqliteStore, tmp_path: Path) -> AsyncIterator[Api]:
    """The application with RBAC on and the CSR admission wired as the server wires it."""
    policy = PolicyCache(store)
    await policy.start()
    seed_default_policy(policy)
    authorizer = Authorizer(policy)
    stores = Stores(store)
    stores.by_resource.update(resource_stores(store, authorizer=authorizer))
    await asyncio.gather(*(stores.namespace(n) for n in admission.SYSTEM_NAMESPACES))
    application, metrics = build_application(stores, tmp_path, authorizer=authorizer)
    client = TestClient(TestServer(application.build()))
    await client.start_server()
    try:
        yield Api(client, stores, metrics, policy)
    finally:
        await client.close()
        await policy.stop()


async def create(api: Api, name: str, token: str = VIEWER_TOKEN, **kw: Any) -> tuple[int, Obj]:
    body = csr_object(name, request_pem("viewer", "viewers"), **kw)
    return await api.json("POST", CSRS, body=body, token=token)


async def approve(api: Api, name: str, token: str) -> tuple[int, Obj]:
    _, current = await api.json("GET", f"{CSRS}/{name}", token=ADMIN_TOKEN)
    current.setdefault("status", {})["conditions"] = [condition("Approved", "KubectlApprove")]
    return await api.json("PUT", f"{CSRS}/{name}/approval", body=current, token=token)


async def test_create_records_the_requester_and_starts_pending(csr_api: Api) -> None:
    assert csr_api.policy is not None
    grant(csr_api.policy, CSR_WRITER)
    status, made = await create(csr_api, "mine")
    assert status == 201, made
    assert made["spec"]["username"] == "viewer"
    assert made["spec"]["groups"] == ["viewers", "auditors", "system:authenticated"]
    assert made["status"] == {}


async def test_approval_needs_approve_on_the_signer(csr_api: Api) -> None:
    assert csr_api.policy is not None
    grant(csr_api.policy, CSR_WRITER)
    assert (await create(csr_api, "ask"))[0] == 201
    status, refused = await approve(csr_api, "ask", VIEWER_TOKEN)
    assert status == 403
    assert refused["message"] == (
        'certificatesigningrequests.certificates.k8s.io "ask" is forbidden: user not permitted '
        'to approve requests with signerName "kubernetes.io/kube-apiserver-client"'
    )
    # `<domain>/*` names every signer of the domain.
    grant(
        csr_api.policy,
        [
            {
                "apiGroups": [GROUP],
                "resources": ["signers"],
                "resourceNames": ["kubernetes.io/*"],
                "verbs": ["approve"],
            }
        ],
    )
    status, approved = await approve(csr_api, "ask", VIEWER_TOKEN)
    assert status == 200, approved
    (cond,) = approved["status"]["conditions"]
    assert cond["type"] == "Approved" and cond["lastUpdateTime"]


async def test_setting_the_certificate_needs_sign_on_the_signer(csr_api: Api) -> None:
    assert csr_api.policy is not None
    grant(csr_api.policy, CSR_WRITER)
    assert (await create(csr_api, "sig"))[0] == 201
    assert (await approve(csr_api, "sig", ADMIN_TOKEN))[0] == 200
    _, current = await csr_api.json("GET", f"{CSRS}/sig", token=ADMIN_TOKEN)
    current["status"]["conditions"].append(condition("Failed", "Nope"))
    status, refused = await csr_api.json(
        "PUT", f"{CSRS}/sig/status", body=current, token=VIEWER_TOKEN
    )
    assert status == 403
    assert refused["message"] == (
        'certificatesigningrequests.certificates.k8s.io "sig" is forbidden: user not permitted '
        'to sign requests with signerName "kubernetes.io/kube-apiserver-client"'
    )
    grant(
        csr_api.policy,
        [
            {
                "apiGroups": [GROUP],
                "resources": ["signers"],
                "resourceNames": [CLIENT],
                "verbs": ["sign"],
            }
        ],
    )
    status, signed = await csr_api.json(
        "PUT", f"{CSRS}/sig/status", body=current, token=VIEWER_TOKEN
    )
    assert status == 200, signed
    assert [c["type"] for c in signed["status"]["conditions"]] == ["Approved", "Failed"]


async def test_the_main_resource_cannot_approve(csr_api: Api) -> None:
    assert (await create(csr_api, "main", token=ADMIN_TOKEN))[0] == 201
    _, current = await csr_api.json("GET", f"{CSRS}/main", token=ADMIN_TOKEN)
    current["status"] = {"conditions": [condition("Approved")], "certificate": b64(b"x")}
    status, updated = await csr_api.json("PUT", f"{CSRS}/main", body=current, token=ADMIN_TOKEN)
    assert status == 200
    assert updated["status"] == {}


async def test_kube_apiserver_client_requests_for_system_masters_are_refused(
    csr_api: Api,
) -> None:
    body = csr_object("root", request_pem("mallory", "system:masters"))
    status, refused = await csr_api.json("POST", CSRS, body=body, token=ADMIN_TOKEN)
    assert status == 403
    assert refused["message"] == (
        'certificatesigningrequests.certificates.k8s.io "root" is forbidden: use of '
        "kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    )
    # Another signer may carry the group: the restriction is the client signer's alone.
    other = csr_object("other", request_pem("m", "system:masters"), signer="example.com/x")
    assert (await csr_api.json("POST", CSRS, body=other, token=ADMIN_TOKEN))[0] == 201


async def test_without_authorization_only_the_subject_restriction_runs(
    store: SqliteStore,
) -> None:
    csrs = REGISTRY.lookup(GROUP, "v1", "certificatesigningrequests")
    assert csrs is not None
    assert resource_stores(store)[csrs].validating == [subject_restriction]
    with_rbac = resource_stores(store, authorizer=Authorizer(PolicyCache(store)))[csrs]
    assert [type(c).__name__ for c in with_rbac.validating[1:]] == [
        "CertificateApproval",
        "CertificateSigning",
    ]
