"""The joining server's side of `kubelite server --server URL --token T` (k3s' server join).

1. The cluster CA is read from `/v1-kubelite/cacerts` without verification and kept only if its
   hash is the token's (as an agent does, cli/cluster/join.py).
2. With the server token's secret, over TLS verified by that CA, it reads the files every server
   shares (`/v1-kubelite/server-bootstrap`) and the etcd members (`/db/info`).
3. Only once both answered are the files written under this server's data dir: a wrong token
   (401) or an agent's token (403) stops the join with nothing written here, and the other
   server changed nothing either.

MemberAdd and the start of etcd with --initial-cluster-state=existing follow in
`kubelite.etcd.embedded`.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson

from kubelite.apiserver.node_join import fetch_pinned_ca, parse
from kubelite.apiserver.server_join import BOOTSTRAP_PATH, DB_INFO_PATH
from kubelite.etcd.client import Member

TIMEOUT = aiohttp.ClientTimeout(total=30)


class JoinError(Exception):
    """The join cannot go on; the message says what the other server answered."""


@dataclass(frozen=True)
class Bootstrap:
    """What a joining server fetched: the shared files (path under the data dir -> text) and
    the etcd members of the cluster."""

    files: dict[str, str]
    members: list[Member]


async def fetch(server: str, token_text: str) -> Bootstrap:
    try:
        token = parse(token_text)
    except ValueError as e:
        raise JoinError(f"--token: {e}") from e
    server = server.rstrip("/")
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            try:
                ca = await fetch_pinned_ca(session, server, token, "token")
            except ValueError as e:
                raise JoinError(str(e)) from None
            verified = ssl.create_default_context(cadata=ca.decode())
            # The server's certificate names its advertised address, not necessarily the one
            # dialled (a test's 127.0.0.1): the CA pinned by the token is what is checked.
            verified.check_hostname = False
            headers = {"Authorization": f"Bearer {token.secret}"}
            answers = {}
            for path in (BOOTSTRAP_PATH, DB_INFO_PATH):
                async with session.get(server + path, headers=headers, ssl=verified) as response:
                    body = await response.read()
                    if response.status != 200:
                        raise JoinError(_refusal(server, path, response.status, body))
                    answers[path] = orjson.loads(body)
    except aiohttp.ClientError as e:
        raise JoinError(f"cannot reach {server}: {e}") from e
    return Bootstrap(
        files=dict(answers[BOOTSTRAP_PATH]["files"]),
        members=[Member.from_json(m) for m in answers[DB_INFO_PATH]["members"]],
    )


def _refusal(server: str, path: str, status: int, body: bytes) -> str:
    try:
        message = str(orjson.loads(body).get("message", ""))
    except (orjson.JSONDecodeError, AttributeError):
        message = body.decode(errors="replace")[:200]
    if status == 401:
        return (
            f"{server} refused the token (401 Unauthorized): is it the server's <data-dir>/token?"
        )
    return f"{server}{path}: {status} {message}"


def write(data_dir: Path, files: dict[str, str]) -> None:
    """The shared files under `data_dir`, each whole (written aside, then renamed), owner-only:
    they are private keys and tokens."""
    for name, text in files.items():
        path = (data_dir / name).resolve()
        if not path.is_relative_to(data_dir.resolve()):
            raise JoinError(f"the server named a file outside the data dir: {name}")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".join")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        tmp.replace(path)
