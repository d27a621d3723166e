"""Real certificate signing requests for the tests of CSRs: keys, PKCS#10 requests, objects.

Everything is made with `cryptography` as a requester would with openssl: a fresh key, a
subject (CN the user, O each group), optional subjectAltNames, signed by the key.
"""

from __future__ import annotations

import base64
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

Obj = dict[str, Any]

CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
CLIENT_USAGES = ["digital signature", "key encipherment", "client auth"]


def new_key(kind: str = "ec") -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def request_pem(
    cn: str,
    *orgs: str,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
) -> bytes:
    """A PEM CERTIFICATE REQUEST for CN `cn` in each O of `orgs`."""
    key = key or new_key()
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def csr_object(
    name: str,
    pem: bytes,
    *,
    signer: str = CLIENT,
    usages: list[str] | None = None,
    expiration_seconds: int | None = None,
) -> Obj:
    spec: Obj = {
        "request": b64(pem),
        "signerName": signer,
        "usages": list(CLIENT_USAGES if usages is None else usages),
    }
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": spec,
    }


def condition(kind: str, reason: str = "Test", message: str = "", at: str | None = None) -> Obj:
    """A True condition; `at` sets both its times, as a stored one has them."""
    made: Obj = {"type": kind, "status": "True", "reason": reason, "message": message}
    if at is not None:
        made.update(lastUpdateTime=at, lastTransitionTime=at)
    return made
