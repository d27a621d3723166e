"""`kubelite proxy` and the agent's proxy flags: kube-proxy's flag names, checked before
anything runs, and the table a node's proxy owns."""

from __future__ import annotations

import argparse

import pytest

from kubelite.cli.cluster import proxy
from kubelite.cli.cluster.agent import default_proxy_table


def flags(*argv: str) -> proxy.ProxyFlags:
    parser = argparse.ArgumentParser()
    proxy.add_arguments(parser)
    return proxy.flags_from(parser.parse_args(list(argv)))


def test_defaults_are_kube_proxys() -> None:
    f = flags("--hostname-override", "Node-1")
    assert f.node_name == "node-1"
    assert f.cluster_cidrs == ["10.42.0.0/16"]
    assert f.nodeport_addresses == ["primary"]
    assert f.table == "kubelite"
    assert f.min_sync_period == 1.0
    assert proxy.validate(f) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cluster-cidr", "10.42.0.0/33"], "--cluster-cidr: '10.42.0.0/33' is not a CIDR"),
        (
            ["--nodeport-addresses", "primary,eth0"],
            "--nodeport-addresses: 'eth0' is neither a CIDR nor \"primary\"",
        ),
        (["--min-sync-period", "-1"], "--min-sync-period must not be negative"),
    ],
)
def test_bad_flags_are_named(argv: list[str], message: str) -> None:
    assert proxy.validate(flags(*argv)) == message


def test_nodeport_addresses_of_everything_match_every_local_address() -> None:
    from kubelite.proxy.runner import nodeport_ips

    assert nodeport_ips(["primary"], ["192.168.1.5"]) == ("192.168.1.5",)
    assert nodeport_ips(["0.0.0.0/0"], ["192.168.1.5"]) is None


def test_each_node_bridge_has_a_table_of_its_own() -> None:
    assert default_proxy_table("kubelite0") == "kubelite"
    assert default_proxy_table("kle2e1a2b") == "kubelite-kle2e1a2b"
