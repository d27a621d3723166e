"""`--terminated-pod-gc-threshold` on `kubelite server` reaches `kubelite control-plane`, whose
pod garbage collector keeps Kubernetes' timing unless told otherwise."""

from __future__ import annotations

import argparse

import pytest

from kubelite.cli.cluster import control_plane, server
from kubelite.controllers.podgc import PodGCSettings


def _parse(module: object, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)  # type: ignore[attr-defined]
    return parser.parse_args(list(argv))


def test_the_control_plane_collects_as_kube_controller_manager_does_by_default() -> None:
    flags = control_plane.flags_from(_parse(control_plane))
    assert flags.pod_gc == PodGCSettings(
        terminated_pod_threshold=12500, period=20.0, quarantine=40.0
    )


def test_the_threshold_and_the_test_timings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBELITE_CONTROL_PLANE_POD_GC_QUARANTINE", "2")
    flags = control_plane.flags_from(
        _parse(control_plane, "--terminated-pod-gc-threshold", "7", "--pod-gc-period", "1")
    )
    assert flags.pod_gc == PodGCSettings(terminated_pod_threshold=7, period=1.0, quarantine=2.0)


def test_the_server_passes_the_threshold_on_only_when_given() -> None:
    assert server.flags_from(_parse(server)).control_plane_args == []
    given = server.flags_from(_parse(server, "--terminated-pod-gc-threshold", "0"))
    assert given.control_plane_args == ["--terminated-pod-gc-threshold", "0"]
