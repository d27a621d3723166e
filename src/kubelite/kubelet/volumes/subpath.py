"""subPath: mounting one file or directory inside a volume, without ever escaping the volume.

Mirrors what `makeMounts` (kubelet_pods.go) and `pkg/volume/util/subpath/subpath_linux.go` check:
the subPath must be relative and free of `..` (refused outright, with Kubernetes' messages); a
missing subPath directory is made with the volume's permission bits, component by component
without following symlinks; and the path, once symlinks are resolved, must still be inside the
volume, so a link in the volume pointing at `/etc` cannot be mounted. Links that stay inside are
fine: a configMap key is itself a link through `..data`.

With a `Pin`, the checked path is then bind-mounted from its open file descriptor to
`<pod dir>/volume-subpaths/<volume>/<container>/<index>`, and that is what the runtime mounts, so
a container that swaps a directory of a shared volume for a link between the check and the
container's start gains nothing (CVE-2017-1002101). `teardown_volumes` removes these mounts.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from kubelite.kubelet.envvars import ConfigError
from kubelite.kubelet.volumes.mounter import Mounter

# Where pinned subPaths are bind-mounted: <pod dir>/volume-subpaths/<volume>/<container>/<index>.
SUBPATHS_DIR = "volume-subpaths"
# Modes Kubernetes gives the bind targets it makes (subpath_linux.go prepareSubpathTarget).
_TARGET_DIR_MODE = 0o750
_TARGET_FILE_MODE = 0o640
# Opening a path component without following it, and without needing read permission.
_NOFOLLOW_FLAGS = os.O_NOFOLLOW | os.O_PATH | os.O_CLOEXEC


@dataclass(frozen=True)
class Pin:
    """Where and how to pin a subPath: the pod's directory, the mounter, the mount's place."""

    pod_dir: Path
    mounter: Mounter
    volume: str
    index: int


def validate(subpath: str) -> None:
    """The checks makeMounts runs before touching the disk."""
    if subpath.startswith("/"):
        raise ConfigError(f"error SubPath `{subpath}` must not be an absolute path")
    if ".." in subpath.split("/"):
        raise ConfigError(f"unable to provision SubPath `{subpath}`: must not contain '..'")


def _within(path: str, base: str) -> bool:
    """subpath PathWithinBase, on paths already free of symlinks."""
    return path == base or path.startswith(base.rstrip("/") + "/")


def _safe_make_dir(base: str, subpath: str, mode: int) -> None:
    """subpath doSafeMakeDir: create the missing components of base/subpath inside base."""
    components = [c for c in subpath.split("/") if c and c != "."]
    # The part that exists may go through links, as long as they stay in the volume.
    existing = 0
    while existing < len(components) and os.path.lexists(
        os.path.join(base, *components[: existing + 1])
    ):
        existing += 1
    start = os.path.realpath(os.path.join(base, *components[:existing]))
    if not _within(start, base):
        raise OSError(errno.EXDEV, f"path {start} is outside of allowed base {base}")
    fd = os.open(start, os.O_DIRECTORY | _NOFOLLOW_FLAGS)
    try:
        for component in components[existing:]:
            os.mkdir(component, mode, dir_fd=fd)
            child = os.open(component, os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
            os.fchmod(fd, mode)  # the volume's bits, whatever the umask
    finally:
        os.close(fd)


def _safe_open(path: str, base: str) -> int:
    """subpath doSafeOpen: walk base -> path one component at a time without following links,
    and return an O_PATH descriptor of the path (the caller closes it)."""
    relative = os.path.relpath(path, base)
    fd = os.open(base, os.O_DIRECTORY | _NOFOLLOW_FLAGS)
    try:
        current = base
        for component in [] if relative == "." else relative.split("/"):
            current = os.path.join(current, component)
            child = os.open(component, _NOFOLLOW_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
            if stat.S_ISLNK(os.fstat(fd).st_mode) or not _within(current, base):
                raise OSError(errno.ELOOP, f"unexpected symlink found {current}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _missing(path: str) -> bool:
    """hostutil PathExists: only "no such file" counts as missing; other errors (a file in
    the middle of the path) leave the path to the checks that follow."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def _bind(fd: int, pin: Pin, container: str) -> Path:
    """subpath doBindSubPath: bind-mount the opened path (through /proc/self/fd, which names
    the inode checked, whatever happens to the path since) at the pod's subpath target; reuse
    the mount a container restart left when it is still of the same file."""
    target = pin.pod_dir / SUBPATHS_DIR / pin.volume / container / str(pin.index)
    opened = os.fstat(fd)
    if any(point == target.resolve() for point, _ in pin.mounter.mounts_under(target)):
        current = os.stat(target)
        if (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            return target
        pin.mounter.unmount(target)
    target.parent.mkdir(mode=_TARGET_DIR_MODE, parents=True, exist_ok=True)
    if stat.S_ISDIR(opened.st_mode):
        target.mkdir(mode=_TARGET_DIR_MODE, exist_ok=True)
    elif not target.exists():
        os.close(os.open(target, os.O_CREAT | os.O_RDONLY | os.O_CLOEXEC, _TARGET_FILE_MODE))
    pin.mounter.bind_mount(f"/proc/self/fd/{fd}", target)
    return target


def resolve(
    volume_path: Path,
    subpath: str,
    *,
    volume_mount: str,
    container: str,
    pin: Pin | None = None,
) -> Path:
    """The host path to mount for `subpath` of the volume at `volume_path`: the path itself,
    or with `pin` a bind mount of it under the pod's directory (needs root)."""
    validate(subpath)
    base = os.path.realpath(volume_path)
    joined = os.path.join(volume_path, subpath)
    if _missing(joined):
        try:
            _safe_make_dir(base, subpath, os.stat(base).st_mode & 0o7777)
        except OSError as e:
            raise ConfigError(
                f'failed to create subPath directory for volumeMount "{volume_mount}" '
                f'of container "{container}"'
            ) from e
    resolved = os.path.realpath(joined)
    try:
        if not _within(resolved, base):
            raise OSError(errno.EXDEV, f"path {resolved} is outside of allowed base {base}")
        fd = _safe_open(resolved, base)
        try:
            return Path(resolved) if pin is None else _bind(fd, pin, container)
        finally:
            os.close(fd)
    except OSError as e:
        # Like Kubernetes, the details (host paths) stay out of what the pod's owner sees.
        raise ConfigError(
            f'failed to prepare subPath for volumeMount "{volume_mount}" of container "{container}"'
        ) from e
