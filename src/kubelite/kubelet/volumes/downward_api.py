"""downwardAPI volumes: the pod's own metadata and its containers' resources as files
(`pkg/volume/downwardapi/downwardapi.go`).

Each item is a file: `fieldRef` gives metadata.name, namespace, uid, or labels / annotations as
sorted `key="value"` lines (one key with `['key']`); `resourceFieldRef` gives a container's
request or limit divided by `divisor`, limits defaulting to the node's allocatable. Values that
cannot be read fail the volume with every cause at once.
"""

from __future__ import annotations

import posixpath

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import (
    ConfigError,
    node_allocatable,
    object_field_value,
    resource_field_value,
)
from kubelite.kubelet.volumes.atomic_writer import FileProjection
from kubelite.kubelet.volumes.configmap import write_payload
from kubelite.kubelet.volumes.context import (
    DEFAULT_MODE,
    MountedVolume,
    VolumeContext,
    VolumeError,
    aggregate_message,
    file_mode,
)

PLUGIN_DIR = "kubernetes.io~downward-api"


class CollectError(ValueError):
    """Some items could not be read; the message aggregates their causes."""


def collect_data(
    items: list[Obj] | None, pod: Obj, node: Obj | None, default_mode: int
) -> dict[str, FileProjection]:
    """downwardapi.CollectData: path -> file for every item."""
    errors: list[str] = []
    payload = {}
    allocatable = node_allocatable(node)
    for item in items or []:
        mode = file_mode(item.get("mode"), default_mode)
        content = b""
        try:
            if item.get("fieldRef") is not None:
                content = object_field_value(pod, item["fieldRef"].get("fieldPath", "")).encode()
            elif item.get("resourceFieldRef") is not None:
                ref = item["resourceFieldRef"]
                content = resource_field_value(ref, pod, None, allocatable).encode()
        except ConfigError as e:
            errors.append(str(e))
        payload[posixpath.normpath(item.get("path", ""))] = FileProjection(content, mode)
    if errors:
        raise CollectError(aggregate_message(errors))
    return payload


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    source = volume.get("downwardAPI") or {}
    default_mode = file_mode(source.get("defaultMode"), DEFAULT_MODE)
    try:
        payload = collect_data(source.get("items"), ctx.pod, ctx.node, default_mode)
    except CollectError as e:
        raise VolumeError(name, str(e)) from e
    path = write_payload(ctx, name, PLUGIN_DIR, payload, memory=False)
    return MountedVolume(name, path, read_only=True)
