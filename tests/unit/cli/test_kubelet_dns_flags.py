"""The kubelet's DNS flags: `kubelite agent --cluster-dns/--cluster-domain/--resolv-conf`, and
`kubelite server` handing them to the agent it runs."""

from __future__ import annotations

import argparse

import pytest

from kubelite.cli.cluster import agent, server


def _parse(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def _agent(*argv: str) -> agent.AgentFlags:
    return agent.flags_from(_parse(agent, "--node-ip", "192.0.2.10", *argv))


def test_the_agent_defaults_to_k3s_cluster_dns_and_domain() -> None:
    flags = _agent()
    assert flags.cluster_dns == ["10.43.0.10"]
    assert flags.cluster_domain == "cluster.local"
    assert flags.resolv_conf == ""  # chosen at start as k3s chooses it


def test_cluster_dns_repeated_or_comma_separated_replaces_the_default() -> None:
    assert _agent("--cluster-dns", "10.0.0.10").cluster_dns == ["10.0.0.10"]
    assert _agent(
        "--cluster-dns", "10.0.0.10,fd00::a", "--cluster-dns", "10.0.0.11"
    ).cluster_dns == [
        "10.0.0.10",
        "fd00::a",
        "10.0.0.11",
    ]


def test_an_invalid_cluster_dns_entry_is_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    assert _agent("--cluster-dns", "10.0.0.10,nope").cluster_dns == ["10.0.0.10"]
    assert "invalid clusterDNS IP 'nope'" in capsys.readouterr().err


def test_the_environment_stands_in_for_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_AGENT_CLUSTER_DNS", "10.1.0.10")
    monkeypatch.setenv("KUBELITE_AGENT_CLUSTER_DOMAIN", "corp.internal")
    monkeypatch.setenv("KUBELITE_AGENT_RESOLV_CONF", "/etc/upstream-resolv.conf")
    flags = _agent()
    assert (flags.cluster_dns, flags.cluster_domain, flags.resolv_conf) == (
        ["10.1.0.10"],
        "corp.internal",
        "/etc/upstream-resolv.conf",
    )


def test_the_server_passes_the_dns_flags_to_its_agent_only_when_given() -> None:
    assert not {"--cluster-dns", "--cluster-domain", "--resolv-conf"} & set(
        server.flags_from(_parse(server)).agent_args
    )
    given = server.flags_from(
        _parse(
            server,
            "--cluster-dns",
            "10.0.0.10",
            "--cluster-domain",
            "corp.internal",
            "--resolv-conf",
            "/r.conf",
        )
    )
    assert given.agent_args == [
        "--cluster-dns",
        "10.0.0.10",
        "--cluster-domain",
        "corp.internal",
        "--resolv-conf",
        "/r.conf",
    ]
