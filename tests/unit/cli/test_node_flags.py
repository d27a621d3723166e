"""The node's flags, declared once (`kubelite.cli.flags`): the agent takes them with their
defaults, `kubelite server` passes on only those set, and both read the environment under
their own prefix; `NodeLayout` is where the agent puts things and `kubelite reset` looks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kubelite.cli import flags
from kubelite.cli.cluster import agent, reset, server


def _parse(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def test_every_node_flag_is_taken_by_both_commands() -> None:
    agent_args = vars(_parse(agent))
    server_args = vars(_parse(server))
    for flag in flags.NODE_FLAGS.values():
        assert flag.dest in agent_args
        assert flag.dest in server_args


def test_the_agent_has_its_defaults_and_the_server_leaves_them_to_it() -> None:
    given = _parse(agent)
    # No pod CIDR of its own: node IPAM gives the Node one.
    assert (given.pod_cidr, given.bridge, given.kubelet_port, given.oci_runtime) == (
        "",
        "kubelite0",
        10250,
        "runc",
    )
    assert given.cluster_cidr == "10.42.0.0/16"
    assert given.disable_kube_proxy is False
    assert server.flags_from(_parse(server)).agent_args == []


def test_the_server_passes_on_what_is_set_in_its_own_order() -> None:
    given = server.flags_from(
        _parse(
            server,
            "--disable-kube-proxy",
            "--bridge",
            "br1",
            "--kubelet-port",
            "0",
            "--node-name",
            "n1",
        )
    )
    assert given.agent_args == [
        "--node-name",
        "n1",
        "--bridge",
        "br1",
        "--kubelet-port",
        "0",
        "--disable-kube-proxy",
    ]
    # What the server passes on, the agent takes.
    taken = agent.flags_from(_parse(agent, "--node-ip", "192.0.2.10", *given.agent_args))
    assert (taken.node_name, taken.bridge, taken.kubelet_port, taken.disable_kube_proxy) == (
        "n1",
        "br1",
        0,
        True,
    )


def test_the_server_passes_its_kubelets_security_flags_on() -> None:
    given = server.flags_from(
        _parse(server, "--allowed-unsafe-sysctls", "net.core.*,kernel.msgmax", "--seccomp-default")
    )
    assert given.agent_args == [
        "--allowed-unsafe-sysctls",
        "net.core.*,kernel.msgmax",
        "--seccomp-default",
    ]
    taken = agent.flags_from(_parse(agent, "--node-ip", "192.0.2.10", *given.agent_args))
    assert taken.allowed_unsafe_sysctls == ["net.core.*", "kernel.msgmax"]
    assert taken.seccomp_default is True


@pytest.mark.parametrize(
    ("value", "on"),
    [
        ("true", True),
        ("1", True),
        ("True", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("", False),
        ("no", False),
    ],
)
def test_a_switch_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, on: bool
) -> None:
    monkeypatch.setenv("KUBELITE_AGENT_DISABLE_KUBE_PROXY", value)
    monkeypatch.setenv("KUBELITE_DISABLE_KUBE_PROXY", value)
    assert _parse(agent).disable_kube_proxy is on
    assert _parse(server).disable_kube_proxy is on


def test_each_command_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_AGENT_POD_CIDR", "10.9.0.0/24")
    monkeypatch.setenv("KUBELITE_POD_CIDR", "10.8.0.0/24")
    assert _parse(agent).pod_cidr == "10.9.0.0/24"
    assert _parse(server).pod_cidr == "10.8.0.0/24"
    assert flags.AGENT_ENV.name("pod-cidr") == "KUBELITE_AGENT_POD_CIDR"


def test_reset_reads_the_agents_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kubelite reset` tears down what `kubelite agent` made with the same environment."""
    monkeypatch.setenv("KUBELITE_AGENT_DATA_DIR", "/srv/node1")
    monkeypatch.setenv("KUBELITE_AGENT_BRIDGE", "br1")
    monkeypatch.setenv("KUBELITE_AGENT_PROXY_NFTABLES_TABLE", "t1")
    given = _parse(reset)
    assert (given.data_dir, given.bridge, given.proxy_nftables_table) == ("/srv/node1", "br1", "t1")
    assert flags.default_proxy_table("br1") == "kubelite-br1"
    assert flags.default_proxy_table("kubelite0") == "kubelite"


def test_the_node_layout() -> None:
    layout = flags.NodeLayout(Path("/srv/node1"))
    assert layout.images == Path("/srv/node1/images")
    assert layout.runtime_state == Path("/srv/node1/run/runtime")
    assert layout.runtime_root == Path("/srv/node1/runtime")
    assert layout.pods == Path("/srv/node1/kubelet/pods")
    assert layout.logs == Path("/srv/node1/logs/pods")
    # The machine's own node keeps its logs where Kubernetes does.
    assert flags.NodeLayout().logs == Path("/var/log/pods")
