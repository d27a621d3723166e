"""How this server's etcd member is started: its name, its data directory and its flags.

As k3s (pkg/etcd/etcd.go): the member is named `<node name>-<8 hex digits>`, chosen once and
kept in `<data-dir>/db/etcd/name` (so a re-made node never takes an old member's name); its data
lives in `<data-dir>/db/etcd`; it listens for clients on loopback and the host's address, for
peers on the host's address, requires client certificates on both (--client-cert-auth,
--peer-client-cert-auth), and uses k3s' timing, heartbeat 500 ms and election 5000 ms (etcd's
own 100/1000 are tuned for one data centre and flap on loaded test machines).

The ports are 2379 and 2380 by default and configurable (`--etcd-client-port`,
`--etcd-peer-port`), so several servers can share a machine.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kubelite.etcd.pki import PEER_CERT, SERVER_CERT, EtcdPki

ETCD_BINARY = "/usr/bin/etcd"
CLIENT_PORT = 2379
PEER_PORT = 2380
# k3s' ETCDConfig: HeartbeatInterval 500, ElectionTimeout 5000 (milliseconds).
HEARTBEAT_INTERVAL_MS = 500
ELECTION_TIMEOUT_MS = 5000
# The sentinel k3s reads to know a data dir already holds a member (IsInitialized: member/wal).
WAL_DIR = Path("member") / "wal"


def db_dir(data_dir: Path) -> Path:
    """k3s' DBDir: `<data-dir>/db/etcd` (k3s' data dir is `<k3s data-dir>/server`)."""
    return data_dir / "db" / "etcd"


def is_initialized(data_dir: Path) -> bool:
    return (db_dir(data_dir) / WAL_DIR).is_dir()


def member_name(data_dir: Path, node_name: str, *, renew: bool = False) -> str:
    """This server's member name, made once (or again with `renew`, as a reset does)."""
    path = db_dir(data_dir) / "name"
    if not renew:
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
    name = f"{node_name}-{uuid.uuid4().hex[:8]}"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(name)
    path.chmod(0o600)
    return name


def url(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


@dataclass
class EtcdMember:
    """One member as it is started here."""

    name: str
    data_dir: Path
    address: str
    pki: EtcdPki
    client_port: int = CLIENT_PORT
    peer_port: int = PEER_PORT
    # `name=peerURL,...`: the members a new data dir starts with; "" for this member alone.
    initial_cluster: str = ""
    # "new" for --cluster-init and a reset, "existing" for a join.
    initial_cluster_state: str = "new"
    extra_args: list[str] = field(default_factory=list)

    @property
    def client_url(self) -> str:
        return url(self.address, self.client_port)

    @property
    def peer_url(self) -> str:
        return url(self.address, self.peer_port)

    @property
    def local_client_url(self) -> str:
        """The endpoint the API server on this machine uses (k3s: https://127.0.0.1:2379)."""
        return url("127.0.0.1", self.client_port)

    def argv(self) -> list[str]:
        listen_clients = [self.client_url]
        if self.address != "127.0.0.1":
            listen_clients.append(self.local_client_url)
        pki = self.pki
        args = [
            ETCD_BINARY,
            f"--name={self.name}",
            f"--data-dir={db_dir(self.data_dir)}",
            f"--listen-client-urls={','.join(listen_clients)}",
            f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={self.initial_cluster or f'{self.name}={self.peer_url}'}",
            f"--initial-cluster-state={self.initial_cluster_state}",
            f"--heartbeat-interval={HEARTBEAT_INTERVAL_MS}",
            f"--election-timeout={ELECTION_TIMEOUT_MS}",
            f"--cert-file={pki.crt(SERVER_CERT)}",
            f"--key-file={pki.key(SERVER_CERT)}",
            f"--trusted-ca-file={pki.server_ca}",
            "--client-cert-auth",
            f"--peer-cert-file={pki.crt(PEER_CERT)}",
            f"--peer-key-file={pki.key(PEER_CERT)}",
            f"--peer-trusted-ca-file={pki.peer_ca}",
            "--peer-client-cert-auth",
            # No metrics port of its own: two members on one machine would fight over 2381.
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        return args + self.extra_args


def env() -> dict[str, str]:
    """etcd reads ETCD_* variables as flags: none of the caller's may leak into the member."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
