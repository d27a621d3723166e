"""configMap and secret volumes: keys as files, items, modes, optional sources, error texts."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from volume_doubles import DictLookup, RecordingMounter, b64

from kubelite.kubelet.volumes import configmap, secret
from kubelite.kubelet.volumes.context import VolumeContext, VolumeError


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def visible(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if not p.name.startswith(".."))


async def test_every_key_becomes_a_file_with_default_mode(ctx: VolumeContext) -> None:
    mounted = await configmap.set_up(ctx, {"name": "cfg", "configMap": {"name": "cfg"}})
    assert mounted.path == ctx.pod_dir / "volumes" / "kubernetes.io~configmap" / "cfg"
    assert mounted.read_only is True
    assert visible(mounted.path) == ["app.conf", "logo.bin", "mode"]
    assert (mounted.path / "app.conf").read_text() == "listen 80\n"
    assert (mounted.path / "logo.bin").read_bytes() == b"\x00\x01\xff"  # binaryData decoded
    assert mode_of(mounted.path / "mode") == 0o644
    assert os.readlink(mounted.path / "mode") == "..data/mode"
    # Backed by an emptyDir on disk: no tmpfs for ConfigMaps.
    assert stat.S_IMODE(os.lstat(mounted.path).st_mode) == 0o777
    assert ctx.mounter.mount_calls == []  # type: ignore[attr-defined]


async def test_items_map_keys_to_paths_and_modes(ctx: VolumeContext) -> None:
    source = {
        "name": "cfg",
        "defaultMode": 0o440,
        "items": [
            {"key": "app.conf", "path": "nginx/app.conf"},
            {"key": "logo.bin", "path": "logo", "mode": 0o400},
        ],
    }
    mounted = await configmap.set_up(ctx, {"name": "v", "configMap": source})
    assert visible(mounted.path) == ["logo", "nginx"]
    assert (mounted.path / "nginx" / "app.conf").read_text() == "listen 80\n"
    assert mode_of(mounted.path / "nginx" / "app.conf") == 0o440
    assert mode_of(mounted.path / "logo") == 0o400


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"name": "x"}, 'configmap "x" not found'),
        (
            {"name": "cfg", "items": [{"key": "nope", "path": "p"}]},
            "configmap references non-existent config key: nope",
        ),
    ],
)
async def test_missing_configmap_or_key_fails_the_volume(
    ctx: VolumeContext, source: dict, message: str
) -> None:
    with pytest.raises(VolumeError) as caught:
        await configmap.set_up(ctx, {"name": "cfg", "configMap": source})
    assert str(caught.value) == message
    assert caught.value.event_message == (f'MountVolume.SetUp failed for volume "cfg" : {message}')
    assert not (ctx.pod_dir / "volumes").exists()  # nothing made for a volume that failed


async def test_optional_missing_configmap_is_an_empty_volume(ctx: VolumeContext) -> None:
    source = {"name": "x", "optional": True, "items": [{"key": "k", "path": "k"}]}
    mounted = await configmap.set_up(ctx, {"name": "cfg", "configMap": source})
    assert visible(mounted.path) == []
    assert (mounted.path / "..data").is_symlink()


async def test_optional_missing_key_is_skipped(ctx: VolumeContext) -> None:
    source = {
        "name": "cfg",
        "optional": True,
        "items": [{"key": "nope", "path": "a"}, {"key": "mode", "path": "b"}],
    }
    mounted = await configmap.set_up(ctx, {"name": "cfg", "configMap": source})
    assert visible(mounted.path) == ["b"]


async def test_set_up_again_follows_configmap_changes(ctx: VolumeContext) -> None:
    lookup = DictLookup(config_maps={("default", "cfg"): {"data": {"a": "1", "b": "2"}}})
    ctx = dataclasses.replace(ctx, lookup=lookup)
    volume = {"name": "cfg", "configMap": {"name": "cfg"}}
    mounted = await configmap.set_up(ctx, volume)
    lookup.config_maps[("default", "cfg")] = {"data": {"a": "one", "c": "3"}}
    await configmap.set_up(ctx, volume)
    assert visible(mounted.path) == ["a", "c"]
    assert (mounted.path / "a").read_text() == "one"


async def test_secret_files_are_decoded_on_tmpfs(ctx: VolumeContext) -> None:
    mounted = await secret.set_up(ctx, {"name": "creds", "secret": {"secretName": "creds"}})
    assert mounted.path == ctx.pod_dir / "volumes" / "kubernetes.io~secret" / "creds"
    assert mounted.read_only is True
    assert visible(mounted.path) == ["pass", "user"]
    assert (mounted.path / "pass").read_text() == "s3cret"
    assert mode_of(mounted.path / "user") == 0o644  # defaultMode 420, as for ConfigMaps
    # In memory, sized by the node's allocatable memory (1Gi) when the pod has no limit.
    mounter = ctx.mounter
    assert isinstance(mounter, RecordingMounter)
    assert mounter.mount_calls == [(mounted.path, 1 << 30)]


async def test_secret_set_up_twice_mounts_once(ctx: VolumeContext) -> None:
    volume = {"name": "creds", "secret": {"secretName": "creds"}}
    await secret.set_up(ctx, volume)
    await secret.set_up(ctx, volume)
    assert len(ctx.mounter.mount_calls) == 1  # type: ignore[attr-defined]


async def test_secret_items_and_modes(ctx: VolumeContext) -> None:
    source = {
        "secretName": "creds",
        "defaultMode": 0o400,
        "items": [{"key": "user", "path": "u"}, {"key": "pass", "path": "p", "mode": 0o440}],
    }
    mounted = await secret.set_up(ctx, {"name": "creds", "secret": source})
    assert visible(mounted.path) == ["p", "u"]
    assert mode_of(mounted.path / "u") == 0o400
    assert mode_of(mounted.path / "p") == 0o440


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"secretName": "nope"}, 'secret "nope" not found'),
        (
            {"secretName": "creds", "items": [{"key": "k", "path": "k"}]},
            "secret references non-existent secret key: k",
        ),
    ],
)
async def test_missing_secret_or_key_fails_the_volume(
    ctx: VolumeContext, source: dict, message: str
) -> None:
    with pytest.raises(VolumeError, match=message):
        await secret.set_up(ctx, {"name": "creds", "secret": source})


async def test_optional_missing_secret_is_an_empty_volume(ctx: VolumeContext) -> None:
    source = {"secretName": "nope", "optional": True}
    mounted = await secret.set_up(ctx, {"name": "creds", "secret": source})
    assert visible(mounted.path) == []


def test_binary_secret_data_is_kept_exactly() -> None:
    payload = secret.make_payload(None, {"data": {"k": b64(b"\xff\x00")}}, 0o644, False)
    assert payload["k"].data == b"\xff\x00"
