"""Resolve a container's user (`uid`, `uid:gid`, `name`, `name:group`) in its own root.

Kubernetes' runtimes look names up in the image's /etc/passwd and /etc/group, never the host's.
The rules are containerd's (`oci.WithUser`, `WithAdditionalGIDs`, and the CRI plugin's
`WithSupplementalGroups` under the Merge policy):

- the user string is the security context's username, else its uid, with `:<runAsGroup>` when
  that is set; without either it is the image's `User` (`user_string`);
- a uid alone takes its group from /etc/passwd, or 0 when the image does not list it; a name
  must be listed; `user:group` takes both as written, names looked up;
- the process's groups are its primary group, the groups /etc/group lists the user in, and the
  pod's supplemental groups (fsGroup among them), sorted and without repeats.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kubelite.runtime.errors import ContainerError


@dataclass(frozen=True, slots=True)
class User:
    """The numeric user, group and extra groups a container's process runs as, resolved in its own
    root."""

    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)


def user_string(
    *, username: str = "", uid: int | None = None, gid: int | None = None, image_user: str = ""
) -> str:
    """generateUserString, falling back to the image's user as containerd does."""
    user = username or ("" if uid is None else str(uid))
    if not user:
        if gid is not None:
            raise ContainerError(
                f'user group "{gid}" is specified without user', reason="CreateContainerError"
            )
        return image_user
    return user if gid is None else f"{user}:{gid}"


def _read_db(rootfs: Path, name: str) -> list[list[str]]:
    # The file belongs to the image: resolve it inside the root so that a symlink in the image
    # cannot make us read a host file.
    path = rootfs / "etc" / name
    real = os.path.realpath(path)
    if not real.startswith(os.path.realpath(rootfs) + os.sep):
        return []
    try:
        text = Path(real).read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def _named(db: list[list[str]], name: str, *, fields: int, what: str, file: str) -> list[str]:
    """The first entry of `db` called `name` with at least `fields` fields; a name the image does
    not know fails the container as runc's user lookup does."""
    entry = next((e for e in db if e[0] == name and len(e) >= fields), None)
    if entry is None:
        raise ContainerError(
            f"unable to find {what} {name}: no matching entries in {file} file",
            reason="CreateContainerConfigError",
        )
    return entry


def _passwd_by_uid(passwd: list[list[str]], uid: int) -> list[str] | None:
    return next((e for e in passwd if len(e) > 3 and e[2] == str(uid)), None)


def resolve_user(rootfs: Path, spec: str, *, supplemental_groups: list[int] | None = None) -> User:
    """The user a container with user string `spec` (see `user_string`) runs as."""
    passwd = _read_db(rootfs, "passwd")
    groups = _read_db(rootfs, "group")
    user_part, has_group, group_part = (spec or "0").partition(":")
    if not has_group:
        if user_part.isdigit():
            uid = int(user_part)
            entry = _passwd_by_uid(passwd, uid)
            gid = int(entry[3]) if entry is not None else 0
        else:
            entry = _named(passwd, user_part, fields=4, what="user", file="passwd")
            uid, gid = int(entry[2]), int(entry[3])
    else:
        if user_part.isdigit():
            uid = int(user_part)
        else:
            uid = int(_named(passwd, user_part, fields=4, what="user", file="passwd")[2])
        if group_part.isdigit():
            gid = int(group_part)
        else:
            gid = int(_named(groups, group_part, fields=3, what="group", file="group")[2])
    # WithAdditionalGIDs looks the user's name up by the user part alone.
    if user_part.isdigit():
        entry = _passwd_by_uid(passwd, int(user_part))
        name = entry[0] if entry is not None else ""
    else:
        name = user_part
    extra = [
        int(e[2])
        for e in groups
        if len(e) > 3 and name and e[0] != name and name in e[3].split(",") and e[2].isdigit()
    ]
    additional = sorted({gid, *extra, *(supplemental_groups or [])})
    return User(uid=uid, gid=gid, additional_gids=additional)
