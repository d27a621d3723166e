"""`kubelite hollow-nodes` flags become a checked HollowConfig; bad ones name the flag."""

from __future__ import annotations

import argparse

import pytest

from kubelite.cli.cluster import hollow_nodes
from kubelite.cli.cluster.hollow_nodes import FlagError, config_from


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    hollow_nodes.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_defaults_are_a_big_node_with_the_kubelets_pod_limit() -> None:
    config = config_from(_args("--count", "3"))
    assert config.count == 3
    assert config.name_prefix == "hollow-node-"
    assert config.capacity() == {
        "cpu": "32",
        "memory": "256Gi",
        "pods": "110",
        "ephemeral-storage": "100Gi",
    }
    assert config.labels == {} and config.taints == []
    assert config.lease_duration_seconds == 40
    assert not config.delete_on_exit


def test_capacity_labels_and_taints_are_read() -> None:
    config = config_from(
        _args(
            *("--count", "5", "--cpu", "4000m", "--memory", "32Gi", "--pods", "250"),
            *("--label", "topology.kubernetes.io/zone=a", "--label", "tier="),
            *("--taint", "dedicated=gpu:NoSchedule", "--taint", "spot:PreferNoSchedule"),
            "--delete-on-exit",
        )
    )
    assert config.capacity()["cpu"] == "4"  # canonical, as the API server would store it
    assert config.capacity()["pods"] == "250"
    assert config.labels == {"topology.kubernetes.io/zone": "a", "tier": ""}
    assert config.taints == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        {"key": "spot", "effect": "PreferNoSchedule"},
    ]
    assert config.delete_on_exit


def test_environment_variables_fill_in_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_HOLLOW_COUNT", "7")
    monkeypatch.setenv("KUBELITE_HOLLOW_NAME_PREFIX", "sim-")
    config = config_from(_args())
    assert (config.count, config.name_prefix) == (7, "sim-")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "--count must be given"),
        (("--count", "1", "--cpu", "lots"), "--cpu 'lots'"),
        (("--count", "1", "--memory=-1Gi"), "--memory '-1Gi': must be greater than zero"),
        (("--count", "1", "--label", "novalue"), "--label 'novalue': expected KEY=VALUE"),
        (("--count", "1", "--taint", "k=v:Sometimes"), "--taint 'k=v:Sometimes'"),
        (("--count", "1", "--taint", "=v:NoSchedule"), "the key is empty"),
        (("--count", "1", "--pods", "0"), "--pods must be greater than zero"),
        (("--count", "20000"), "room for 16384 nodes of 110 pods"),
        (("--count", "1", "--lease-duration-seconds", "2"), "at least 4"),
    ],
)
def test_bad_flags_are_refused_with_the_flag_named(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(FlagError, match=message.replace("(", r"\(")):
        config_from(_args(*argv))
