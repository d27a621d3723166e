"""The cluster's PKI, made at first start: a CA, a serving certificate, an admin identity.

Kubernetes is HTTPS-only from the first request, and so is kubelite. At first start the server
writes under `<data-dir>/tls/`: a CA, a serving certificate signed by it for every name the
server answers to (localhost, the host name, the `kubernetes.default.svc` names, the service IP),
a client certificate for the admin (CN `system:admin`, O `system:masters`, the group
Kubernetes gives every right), plus a bearer token as a second way in, and the API server's own
client certificate for talking to kubelets (`kube-apiserver-kubelet-client`, kubeadm's name, in
`system:masters`), and the RSA key pair service account tokens are signed and checked with
(`sa.key` / `sa.pub`, kubeadm's names for --service-account-signing-key-file and
--service-account-key-file). Later starts reuse them; the serving certificate is re-issued if a
name it must cover is missing. A kubelet's serving certificate comes from the same CA
(`issue_kubelet_serving_cert`), so the API server can check whom it proxies `logs` and `exec` to.

A key and its certificate live in two files, and no file system renames two files at once. So a
pair is only reused when the key is the certificate's key (and a leaf only when the CA signed it),
and a new pair is written key first, certificate last: each file reaches its name whole (a
temporary file in the same directory, flushed, then renamed), and a crash between the two renames
leaves a new key beside an old certificate, which the next start sees as a mismatch and re-issues.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
ADMIN_USER = "system:admin"
ADMIN_GROUP = "system:masters"
# kubeadm's identity for the API server's client certificate to kubelets
# (apiserver-kubelet-client.crt).
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"
# A kubelet's serving certificate names its node as Kubernetes' node authorizer expects.
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
# OpenSSL's X509_V_FLAG_NO_CHECK_TIME, which the ssl module passes through verify_flags
# untouched though it has no name for it: verify the chain, leave the dates to the caller.
X509_V_FLAG_NO_CHECK_TIME = 0x200000


@dataclass(frozen=True)
class Pki:
    """Where the cluster's certificates and keys live in the data dir, made once at first
    start and reused, so kubeconfigs and joined nodes stay valid across restarts."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    token_file: Path
    kubelet_client_cert: Path
    kubelet_client_key: Path
    sa_key: Path
    sa_pub: Path

    def admin_token(self) -> str:
        for line in self.token_file.read_text().splitlines():
            token, user, *_ = line.split(",")
            if user == ADMIN_USER:
                return token
        raise ValueError(f"no token for {ADMIN_USER} in {self.token_file}")


# What a write in progress is called until its rename; one left by a crash is removed at start.
_TMP_SUFFIX = ".tmp"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Put `data` at `path` whole or not at all, even across a crash.

    The bytes go to a fresh temporary file in the same directory (a rename is only atomic within
    one file system), are flushed to disk, and the file is renamed over `path`; the directory is
    flushed too, so that the rename itself survives a power cut.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret readable by its owner only, atomically."""
    _write_atomically(path, data, 0o600)


def _write_pair(key_path: Path, key_pem: bytes, cert_path: Path, cert_pem: bytes) -> None:
    """Replace a key and its certificate.

    Key first, certificate last: the certificate is what every later check reads, so it is the
    commit point. A crash after the key's rename leaves a key the old certificate does not
    certify, which `_leaf_ok` refuses at the next start; the pair is then issued again.
    """
    _write_private(key_path, key_pem)
    _write_atomically(cert_path, cert_pem, 0o644)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, *organizations: str) -> x509.Name:
    """A subject: the user as CN, each of its groups as an O (the x509 authenticator's map)."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations if o]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _new_ca(prefix: str = "kubelite-ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    name = _name(f"{prefix}@{int(now.timestamp())}")
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
    usage: x509.ObjectIdentifier | Sequence[x509.ObjectIdentifier],
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    usages = [usage] if isinstance(usage, x509.ObjectIdentifier) else list(usage)
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
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


# A leaf certificate is re-issued when it has less than this left, at the next start.
RENEW_BEFORE = dt.timedelta(days=30)


def _load_cert(path: Path) -> x509.Certificate | None:
    """The first certificate in a PEM file (the leaf of a chain); None if it cannot be read."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    """The private key in a PEM file; None if it cannot be read or is not one we make."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _matches(cert: x509.Certificate | None, key: ec.EllipticCurvePrivateKey | None) -> bool:
    """Whether `key` is the private key of `cert`: ssl.load_cert_chain refuses any other pair,
    and so would every start after it."""
    return cert is not None and key is not None and key.public_key() == cert.public_key()


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether `ca` signed `cert`: a leaf of an earlier CA is useless to clients of this one."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE


def _covers(cert: x509.Certificate, dns_names: Sequence[str], ips: Sequence[str]) -> bool:
    if not dns_names and not ips:
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    wanted_ips = {str(ipaddress.ip_address(i)) for i in ips}
    return set(dns_names) <= have_dns and wanted_ips <= have_ips


def _leaf_ok(
    cert_path: Path,
    key_path: Path,
    ca: x509.Certificate,
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> bool:
    """Whether a leaf pair can be kept: its key matches, the current CA signed it, it is not
    about to expire, and it covers every name it must."""
    cert = _load_cert(cert_path)
    return (
        cert is not None
        and _matches(cert, _load_key(key_path))
        and _issued_by(cert, ca)
        and _fresh(cert)
        and _covers(cert, dns_names, ips)
    )


def paths(directory: Path) -> Pki:
    """Where the PKI under `directory` keeps each file (nothing is read or made)."""
    return Pki(
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        token_file=directory / "tokens.csv",
        kubelet_client_cert=directory / "apiserver-kubelet-client.crt",
        kubelet_client_key=directory / "apiserver-kubelet-client.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )


def ensure(directory: Path, dns_names: list[str], ips: list[str]) -> Pki:
    """Create what is missing under `directory`, keep what is there."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pki = paths(directory)
    for stale in directory.glob(f".*{_TMP_SUFFIX}"):
        stale.unlink(missing_ok=True)
    ca = _load_cert(pki.ca_cert)
    ca_key = _load_key(pki.ca_key)
    if ca is None or ca_key is None or not _matches(ca, ca_key):
        # A new CA; the leaves of the old one fail `_issued_by` below and are issued again.
        ca, ca_key = _new_ca()
        _write_pair(pki.ca_key, _pem_key(ca_key), pki.ca_cert, _pem_cert(ca))
    if not _leaf_ok(pki.server_cert, pki.server_key, ca, dns_names, ips):
        cert, key = _issue(
            ca, ca_key, _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, dns_names, ips
        )
        _write_pair(pki.server_key, _pem_key(key), pki.server_cert, _pem_cert(cert) + _pem_cert(ca))
    if not _leaf_ok(pki.admin_cert, pki.admin_key, ca):
        cert, key = _issue(
            ca, ca_key, _name(ADMIN_USER, ADMIN_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH
        )
        _write_pair(pki.admin_key, _pem_key(key), pki.admin_cert, _pem_cert(cert))
    if not _leaf_ok(pki.kubelet_client_cert, pki.kubelet_client_key, ca):
        cert, key = _issue(
            ca, ca_key, _name(KUBELET_CLIENT_USER, ADMIN_GROUP), ExtendedKeyUsageOID.CLIENT_AUTH
        )
        _write_pair(pki.kubelet_client_key, _pem_key(key), pki.kubelet_client_cert, _pem_cert(cert))
    _ensure_service_account_key(pki)
    if not pki.token_file.exists():
        # Kubernetes' static token file format: token,user,uid,"group1,group2".
        token = secrets.token_urlsafe(32)
        _write_private(
            pki.token_file, f'{token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n'.encode()
        )
    return pki


# kubeadm's service-account key: RSA 2048 (RS256 tokens, which every client can check).
SA_KEY_BITS = 2048
SA_KEY_EXPONENT = 65537


def _ensure_service_account_key(pki: Pki) -> None:
    """Keep the service-account key pair, or make one.

    The private key is never replaced while it can be read: every token issued so far was signed
    with it. The public half is derived from it, so a missing or mismatched `sa.pub` (a crash
    between the two renames) is simply written again from the key.
    """
    try:
        key = serialization.load_pem_private_key(pki.sa_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        key = rsa.generate_private_key(public_exponent=SA_KEY_EXPONENT, key_size=SA_KEY_BITS)
        _write_private(pki.sa_key, _pem_key(key))
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        current = pki.sa_pub.read_bytes()
    except OSError:
        current = b""
    if current != public_pem:
        _write_atomically(pki.sa_pub, public_pem, 0o644)


def issue_kubelet_serving_cert(pki: Pki, node_name: str, ips: list[str]) -> tuple[Path, Path]:
    """A serving certificate for the kubelet of `node_name`, signed by the cluster CA.

    Written beside the cluster's PKI as `kubelet-<node>.crt` and `.key` (the same atomic way) and
    reused while it is sound and covers the node's name and `ips`. Returns (cert, key) paths.
    """
    ca = _load_cert(pki.ca_cert)
    ca_key = _load_key(pki.ca_key)
    if ca is None or ca_key is None:
        raise ValueError(f"no usable cluster CA at {pki.ca_cert}")
    directory = pki.ca_cert.parent
    cert_path = directory / f"kubelet-{node_name}.crt"
    key_path = directory / f"kubelet-{node_name}.key"
    if not _leaf_ok(cert_path, key_path, ca, [node_name], ips):
        cert, key = _issue(
            ca,
            ca_key,
            _name(f"{NODE_USER_PREFIX}{node_name}", NODES_GROUP),
            ExtendedKeyUsageOID.SERVER_AUTH,
            [node_name],
            ips,
        )
        _write_pair(key_path, _pem_key(key), cert_path, _pem_cert(cert) + _pem_cert(ca))
    return cert_path, key_path


def issue_client_cert(pki: Pki, user: str, groups: Sequence[str]) -> tuple[bytes, bytes]:
    """A client certificate for `user` in `groups`, signed by the cluster CA: the user is the
    certificate's CN and each group an O, as Kubernetes' x509 authenticator reads them.
    Returns (certificate PEM, key PEM); nothing is written, the caller hands them out."""
    ca = _load_cert(pki.ca_cert)
    ca_key = _load_key(pki.ca_key)
    if ca is None or ca_key is None:
        raise ValueError(f"no usable cluster CA at {pki.ca_cert}")
    cert, key = _issue(ca, ca_key, _name(user, *groups), ExtendedKeyUsageOID.CLIENT_AUTH)
    return _pem_cert(cert), _pem_key(key)


def ensure_ca(cert_path: Path, key_path: Path, prefix: str) -> None:
    """Keep the CA pair at these paths, or make one whose CN starts with `prefix`: for CAs
    of their own beside the cluster's, such as etcd's (kubelite.etcd.pki)."""
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not _matches(_load_cert(cert_path), _load_key(key_path)):
        ca, ca_key = _new_ca(prefix)
        _write_pair(key_path, _pem_key(ca_key), cert_path, _pem_cert(ca))


def ensure_leaf(
    ca_cert: Path,
    ca_key: Path,
    cert_path: Path,
    key_path: Path,
    *,
    common_name: str,
    usages: Sequence[x509.ObjectIdentifier],
    dns_names: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> None:
    """Keep the leaf pair at these paths while it is sound (see `_leaf_ok`) and covers
    `dns_names` and `ips`; otherwise issue it again from the CA at `ca_cert`/`ca_key`."""
    ca = _load_cert(ca_cert)
    key = _load_key(ca_key)
    if ca is None or key is None:
        raise ValueError(f"no usable CA at {ca_cert}")
    if not _leaf_ok(cert_path, key_path, ca, dns_names, ips):
        cert, leaf_key = _issue(ca, key, _name(common_name), usages, dns_names, ips)
        _write_pair(key_path, _pem_key(leaf_key), cert_path, _pem_cert(cert))
