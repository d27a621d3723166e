"""secret volumes: a Secret's keys as files (`pkg/volume/secret/secret.go`).

The same rules as configMap volumes (items, defaultMode and per-item mode, optional), with the
Secret's base64 `data` decoded, and one difference that matters: the files are written into a
tmpfs, so that secrets never reach the node's disk.
"""

from __future__ import annotations

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import get_secret, secret_data, secret_not_found
from kubelite.kubelet.volumes.atomic_writer import FileProjection
from kubelite.kubelet.volumes.configmap import PayloadSourceError, write_payload
from kubelite.kubelet.volumes.context import (
    DEFAULT_MODE,
    MountedVolume,
    VolumeContext,
    VolumeError,
    file_mode,
)

PLUGIN_DIR = "kubernetes.io~secret"


def make_payload(
    items: list[Obj] | None, secret: Obj, default_mode: int, optional: bool
) -> dict[str, FileProjection]:
    """secret.MakePayload: like configmap's, from the decoded `data`."""
    data = secret_data(secret)
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise PayloadSourceError(f"secret references non-existent secret key: {key}")
        payload[item.get("path", "")] = FileProjection(
            data[key], file_mode(item.get("mode"), default_mode)
        )
    return payload


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    source = volume.get("secret") or {}
    secret_name = source.get("secretName", "")
    optional = bool(source.get("optional"))
    secret = await get_secret(ctx.lookup, ctx.namespace, secret_name)
    if secret is None:
        if not optional:
            raise VolumeError(name, secret_not_found(secret_name))
        secret = {}
    default_mode = file_mode(source.get("defaultMode"), DEFAULT_MODE)
    try:
        payload = make_payload(source.get("items"), secret, default_mode, optional)
    except PayloadSourceError as e:
        raise VolumeError(name, str(e)) from e
    path = write_payload(ctx, name, PLUGIN_DIR, payload, memory=True)
    return MountedVolume(name, path, read_only=True)
