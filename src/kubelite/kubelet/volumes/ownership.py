"""A volume made the pod's fsGroup's (`pkg/volume/volume_linux.go`, SetVolumeOwnership).

With `securityContext.fsGroup` set, every file and directory of a volume is given that group
(the owner stays), group read and write (read only for a read-only volume), and directories also
group search and setgid, so that what the pod's containers make there belongs to the group too.
Symlinks get the group but no mode (a chmod would go through them). emptyDir volumes get this
when they are made; configMap, secret, downwardAPI and projected volumes each time their files
are written, before the new files are switched in.

`fsGroupChangePolicy: OnRootMismatch` skips the walk when the volume's root already has the
group, the permissions and setgid. Kubernetes asks for it only for volumes that outlive a pod
(persistent volumes); the ephemeral types here always get the full walk, as they do there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

RW_MASK = 0o660
RO_MASK = 0o440
EXEC_MASK = 0o110
ON_ROOT_MISMATCH = "OnRootMismatch"


def _change(path: str, fs_group: int, read_only: bool) -> None:
    """changeFilePermission (errors are only logged in Kubernetes, and ignored here)."""
    try:
        os.lchown(path, -1, fs_group)
        info = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(info.st_mode):
        return
    mask = RO_MASK if read_only else RW_MASK
    if stat.S_ISDIR(info.st_mode):
        mask |= stat.S_ISGID | EXEC_MASK
    try:
        os.chmod(path, stat.S_IMODE(info.st_mode) | mask)
    except OSError:
        return


def requires_permission_change(root: Path, fs_group: int, read_only: bool) -> bool:
    """requiresPermissionChange: whether the root's group, permissions or setgid are not yet
    what ownership would make them."""
    try:
        info = os.stat(root)
    except OSError:
        return True
    if info.st_gid != fs_group or not stat.S_ISDIR(info.st_mode):
        return True
    wanted = (RO_MASK if read_only else RW_MASK) | EXEC_MASK
    return stat.S_IMODE(info.st_mode) & wanted != wanted or not info.st_mode & stat.S_ISGID


def set_volume_ownership(
    root: Path,
    fs_group: int | None,
    *,
    read_only: bool = False,
    change_policy: str | None = None,
) -> None:
    """SetVolumeOwnership of the volume at `root` (nothing without an fsGroup)."""
    if fs_group is None:
        return
    if change_policy == ON_ROOT_MISMATCH and not requires_permission_change(
        root, fs_group, read_only
    ):
        return
    # Children before their directory, as walkDeep goes; symlinks are not followed.
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in [*filenames, *dirnames]:
            _change(os.path.join(dirpath, name), fs_group, read_only)
    _change(str(root), fs_group, read_only)
