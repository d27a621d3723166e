"""fsGroup ownership of a pod's volumes (SetVolumeOwnership): the group, its permissions and
setgid, on emptyDir volumes when made and on the files configMap, secret, downwardAPI and
projected volumes write; and the service account token of a pod with a user or an fsGroup."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from volume_doubles import make_pod

from kubelite.kubelet.volumes import configmap, empty_dir, projected
from kubelite.kubelet.volumes.context import VolumeContext
from kubelite.kubelet.volumes.ownership import set_volume_ownership

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving files any group needs root")

GROUP = 4242


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode) | (os.lstat(path).st_mode & stat.S_ISGID)


def with_fs_group(ctx: VolumeContext, run_as_user: int | None = None) -> VolumeContext:
    pod = make_pod()
    pod["spec"]["securityContext"] = {"fsGroup": GROUP}
    if run_as_user is not None:
        pod["spec"]["securityContext"]["runAsUser"] = run_as_user
    return dataclasses.replace(ctx, pod=pod)


def tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    os.chmod(root / "sub", 0o700)
    (root / "sub" / "file").write_text("x")
    os.chmod(root / "sub" / "file", 0o600)
    (root / "link").symlink_to("sub/file")


def test_every_file_gets_the_group_and_group_rw_and_directories_setgid(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    tree(root)
    os.chmod(root, 0o755)
    set_volume_ownership(root, GROUP)
    for path in (root, root / "sub", root / "sub" / "file", root / "link"):
        assert os.lstat(path).st_gid == GROUP
        assert os.lstat(path).st_uid == 0  # the owner stays
    assert mode(root) == 0o2775 and mode(root / "sub") == 0o2770
    assert mode(root / "sub" / "file") == 0o660
    assert not os.lstat(root / "link").st_mode & stat.S_ISGID  # a link's mode is left alone


def test_a_read_only_volume_gets_group_read_only(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    tree(root)
    set_volume_ownership(root, GROUP, read_only=True)
    assert mode(root / "sub" / "file") == 0o640
    assert mode(root / "sub") == 0o2750


def test_nothing_happens_without_an_fs_group(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    tree(root)
    set_volume_ownership(root, None)
    assert os.lstat(root / "sub" / "file").st_gid == 0


def test_on_root_mismatch_skips_a_volume_whose_root_is_right_already(tmp_path: Path) -> None:
    root = tmp_path / "vol"
    tree(root)
    os.chown(root, -1, GROUP)
    os.chmod(root, 0o2770)
    set_volume_ownership(root, GROUP, change_policy="OnRootMismatch")
    assert os.lstat(root / "sub" / "file").st_gid == 0  # not walked
    os.chmod(root, 0o770)  # setgid missing: a mismatch
    set_volume_ownership(root, GROUP, change_policy="OnRootMismatch")
    assert os.lstat(root / "sub" / "file").st_gid == GROUP


async def test_a_new_empty_dir_belongs_to_the_fs_group_once(ctx: VolumeContext) -> None:
    ctx = with_fs_group(ctx)
    volume = {"name": "data", "emptyDir": {}}
    mounted = await empty_dir.set_up(ctx, volume)
    assert os.stat(mounted.path).st_gid == GROUP and mode(mounted.path) == 0o2777
    (mounted.path / "private").write_text("x")
    os.chmod(mounted.path / "private", 0o600)
    await empty_dir.set_up(ctx, volume)  # a later sync leaves the files alone
    assert mode(mounted.path / "private") == 0o600


async def test_config_map_files_get_the_group_read_only_and_are_not_rewritten(
    ctx: VolumeContext,
) -> None:
    ctx = with_fs_group(ctx)
    volume = {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 0o400}}
    mounted = await configmap.set_up(ctx, volume)
    data = mounted.path / "app.conf"
    assert os.stat(data).st_gid == GROUP and mode(Path(os.path.realpath(data))) == 0o440
    assert os.lstat(mounted.path).st_mode & stat.S_ISGID
    written = os.readlink(mounted.path / "..data")
    await configmap.set_up(ctx, volume)
    assert os.readlink(mounted.path / "..data") == written


async def test_the_token_of_a_pod_with_a_user_and_an_fs_group_is_theirs_alone(
    ctx: VolumeContext,
) -> None:
    ctx = dataclasses.replace(with_fs_group(ctx, run_as_user=1000), token_source=lambda *_: "t")
    volume = {
        "name": "token",
        "projected": {"defaultMode": 0o644, "sources": [{"serviceAccountToken": {"path": "t"}}]},
    }
    mounted = await projected.set_up(ctx, volume)
    token = Path(os.path.realpath(mounted.path / "t"))
    info = os.stat(token)
    assert (info.st_uid, info.st_gid, mode(token)) == (1000, GROUP, 0o640)
