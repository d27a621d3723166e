"""etcd's own CAs and this server's etcd certificates (kubelite.etcd.pki)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.apiserver import certs
from kubelite.etcd import pki


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {
        str(i) for i in san.get_values_for_type(x509.IPAddress)
    }


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_the_serving_and_peer_certs_cover_loopback_localhost_and_the_host(
    tmp_path: Path,
) -> None:
    etcd = pki.ensure(tmp_path, "10.1.2.3")
    for name in (pki.SERVER_CERT, pki.PEER_CERT):
        cert = _load(etcd.crt(name))
        dns, ips = _sans(cert)
        assert "localhost" in dns
        assert {"127.0.0.1", "10.1.2.3"} <= ips
        assert _usages(cert) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    client = _load(etcd.crt(pki.CLIENT_CERT))
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "etcd-client"
    assert _usages(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}


def test_serving_and_client_certs_come_from_the_server_ca_and_peer_from_the_peer_ca(
    tmp_path: Path,
) -> None:
    etcd = pki.ensure(tmp_path, "10.1.2.3")
    server_ca, peer_ca = _load(etcd.server_ca), _load(etcd.peer_ca)
    assert server_ca.subject != peer_ca.subject
    _load(etcd.crt(pki.SERVER_CERT)).verify_directly_issued_by(server_ca)
    _load(etcd.crt(pki.CLIENT_CERT)).verify_directly_issued_by(server_ca)
    _load(etcd.crt(pki.PEER_CERT)).verify_directly_issued_by(peer_ca)


def test_etcd_trusts_no_certificate_of_the_cluster_ca(tmp_path: Path) -> None:
    cluster = certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])
    etcd = pki.ensure(tmp_path, "10.1.2.3")
    admin = _load(cluster.admin_cert)
    try:
        admin.verify_directly_issued_by(_load(etcd.server_ca))
    except Exception:
        return
    raise AssertionError("the admin certificate would be trusted by etcd")


def test_certs_are_kept_and_reissued_when_the_host_address_changes(tmp_path: Path) -> None:
    etcd = pki.ensure(tmp_path, "10.1.2.3")
    before = etcd.crt(pki.SERVER_CERT).read_bytes()
    ca = etcd.server_ca.read_bytes()
    pki.ensure(tmp_path, "10.1.2.3")
    assert etcd.crt(pki.SERVER_CERT).read_bytes() == before
    pki.ensure(tmp_path, "10.9.9.9")
    assert etcd.crt(pki.SERVER_CERT).read_bytes() != before
    assert etcd.server_ca.read_bytes() == ca
    assert "10.9.9.9" in _sans(_load(etcd.crt(pki.SERVER_CERT)))[1]
    assert ipaddress.ip_address("10.9.9.9")
