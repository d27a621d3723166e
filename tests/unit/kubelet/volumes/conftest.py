"""Fixtures of the volume tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from volume_doubles import LOOKUP, NODE, RecordingMounter, make_pod

from kubelite.kubelet.volumes.context import VolumeContext


@pytest.fixture
def mounter() -> RecordingMounter:
    return RecordingMounter()


@pytest.fixture
def pod_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "pods" / "uid-1"
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def ctx(pod_dir: Path, mounter: RecordingMounter) -> VolumeContext:
    return VolumeContext(pod=make_pod(), pod_dir=pod_dir, lookup=LOOKUP, mounter=mounter, node=NODE)
