"""emptyDir volumes: a fresh directory for the pod's life, on disk or in memory (tmpfs).

Mirrors `pkg/volume/emptydir/empty_dir.go`. The directory is world-writable (0777) because any
user of any container may use it. `medium: Memory` mounts a tmpfs whose size is the smallest of
the node's allocatable memory, the pod's memory limit (when every container has one) and the
volume's `sizeLimit` (calculateEmptyDirMemorySize; SizeMemoryBackedVolumes is on by default).
The same set-up backs the volume types that write files (configMap and downwardAPI on disk,
secret and projected in memory, as Kubernetes wraps them in an emptyDir). A new emptyDir is made
the pod's fsGroup's (`ownership`).
"""

from __future__ import annotations

import os
from pathlib import Path

from kubelite.api import pods as podutil
from kubelite.api.podresources import pod_limits
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.kubelet.envvars import node_allocatable
from kubelite.kubelet.security_context import fs_group
from kubelite.kubelet.volumes.context import MountedVolume, VolumeContext, VolumeError
from kubelite.kubelet.volumes.ownership import set_volume_ownership

PLUGIN_DIR = "kubernetes.io~empty-dir"
MEDIUM_MEMORY = "Memory"
# emptydir.go `perm`: anyone in the pod may write.
_DIR_PERM = 0o777


def _memory(value: object) -> int:
    return Quantity.from_json(value).value() if value is not None else 0


def pod_memory_limit(pod: Obj) -> int:
    """The pod's memory limit as its cgroup gets it (cm.ResourceConfigForPod): PodLimits'
    memory, or 0 when any container has none (then the pod has none either)."""
    spec = pod.get("spec") or {}
    if any(
        _memory(((c.get("resources") or {}).get("limits") or {}).get("memory")) == 0
        for c in podutil.all_containers(spec)
    ):
        return 0
    memory = pod_limits(pod).get("memory")
    return memory.value() if memory is not None else 0


def memory_size_limit(pod: Obj, size_limit: object, node: Obj | None) -> int | None:
    """The tmpfs size in bytes, or None for the kernel's default (half of RAM)."""
    allocatable = _memory(node_allocatable(node).get("memory"))
    size = allocatable
    for bound in (pod_memory_limit(pod), _memory(size_limit)):
        if bound > 0 and (size == 0 or bound <= size):
            size = bound
    return size or None


def setup_dir(path: Path) -> None:
    """emptydir.go setupDir: make it, and make its permission bits 0777 whatever the umask."""
    path.mkdir(parents=True, exist_ok=True)
    mode = os.lstat(path).st_mode
    if mode & 0o777 != _DIR_PERM:
        os.chmod(path, (mode & 0o7000) | _DIR_PERM)


def setup_memory(ctx: VolumeContext, path: Path, name: str, size: int | None) -> bool:
    """emptydir.go setupTmpfs: the directory, then a tmpfs on it unless one is there already.
    True when the tmpfs was mounted now."""
    setup_dir(path)
    mounts = ctx.mounter.mounts_under(path)
    if any(point == path.resolve() and fstype == "tmpfs" for point, fstype in mounts):
        return False
    try:
        ctx.mounter.mount_tmpfs(path, size)
    except OSError as e:
        raise VolumeError(name, str(e)) from e
    return True


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    source = volume.get("emptyDir") or {}
    path = ctx.volume_dir(PLUGIN_DIR, name)
    medium = source.get("medium") or ""
    if medium == MEDIUM_MEMORY:
        size = memory_size_limit(ctx.pod, source.get("sizeLimit"), ctx.node)
        made = setup_memory(ctx, path, name, size)
    elif medium == "":
        made = not path.is_dir()
        setup_dir(path)
    else:
        raise VolumeError(name, f"unsupported emptyDir medium {medium!r} in kubelite")
    if made:
        # Once, when the volume is new (emptyDir's SetUpAt is done once its ready file exists).
        set_volume_ownership(path, fs_group(ctx.pod))
    return MountedVolume(name, path)
