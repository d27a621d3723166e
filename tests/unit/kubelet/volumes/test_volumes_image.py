"""image volumes: set up, mounted read-only from the image's layers, subPaths found in the image,
and unmounted with the pod's other volumes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from volume_doubles import LOOKUP, NODE, RecordingMounter, make_pod

from kubelite.kubelet.envvars import ConfigError
from kubelite.kubelet.volumes import mounts_for, prepare_volumes, teardown_volumes
from kubelite.kubelet.volumes.image import (
    EMPTY_LOWER,
    PLUGIN_DIR,
    ImageVolumeMountError,
    mount_image,
    mounted_image,
    resolve_subpath,
)
from kubelite.runtime import cri

VOLUME = {"name": "models", "image": {"reference": "example.com/models:1", "pullPolicy": "Never"}}


class OverlayMounter(RecordingMounter):
    """The recording mounter, which also pretends to mount overlays."""

    def __init__(self) -> None:
        super().__init__()
        self.overlay_calls: list[tuple[list[Path], Path]] = []

    def mount_overlay(self, lower: list[Path], target: Path) -> None:
        assert target.is_dir() and len(lower) >= 2 and all(p.is_dir() for p in lower)
        self.overlay_calls.append((list(lower), target))
        self.mounted[target.resolve()] = "overlay"


@pytest.fixture
def overlays() -> OverlayMounter:
    return OverlayMounter()


async def prepared(pod_dir: Path, mounter: OverlayMounter) -> Path:
    volumes = await prepare_volumes(
        make_pod([VOLUME]), pod_dir, lookup=LOOKUP, node=NODE, mounter=mounter
    )
    volume = volumes["models"]
    assert volume.read_only and volume.image
    return volume.path


async def test_set_up_makes_the_directory_and_mounts_nothing_yet(
    pod_dir: Path, overlays: OverlayMounter
) -> None:
    path = await prepared(pod_dir, overlays)
    assert path == pod_dir / "volumes" / PLUGIN_DIR / "models"
    assert path.is_dir()
    assert overlays.overlay_calls == [] and overlays.mounted == {}


async def test_the_image_layers_are_mounted_once_read_only_over_an_empty_bottom_layer(
    pod_dir: Path, overlays: OverlayMounter, tmp_path: Path
) -> None:
    path = await prepared(pod_dir, overlays)
    top, bottom = tmp_path / "layers" / "top", tmp_path / "layers" / "bottom"
    top.mkdir(parents=True)
    bottom.mkdir(parents=True)

    assert mount_image(path, "sha256:one", [top, bottom], overlays)
    # A second container of the pod finds it mounted.
    assert not mount_image(path, "sha256:one", [top, bottom], overlays)

    assert overlays.overlay_calls == [([top, bottom, path.parent / EMPTY_LOWER], path)]
    assert mounted_image(path, overlays) == "sha256:one"


async def test_another_image_under_the_volume_replaces_the_mount(
    pod_dir: Path, overlays: OverlayMounter, tmp_path: Path
) -> None:
    path = await prepared(pod_dir, overlays)
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    mount_image(path, "sha256:old", [old], overlays)

    assert mount_image(path, "sha256:new", [new], overlays)

    assert overlays.unmount_calls == [path]
    assert overlays.overlay_calls[-1] == ([new, path.parent / EMPTY_LOWER], path)
    assert mounted_image(path, overlays) == "sha256:new"


async def test_a_failed_mount_is_an_image_volume_mount_error(pod_dir: Path, tmp_path: Path) -> None:
    class Refusing(OverlayMounter):
        def mount_overlay(self, lower: list[Path], target: Path) -> None:
            raise OSError(22, "Invalid argument")

    mounter = Refusing()
    path = await prepared(pod_dir, mounter)
    with pytest.raises(ImageVolumeMountError) as failure:
        mount_image(path, "sha256:x", [tmp_path], mounter)
    assert str(failure.value) == (
        f'failed to mount image volume component "{path}": Invalid argument'
    )
    assert mounted_image(path, mounter) == ""


async def test_containers_get_it_read_only_whatever_the_mount_says(
    pod_dir: Path, overlays: OverlayMounter
) -> None:
    volumes = await prepare_volumes(
        make_pod([VOLUME]), pod_dir, lookup=LOOKUP, node=NODE, mounter=overlays
    )
    (mount,) = mounts_for(
        {"name": "app", "volumeMounts": [{"name": "models", "mountPath": "/models"}]},
        volumes,
        pod_dir=pod_dir,
        mounter=overlays,
    )
    assert mount == cri.Mount(
        container_path="/models", host_path=str(volumes["models"].path), readonly=True
    )


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """What an image mounted at a volume's path shows (here plain directories)."""
    root = tmp_path / "image"
    (root / "etc" / "nginx").mkdir(parents=True)
    (root / "etc" / "nginx" / "nginx.conf").write_text("events {}\n")
    (root / "usr" / "share").mkdir(parents=True)
    os.symlink("../etc/nginx", root / "usr" / "conf")  # relative, inside the image
    os.symlink("/etc", root / "absolute")  # absolute: would name the host's /etc
    os.symlink("../../..", root / "usr" / "share" / "up")  # climbs out of the image
    return root


def test_a_subpath_is_a_directory_of_the_image(image_root: Path) -> None:
    assert resolve_subpath(image_root, "etc/nginx") == image_root / "etc" / "nginx"
    # Links are followed inside the image.
    assert resolve_subpath(image_root, "usr/conf") == image_root / "etc" / "nginx"


@pytest.mark.parametrize(
    ("subpath", "reason"),
    [
        ("etc/missing", "openat etc/missing: no such file or directory"),
        ("absolute", "openat absolute: path escapes from parent"),
        ("usr/share/up", "openat usr/share/up: path escapes from parent"),
    ],
)
def test_a_subpath_the_image_lacks_or_that_leaves_it_is_refused(
    image_root: Path, subpath: str, reason: str
) -> None:
    with pytest.raises(ImageVolumeMountError) as failure:
        resolve_subpath(image_root, subpath)
    assert str(failure.value) == (
        f'failed to ensure image subpath "{subpath}" in "{image_root}": {reason}'
    )


def test_a_file_subpath_is_refused_as_containerd_refuses_it(image_root: Path) -> None:
    with pytest.raises(ImageVolumeMountError) as failure:
        resolve_subpath(image_root, "etc/nginx/nginx.conf")
    assert str(failure.value) == (
        'only directory subpath is supported, subpath: "etc/nginx/nginx.conf", '
        f'mountpoint: "{image_root}"'
    )


async def test_mounts_bind_the_subpath_and_expand_subpath_expr_without_making_anything(
    pod_dir: Path, overlays: OverlayMounter
) -> None:
    volumes = await prepare_volumes(
        make_pod([VOLUME]), pod_dir, lookup=LOOKUP, node=NODE, mounter=overlays
    )
    root = volumes["models"].path
    (root / "v1" / "weights").mkdir(parents=True)  # as if the image had it
    container = {
        "name": "app",
        "volumeMounts": [
            {"name": "models", "mountPath": "/w", "subPath": "v1/weights"},
            {"name": "models", "mountPath": "/x", "subPathExpr": "$(VERSION)"},
        ],
    }
    made = mounts_for(
        container, volumes, env=[("VERSION", "v1")], pod_dir=pod_dir, mounter=overlays
    )
    assert [(m.container_path, m.host_path, m.readonly) for m in made] == [
        ("/w", str(root / "v1" / "weights"), True),
        ("/x", str(root / "v1"), True),
    ]
    # Nothing to pin: nothing in the image can change under the container.
    assert overlays.bind_calls == []
    with pytest.raises(ImageVolumeMountError):
        mounts_for(
            {
                "name": "app",
                "volumeMounts": [{"name": "models", "mountPath": "/y", "subPath": "v2"}],
            },
            volumes,
            pod_dir=pod_dir,
            mounter=overlays,
        )
    assert not (root / "v2").exists()


async def test_an_absolute_or_climbing_subpath_is_the_kubelets_config_error(
    pod_dir: Path, overlays: OverlayMounter
) -> None:
    volumes = await prepare_volumes(
        make_pod([VOLUME]), pod_dir, lookup=LOOKUP, node=NODE, mounter=overlays
    )
    for sub, message in (
        ("/etc", "error SubPath `/etc` must not be an absolute path"),
        ("a/../..", "unable to provision SubPath `a/../..`: must not contain '..'"),
    ):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            mounts_for(
                {
                    "name": "app",
                    "volumeMounts": [{"name": "models", "mountPath": "/m", "subPath": sub}],
                },
                volumes,
            )


async def test_teardown_unmounts_the_image_and_removes_the_directories(
    pod_dir: Path, overlays: OverlayMounter, tmp_path: Path
) -> None:
    path = await prepared(pod_dir, overlays)
    mount_image(path, "sha256:one", [tmp_path], overlays)

    teardown_volumes(pod_dir, mounter=overlays)

    assert overlays.unmount_calls == [path]
    assert overlays.mounted == {}
    assert not (pod_dir / "volumes").exists()
