"""The cluster's PKI, made at first start: a CA, a serving certificate, an admin identity.

Kubernetes is HTTPS-only from the first request, and so is kubelite. At first start the server
writes under `<data-dir>/tls/`: a CA, a serving certificate signed by it for every name the
server answers to (localhost, the host name, the `kubernetes.default.svc` names, the service IP),
and a client certificate for the admin (CN `system:admin`, O `system:masters`, the group
Kubernetes gives every right), plus a bearer token as a second way in. Later starts reuse them;
the serving certificate is re-issued if a name it must cover is missing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
ADMIN_USER = "system:admin"
ADMIN_GROUP = "system:masters"


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    token_file: Path

    def admin_token(self) -> str:
        for line in self.token_file.read_text().splitlines():
            token, user, *_ = line.split(",")
            if user == ADMIN_USER:
                return token
        raise ValueError(f"no token for {ADMIN_USER} in {self.token_file}")


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by its owner only, atomically."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organization: str = "") -> x509.Name:
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    name = _name(f"kubelite-ca@{int(now.timestamp())}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _issue(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    usage: ExtendedKeyUsageOID,
    dns_names: list[str] = (),  # type: ignore[assignment]
    ips: list[str] = (),  # type: ignore[assignment]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + LEAF_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


# A leaf certificate is re-issued when it has less than this left, at the next start.
RENEW_BEFORE = dt.timedelta(days=30)


def _fresh(cert_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def _covers(cert_path: Path, dns_names: list[str], ips: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    wanted_ips = {str(ipaddress.ip_address(i)) for i in ips}
    return _fresh(cert_path) and set(dns_names) <= have_dns and wanted_ips <= have_ips


def ensure(directory: Path, dns_names: list[str], ips: list[str]) -> Pki:
    """Create what is missing under `directory`, keep what is there."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pki = Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        token_file=directory / "tokens.csv",
    )
    if pki.ca_cert.exists() and pki.ca_key.exists():
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca, ca_key = _new_ca()
        _write_private(pki.ca_key, _pem_key(ca_key))
        pki.ca_cert.write_bytes(_pem_cert(ca))
        for stale in (pki.server_cert, pki.admin_cert):
            stale.unlink(missing_ok=True)
    if not _covers(pki.server_cert, dns_names, ips) or not pki.server_key.exists():
        cert, key = _issue(
            ca, ca_key, _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, dns_names, ips
        )
        _write_private(pki.server_key, _pem_key(key))
        pki.server_cert.write_bytes(_pem_cert(cert) + _pem_cert(ca))
    if not _fresh(pki.admin_cert) or not pki.admin_key.exists():
        cert, key = _issue(
            ca, ca_key, _name(ADMIN_USER, ADMIN_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH
        )
        _write_private(pki.admin_key, _pem_key(key))
        pki.admin_cert.write_bytes(_pem_cert(cert))
    if not pki.token_file.exists():
        # Kubernetes' static token file format: token,user,uid,"group1,group2".
        token = secrets.token_urlsafe(32)
        _write_private(
            pki.token_file, f'{token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n'.encode()
        )
    return pki
