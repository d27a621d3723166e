"""Who may talk to the kubelet: TLS with a client certificate from the cluster CA.

The kubelet's API runs commands in containers and reads their logs, so it serves nobody
anonymous. The TLS layer checks that a client certificate, if one is sent, was signed by the
cluster CA; a request without one is answered 401, and a verified client outside the groups
allowed here (the API server's `kube-apiserver-kubelet-client` identity is in `system:masters`)
is answered 403, as the kubelet's authorizer would.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The group Kubernetes gives every right (the API server's kubelet client and the admin are in it).
SYSTEM_MASTERS = "system:masters"


@dataclass(frozen=True)
class ServingTLS:
    """The kubelet's serving certificate and key, and the CA its clients' certificates come from."""

    cert: Path
    key: Path
    client_ca: Path


def server_context(tls: ServingTLS) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert, tls.key)
    context.load_verify_locations(tls.client_ca)
    # Optional at the TLS layer so that a client without a certificate gets a 401 it can read,
    # not a failed handshake; a certificate the CA did not sign still fails the handshake.
    context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    return context


@dataclass(frozen=True)
class Identity:
    """Who a client certificate says the caller is (its CN and O), which the kubelet authorizes."""

    user: str
    groups: tuple[str, ...]


def identity(peercert: dict[str, Any] | None) -> Identity | None:
    """The user and groups (CN and O) of a verified client certificate; None without one."""
    if not peercert:
        return None
    user = ""
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                user = value
            elif key == "organizationName":
                groups.append(value)
    return Identity(user, tuple(groups)) if user else None


def allowed(who: Identity) -> bool:
    return SYSTEM_MASTERS in who.groups
