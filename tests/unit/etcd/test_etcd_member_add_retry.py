"""A joining server's MemberAdd waits out etcd's strict reconfiguration check (a third server
joining right after the second) and fails at once on anything else (etcd/embedded.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.etcd import client, embedded
from kubelite.etcd.client import Member
from kubelite.etcd.pki import EtcdPki
from kubelite.etcd.process import EtcdMember

UNHEALTHY = "etcdserver: unhealthy cluster"


def _member(tmp_path: Path) -> EtcdMember:
    return EtcdMember(name="c-0000", data_dir=tmp_path, address="10.0.0.3", pki=EtcdPki(tmp_path))


MEMBERS = [
    Member(1, "a-1111", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"]),
    Member(2, "b-2222", ["https://10.0.0.2:2380"], ["https://10.0.0.2:2379"]),
]


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "ADD_MEMBER_RETRY", 0.0)


async def test_an_unhealthy_cluster_is_asked_again_until_it_adds_the_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def add_member(endpoint: str, pki: EtcdPki, peer_url: str) -> Member:
        calls.append(endpoint)
        if len(calls) <= 4:
            raise client.EtcdError(f"adding member {peer_url} at {endpoint}: {UNHEALTHY}")
        return Member(3, "", [peer_url], [])

    monkeypatch.setattr(client, "add_member", add_member)
    member = _member(tmp_path)
    await embedded._add_self(member, MEMBERS)
    # Both members were asked twice, then the first again, which added it.
    assert calls == ["https://10.0.0.1:2379", "https://10.0.0.2:2379"] * 2 + [
        "https://10.0.0.1:2379"
    ]
    assert member.initial_cluster_state == "existing"
    assert member.initial_cluster.endswith("c-0000=https://10.0.0.3:2380")


async def test_other_refusals_fail_the_join_without_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    async def add_member(endpoint: str, pki: EtcdPki, peer_url: str) -> Member:
        calls.append(endpoint)
        raise client.EtcdError(f"adding member at {endpoint}: etcdserver: Peer URLs already exists")

    monkeypatch.setattr(client, "add_member", add_member)
    with pytest.raises(embedded.EmbeddedEtcdError, match="Peer URLs already exists"):
        await embedded._add_self(_member(tmp_path), MEMBERS)
    assert len(calls) == 2


async def test_an_unhealthy_cluster_fails_the_join_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def add_member(endpoint: str, pki: EtcdPki, peer_url: str) -> Member:
        raise client.EtcdError(f"adding member at {endpoint}: {UNHEALTHY}")

    monkeypatch.setattr(client, "add_member", add_member)
    monkeypatch.setattr(embedded, "ADD_MEMBER_TIMEOUT", 0.0)
    with pytest.raises(embedded.EmbeddedEtcdError, match="unhealthy cluster"):
        await embedded._add_self(_member(tmp_path), MEMBERS)
