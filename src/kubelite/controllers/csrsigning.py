"""The CSR signing controller: issues approved CertificateSigningRequests from the cluster CA.

kube-controller-manager's `csrsigning` (`pkg/controller/certificates/signer`), which signs for
Kubernetes' three built-in signers with the CA of `--cluster-signing-cert-file` and
`--cluster-signing-key-file`:

- `kubernetes.io/kube-apiserver-client`: client certificates for anyone; usages limited to
  client auth (required), digital signature and key encipherment;
- `kubernetes.io/kube-apiserver-client-kubelet`: a node's client certificate, CN
  `system:node:<name>` in O `system:nodes`, no subjectAltNames;
- `kubernetes.io/kubelet-serving`: a node's serving certificate, the same subject, for DNS
  names or IPs.

A request the signer refuses gets a Failed condition (reason SignerValidationFailure, Kubernetes'
message) and is never looked at again. An issued certificate lives for the request's
expirationSeconds or the signer's maximum (`--cluster-signing-duration`, 8760h), whichever is
shorter, and at least ten minutes; it is backdated five minutes against clock skew (and, when it
lives eight hours or more, ends five minutes early to keep its length), never past the CA's own
end (`authority.PermissiveSigningPolicy`).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubelite.api import csr as csrs
from kubelite.api import meta
from kubelite.api.resources import CERTIFICATE_SIGNING_REQUESTS
from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.errors import APINotFoundError
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.certificate_controller import WORKERS, CertificateController

log = logging.getLogger(__name__)

# kube-controller-manager's --cluster-signing-duration default.
DEFAULT_SIGNING_DURATION = dt.timedelta(hours=8760)
# signer.go: backdated 5 minutes; a certificate shorter than 8 hours keeps its whole length.
BACKDATE = dt.timedelta(minutes=5)
SHORT = dt.timedelta(hours=8)
# The shortest certificate issued, whatever the request asks (twice the backdating).
MIN_DURATION = dt.timedelta(minutes=10)
FAILED_REASON = "SignerValidationFailure"


class SigningError(Exception):
    """A request the CA cannot sign (an expired signer, an unknown usage)."""


@dataclass(frozen=True)
class ClusterSigningConfig:
    """kube-controller-manager's signing flags: the CA pair and the longest certificate."""

    cert_file: Path
    key_file: Path
    duration: dt.timedelta = DEFAULT_SIGNING_DURATION


# authority/policies.go: each usage as an x509 key usage or extended key usage.
_KEY_USAGE_FIELDS = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}
# In Go's ExtKeyUsage order, which is the order the extension lists them in.
_EXT_KEY_USAGES = {
    "any": (0, x509.ObjectIdentifier("2.5.29.37.0")),
    "server auth": (1, ExtendedKeyUsageOID.SERVER_AUTH),
    "client auth": (2, ExtendedKeyUsageOID.CLIENT_AUTH),
    "code signing": (3, ExtendedKeyUsageOID.CODE_SIGNING),
    "email protection": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "s/mime": (4, ExtendedKeyUsageOID.EMAIL_PROTECTION),
    "ipsec end system": (5, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.5")),
    "ipsec tunnel": (6, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.6")),
    "ipsec user": (7, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.7")),
    "timestamping": (8, ExtendedKeyUsageOID.TIME_STAMPING),
    "ocsp signing": (9, ExtendedKeyUsageOID.OCSP_SIGNING),
    "microsoft sgc": (10, x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.3")),
    "netscape sgc": (11, x509.ObjectIdentifier("2.16.840.1.113730.4.1")),
}
# pkix.Name.ToRDNSequence: the attributes Go keeps, in the order it writes them; values of one
# type share one RDN.
_SUBJECT_ORDER = (
    NameOID.COUNTRY_NAME,
    NameOID.STATE_OR_PROVINCE_NAME,
    NameOID.LOCALITY_NAME,
    NameOID.STREET_ADDRESS,
    NameOID.POSTAL_CODE,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
)


def _subject(request: x509.CertificateSigningRequest) -> x509.Name:
    rdns = []
    for oid in _SUBJECT_ORDER:
        values = request.subject.get_attributes_for_oid(oid)
        if values:
            rdns.append(x509.RelativeDistinguishedName(values))
    cn = csrs.common_name(request)
    if cn:
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    serials = request.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if serials:
        rdns.append(x509.RelativeDistinguishedName([serials[-1]]))
    return x509.Name(rdns)


def _key_usages(usages: list[str]) -> tuple[x509.KeyUsage | None, list[x509.ObjectIdentifier]]:
    """keyUsagesFromStrings: the KeyUsage bits and the sorted extended usages."""
    bits = dict.fromkeys(_KEY_USAGE_FIELDS.values(), False)
    extended: dict[int, x509.ObjectIdentifier] = {}
    unknown = []
    for usage in usages:
        if usage in _KEY_USAGE_FIELDS:
            bits[_KEY_USAGE_FIELDS[usage]] = True
        elif usage in _EXT_KEY_USAGES:
            order, oid = _EXT_KEY_USAGES[usage]
            extended[order] = oid
        else:
            unknown.append(usage)
    if unknown:
        quoted = " ".join(f'"{u}"' for u in unknown)
        raise SigningError(f"unrecognized usage values: [{quoted}]")
    key_usage = None
    if any(bits.values()):
        if not bits["key_agreement"]:
            # cryptography ties these two to key agreement; Go sets them as asked.
            bits["encipher_only"] = bits["decipher_only"] = False
        key_usage = x509.KeyUsage(**bits)
    return key_usage, [extended[k] for k in sorted(extended)]


class CertificateAuthority:
    """The cluster CA as a signer (`authority.CertificateAuthority`), read from its files."""

    def __init__(self, certificate: x509.Certificate, key: object) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("the signing key must be an ECDSA or RSA key")
        self.certificate = certificate
        self.key = key

    @classmethod
    def load(cls, cert_file: Path, key_file: Path) -> CertificateAuthority:
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        return cls(certificate, key)

    def sign(
        self,
        request: x509.CertificateSigningRequest,
        usages: list[str],
        ttl: dt.timedelta,
        now: dt.datetime,
    ) -> bytes:
        """A PEM certificate for the request (PermissiveSigningPolicy): its subject and
        subjectAltNames, the asked usages, not a CA, NotBefore backdated."""
        if not request.is_signature_valid:
            raise SigningError("unable to verify certificate request signature")
        ca_end = self.certificate.not_valid_after_utc
        not_before = now - BACKDATE
        not_after = now + ttl if ttl < SHORT else now + ttl - BACKDATE
        if not_after >= ca_end:
            not_after = ca_end
        if not_before >= ca_end:
            raise SigningError(f"the signer has expired: NotAfter={ca_end}")
        if now >= ca_end:
            raise SigningError(
                f"refusing to sign a certificate that expired in the past: NotAfter={ca_end}"
            )
        key_usage, extended = _key_usages(usages)
        public_key = request.public_key()
        if not isinstance(
            public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            raise SigningError("unsupported public key type")
        builder = (
            x509.CertificateBuilder()
            .subject_name(_subject(request))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
        )
        if key_usage is not None:
            builder = builder.add_extension(key_usage, critical=True)
        if extended:
            builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
        builder = builder.add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        names = _alt_names(request)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        return certificate.public_bytes(serialization.Encoding.PEM)


def _alt_names(request: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    kinds = (x509.DNSName, x509.RFC822Name, x509.IPAddress, x509.UniformResourceIdentifier)
    return [name for kind in kinds for name in san if isinstance(name, kind)]


def _validate_apiserver_client(request: x509.CertificateSigningRequest, usages: list[str]) -> None:
    """validAPIServerClientUsages: client auth required; digital signature and key
    encipherment allowed besides."""
    has_client_auth = False
    for usage in usages:
        if usage in (csrs.USAGE_DIGITAL_SIGNATURE, csrs.USAGE_KEY_ENCIPHERMENT):
            continue
        if usage == csrs.USAGE_CLIENT_AUTH:
            has_client_auth = True
            continue
        raise csrs.CSRError(f"invalid usage for client certificate: {usage}")
    if not has_client_auth:
        raise csrs.CSRError(
            f"missing required usage for client certificate: {csrs.USAGE_CLIENT_AUTH}"
        )


def _validate_kubelet_client(request: x509.CertificateSigningRequest, usages: list[str]) -> None:
    csrs.validate_kubelet_client(request, set(usages))


def _validate_kubelet_serving(request: x509.CertificateSigningRequest, usages: list[str]) -> None:
    csrs.validate_kubelet_serving(request, set(usages))


# getCSRVerificationFuncForSignerName: what each signer accepts.
SIGNERS: dict[str, Callable[[x509.CertificateSigningRequest, list[str]], None]] = {
    csrs.KUBE_APISERVER_CLIENT: _validate_apiserver_client,
    csrs.KUBE_APISERVER_CLIENT_KUBELET: _validate_kubelet_client,
    csrs.KUBELET_SERVING: _validate_kubelet_serving,
}


def duration(expiration_seconds: object, maximum: dt.timedelta) -> dt.timedelta:
    """signer.duration: the request's lifetime within [10 minutes, the signer's maximum]."""
    if not isinstance(expiration_seconds, int):
        return maximum
    requested = dt.timedelta(seconds=expiration_seconds)
    if requested > maximum:
        return maximum
    return max(requested, MIN_DURATION)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CSRSigningController(CertificateController):
    """Signs approved requests for Kubernetes' signers, or marks them Failed."""

    component = "csrsigning"

    def __init__(
        self,
        client: APIClient,
        config: ClusterSigningConfig,
        informers: SharedInformerFactory | None = None,
        *,
        workers: int = WORKERS,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        super().__init__(client, informers, workers=workers)
        self.config = config
        self.clock = clock
        self.authority = CertificateAuthority.load(config.cert_file, config.key_file)

    async def sync(self, key: str) -> float | None:
        cached = self.requests.get(key)
        # Nothing to do once a certificate is there (CertificateController.syncFunc).
        if cached is None or csrs.certificate_bytes(cached):
            return None
        if not csrs.is_approved(cached) or csrs.has_true_condition(cached, csrs.FAILED):
            return None
        signer = str((cached.get("spec") or {}).get("signerName") or "")
        validate = SIGNERS.get(signer)
        if validate is None:
            return None
        csr = copy.deepcopy(cached)
        spec = csr.get("spec") or {}
        try:
            request = csrs.parse_csr(csrs.request_bytes(csr))
        except csrs.CSRError as e:
            log.warning("csr %s: unable to parse: %s", key, e)
            return None
        usages = [str(u) for u in spec.get("usages") or []]
        try:
            validate(request, usages)
        except csrs.CSRError as e:
            await self._fail(csr, str(e))
            return None
        try:
            pem = self.authority.sign(
                request,
                usages,
                duration(spec.get("expirationSeconds"), self.config.duration),
                self.clock(),
            )
        except (SigningError, ValueError) as e:
            log.warning("csr %s: error auto signing: %s", key, e)
            return None
        csr.setdefault("status", {})["certificate"] = base64.b64encode(pem).decode()
        await self._update_status(csr)
        log.info("csr %s: issued a certificate from %s", key, signer)
        return None

    async def _fail(self, csr: Obj, message: str) -> None:
        status = csr.setdefault("status", {})
        status.setdefault("conditions", []).append(
            {
                "type": csrs.FAILED,
                "status": "True",
                "reason": FAILED_REASON,
                "message": message,
                "lastUpdateTime": meta.format_time(self.clock()),
            }
        )
        await self._update_status(csr)

    async def _update_status(self, csr: Obj) -> None:
        try:
            await self.client.update(CERTIFICATE_SIGNING_REQUESTS, csr, subresource="status")
        except APINotFoundError:
            return
