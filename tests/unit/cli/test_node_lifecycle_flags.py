"""`kubelite control-plane`'s node lifecycle flags: kube-controller-manager's names and defaults,
each also read from a `KUBELITE_CONTROL_PLANE_*` variable, filled into a NodeLifecycleConfig."""

from __future__ import annotations

import argparse

import pytest

from kubelite.cli.cluster import control_plane
from kubelite.controllers.nodelifecycle_config import NodeLifecycleConfig


def _flags(*argv: str) -> control_plane.ControlPlaneFlags:
    parser = argparse.ArgumentParser()
    control_plane.add_arguments(parser)
    return control_plane.flags_from(parser.parse_args(list(argv)))


def test_the_defaults_are_kube_controller_managers() -> None:
    lifecycle = _flags().node_lifecycle
    assert lifecycle == NodeLifecycleConfig()
    assert lifecycle == NodeLifecycleConfig(
        monitor_period=5.0,
        grace_period=50.0,
        startup_grace_period=60.0,
        eviction_rate=0.1,
        secondary_eviction_rate=0.01,
        unhealthy_zone_threshold=0.55,
        large_cluster_threshold=50,
    )
    assert type(lifecycle.large_cluster_threshold) is int


def test_each_flag_and_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_CONTROL_PLANE_NODE_MONITOR_PERIOD", "2s")
    monkeypatch.setenv("KUBELITE_CONTROL_PLANE_SECONDARY_NODE_EVICTION_RATE", "0.5")
    monkeypatch.setenv("KUBELITE_CONTROL_PLANE_LARGE_CLUSTER_SIZE_THRESHOLD", "9")
    lifecycle = _flags(
        "--node-monitor-grace-period",
        "1m30s",
        "--node-startup-grace-period",
        "500ms",
        "--node-eviction-rate",
        "2",
        "--unhealthy-zone-threshold",
        "0.25",
    ).node_lifecycle
    assert lifecycle == NodeLifecycleConfig(
        monitor_period=2.0,
        grace_period=90.0,
        startup_grace_period=0.5,
        eviction_rate=2.0,
        secondary_eviction_rate=0.5,
        unhealthy_zone_threshold=0.25,
        large_cluster_threshold=9,
    )
    # The command line wins over the environment.
    assert _flags("--node-monitor-period", "3s").node_lifecycle.monitor_period == 3.0
