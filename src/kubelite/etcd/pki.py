"""etcd's certificates, from CAs of its own under `<data-dir>/tls/etcd/` (k3s' layout).

Why not the cluster CA: etcd trusts every client certificate its CA signed
(--client-cert-auth), and the cluster CA signs kubelets', users' (`kubelite kubeconfig`) and
approved CSRs' certificates; any of those would then read every Secret straight from etcd. So,
as k3s and kubeadm do, etcd has a server CA (its serving certificates and the API server's client
certificate) and a peer CA (the certificates members talk to each other with), and only servers
hold their keys: a joining server gets them with the server token (apiserver/server_join.py).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography.x509.oid import ExtendedKeyUsageOID

from kubelite.apiserver import certs

# k3s' file names under server/tls/etcd.
SERVER_CA = "server-ca"
PEER_CA = "peer-ca"
SERVER_CERT = "server-client"
PEER_CERT = "peer-server-client"
CLIENT_CERT = "client"
# The API server's identity towards etcd (k3s' etcd client certificate's CN is "etcd-client").
CLIENT_USER = "etcd-client"


@dataclass(frozen=True)
class EtcdPki:
    """Where etcd's CAs and this server's etcd certificates live."""

    directory: Path

    def crt(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"

    @property
    def server_ca(self) -> Path:
        return self.crt(SERVER_CA)

    @property
    def peer_ca(self) -> Path:
        return self.crt(PEER_CA)

    @property
    def ca_files(self) -> list[Path]:
        """The CA pairs every server of the cluster shares (what a joining server fetches)."""
        return [self.crt(SERVER_CA), self.key(SERVER_CA), self.crt(PEER_CA), self.key(PEER_CA)]


def directory(data_dir: Path) -> Path:
    return data_dir / "tls" / "etcd"


def sans(host_ip: str) -> tuple[list[str], list[str]]:
    """The names etcd's serving and peer certificates cover: loopback (the API server's
    endpoint) and the host's address (other members), as k3s' etcd certificates do."""
    dns = sorted({"localhost", socket.gethostname().lower()})
    ips = sorted({"127.0.0.1", "::1", host_ip} - {""})
    return dns, ips


def ensure(data_dir: Path, host_ip: str, *, make_cas: bool = True) -> EtcdPki:
    """The CAs (made unless `make_cas` is False: a joining server must have fetched them) and
    this server's serving, peer and client certificates, kept while sound."""
    pki = EtcdPki(directory(data_dir))
    if make_cas:
        certs.ensure_ca(pki.crt(SERVER_CA), pki.key(SERVER_CA), "etcd-server-ca")
        certs.ensure_ca(pki.crt(PEER_CA), pki.key(PEER_CA), "etcd-peer-ca")
    dns, ips = sans(host_ip)
    name = socket.gethostname().lower()
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    certs.ensure_leaf(
        pki.crt(SERVER_CA),
        pki.key(SERVER_CA),
        pki.crt(SERVER_CERT),
        pki.key(SERVER_CERT),
        common_name=f"etcd-server-{name}",
        usages=both,
        dns_names=dns,
        ips=ips,
    )
    # A member both serves its peers and calls them: server and client usage in one cert.
    certs.ensure_leaf(
        pki.crt(PEER_CA),
        pki.key(PEER_CA),
        pki.crt(PEER_CERT),
        pki.key(PEER_CERT),
        common_name=f"etcd-peer-{name}",
        usages=both,
        dns_names=dns,
        ips=ips,
    )
    certs.ensure_leaf(
        pki.crt(SERVER_CA),
        pki.key(SERVER_CA),
        pki.crt(CLIENT_CERT),
        pki.key(CLIENT_CERT),
        common_name=CLIENT_USER,
        usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    return pki
