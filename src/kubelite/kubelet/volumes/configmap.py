"""configMap volumes: a ConfigMap's keys as files (`pkg/volume/configmap/configmap.go`).

Every key of `data` and `binaryData` becomes a file, or only the keys `items` maps to paths;
files get `defaultMode` unless an item has its own `mode`. A missing ConfigMap fails the volume
(`configmap "x" not found`, so the pod waits for it) unless `optional`, when the volume is
empty; an item naming a missing key fails it too unless `optional`. The files are written with
the AtomicWriter into an emptyDir on disk, and re-running `set_up` updates them in place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import (
    ObjectLookup,
    config_map_binary_data,
    config_map_not_found,
    get_config_map,
)
from kubelite.kubelet.security_context import fs_group
from kubelite.kubelet.volumes import empty_dir
from kubelite.kubelet.volumes.atomic_writer import AtomicWriter, FileProjection, PayloadError
from kubelite.kubelet.volumes.context import (
    DEFAULT_MODE,
    MountedVolume,
    VolumeContext,
    VolumeError,
    file_mode,
)
from kubelite.kubelet.volumes.ownership import RO_MASK, set_volume_ownership

PLUGIN_DIR = "kubernetes.io~configmap"


class PayloadSourceError(ValueError):
    """An item names a key the source does not have (or the source itself is missing)."""


async def fetch_source(
    ctx: VolumeContext,
    fetch: Callable[[ObjectLookup, str, str], Awaitable[Obj | None]],
    not_found: Callable[[str], str],
    name: str,
    optional: bool,
) -> Obj:
    """The ConfigMap or Secret a volume (or a projected volume's source) names: `{}` when it
    does not exist and is optional, PayloadSourceError (its NotFound) when it is required."""
    found = await fetch(ctx.lookup, ctx.namespace, name)
    if found is None:
        if not optional:
            raise PayloadSourceError(not_found(name))
        return {}
    return found


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
    """Set up the backing emptyDir (tmpfs when `memory`) and project the payload into it; with
    an fsGroup the whole volume is made the group's (read-only) whenever files are written."""
    path = ctx.volume_dir(plugin_dir, name)
    if memory:
        empty_dir.setup_memory(
            ctx, path, name, empty_dir.memory_size_limit(ctx.pod, None, ctx.node)
        )
    else:
        empty_dir.setup_dir(path)
    group = fs_group(ctx.pod)
    set_perms = None
    if group is not None:
        # Written with the mode ownership leaves them with, so that an unchanged payload
        # compares equal on the next sync and is not written again.
        payload = {p: replace(f, mode=f.mode | RO_MASK) for p, f in payload.items()}

        def set_perms() -> None:
            set_volume_ownership(path, group, read_only=True)

    try:
        AtomicWriter(path).write(payload, set_perms)
    except PayloadError as e:
        raise VolumeError(name, str(e)) from e
    return path


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    source = volume.get("configMap") or {}
    optional = bool(source.get("optional"))
    try:
        config_map = await fetch_source(
            ctx, get_config_map, config_map_not_found, source.get("name", ""), optional
        )
        default_mode = file_mode(source.get("defaultMode"), DEFAULT_MODE)
        payload = make_payload(source.get("items"), config_map, default_mode, optional)
    except PayloadSourceError as e:
        raise VolumeError(name, str(e)) from e
    path = write_payload(ctx, name, PLUGIN_DIR, payload, memory=False)
    return MountedVolume(name, path, read_only=True)
