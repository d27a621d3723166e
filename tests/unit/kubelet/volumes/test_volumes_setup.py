"""prepare_volumes and teardown_volumes over a whole pod."""

from __future__ import annotations

from pathlib import Path

import pytest
from volume_doubles import LOOKUP, NODE, RecordingMounter, make_pod

from kubelite.kubelet.volumes import (
    FAILED_MOUNT,
    VolumeSetupError,
    prepare_volumes,
    teardown_volumes,
)
from kubelite.kubelet.volumes.mounter import parse_mountinfo


def pod_with(tmp_path: Path, *extra: dict) -> dict:
    return make_pod(
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory"}},
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "creds", "secret": {"secretName": "creds"}},
            {
                "name": "info",
                "downwardAPI": {
                    "items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]
                },
            },
            {
                "name": "host",
                "hostPath": {"path": str(tmp_path / "host"), "type": "DirectoryOrCreate"},
            },
            *extra,
        ]
    )


async def test_prepare_and_teardown_a_pod(
    tmp_path: Path, pod_dir: Path, mounter: RecordingMounter
) -> None:
    pod = pod_with(tmp_path)
    volumes = await prepare_volumes(pod, pod_dir, lookup=LOOKUP, node=NODE, mounter=mounter)
    assert list(volumes) == ["scratch", "cache", "cfg", "creds", "info", "host"]
    assert volumes["host"].path == tmp_path / "host"
    assert (volumes["info"].path / "n").read_text() == "web"
    assert sorted(mounter.mounted) == sorted([volumes["cache"].path, volumes["creds"].path])
    (volumes["host"].path / "keep").write_text("host data")

    teardown_volumes(pod_dir, mounter=mounter)

    assert mounter.mounted == {}
    assert not (pod_dir / "volumes").exists()
    assert (tmp_path / "host" / "keep").read_text() == "host data"  # never touched
    teardown_volumes(pod_dir, mounter=mounter)  # again: nothing to do


async def test_one_failing_volume_does_not_hold_up_the_others(
    tmp_path: Path, pod_dir: Path, mounter: RecordingMounter
) -> None:
    pod = pod_with(
        tmp_path,
        {"name": "missing", "configMap": {"name": "x"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
    )
    with pytest.raises(VolumeSetupError) as caught:
        await prepare_volumes(pod, pod_dir, lookup=LOOKUP, node=NODE, mounter=mounter)
    error = caught.value
    assert [e.volume for e in error.errors] == ["missing", "claim"]
    assert FAILED_MOUNT == "FailedMount"
    assert error.errors[0].event_message == (
        'MountVolume.SetUp failed for volume "missing" : configmap "x" not found'
    )
    assert str(error.errors[1]) == "volume type persistentVolumeClaim is not supported by kubelite"
    assert list(error.prepared) == ["scratch", "cache", "cfg", "creds", "info", "host"]
    teardown_volumes(pod_dir, mounter=mounter)


async def test_teardown_refuses_to_delete_through_a_mount(
    tmp_path: Path, pod_dir: Path, mounter: RecordingMounter
) -> None:
    pod = make_pod(volumes=[{"name": "cache", "emptyDir": {"medium": "Memory"}}])
    volumes = await prepare_volumes(pod, pod_dir, lookup=LOOKUP, mounter=mounter)

    class Stuck(RecordingMounter):
        def unmount(self, target: Path) -> None:
            raise OSError(16, "busy")

    stuck = Stuck()
    stuck.mounted = dict(mounter.mounted)
    with pytest.raises(OSError, match="busy"):
        teardown_volumes(pod_dir, mounter=stuck)
    assert volumes["cache"].path.is_dir()  # left for the next try
    teardown_volumes(pod_dir, mounter=mounter)
    assert not (pod_dir / "volumes").exists()


def test_mountinfo_lines_are_parsed() -> None:
    text = (
        "36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - tmpfs tmpfs rw,size=64k\n"
        "37 35 98:0 / /proc rw - proc proc rw\n"
    )
    assert parse_mountinfo(text) == [(Path("/mnt/with space"), "tmpfs"), (Path("/proc"), "proc")]
