"""hostPath volumes: a file or directory of the node itself (`pkg/volume/hostpath/host_path.go`).

Nothing is made under the pod's directory: the container gets the host path. `type` asks for a
check first: Directory, File, Socket, CharDevice, BlockDevice must already be one;
DirectoryOrCreate makes a missing directory (0755, parents too) and FileOrCreate a missing empty
file (0644; its parent must exist, as Kubernetes opens it with O_CREATE only). The unset type
("") checks nothing. Failures carry Kubernetes' words (`hostPath type check failed: /x is not a
directory, it's a File`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.volumes.context import MountedVolume, VolumeContext, VolumeError

# hostutil FileType names, which the type check's messages print.
DIRECTORY = "Directory"
FILE = "File"
SOCKET = "Socket"
CHAR_DEVICE = "CharDevice"
BLOCK_DEVICE = "BlockDevice"

_EXPECTED = {
    "DirectoryOrCreate": (DIRECTORY, "directory"),
    "Directory": (DIRECTORY, "directory"),
    "FileOrCreate": (FILE, "file"),
    "File": (FILE, "file"),
    "Socket": (SOCKET, "socket file"),
    "CharDevice": (CHAR_DEVICE, "character device"),
    "BlockDevice": (BLOCK_DEVICE, "block device"),
}


class TypeCheckError(ValueError):
    """The path is not what the volume's `type` asks for."""


def file_type(path: str) -> str:
    """hostutil GetFileType: what `path` is, following symlinks."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISSOCK(mode):
        return SOCKET
    if stat.S_ISCHR(mode):
        return CHAR_DEVICE
    if stat.S_ISBLK(mode):
        return BLOCK_DEVICE
    if stat.S_ISREG(mode):
        return FILE
    raise OSError("only recognise file, directory, socket, block device and character device")


def _go_error(operation: str, error: OSError) -> str:
    """An OSError as Go's *PathError prints it: `open /x/f: no such file or directory`."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"{operation} {error.filename}: {reason[:1].lower()}{reason[1:]}"


def check_type(path: str, path_type: str) -> None:
    """host_path.go checkType: create what the *OrCreate types allow, then compare the type."""
    if not path_type:
        return
    if path_type not in _EXPECTED:
        raise TypeCheckError(f"{path_type} is an invalid volume type")
    if not os.path.exists(path):
        if path_type == "DirectoryOrCreate":
            try:
                os.makedirs(path, mode=0o755, exist_ok=True)
            except OSError as e:
                raise TypeCheckError(_go_error("mkdir", e)) from e
            return
        if path_type == "FileOrCreate":
            try:
                os.close(os.open(path, os.O_CREAT | os.O_RDONLY, 0o644))
            except OSError as e:
                raise TypeCheckError(_go_error("open", e)) from e
            return
    expected, description = _EXPECTED[path_type]
    if not os.path.exists(path):
        raise TypeCheckError(f"hostPath {path} doesn't exist")
    try:
        actual = file_type(path)
    except OSError as e:
        raise TypeCheckError(
            f"hostPath type check failed, {path} is not a {description}, "
            f"unable to determine its type: {e.strerror or e}"
        ) from e
    if actual != expected:
        raise TypeCheckError(
            f"hostPath type check failed: {path} is not a {description}, it's a {actual}"
        )


async def set_up(ctx: VolumeContext, volume: Obj) -> MountedVolume:
    name = volume["name"]
    source = volume.get("hostPath") or {}
    path = source.get("path", "")
    if ".." in path.split("/"):
        raise VolumeError(name, f"invalid HostPath `{path}`: must not contain '..'")
    try:
        check_type(path, source.get("type") or "")
    except (TypeCheckError, OSError) as e:
        raise VolumeError(name, str(e)) from e
    return MountedVolume(name, Path(path))
