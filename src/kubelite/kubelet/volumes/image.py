"""image volumes: a container image (or OCI artifact) mounted read-only (KEP-4639).

In Kubernetes the `image` volume plugin's SetUp does nothing; the kubelet pulls the reference in
SyncPod (`getImageVolumes`, with the pod's pull secrets and the volume's pullPolicy) and hands the
runtime a CRI mount naming the image, which the runtime mounts read-only: containerd mounts the
image's snapshot once per pod and binds it (or the volumeMount's subPath in it) into each
container. kubelite's runtime shares this process and its image store, so the kubelet does the
runtime's part itself, where a pod's volumes live:

- `set_up` only makes `<pod dir>/volumes/kubernetes.io~image/<name>`;
- `mount_image` mounts there an overlay of the image's unpacked layers from the image store,
  with no upper directory (nothing can be written) and read-only, once the image is pulled and a
  container needs it; a later image under the same volume (pullPolicy Always) is mounted in the
  old one's place, while containers already running keep the one they have. An empty directory
  is the overlay's bottom layer, since overlayfs wants two lower layers without an upper one;
- `resolve_subpath` finds a volumeMount's subPath inside the image as containerd's
  `ensureImageSubPath` does (`os.OpenInRoot`): links are followed but never out of the image,
  and it must be a directory that exists (the image cannot be written, so none is made).

The mounts are not `noexec` (the KEP dropped that; kubernetes/enhancements#5354): they are as
containerd's. `teardown_volumes` unmounts them with the pod's other volumes, and the image store
sees their layers in use (`mounted_lowerdirs`) so the image cannot be removed under them.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.volumes.context import MountedVolume, VolumeContext
from kubelite.kubelet.volumes.mounter import Mounter

PLUGIN_DIR = "kubernetes.io~image"
# The overlay's bottom layer, beside the volumes (a volume name never starts with a dot).
EMPTY_LOWER = ".empty"
# Linux's limit on links followed in one path (MAXSYMLINKS).
_MAX_LINKS = 40


class ImageVolumeMountError(Exception):
    """The image could not be mounted, or the subPath is not a directory in it: the runtime's
    failure in Kubernetes, so the container's CreateContainerError."""


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    path = ctx.volume_dir(PLUGIN_DIR, volume["name"])
    path.mkdir(parents=True, exist_ok=True)
    return MountedVolume(volume["name"], path, read_only=True, image=True)


def _marker(path: Path) -> Path:
    """Where the id of the image mounted at `path` is noted, beside it."""
    return path.parent / f".{path.name}.image"


def _is_mounted(path: Path, mounter: Mounter) -> bool:
    resolved = path.resolve()
    return any(point == resolved for point, _ in mounter.mounts_under(path))


def _noted_image(path: Path) -> str:
    try:
        return _marker(path).read_text()
    except FileNotFoundError:
        return ""


def mounted_image(path: Path, mounter: Mounter) -> str:
    """The id of the image mounted at the volume's `path`, or "" when none is."""
    return _noted_image(path) if _is_mounted(path, mounter) else ""


def mount_image(path: Path, image_id: str, layers: Sequence[Path], mounter: Mounter) -> bool:
    """Mount image `image_id`, whose unpacked layers are `layers` (topmost first), read-only at
    the volume's `path`, unless it is there already; True when it was mounted now."""
    mounted = _is_mounted(path, mounter)
    if (_noted_image(path) if mounted else "") == image_id:
        return False
    try:
        if mounted:
            mounter.unmount(path)  # another image: containers running keep theirs
        empty = path.parent / EMPTY_LOWER
        empty.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        mounter.mount_overlay([*layers, empty], path)
        _marker(path).write_text(image_id)
    except OSError as e:
        raise ImageVolumeMountError(
            f'failed to mount image volume component "{path}": {e.strerror or e}'
        ) from e
    return True


def _walk_in_root(root: str, subpath: str) -> str:
    """The path `subpath` names under `root`, links resolved as if `root` were `/`; an
    absolute link or one leading above `root` is refused, as Go's os.Root refuses them."""
    pending = [p for p in subpath.split("/") if p not in ("", ".")]
    pending.reverse()
    current: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if not current:
                raise OSError(errno.EXDEV, f"openat {subpath}: path escapes from parent")
            current.pop()
            continue
        candidate = os.path.join(root, *current, part)
        mode = os.lstat(candidate).st_mode  # FileNotFoundError: "no such file or directory"
        if stat.S_ISLNK(mode):
            links += 1
            target = os.readlink(candidate)
            if links > _MAX_LINKS:
                raise OSError(errno.ELOOP, f"openat {subpath}: too many levels of symbolic links")
            if target.startswith("/"):
                raise OSError(errno.EXDEV, f"openat {subpath}: path escapes from parent")
            pending.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
            continue
        current.append(part)
    return os.path.join(root, *current)


def resolve_subpath(path: Path, subpath: str) -> Path:
    """The directory `subpath` of the image mounted at `path`, to bind into the container."""
    try:
        found = _walk_in_root(str(path), subpath)
        is_dir = stat.S_ISDIR(os.stat(found).st_mode)
    except OSError as e:
        raise ImageVolumeMountError(
            f'failed to ensure image subpath "{subpath}" in "{path}": {_reason(e, subpath)}'
        ) from e
    if not is_dir:
        # The KEP mounts directories only; containerd says so in these words.
        raise ImageVolumeMountError(
            f'only directory subpath is supported, subpath: "{subpath}", mountpoint: "{path}"'
        )
    return Path(found)


def _reason(error: OSError, subpath: str) -> str:
    """A system call's error in Go's words (`openat x: no such file or directory`: syscall.Errno
    is the C library's message, lower-cased); the walk's own errors are worded so already."""
    if error.filename is None:
        return error.strerror or str(error)
    text = os.strerror(error.errno) if error.errno else str(error)
    return f"openat {subpath}: {text[:1].lower()}{text[1:]}"
