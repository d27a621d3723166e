"""Service account tokens against a real server: `kubectl create token`, the TokenRequest API's
answers and refusals, and the tokens used as kubectl's only credential."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import kubernetes
import pytest
import yaml
from cluster import Cluster

from kubelite.apiserver import serviceaccount_token as sat

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"


def _wait(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _default_account(cluster: Cluster, namespace: str) -> Obj:
    """The namespace's `default` ServiceAccount, which the controller manager makes, allowed
    to read the namespace (under RBAC it holds nothing by itself: test_rbac shows the 403)."""

    def get() -> Obj | None:
        status, account, _ = cluster.request(
            "GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
        )
        return account if status == 200 else None

    account = _wait(f"the default ServiceAccount of {namespace}", get)
    subject = f"{namespace}:default"
    cluster.kubectl(
        "create",
        "rolebinding",
        "default-view",
        "--clusterrole=view",
        f"--serviceaccount={subject}",
        "-n",
        namespace,
    )
    user = f"--as=system:serviceaccount:{subject}"

    def allowed() -> bool:
        answer = cluster.kubectl(
            "auth", "can-i", "list", "pods", "-n", namespace, user, check=False
        )
        return answer.stdout == "yes\n"

    _wait("the default ServiceAccount to read pods", allowed)
    return account


def _claims(token: str) -> Obj:
    return jwt.decode(token, options={"verify_signature": False})


def _token_kubeconfig(cluster: Cluster, token: str, path: Path) -> Path:
    """A kubeconfig with the cluster's CA and `token` as the only credential."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _kubectl_as(cluster: Cluster, kubeconfig: Path, *args: str) -> Any:
    # --kubeconfig wins over the admin's KUBECONFIG that Cluster.env() sets.
    return cluster.kubectl("--kubeconfig", str(kubeconfig), *args, check=False)


def _token_request(cluster: Cluster, namespace: str, account: str, spec: Obj, **md: str) -> Any:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    if md:
        body["metadata"] = md
    return cluster.request(
        "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", body
    )


def test_kubectl_create_token_prints_a_token_kubectl_can_log_in_with(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    account = _default_account(cluster, namespace)
    token = cluster.kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{namespace}:default"
    assert claims["iss"] == claims["aud"][0] == "https://kubernetes.default.svc.cluster.local"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["kubernetes.io"] == {
        "namespace": namespace,
        "serviceaccount": {"name": "default", "uid": account["metadata"]["uid"]},
    }
    kubeconfig = _token_kubeconfig(cluster, token, tmp_path / "token.yaml")
    listed = _kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace)
    assert listed.returncode == 0, listed.stderr
    assert "No resources found" in listed.stderr


def test_garbage_expired_and_revoked_tokens_are_unauthorized(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    account = _default_account(cluster, namespace)
    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": sat.ISSUER,
            "sub": f"system:serviceaccount:{namespace}:default",
            "aud": [sat.API_AUDIENCE],
            "iat": now - 7200,
            "nbf": now - 7200,
            "exp": now - 3600,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "serviceaccount": {"name": "default", "uid": account["metadata"]["uid"]},
            },
        },
        (cluster.data_dir / "tls" / "sa.key").read_bytes(),
        algorithm="RS256",
    )
    good = cluster.kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    for name, token in [("garbage", "not-a-token"), ("expired", expired)]:
        kubeconfig = _token_kubeconfig(cluster, token, tmp_path / f"{name}.yaml")
        refused = _kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace)
        assert refused.returncode != 0, name
        assert UNAUTHORIZED in refused.stderr, (name, refused.stderr)

    kubeconfig = _token_kubeconfig(cluster, good, tmp_path / "good.yaml")
    assert _kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace).returncode == 0
    # A token dies with its service account, even when the account comes back.
    cluster.kubectl("delete", "sa", "default", "-n", namespace)
    refused = _kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace)
    assert UNAUTHORIZED in refused.stderr


def test_a_token_request_answers_with_the_request_and_its_token(
    cluster: Cluster, namespace: str
) -> None:
    _default_account(cluster, namespace)
    status, answer, _ = _token_request(cluster, namespace, "default", {"expirationSeconds": 600})
    assert status == 201, answer
    assert answer["kind"] == "TokenRequest"
    assert answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    claims = _claims(answer["status"]["token"])
    assert answer["status"]["expirationTimestamp"] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"])
    )
    assert claims["exp"] - claims["iat"] == 600


def test_a_token_bound_to_a_pod_carries_the_pod_and_node_claims(
    cluster: Cluster, namespace: str
) -> None:
    account = _default_account(cluster, namespace)
    with cluster.client() as client:
        core = kubernetes.client.CoreV1Api(client)
        node_name = f"node-{namespace}"
        node = core.create_node({"metadata": {"name": node_name}})
        try:
            pod = core.create_namespaced_pod(
                namespace,
                {
                    "metadata": {"name": "web"},
                    "spec": {
                        "nodeName": node_name,
                        "containers": [{"name": "c", "image": "busybox"}],
                    },
                },
            )
            made = core.create_namespaced_service_account_token(
                "default",
                namespace,
                {
                    "spec": {
                        "audiences": ["vault"],
                        "boundObjectRef": {
                            "kind": "Pod",
                            "apiVersion": "v1",
                            "name": "web",
                            "uid": pod.metadata.uid,
                        },
                    }
                },
            )
        finally:
            core.delete_node(node_name)
    claims = _claims(made.status.token)
    assert claims["aud"] == ["vault"]
    assert claims["kubernetes.io"] == {
        "namespace": namespace,
        "serviceaccount": {"name": "default", "uid": account["metadata"]["uid"]},
        "pod": {"name": "web", "uid": pod.metadata.uid},
        "node": {"name": node_name, "uid": node.metadata.uid},
    }


def test_a_pod_bound_token_authenticates_until_the_pod_is_gone(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    _default_account(cluster, namespace)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "api-user"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=json.dumps(pod))
    token = cluster.kubectl(
        "create",
        "token",
        "default",
        "-n",
        namespace,
        "--bound-object-kind=Pod",
        "--bound-object-name=api-user",
    ).stdout.strip()
    assert _claims(token)["kubernetes.io"]["pod"]["name"] == "api-user"
    assert "node" not in _claims(token)["kubernetes.io"]
    kubeconfig = _token_kubeconfig(cluster, token, tmp_path / "pod.yaml")
    assert _kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace).returncode == 0
    # No kubelet runs here, so the pod goes at once rather than after its grace period.
    cluster.kubectl("delete", "pod", "api-user", "-n", namespace, "--grace-period=0", "--force")
    refused = _kubectl_as(cluster, kubeconfig, "get", "pods", "-n", namespace)
    assert UNAUTHORIZED in refused.stderr


@pytest.mark.parametrize(
    ("account", "spec", "metadata", "code", "message"),
    [
        ("nobody", {}, {}, 404, 'serviceaccounts "nobody" not found'),
        (
            "default",
            {"expirationSeconds": 10},
            {},
            422,
            "spec.expirationSeconds: Invalid value: 10: may not specify a duration less than "
            "10 minutes",
        ),
        (
            "default",
            {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nopod"}},
            {},
            404,
            'pods "nopod" not found',
        ),
        (
            "default",
            {"boundObjectRef": {"kind": "Deployment", "apiVersion": "apps/v1", "name": "d"}},
            {},
            400,
            "cannot bind token to object of type apps/v1, Kind=Deployment",
        ),
        (
            "default",
            {},
            {"name": "someone-else"},
            422,
            'metadata.name: Invalid value: "someone-else": must match the service account '
            "name if specified",
        ),
    ],
)
def test_token_requests_are_refused_with_kubernetes_statuses(
    cluster: Cluster,
    namespace: str,
    account: str,
    spec: Obj,
    metadata: dict[str, str],
    code: int,
    message: str,
) -> None:
    _default_account(cluster, namespace)
    status, answer, _ = _token_request(cluster, namespace, account, spec, **metadata)
    assert (status, answer["kind"], answer["code"]) == (code, "Status", code)
    assert message in answer["message"]


def test_a_bound_object_recreated_under_another_uid_is_a_conflict(
    cluster: Cluster, namespace: str
) -> None:
    _default_account(cluster, namespace)
    cluster.kubectl("create", "secret", "generic", "s", "-n", namespace)
    ref = {"kind": "Secret", "apiVersion": "v1", "name": "s", "uid": "not-its-uid"}
    status, answer, _ = _token_request(cluster, namespace, "default", {"boundObjectRef": ref})
    assert status == 409
    assert answer["reason"] == "Conflict"
    assert answer["message"] == (
        'Operation cannot be fulfilled on Secret "s": the UID in the bound object reference '
        "(not-its-uid) does not match the UID in record. The object might have been deleted "
        "and then recreated"
    )


def test_the_issuer_publishes_its_discovery_documents(cluster: Cluster, namespace: str) -> None:
    _default_account(cluster, namespace)
    token = cluster.kubectl("create", "token", "default", "-n", namespace).stdout.strip()
    status, config, _ = cluster.request("GET", "/.well-known/openid-configuration")
    assert status == 200
    assert config["issuer"] == sat.ISSUER
    assert config["jwks_uri"].endswith("/openid/v1/jwks")
    status, raw, headers = cluster.request("GET", "/openid/v1/jwks")
    assert status == 200
    assert headers["Content-Type"].startswith("application/jwk-set+json")
    (key,) = json.loads(raw)["keys"]
    assert key["kid"] == jwt.get_unverified_header(token)["kid"]
    # The published key verifies the token, as an external relying party would check it.
    public = jwt.algorithms.RSAAlgorithm.from_jwk(key)
    assert jwt.decode(token, public, algorithms=["RS256"], audience=sat.API_AUDIENCE)
