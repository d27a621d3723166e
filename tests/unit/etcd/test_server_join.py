"""The server token and what it opens (apiserver/server_join.py, etcd/join.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kubelite.api import errors
from kubelite.apiserver import certs, node_join, server_join
from kubelite.apiserver.auth import User
from kubelite.etcd import embedded, join


def _json(answer: web.Response) -> Any:
    assert isinstance(answer.body, bytes)
    return orjson.loads(answer.body)


@pytest.fixture
def pki(tmp_path: Path) -> certs.Pki:
    return certs.ensure(tmp_path / "tls", ["localhost"], ["127.0.0.1"])


def test_the_server_token_is_apart_from_the_node_token(tmp_path: Path, pki: certs.Pki) -> None:
    node = node_join.ensure_node_token(pki, tmp_path / "node-token")
    server = server_join.ensure_server_token(pki, tmp_path / "token")
    assert str(server).startswith(f"K10{node.ca_hash}::server:")
    assert server.secret != node.secret
    tokens = pki.token_file.read_text()
    assert f'{server.secret},kubelite:server,kubelite:server,"kubelite:servers"' in tokens
    # Kept across starts.
    assert server_join.ensure_server_token(pki, tmp_path / "token") == server


async def test_a_node_is_refused_the_server_bootstrap(tmp_path: Path) -> None:
    join_info = server_join.ServerJoin(tmp_path, ["tls/ca.key"])
    node = User("kubelite:node", ("system:nodes",))
    with pytest.raises(errors.StatusError) as refused:
        await server_join.serve(join_info, node, server_join.BOOTSTRAP_PATH, "GET")
    assert refused.value.code == 403
    assert "server token" in str(refused.value)


async def test_a_server_gets_the_shared_files_and_the_members(tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.key").write_text("KEY")

    async def members() -> list[dict[str, object]]:
        return [{"name": "a-1", "peerURLs": ["https://10.0.0.1:2380"]}]

    info = server_join.ServerJoin(tmp_path, ["tls/ca.key", "tls/missing"], members)
    user = User("kubelite:server", ("kubelite:servers",))
    answer = await server_join.serve(info, user, server_join.BOOTSTRAP_PATH, "GET")
    assert _json(answer) == {"files": {"tls/ca.key": "KEY"}}
    answer = await server_join.serve(info, user, server_join.DB_INFO_PATH, "GET")
    assert _json(answer)["members"][0]["name"] == "a-1"


def test_the_joiner_writes_no_file_outside_its_data_dir(tmp_path: Path) -> None:
    with pytest.raises(join.JoinError):
        join.write(tmp_path / "data", {"../evil": "x"})
    assert not (tmp_path / "evil").exists()


def test_every_shared_file_a_server_needs_is_handed_out() -> None:
    for name in ("tls/ca.key", "tls/sa.key", "tls/tokens.csv", "token", "node-token"):
        assert name in embedded.SHARED_FILES
    assert "tls/etcd/server-ca.key" in embedded.SHARED_FILES
    assert "tls/etcd/peer-ca.key" in embedded.SHARED_FILES
    # A server's own leaves are issued by itself, never copied.
    assert "tls/server.key" not in embedded.SHARED_FILES
    assert "tls/etcd/client.key" not in embedded.SHARED_FILES


def test_a_second_server_with_the_same_node_name_is_refused() -> None:
    from kubelite.etcd.client import Member

    with pytest.raises(embedded.EmbeddedEtcdError, match="unique --node-name"):
        embedded._check_unique([Member(1, "srv-0123abcd", [], [])], "srv")
    embedded._check_unique([Member(1, "srv-0123abcd", [], [])], "srv2")
