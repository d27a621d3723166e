"""What the certificates.k8s.io API knows of a CertificateSigningRequest's contents.

Shared by the API server (validation, admission) and the controllers that approve and sign: the
well-known signer names and key usages of `k8s.io/api/certificates/v1`, reading PEM as Go's
`encoding/pem` does (the first block, whatever comes before it), the `CERTIFICATE REQUEST` a
CSR carries (`pkg/apis/certificates.ParseCSR`), and the rules a kubelet's client and serving
requests follow (`ValidateKubeletClientCSR`, `ValidateKubeletServingCSR`), whose errors are
Kubernetes' own sentences because they end up in a Failed condition's message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from kubelite.api.types import Obj

GROUP = "certificates.k8s.io"

# k8s.io/api/certificates/v1: the signers kube-controller-manager serves.
KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
# v1beta1's default, refused by v1 on new requests.
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

# The condition types (RequestConditionType).
APPROVED = "Approved"
DENIED = "Denied"
FAILED = "Failed"

# The KeyUsage values, in the order certificates/v1 declares them.
USAGE_SIGNING = "signing"
USAGE_DIGITAL_SIGNATURE = "digital signature"
USAGE_KEY_ENCIPHERMENT = "key encipherment"
USAGE_SERVER_AUTH = "server auth"
USAGE_CLIENT_AUTH = "client auth"
KEY_USAGES = (
    USAGE_SIGNING,
    USAGE_DIGITAL_SIGNATURE,
    "content commitment",
    USAGE_KEY_ENCIPHERMENT,
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    USAGE_SERVER_AUTH,
    USAGE_CLIENT_AUTH,
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
)

# What a kubelet's certificates are named for (the Node authorizer's identities).
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"


class CSRError(ValueError):
    """A request that cannot be used, in the words Kubernetes reports it with."""


@dataclass(frozen=True)
class PemBlock:
    """One block of a PEM file: its type, whether it had headers, and its bytes."""

    type: str
    has_headers: bool
    data: bytes


_BEGIN = re.compile(rb"(?:^|\n)-----BEGIN ([^\r\n]*?)-----[ \t\r]*\n")


def pem_decode(data: bytes) -> tuple[PemBlock | None, bytes]:
    """encoding/pem.Decode: the first well-formed block and what follows it; a block whose
    body is not base64 is skipped, as Go skips it."""
    rest = data
    while True:
        begin = _BEGIN.search(rest)
        if begin is None:
            return None, data
        block_type = begin.group(1)
        end_marker = b"-----END " + block_type + b"-----"
        end = rest.find(end_marker, begin.end())
        if end < 0:
            return None, data
        body = rest[begin.end() : end]
        after = rest[end + len(end_marker) :]
        lines = body.split(b"\n")
        has_headers = bool(lines) and b":" in lines[0]
        if has_headers:
            while lines and lines[0].strip():
                lines.pop(0)
        try:
            decoded = base64.b64decode(b"".join(line.strip() for line in lines), validate=True)
        except (binascii.Error, ValueError):
            rest = rest[begin.end() :]
            continue
        return PemBlock(block_type.decode("latin-1"), has_headers, decoded), after


def decoded_bytes(value: object) -> bytes | None:
    """A `[]byte` field as it arrived (base64 in JSON): None when absent."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return None


def request_bytes(csr: Obj) -> bytes | None:
    return decoded_bytes((csr.get("spec") or {}).get("request"))


def certificate_bytes(csr: Obj) -> bytes:
    return decoded_bytes((csr.get("status") or {}).get("certificate")) or b""


def parse_csr(pem: bytes | None) -> x509.CertificateSigningRequest:
    """ParseCSR: the first PEM block must be a CERTIFICATE REQUEST that parses."""
    block, _ = pem_decode(pem or b"")
    if block is None or block.type != "CERTIFICATE REQUEST":
        raise CSRError("PEM block type must be CERTIFICATE REQUEST")
    try:
        return x509.load_der_x509_csr(block.data)
    except ValueError as e:
        raise CSRError(f"x509: malformed certificate request: {e}") from e


def check_signature(request: x509.CertificateSigningRequest) -> None:
    """CertificateRequest.CheckSignature, with Go's message for each key type."""
    if request.is_signature_valid:
        return
    key = request.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        raise CSRError("crypto/rsa: verification error")
    if isinstance(key, ec.EllipticCurvePublicKey):
        raise CSRError("x509: ECDSA verification failure")
    if isinstance(key, ed25519.Ed25519PublicKey):
        raise CSRError("x509: Ed25519 verification failure")
    raise CSRError("x509: cannot verify signature: algorithm unimplemented")


def organizations(request: x509.CertificateSigningRequest) -> list[str]:
    return [str(a.value) for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def common_name(request: x509.CertificateSigningRequest) -> str:
    """pkix.Name's CommonName: the last CN of the subject."""
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[-1].value) if names else ""


@dataclass(frozen=True)
class AltNames:
    dns: list[str]
    ips: list[str]
    emails: list[str]
    uris: list[str]


def alt_names(request: x509.CertificateSigningRequest) -> AltNames:
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return AltNames([], [], [], [])
    return AltNames(
        list(san.get_values_for_type(x509.DNSName)),
        [str(i) for i in san.get_values_for_type(x509.IPAddress)],
        list(san.get_values_for_type(x509.RFC822Name)),
        list(san.get_values_for_type(x509.UniformResourceIdentifier)),
    )


# pkg/apis/certificates/helpers.go: the usages a kubelet's certificates must ask for, exactly
# (with key encipherment, for RSA keys, or without).
_KUBELET_SERVING_USAGES = frozenset(
    {USAGE_DIGITAL_SIGNATURE, USAGE_KEY_ENCIPHERMENT, USAGE_SERVER_AUTH}
)
_KUBELET_CLIENT_USAGES = frozenset(
    {USAGE_DIGITAL_SIGNATURE, USAGE_KEY_ENCIPHERMENT, USAGE_CLIENT_AUTH}
)


def _go_list(values: Iterable[str]) -> str:
    """A sorted []string as %v prints it: `[a b c]`."""
    return "[" + " ".join(sorted(values)) + "]"


def _usages_match(usages: set[str], required: frozenset[str]) -> bool:
    return usages in (set(required), set(required) - {USAGE_KEY_ENCIPHERMENT})


def validate_kubelet_serving(request: x509.CertificateSigningRequest, usages: set[str]) -> None:
    """ValidateKubeletServingCSR: a node's serving certificate, for its DNS names or IPs."""
    if organizations(request) != [NODES_GROUP]:
        raise CSRError("subject organization is not system:nodes")
    names = alt_names(request)
    if not names.dns and not names.ips:
        raise CSRError("DNS or IP subjectAltName is required")
    if names.emails:
        raise CSRError("Email subjectAltNames are not allowed")
    if names.uris:
        raise CSRError("URI subjectAltNames are not allowed")
    if not _usages_match(usages, _KUBELET_SERVING_USAGES):
        raise CSRError(f"usages did not match {_go_list(_KUBELET_SERVING_USAGES)}")
    if not common_name(request).startswith(NODE_USER_PREFIX):
        raise CSRError("subject common name does not begin with system:node:")


def validate_kubelet_client(request: x509.CertificateSigningRequest, usages: set[str]) -> None:
    """ValidateKubeletClientCSR: a node's client certificate, with no subjectAltNames."""
    if organizations(request) != [NODES_GROUP]:
        raise CSRError("subject organization is not system:nodes")
    names = alt_names(request)
    if names.dns:
        raise CSRError("DNS subjectAltNames are not allowed")
    if names.emails:
        raise CSRError("Email subjectAltNames are not allowed")
    if names.ips:
        raise CSRError("IP subjectAltNames are not allowed")
    if names.uris:
        raise CSRError("URI subjectAltNames are not allowed")
    if not common_name(request).startswith(NODE_USER_PREFIX):
        raise CSRError("subject common name does not begin with system:node:")
    if not _usages_match(usages, _KUBELET_CLIENT_USAGES):
        raise CSRError(f"usages did not match {_go_list(_KUBELET_CLIENT_USAGES)}")


def is_kubelet_client(request: x509.CertificateSigningRequest, usages: set[str]) -> bool:
    try:
        validate_kubelet_client(request, usages)
    except CSRError:
        return False
    return True


def conditions(csr: Obj) -> list[Obj]:
    return [c for c in (csr.get("status") or {}).get("conditions") or [] if isinstance(c, dict)]


def has_true_condition(csr: Obj, condition_type: str) -> bool:
    """HasTrueCondition: a condition of that type with status True (or empty, as v1 read)."""
    return any(
        c.get("type") == condition_type and c.get("status") in ("True", "", None)
        for c in conditions(csr)
    )


def approval_state(csr: Obj) -> tuple[bool, bool]:
    """GetCertApprovalCondition: (approved, denied)."""
    types = {c.get("type") for c in conditions(csr)}
    return APPROVED in types, DENIED in types


def is_approved(csr: Obj) -> bool:
    """IsCertificateRequestApproved: approved and not denied."""
    approved, denied = approval_state(csr)
    return approved and not denied
