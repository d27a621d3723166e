"""The cluster PKI: made once, reused, and the serving certificate re-issued when needed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.apiserver import certs

DNS = ["localhost", "kubernetes.default.svc"]
IPS = ["127.0.0.1", "10.43.0.1"]


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return (
        set(san.get_values_for_type(x509.DNSName)),
        {str(i) for i in san.get_values_for_type(x509.IPAddress)},
    )


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    try:
        public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except Exception:
        return False
    return cert.issuer == ca.subject


def key_matches(key_path: Path, cert: x509.Certificate) -> bool:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    return key.public_key() == cert.public_key()


def files(pki: certs.Pki) -> dict[str, bytes]:
    return {
        name: getattr(pki, name).read_bytes()
        for name in (
            "ca_cert",
            "ca_key",
            "server_cert",
            "server_key",
            "admin_cert",
            "admin_key",
            "token_file",
        )
    }


def test_first_start_makes_a_ca_a_serving_and_an_admin_certificate(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    ca = load(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    server = load(pki.server_cert)
    assert signed_by(server, ca)
    assert key_matches(pki.server_key, server)
    assert sans(server) == (set(DNS), set(IPS))
    usage = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # The serving file carries the chain: the leaf, then the CA.
    assert pki.server_cert.read_bytes().count(b"BEGIN CERTIFICATE") == 2

    admin = load(pki.admin_cert)
    assert signed_by(admin, ca)
    assert key_matches(pki.admin_key, admin)
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:admin"
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "system:masters"
    )
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    token = pki.admin_token()
    assert len(token) >= 32
    assert pki.token_file.read_text() == f'{token},system:admin,system:admin,"system:masters"\n'


def test_secrets_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    for secret in (pki.ca_key, pki.server_key, pki.admin_key, pki.token_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700


def test_a_later_start_reuses_everything(tmp_path: Path) -> None:
    first = files(certs.ensure(tmp_path / "tls", DNS, IPS))
    # Asking for fewer names than the certificate has is no reason to re-issue it.
    second = files(certs.ensure(tmp_path / "tls", DNS[:1], IPS[:1]))
    assert second == first


@pytest.mark.parametrize(("dns", "ips"), [([*DNS, "new.example"], IPS), (DNS, [*IPS, "192.0.2.7"])])
def test_the_serving_certificate_is_reissued_when_a_name_is_missing(
    tmp_path: Path, dns: list[str], ips: list[str]
) -> None:
    before = files(certs.ensure(tmp_path / "tls", DNS, IPS))
    pki = certs.ensure(tmp_path / "tls", dns, ips)
    after = files(pki)
    assert after["server_cert"] != before["server_cert"]
    assert after["server_key"] != before["server_key"]
    for kept in ("ca_cert", "ca_key", "admin_cert", "admin_key", "token_file"):
        assert after[kept] == before[kept], kept
    server = load(pki.server_cert)
    assert sans(server) == (set(dns), {str(ipaddress.ip_address(i)) for i in ips})
    assert signed_by(server, load(pki.ca_cert))
    assert key_matches(pki.server_key, server)


def test_a_new_ca_replaces_the_certificates_it_did_not_sign(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    before = files(pki)
    pki.ca_key.unlink()
    certs.ensure(tmp_path / "tls", DNS, IPS)
    after = files(pki)
    ca = load(pki.ca_cert)
    assert after["ca_cert"] != before["ca_cert"]
    assert signed_by(load(pki.server_cert), ca)
    assert signed_by(load(pki.admin_cert), ca)
    assert after["token_file"] == before["token_file"]


def _reissue_admin(pki: certs.Pki, valid_for: dt.timedelta) -> None:
    """Replace the admin certificate by one of the same CA that expires after `valid_for`."""
    ca = load(pki.ca_cert)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    key = serialization.load_pem_private_key(pki.admin_key.read_bytes(), password=None)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(load(pki.admin_cert).subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=300))
        .not_valid_after(now + valid_for)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    pki.admin_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_an_admin_certificate_about_to_expire_is_renewed(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    _reissue_admin(pki, dt.timedelta(days=5))
    certs.ensure(tmp_path / "tls", DNS, IPS)
    remaining = load(pki.admin_cert).not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert remaining > dt.timedelta(days=30)


def _stray_key_pem() -> bytes:
    """A key of the right type that belongs to no certificate: what a crash between the key's
    write and the certificate's leaves behind."""
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_a_serving_key_that_does_not_match_its_certificate_is_replaced(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    pki.server_key.write_bytes(_stray_key_pem())
    certs.ensure(tmp_path / "tls", DNS, IPS)
    assert key_matches(pki.server_key, load(pki.server_cert))
    assert signed_by(load(pki.server_cert), load(pki.ca_cert))


def test_an_admin_key_that_does_not_match_its_certificate_is_replaced(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    pki.admin_key.write_bytes(_stray_key_pem())
    certs.ensure(tmp_path / "tls", DNS, IPS)
    assert key_matches(pki.admin_key, load(pki.admin_cert))


def test_a_ca_key_that_does_not_match_its_certificate_makes_a_new_ca(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    before = files(pki)
    pki.ca_key.write_bytes(_stray_key_pem())
    certs.ensure(tmp_path / "tls", DNS, IPS)
    ca = load(pki.ca_cert)
    assert key_matches(pki.ca_key, ca)
    assert files(pki)["ca_cert"] != before["ca_cert"]
    # The leaves of the old CA are of no use to clients that trust the new one.
    assert signed_by(load(pki.server_cert), ca)
    assert signed_by(load(pki.admin_cert), ca)


def test_leaves_of_an_earlier_ca_are_issued_again(tmp_path: Path) -> None:
    """A crash after a new CA was written but before its leaves were leaves the old ones."""
    old = certs.ensure(tmp_path / "old", DNS, IPS)
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    for name in ("server_cert", "server_key", "admin_cert", "admin_key"):
        getattr(pki, name).write_bytes(getattr(old, name).read_bytes())
    certs.ensure(tmp_path / "tls", DNS, IPS)
    ca = load(pki.ca_cert)
    assert signed_by(load(pki.server_cert), ca)
    assert signed_by(load(pki.admin_cert), ca)


def test_a_crash_between_the_key_and_the_certificate_heals_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    real_write = certs._write_atomically

    def crash_on_certificates(path: Path, data: bytes, mode: int) -> None:
        if path.suffix == ".crt":
            raise OSError("power cut")
        real_write(path, data, mode)

    monkeypatch.setattr(certs, "_write_atomically", crash_on_certificates)
    with pytest.raises(OSError, match="power cut"):
        certs.ensure(tmp_path / "tls", [*DNS, "new.example"], IPS)
    # The key landed and the certificate did not: the pair on disk does not match.
    assert not key_matches(pki.server_key, load(pki.server_cert))
    monkeypatch.undo()
    certs.ensure(tmp_path / "tls", [*DNS, "new.example"], IPS)
    server = load(pki.server_cert)
    assert key_matches(pki.server_key, server)
    assert "new.example" in sans(server)[0]


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    pki = certs.ensure(tmp_path / "tls", DNS, IPS)
    pki.server_key.write_bytes(_stray_key_pem())
    # What a crash in the middle of a write leaves behind.
    (tmp_path / "tls" / ".server.key.k3x9.tmp").write_bytes(b"half a key")
    certs.ensure(tmp_path / "tls", DNS, IPS)
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == [
        "admin.crt",
        "admin.key",
        "apiserver-kubelet-client.crt",
        "apiserver-kubelet-client.key",
        "ca.crt",
        "ca.key",
        "sa.key",
        "sa.pub",
        "server.crt",
        "server.key",
        "tokens.csv",
    ]
