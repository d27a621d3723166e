"""Container mounts: subPath and subPathExpr inside the volume, read-only, propagation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from volume_doubles import RecordingMounter

from kubelite.kubelet.envvars import ConfigError
from kubelite.kubelet.volumes import configmap, mounts_for, teardown_volumes
from kubelite.kubelet.volumes.context import MountedVolume, VolumeContext
from kubelite.runtime import cri


@pytest.fixture
def data(tmp_path: Path) -> MountedVolume:
    path = tmp_path / "vol"
    (path / "sub" / "deeper").mkdir(parents=True)
    (path / "file.txt").write_text("x")
    os.chmod(path, 0o775)
    return MountedVolume("data", path)


def container(*mounts: dict) -> dict:
    return {"name": "app", "volumeMounts": list(mounts)}


def one_mount(volume: MountedVolume, env: dict | None = None, **mount: object) -> cri.Mount:
    (result,) = mounts_for(
        container({"name": volume.name, "mountPath": "/data", **mount}),
        {volume.name: volume},
        env=(env or {}).items(),
    )
    return result


def test_plain_mount(data: MountedVolume) -> None:
    assert one_mount(data) == cri.Mount(
        container_path="/data", host_path=str(data.path), readonly=False, propagation="private"
    )


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (None, "private"),
        ("None", "private"),
        ("HostToContainer", "rslave"),
        ("Bidirectional", "rshared"),
    ],
)
def test_propagation(data: MountedVolume, mode: str | None, expected: str) -> None:
    assert one_mount(data, mountPropagation=mode).propagation == expected


def test_bad_propagation_is_refused(data: MountedVolume) -> None:
    with pytest.raises(ConfigError, match='invalid MountPropagation mode: "Sideways"'):
        one_mount(data, mountPropagation="Sideways")


def test_read_only_from_the_mount_or_the_volume_type(data: MountedVolume) -> None:
    assert one_mount(data, readOnly=True).readonly is True
    forced = MountedVolume("data", data.path, read_only=True)
    assert one_mount(forced, readOnly=False).readonly is True


def test_relative_container_paths_are_made_absolute(data: MountedVolume) -> None:
    assert one_mount(data, mountPath="var/../data").container_path == "/data"


def test_sub_path(data: MountedVolume) -> None:
    assert one_mount(data, subPath="sub/deeper").host_path == str(data.path / "sub" / "deeper")
    assert one_mount(data, subPath="file.txt").host_path == str(data.path / "file.txt")


def test_missing_sub_path_dir_is_made_with_the_volumes_mode(data: MountedVolume) -> None:
    old = os.umask(0o077)
    try:
        mount = one_mount(data, subPath="new/dir")
    finally:
        os.umask(old)
    assert mount.host_path == str(data.path / "new" / "dir")
    assert stat.S_IMODE(os.stat(data.path / "new").st_mode) == 0o775
    assert stat.S_IMODE(os.stat(data.path / "new" / "dir").st_mode) == 0o775


def test_sub_path_expr_expands_from_the_environment(data: MountedVolume) -> None:
    mount = one_mount(data, env={"POD_NAME": "web-0"}, subPathExpr="logs/$(POD_NAME)")
    assert mount.host_path == str(data.path / "logs" / "web-0")
    assert (data.path / "logs" / "web-0").is_dir()


def test_sub_path_expr_needs_its_variables(data: MountedVolume) -> None:
    with pytest.raises(ConfigError, match="missing value for A, B"):
        one_mount(data, env={"A": ""}, subPathExpr="$(B)/$(A)")


@pytest.mark.parametrize(
    ("sub_path", "message"),
    [
        ("/etc", "error SubPath `/etc` must not be an absolute path"),
        ("../x", "unable to provision SubPath `../x`: must not contain '..'"),
        ("a/../../x", "unable to provision SubPath `a/../../x`: must not contain '..'"),
        ("out", 'failed to prepare subPath for volumeMount "data" of container "app"'),
        ("out/passwd", 'failed to prepare subPath for volumeMount "data" of container "app"'),
        ("outdir/passwd", 'failed to prepare subPath for volumeMount "data" of container'),
        ("outdir/new", 'failed to create subPath directory for volumeMount "data" of container'),
        ("loop", 'failed to prepare subPath for volumeMount "data" of container "app"'),
        ("loop/new", 'failed to prepare subPath for volumeMount "data" of container "app"'),
    ],
)
def test_sub_paths_that_escape_are_refused(
    data: MountedVolume, tmp_path: Path, sub_path: str, message: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root")
    os.symlink(outside / "passwd", data.path / "out")
    os.symlink("../outside", data.path / "outdir")
    os.symlink("loop", data.path / "loop")
    with pytest.raises(ConfigError) as caught:
        one_mount(data, subPath=sub_path)
    assert str(caught.value).startswith(message)
    assert not (outside / "new").exists()


def test_expr_expansion_cannot_escape_either(data: MountedVolume) -> None:
    with pytest.raises(ConfigError, match=r"must not contain '\.\.'"):
        one_mount(data, env={"X": ".."}, subPathExpr="$(X)/etc")


def test_links_inside_the_volume_are_fine(data: MountedVolume) -> None:
    os.symlink("sub", data.path / "alias")
    assert one_mount(data, subPath="alias/deeper").host_path == str(data.path / "sub" / "deeper")


async def test_configmap_key_as_sub_path(ctx: VolumeContext) -> None:
    volume = await configmap.set_up(ctx, {"name": "cfg", "configMap": {"name": "cfg"}})
    mount = one_mount(volume, subPath="app.conf", mountPath="/etc/nginx/app.conf")
    assert Path(mount.host_path).read_text() == "listen 80\n"
    assert Path(mount.host_path).parent.parent == volume.path  # resolved into ..<timestamp>
    assert mount.readonly is True


def test_unknown_volume_is_refused(data: MountedVolume) -> None:
    with pytest.raises(ConfigError) as caught:
        mounts_for(container({"name": "nope", "mountPath": "/x"}), {"data": data})
    assert str(caught.value) == 'cannot find volume "nope" to mount into container "app"'


def test_mounts_keep_the_containers_order(data: MountedVolume, tmp_path: Path) -> None:
    other = MountedVolume("other", tmp_path)
    result = mounts_for(
        container(
            {"name": "other", "mountPath": "/b"},
            {"name": "data", "mountPath": "/a"},
            {"name": "data", "mountPath": "/c", "subPath": "sub"},
        ),
        {"data": data, "other": other},
    )
    assert [m.container_path for m in result] == ["/b", "/a", "/c"]


def test_sub_paths_are_pinned_under_the_pod_dir(
    data: MountedVolume, pod_dir: Path, mounter: RecordingMounter
) -> None:
    result = mounts_for(
        container(
            {"name": "data", "mountPath": "/whole"},
            {"name": "data", "mountPath": "/dir", "subPath": "sub"},
            {"name": "data", "mountPath": "/f", "subPath": "file.txt", "readOnly": True},
        ),
        {"data": data},
        pod_dir=pod_dir,
        mounter=mounter,
    )
    targets = pod_dir / "volume-subpaths" / "data" / "app"
    assert [m.host_path for m in result] == [str(data.path), str(targets / "1"), str(targets / "2")]
    assert (targets / "1").is_dir() and (targets / "2").is_file()
    assert [target for _, target in mounter.bind_calls] == [targets / "1", targets / "2"]
    assert all(source.startswith("/proc/self/fd/") for source, _ in mounter.bind_calls)
    assert result[2].readonly is True

    teardown_volumes(pod_dir, mounter=mounter)
    assert mounter.unmount_calls == [targets / "1", targets / "2"]
    assert not (pod_dir / "volume-subpaths").exists()
    assert (data.path / "file.txt").read_text() == "x"  # the volume itself is not the pod's
