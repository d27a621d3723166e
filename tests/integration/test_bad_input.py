"""Clients' mistakes get a clear Status with the right code, and nothing is written."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster import Cluster
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tests.examples import MANIFESTS

BROKEN = MANIFESTS / "simple-pod.yaml"


def _typo_only() -> str:
    """The seed's broken pod with its tabs fixed: only the `imgae` typo is left."""
    return BROKEN.read_text().replace("\t\t", "    ").replace("\t", "  ")


def _request(
    cluster: Cluster,
    method: str,
    path: str,
    body: bytes | None = None,
    authenticated: bool = True,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return cluster.request(method, path, body, authenticated=authenticated)


def test_kubectl_names_the_tab_in_the_seed_manifest(cluster: Cluster):
    out = cluster.kubectl("apply", "-f", str(BROKEN), check=False)
    assert out.returncode == 1
    assert "yaml: line 4: found character that cannot start any token" in out.stderr


def test_strict_decoding_names_the_unknown_field(cluster: Cluster, namespace: str):
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=_typo_only(), check=False)
    assert out.returncode == 1
    assert (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field '
        '"spec.containers[0].imgae"'
    ) in out.stderr
    assert "BadRequest" in out.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""


def test_ignoring_unknown_fields_leaves_the_missing_image(cluster: Cluster, namespace: str):
    out = cluster.kubectl(
        "create", "--validate=false", "-n", namespace, "-f", "-", stdin=_typo_only(), check=False
    )
    assert out.returncode == 1
    assert 'The Pod "simple-pod" is invalid: spec.containers[0].image: Required value' in out.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""


def test_warn_mode_answers_with_a_warning_header(cluster: Cluster, namespace: str):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "warned"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "colour": "blue"}]},
    }
    status, body, headers = _request(
        cluster,
        "POST",
        f"/api/v1/namespaces/{namespace}/pods?fieldValidation=Warn",
        json.dumps(pod).encode(),
    )
    assert status == 201
    assert "colour" not in body["spec"]["containers"][0]
    assert headers["Warning"] == '299 - "unknown field \\"spec.containers[0].colour\\""'


def test_duplicate_fields_are_refused_in_strict_mode(cluster: Cluster, namespace: str):
    body = (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},'
        b'"data":{"k":"v"}}'
    )
    status, answer, _ = _request(
        cluster, "POST", f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Strict", body
    )
    assert status == 400
    assert answer["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'duplicate field "metadata.name"'
    )


def test_malformed_json_is_a_bad_request_that_says_where(cluster: Cluster, namespace: str):
    status, answer, _ = _request(
        cluster, "POST", f"/api/v1/namespaces/{namespace}/pods", b'{"apiVersion": "v1",\n  kind}'
    )
    assert status == 400 and answer["kind"] == "Status" and answer["reason"] == "BadRequest"
    assert "line 2" in answer["message"]


def test_wrong_types_are_a_bad_request_naming_the_field(cluster: Cluster, namespace: str):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "typed"},
        "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": "80"}]}]},
    }
    status, answer, _ = _request(
        cluster, "POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode()
    )
    assert status == 400
    assert answer["message"] == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go '
        "struct field ContainerPort.spec.containers.ports.containerPort of type int32"
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/namespaces/default/widgets", "the server could not find the requested resource"),
        ("/apis/nosuch.example.com/v1/things", "the server could not find the requested resource"),
        ("/api/v1/namespaces/default/pods/ghost", 'pods "ghost" not found'),
        ("/api/v1/namespaces/nowhere", 'namespaces "nowhere" not found'),
    ],
)
def test_unknown_things_are_404_statuses(cluster: Cluster, path: str, message: str):
    status, answer, _ = _request(cluster, "GET", path)
    assert status == 404
    assert answer["kind"] == "Status" and answer["reason"] == "NotFound"
    assert answer["message"] == message


def test_creating_in_a_missing_namespace_is_404(cluster: Cluster):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    status, answer, _ = _request(
        cluster, "POST", "/api/v1/namespaces/nowhere/pods", json.dumps(pod).encode()
    )
    assert status == 404 and answer["message"] == 'namespaces "nowhere" not found'


def test_wrong_method_is_405(cluster: Cluster):
    status, answer, _ = _request(cluster, "PUT", "/api/v1/namespaces/default/pods", b"{}")
    assert status == 405 and answer["reason"] == "MethodNotAllowed"


def test_bodies_over_3_mib_are_413(cluster: Cluster, namespace: str):
    big = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big"},
        "data": {"blob": "x" * (3 * 1024 * 1024)},
    }
    status, answer, _ = _request(
        cluster, "POST", f"/api/v1/namespaces/{namespace}/configmaps", json.dumps(big).encode()
    )
    assert status == 413 and answer["reason"] == "RequestEntityTooLarge"


def test_requests_without_credentials_are_401(cluster: Cluster):
    status, answer, _ = _request(cluster, "GET", "/api/v1/pods", authenticated=False)
    assert status == 401 and answer["reason"] == "Unauthorized"
    status, version, _ = _request(cluster, "GET", "/version", authenticated=False)
    assert status == 200 and version["major"] == "1"


LOG_IN = "error: You must be logged in to the server ("


def test_kubectl_with_a_wrong_token_is_told_to_log_in(cluster: Cluster, tmp_path: Path):
    config = yaml_with_token(cluster.kubeconfig.read_text(), "not-a-valid-token")
    path = tmp_path / "anonymous.yaml"
    path.write_text(config)
    out = cluster.kubectl("--kubeconfig", str(path), "get", "pods", check=False)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith(LOG_IN)


def _certificate_kubeconfig(
    cluster: Cluster, tmp_path: Path, *, expired: bool, user: str = "alice"
) -> Path:
    """A kubeconfig with a client certificate for `user` signed by the cluster's own CA,
    valid for the last hour (expired) or the next."""
    ca_cert = x509.load_pem_x509_certificate((cluster.data_dir / "tls" / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (cluster.data_dir / "tls" / "ca.key").read_bytes(), password=None
    )
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(hours=2) if expired else now - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(hours=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"] = {
        "client-certificate-data": base64.b64encode(
            cert.public_bytes(serialization.Encoding.PEM)
        ).decode(),
        "client-key-data": base64.b64encode(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ).decode(),
    }
    path = tmp_path / ("expired.yaml" if expired else "current.yaml")
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_expired_certificate_is_401_not_a_failed_handshake(cluster: Cluster, tmp_path: Path):
    expired = _certificate_kubeconfig(cluster, tmp_path, expired=True)
    out = cluster.kubectl("--kubeconfig", str(expired), "get", "pods", check=False)
    assert out.returncode == 1
    # kubectl's words depend on whether its discovery cache is warm: the discovery request's
    # 401 reads "the server has asked for the client to provide credentials", a resource
    # request's "Unauthorized" (kube-apiserver's own Status); either way it is a 401.
    assert out.stderr.strip().splitlines()[-1].startswith(LOG_IN)
    # The same user with a current certificate is authenticated (and, holding no role, 403).
    current = _certificate_kubeconfig(cluster, tmp_path, expired=False)
    whoami = cluster.kubectl("--kubeconfig", str(current), "auth", "whoami", "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "alice"


def yaml_with_token(text: str, token: str) -> str:
    config = yaml.safe_load(text)
    config["users"][0]["user"] = {"token": token}
    return yaml.safe_dump(config)


def test_the_admin_token_is_accepted(cluster: Cluster, tmp_path: Path):
    token = next(
        line.split(",")[0]
        for line in (cluster.data_dir / "tls" / "tokens.csv").read_text().splitlines()
    )
    path = tmp_path / "token.yaml"
    path.write_text(yaml_with_token(cluster.kubeconfig.read_text(), token))
    out = cluster.kubectl("--kubeconfig", str(path), "get", "namespaces", "-o", "name")
    assert "namespace/default" in out.stdout.split()


def test_invalid_objects_name_every_field(cluster: Cluster, namespace: str):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "Bad_Name"},
        "spec": {"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]},
    }
    status, answer, _ = _request(
        cluster, "POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode()
    )
    assert status == 422 and answer["reason"] == "Invalid"
    fields = {c["field"] for c in answer["details"]["causes"]}
    assert {"metadata.name", "spec.containers[1].name"} <= fields
    assert answer["message"].startswith('Pod "Bad_Name" is invalid: [')


def test_an_empty_node_selector_term_list_is_refused(cluster: Cluster, namespace: str):
    """An empty `nodeSelectorTerms` matches no node: refused at once, not left Pending."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "nowhere"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                }
            },
        },
    }
    out = cluster.kubectl(
        "apply", "-v=6", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(pod), check=False
    )
    assert out.returncode == 1
    assert "422 Unprocessable Entity" in out.stderr
    assert (
        'The Pod "nowhere" is invalid: spec.affinity.nodeAffinity.'
        "requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: "
        "must have at least one node selector term"
    ) in out.stderr
    assert cluster.kubectl("get", "pods", "-n", namespace, "-o", "name").stdout == ""
