"""configMap volumes: a ConfigMap's keys as files (`pkg/volume/configmap/configmap.go`).

Every key of `data` and `binaryData` becomes a file, or only the keys `items` maps to paths;
files get `defaultMode` unless an item has its own `mode`. A missing ConfigMap fails the volume
(`configmap "x" not found`, so the pod waits for it) unless `optional`, when the volume is
empty; an item naming a missing key fails it too unless `optional`. The files are written with
the AtomicWriter into an emptyDir on disk, and re-running `set_up` updates them in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import config_map_binary_data, config_map_not_found, get_config_map
from kubelite.kubelet.volumes import empty_dir
from kubelite.kubelet.volumes.atomic_writer import AtomicWriter, FileProjection, PayloadError
from kubelite.kubelet.volumes.context import (
    DEFAULT_MODE,
    MountedVolume,
    VolumeContext,
    VolumeError,
    file_mode,
)

PLUGIN_DIR = "kubernetes.io~configmap"


class PayloadSourceError(ValueError):
    """An item names a key the source does not have."""


def make_payload(
    items: list[Obj] | None, config_map: Obj, default_mode: int, optional: bool
) -> dict[str, FileProjection]:
    """configmap.MakePayload: key -> file, or the `items` mapping of keys to paths and modes."""
    data = {k: v.encode() for k, v in (config_map.get("data") or {}).items()}
    binary = config_map_binary_data(config_map)
    if not items:
        everything = {**data, **binary}
        return {key: FileProjection(value, default_mode) for key, value in everything.items()}
    payload = {}
    for item in items:
        key = item.get("key", "")
        if key in data:
            content = data[key]
        elif key in binary:
            content = binary[key]
        elif optional:
            continue
        else:
            raise PayloadSourceError(f"configmap references non-existent config key: {key}")
        payload[item.get("path", "")] = FileProjection(
            content, file_mode(item.get("mode"), default_mode)
        )
    return payload


def write_payload(
    ctx: VolumeContext,
    name: str,
    plugin_dir: str,
    payload: Mapping[str, FileProjection],
    *,
    memory: bool,
) -> Path:
    """Set up the backing emptyDir (tmpfs when `memory`) and project the payload into it."""
    path = ctx.volume_dir(plugin_dir, name)
    if memory:
        empty_dir.setup_memory(
            ctx, path, name, empty_dir.memory_size_limit(ctx.pod, None, ctx.node)
        )
    else:
        empty_dir.setup_dir(path)
    try:
        AtomicWriter(path).write(payload)
    except PayloadError as e:
        raise VolumeError(name, str(e)) from e
    return path


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    source = volume.get("configMap") or {}
    optional = bool(source.get("optional"))
    config_map = await get_config_map(ctx.lookup, ctx.namespace, source.get("name", ""))
    if config_map is None:
        if not optional:
            raise VolumeError(name, config_map_not_found(source.get("name", "")))
        config_map = {}
    default_mode = file_mode(source.get("defaultMode"), DEFAULT_MODE)
    try:
        payload = make_payload(source.get("items"), config_map, default_mode, optional)
    except PayloadSourceError as e:
        raise VolumeError(name, str(e)) from e
    path = write_payload(ctx, name, PLUGIN_DIR, payload, memory=False)
    return MountedVolume(name, path, read_only=True)
