"""The embedded member's name, data dir and flags (kubelite.etcd.process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kubelite.etcd import process
from kubelite.etcd.pki import EtcdPki


def _member(tmp_path: Path, **kw: object) -> process.EtcdMember:
    return process.EtcdMember(
        name="n1-0123abcd",
        data_dir=tmp_path,
        address="10.0.0.5",
        pki=EtcdPki(tmp_path / "tls" / "etcd"),
        **kw,  # type: ignore[arg-type]
    )


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv[1:] if "=" in a)


def test_a_new_member_listens_on_loopback_and_the_host_and_requires_client_certs(
    tmp_path: Path,
) -> None:
    argv = _member(tmp_path, client_port=32379, peer_port=32380).argv()
    flags = _flags(argv)
    assert argv[0] == "/usr/bin/etcd"
    assert flags["name"] == "n1-0123abcd"
    assert flags["data-dir"] == str(tmp_path / "db" / "etcd")
    assert flags["listen-client-urls"] == "https://10.0.0.5:32379,https://127.0.0.1:32379"
    assert flags["advertise-client-urls"] == "https://10.0.0.5:32379"
    assert flags["listen-peer-urls"] == "https://10.0.0.5:32380"
    assert flags["initial-advertise-peer-urls"] == "https://10.0.0.5:32380"
    assert flags["initial-cluster"] == "n1-0123abcd=https://10.0.0.5:32380"
    assert flags["initial-cluster-state"] == "new"
    assert flags["heartbeat-interval"] == "500"
    assert flags["election-timeout"] == "5000"
    assert "--client-cert-auth" in argv and "--peer-client-cert-auth" in argv
    assert flags["trusted-ca-file"].endswith("tls/etcd/server-ca.crt")
    assert flags["peer-trusted-ca-file"].endswith("tls/etcd/peer-ca.crt")


def test_a_joining_member_starts_with_the_others_and_state_existing(tmp_path: Path) -> None:
    member = _member(tmp_path)
    member.initial_cluster = "a-1=https://10.0.0.4:2380,n1-0123abcd=https://10.0.0.5:2380"
    member.initial_cluster_state = "existing"
    flags = _flags(member.argv())
    assert flags["initial-cluster"] == member.initial_cluster
    assert flags["initial-cluster-state"] == "existing"


def test_a_loopback_member_listens_once(tmp_path: Path) -> None:
    member = process.EtcdMember(
        name="x", data_dir=tmp_path, address="127.0.0.1", pki=EtcdPki(tmp_path)
    )
    assert _flags(member.argv())["listen-client-urls"] == "https://127.0.0.1:2379"


def test_the_member_name_is_the_node_name_and_a_suffix_kept_across_starts(
    tmp_path: Path,
) -> None:
    first = process.member_name(tmp_path, "server-a")
    assert re.fullmatch(r"server-a-[0-9a-f]{8}", first)
    assert process.member_name(tmp_path, "server-a") == first
    assert (tmp_path / "db" / "etcd" / "name").read_text() == first
    assert process.member_name(tmp_path, "server-a", renew=True) != first


def test_etcd_variables_of_the_caller_do_not_reach_the_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETCD_NAME", "wrong")
    assert "ETCD_NAME" not in process.env()
