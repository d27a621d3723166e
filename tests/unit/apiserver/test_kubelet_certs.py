"""The PKI's certificates for the API server <-> kubelet link (logs and exec)."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.apiserver import certs

DNS = ["localhost"]
IPS = ["127.0.0.1"]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def subject(cert: x509.Certificate) -> tuple[str, str]:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    o = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    return str(cn), str(o)


def usage(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_the_apiserver_gets_a_kubelet_client_certificate(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    cert = load(pki.kubelet_client_cert)
    cert.verify_directly_issued_by(load(pki.ca_cert))
    assert subject(cert) == ("kube-apiserver-kubelet-client", "system:masters")
    assert usage(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert stat.S_IMODE(pki.kubelet_client_key.stat().st_mode) == 0o600
    before = pki.kubelet_client_cert.read_bytes()
    certs.ensure(tmp_path / "tls", DNS, IPS)
    assert pki.kubelet_client_cert.read_bytes() == before


def test_a_kubelet_serving_certificate_names_its_node_and_ips(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    cert_path, key_path = certs.issue_kubelet_serving_cert(pki, "node-a", ["127.0.0.1"])
    cert = load(cert_path)
    cert.verify_directly_issued_by(load(pki.ca_cert))
    assert subject(cert) == ("system:node:node-a", "system:nodes")
    assert usage(cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["node-a"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    # Reused while it covers the node; re-issued when an address is added.
    again = certs.issue_kubelet_serving_cert(pki, "node-a", ["127.0.0.1"])
    assert again == (cert_path, key_path) and cert_path.read_bytes() == again[0].read_bytes()
    before = cert_path.read_bytes()
    certs.issue_kubelet_serving_cert(pki, "node-a", ["127.0.0.1", "10.0.0.5"])
    assert cert_path.read_bytes() != before
