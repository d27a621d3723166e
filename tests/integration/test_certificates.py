"""CertificateSigningRequests against a real server, with the real kubectl.

A user with a key of their own asks for a client certificate (`kubectl create -f csr.yaml`),
the admin approves it (`kubectl certificate approve`), the control plane's csrsigning
controller issues it from the cluster CA, and the certificate then authenticates as that user
(`kubectl auth whoami`). Denying, approving without the right to, and asking for
`system:masters` meet Kubernetes' answers.
"""

from __future__ import annotations

import base64
import json
import subprocess
from itertools import count
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.integration.cluster import Cluster, kubectl_binary, wait_for

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
_names = count()


def _kubectl(
    kubeconfig: Path, cluster: Cluster, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = cluster.env()
    env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [kubectl_binary(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _user_kubeconfig(cluster: Cluster, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.kubeconfig"
    cluster.kubelite(
        "kubeconfig", "--user", name, "--data-dir", str(cluster.data_dir), "-o", str(path)
    )
    return path


def _request(cn: str, *groups: str) -> tuple[bytes, bytes]:
    """A key and a PEM CERTIFICATE REQUEST for it, as `openssl req -new` would make them."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attrs))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, request.public_bytes(serialization.Encoding.PEM)


def _manifest(name: str, request_pem: bytes, seconds: int | None = 86400) -> str:
    spec: dict[str, object] = {
        "request": base64.b64encode(request_pem).decode(),
        "signerName": CLIENT_SIGNER,
        "usages": ["client auth"],
    }
    if seconds is not None:
        spec["expirationSeconds"] = seconds
    return yaml.safe_dump(
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def _requester(cluster: Cluster, tmp_path: Path) -> Path:
    """A user who may create and read CSRs, and nothing more about them."""
    name = f"requester{next(_names)}"
    kubeconfig = _user_kubeconfig(cluster, tmp_path, name)
    role = f"{name}-csr-creator"
    cluster.kubectl(
        "create",
        "clusterrole",
        role,
        "--verb=create,get,list,watch",
        "--resource=certificatesigningrequests",
    )
    cluster.kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}", f"--user={name}")
    wait_for(
        "the requester's binding",
        lambda: (
            _kubectl(kubeconfig, cluster, "auth", "can-i", "create", "csr").stdout.strip() == "yes"
        ),
    )
    return kubeconfig


def _get_csr(cluster: Cluster, name: str) -> dict[str, object]:
    return json.loads(cluster.kubectl("get", "csr", name, "-o", "json").stdout)


def test_a_user_gets_a_client_certificate_that_authenticates_as_them(
    cluster: Cluster, tmp_path: Path
) -> None:
    requester = _requester(cluster, tmp_path)
    key_pem, request_pem = _request("jane", "dev", "ops")
    name = f"jane-{next(_names)}"
    (tmp_path / "csr.yaml").write_text(_manifest(name, request_pem))
    created = _kubectl(requester, cluster, "create", "-f", str(tmp_path / "csr.yaml"))
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == (
        f"certificatesigningrequest.certificates.k8s.io/{name} created"
    )

    listed = _kubectl(requester, cluster, "get", "csr", name)
    header, row = listed.stdout.splitlines()
    assert header.split() == [
        "NAME",
        "AGE",
        "SIGNERNAME",
        "REQUESTOR",
        "REQUESTEDDURATION",
        "CONDITION",
    ]
    cells = row.split()
    assert cells[0] == name
    assert cells[2:] == [CLIENT_SIGNER, requester.stem, "24h", "Pending"]

    approved = cluster.kubectl("certificate", "approve", name)
    assert approved.stdout.strip() == (
        f"certificatesigningrequest.certificates.k8s.io/{name} approved"
    )
    certificate = wait_for(
        "the signer to issue the certificate",
        lambda: cluster.kubectl(
            "get", "csr", name, "-o", "jsonpath={.status.certificate}"
        ).stdout.strip(),
    )
    row = cluster.kubectl("get", "csr", name, "--no-headers").stdout.split()
    assert row[-1] == "Approved,Issued"
    csr = _get_csr(cluster, name)
    status = csr["status"]
    assert isinstance(status, dict)
    (condition,) = status["conditions"]
    assert condition["type"] == "Approved"
    assert condition["reason"] == "KubectlApprove"

    # The issued certificate in a kubeconfig of its own: the server knows it as jane.
    cert_pem = base64.b64decode(certificate)
    issued = x509.load_pem_x509_certificate(cert_pem)
    lifetime = issued.not_valid_after_utc - issued.not_valid_before_utc
    assert lifetime.total_seconds() == 86400  # 24h asked, backdated 5 minutes at both ends
    config = yaml.safe_load(requester.read_text())
    user = config["users"][0]["user"]
    user.clear()
    user["client-certificate-data"] = certificate
    user["client-key-data"] = base64.b64encode(key_pem).decode()
    jane = tmp_path / "jane.kubeconfig"
    jane.write_text(yaml.safe_dump(config))
    whoami = _kubectl(jane, cluster, "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    info = json.loads(whoami.stdout)["status"]["userInfo"]
    assert info["username"] == "jane"
    assert info["groups"] == ["dev", "ops", "system:authenticated"]


def test_a_denied_request_shows_denied_and_is_never_issued(
    cluster: Cluster, tmp_path: Path
) -> None:
    requester = _requester(cluster, tmp_path)
    _, request_pem = _request("nobody")
    name = f"denied-{next(_names)}"
    created = _kubectl(requester, cluster, "create", "-f", "-", stdin=_manifest(name, request_pem))
    assert created.returncode == 0, created.stderr
    denied = cluster.kubectl("certificate", "deny", name)
    assert denied.stdout.strip() == f"certificatesigningrequest.certificates.k8s.io/{name} denied"
    row = cluster.kubectl("get", "csr", name, "--no-headers").stdout.split()
    assert row[-1] == "Denied"
    csr = _get_csr(cluster, name)
    status = csr["status"]
    assert isinstance(status, dict)
    assert [c["type"] for c in status["conditions"]] == ["Denied"]
    assert "certificate" not in status


def test_approving_without_approve_on_the_signer_is_forbidden(
    cluster: Cluster, tmp_path: Path
) -> None:
    requester = _requester(cluster, tmp_path)
    _, request_pem = _request("someone")
    name = f"unapproved-{next(_names)}"
    assert (
        _kubectl(requester, cluster, "create", "-f", "-", stdin=_manifest(name, request_pem))
    ).returncode == 0
    # RBAC lets the write to /approval through; the signer's `approve` is what is missing.
    user = requester.stem
    role = f"{user}-approval-writer"
    cluster.kubectl(
        "create",
        "clusterrole",
        role,
        "--verb=update",
        "--resource=certificatesigningrequests/approval",
    )
    cluster.kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}", f"--user={user}")
    wait_for(
        "the approval writer's binding",
        lambda: (
            _kubectl(
                requester,
                cluster,
                "auth",
                "can-i",
                "update",
                "certificatesigningrequests",
                "--subresource=approval",
            ).stdout.strip()
            == "yes"
        ),
    )
    refused = _kubectl(requester, cluster, "certificate", "approve", name)
    assert refused.returncode != 0
    assert (
        f'Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "{name}" '
        "is forbidden: user not permitted to approve requests with signerName "
        f'"{CLIENT_SIGNER}"'
    ) in refused.stderr
    row = cluster.kubectl("get", "csr", name, "--no-headers").stdout.split()
    assert row[-1] == "Pending"


def test_a_client_certificate_for_system_masters_is_refused(cluster: Cluster) -> None:
    _, request_pem = _request("mallory", "system:masters")
    name = f"masters-{next(_names)}"
    refused = cluster.kubectl("create", "-f", "-", stdin=_manifest(name, request_pem), check=False)
    assert refused.returncode != 0
    assert (
        'Error from server (Forbidden): error when creating "STDIN": '
        f'certificatesigningrequests.certificates.k8s.io "{name}" is forbidden: use of '
        f"{CLIENT_SIGNER} signer with system:masters group is not allowed"
    ) in refused.stderr
