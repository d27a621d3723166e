"""Joining nodes: the join token, and what a joining kubelet fetches with it.

As in k3s, a server writes a node token (`<data-dir>/node-token`) shaped
`K10<sha256 of the CA certificate>::node:<secret>`. A machine joins with
`kubelite agent --server URL --token TOKEN`:

1. it reads the cluster's CA from `GET /v1-kubelite/cacerts`, which anyone may read, over TLS
   it cannot verify yet, and accepts it only if its hash is the one in the token (so a server in
   the middle cannot pass its own CA off);
2. from then on it verifies the server with that CA and authenticates with the secret, a bearer
   token of the server's static token file, whose user is in the group `system:nodes`;
3. it asks `POST /v1-kubelite/serving-kubelet.crt` for a serving certificate of its node, signed
   by the cluster CA, so that the API server can verify the kubelet it proxies logs and exec to,
   and client certificates for its kubelet (`system:node:<name>` in `system:nodes`, which the
   Node authorizer and NodeRestriction hold to its own objects) and its service proxy
   (`system:kube-proxy`); the token is not used again.
"""

from __future__ import annotations

import hashlib
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from kubelite.api import errors
from kubelite.apiserver import bodies, certs, responses
from kubelite.apiserver.auth import User

CA_PATH = "/v1-kubelite/cacerts"
SERVING_CERT_PATH = "/v1-kubelite/serving-kubelet.crt"
TOKEN_PREFIX = "K10"
NODE_USER = "kubelite:node"
NODES_GROUP = "system:nodes"
# The user of the service proxy's certificate: bound to system:node-proxier by default.
KUBE_PROXY_USER = "system:kube-proxy"


@dataclass(frozen=True)
class JoinToken:
    """The token an agent joins with (k3s' format): the CA's hash pins the server, the user
    and secret authenticate the node."""

    ca_hash: str
    user: str
    secret: str

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}{self.ca_hash}::{self.user}:{self.secret}"


def parse(text: str) -> JoinToken:
    """A node token as `kubelite server` writes it; ValueError with what is wrong otherwise."""
    text = text.strip()
    if not text.startswith(TOKEN_PREFIX) or "::" not in text:
        raise ValueError("not a kubelite node token: it starts K10<CA hash>::")
    ca_hash, _, credentials = text[len(TOKEN_PREFIX) :].partition("::")
    user, _, secret = credentials.partition(":")
    if len(ca_hash) != 64 or not user or not secret:
        raise ValueError("not a kubelite node token: K10<CA hash>::<user>:<secret>")
    return JoinToken(ca_hash, user, secret)


def ca_hash(ca_pem: bytes) -> str:
    return hashlib.sha256(ca_pem).hexdigest()


async def fetch_pinned_ca(
    session: aiohttp.ClientSession, server: str, token: JoinToken, token_name: str
) -> bytes:
    """`server`'s CA, read without verifying the server (nothing is trusted yet) and accepted
    only if it is the one the token pins by its hash, as a k3s agent or server joins.
    ValueError says why not; aiohttp's errors pass through."""
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    async with session.get(server + CA_PATH, ssl=unverified) as response:
        if response.status != 200:
            raise ValueError(f"{server}{CA_PATH}: {response.status}")
        ca = await response.read()
    if ca_hash(ca) != token.ca_hash:
        raise ValueError(f"the CA of {server} is not the one the {token_name} names")
    return ca


def ensure_node_token(pki: certs.Pki, token_path: Path) -> JoinToken:
    """The node token at `token_path`, made once: its secret is added to the static token file
    (user `kubelite:node`, group `system:nodes`), and the file holds the whole token."""
    ca = pki.ca_cert.read_bytes()
    if token_path.exists():
        token = parse(token_path.read_text())
        if token.ca_hash == ca_hash(ca) and token.secret in pki.token_file.read_text():
            return token
    token = new_token(ca_hash(ca), "node")
    with pki.token_file.open("a") as tokens:
        tokens.write(f'{token.secret},{NODE_USER},{NODE_USER},"{NODES_GROUP}"\n')
    write_token(token_path, token)
    return token


def new_token(ca_digest: str, user: str) -> JoinToken:
    return JoinToken(ca_digest, user, secrets.token_hex(16))


def write_token(token_path: Path, token: JoinToken) -> None:
    """The whole token in a file of its owner's, replaced at once."""
    token_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = token_path.with_suffix(".tmp")
    tmp.write_text(f"{token}\n")
    tmp.chmod(0o600)
    tmp.replace(token_path)


def serve_ca(pki: certs.Pki) -> web.Response:
    return web.Response(body=pki.ca_cert.read_bytes(), content_type="application/x-pem-file")


async def serve_serving_cert(pki: certs.Pki, user: User, request: web.Request) -> web.Response:
    """A kubelet serving certificate for the node the request names, for nodes only."""
    if NODES_GROUP not in user.groups:
        raise errors.StatusError(
            403, "Forbidden", f'User "{user.name}" cannot ask for a kubelet serving certificate'
        )
    try:
        body = orjson.loads(await bodies.read_body(request))
        node = str(body["nodeName"])
        ips = [str(ip) for ip in body.get("ips") or ()]
    except (orjson.JSONDecodeError, KeyError, TypeError) as e:
        raise errors.bad_request(f"want {{nodeName, ips}}: {e}") from e
    cert, key = certs.issue_kubelet_serving_cert(pki, node, ips)
    # And the client identities the node acts as from then on: its kubelet as
    # `system:node:<name>` (the Node authorizer's), its service proxy as `system:kube-proxy`.
    client_cert, client_key = certs.issue_client_cert(
        pki, f"{certs.NODE_USER_PREFIX}{node}", (NODES_GROUP,)
    )
    proxy_cert, proxy_key = certs.issue_client_cert(pki, KUBE_PROXY_USER, ())
    answer = {
        "cert": cert.read_text(),
        "key": key.read_text(),
        "clientCert": client_cert.decode(),
        "clientKey": client_key.decode(),
        "proxyCert": proxy_cert.decode(),
        "proxyKey": proxy_key.decode(),
    }
    return responses.Response(body=orjson.dumps(answer), content_type="application/json")
