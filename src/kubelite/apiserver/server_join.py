"""Joining servers: the server token, and what a joining server fetches with it.

k3s tells its tokens apart: an agent token (`K10<CA hash>::node:<secret>`, kubelite's
`<data-dir>/node-token`) lets a kubelet join; the server token (`<data-dir>/token`, user
`server`) lets a machine become a server, which means receiving the cluster's private keys.
Its secret is a bearer token of the static token file whose user is `kubelite:server` in the
group `kubelite:servers`; only that group may read:

- `GET /v1-kubelite/server-bootstrap` (k3s' /v1-k3s/server-bootstrap): the files every server
  shares, by their path under the data dir: the cluster CA and service-account key pairs, the
  static token file and both tokens, and etcd's CAs;
- `GET /db/info` (k3s' path): the etcd members, so that the joining server can MemberAdd
  itself and start etcd with the others as --initial-cluster.

Anyone else is refused before anything is read: a wrong token is a 401 (the authenticator),
a node's or a user's credentials a 403 (here). Nothing is written on either side by these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kubelite.api import errors
from kubelite.apiserver import certs, node_join, responses
from kubelite.apiserver.auth import User

BOOTSTRAP_PATH = "/v1-kubelite/server-bootstrap"
DB_INFO_PATH = "/db/info"
PATHS = (BOOTSTRAP_PATH, DB_INFO_PATH)
SERVER_TOKEN_FILE = "token"
SERVER_USER = "kubelite:server"
SERVERS_GROUP = "kubelite:servers"


@dataclass
class ServerJoin:
    """What this server hands a joining server: the shared files (relative to `data_dir`)
    and, while it runs embedded etcd, its members."""

    data_dir: Path
    files: list[str] = field(default_factory=list)
    members: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None


def ensure_server_token(pki: certs.Pki, token_path: Path) -> node_join.JoinToken:
    """The server token at `token_path`, made once, its secret in the static token file."""
    ca = pki.ca_cert.read_bytes()
    if token_path.exists():
        token = node_join.parse(token_path.read_text())
        if token.ca_hash == node_join.ca_hash(ca) and token.secret in pki.token_file.read_text():
            return token
    token = node_join.new_token(node_join.ca_hash(ca), "server")
    with pki.token_file.open("a") as tokens:
        tokens.write(f'{token.secret},{SERVER_USER},{SERVER_USER},"{SERVERS_GROUP}"\n')
    node_join.write_token(token_path, token)
    return token


async def serve(join: ServerJoin, user: User, path: str, method: str) -> responses.Response:
    if SERVERS_GROUP not in user.groups:
        raise errors.StatusError(
            403,
            "Forbidden",
            f'User "{user.name}" cannot join as a server: {path} needs the server token '
            f"(<data-dir>/{SERVER_TOKEN_FILE}), not a node token",
        )
    if method != "GET":
        raise errors.method_not_allowed()
    if path == BOOTSTRAP_PATH:
        files = {}
        for name in join.files:
            source = join.data_dir / name
            if source.is_file():
                files[name] = source.read_text()
        body: dict[str, Any] = {"files": files}
    else:
        if join.members is None:
            raise errors.StatusError(
                503, "ServiceUnavailable", "this server runs no embedded etcd to join"
            )
        body = {"members": await join.members()}
    return responses.Response(body=orjson.dumps(body), content_type="application/json")
