"""Resolve a container's user (`uid`, `uid:gid`, `name`, `name:group`) in its own root.

Kubernetes' runtimes look names up in the image's /etc/passwd and /etc/group, never the host's,
and give a user the groups /etc/group lists it in as additional groups (as Docker does).
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


def resolve_user(
    rootfs: Path,
    spec: str,
    *,
    run_as_user: int | None = None,
    run_as_group: int | None = None,
    supplemental_groups: list[int] | None = None,
) -> User:
    """The user a container runs as: `run_as_*` from the security context win over `spec`
    (the security context's username, or the image's `User`)."""
    passwd = _read_db(rootfs, "passwd")
    groups = _read_db(rootfs, "group")
    user_part, _, group_part = spec.partition(":")
    uid = run_as_user
    name = ""
    gid: int | None = None
    if uid is None and user_part:
        if user_part.isdigit():
            uid = int(user_part)
        else:
            user = _named(passwd, user_part, fields=4, what="user", file="passwd")
            uid, gid, name = int(user[2]), int(user[3]), user_part
    uid = uid or 0
    if not name:
        entry = next((e for e in passwd if len(e) > 3 and e[2] == str(uid)), None)
        if entry is not None:
            name = entry[0]
            gid = int(entry[3]) if gid is None else gid
    if group_part:
        if group_part.isdigit():
            gid = int(group_part)
        else:
            gid = int(_named(groups, group_part, fields=3, what="group", file="group")[2])
    if run_as_group is not None:
        gid = run_as_group
    gid = gid or 0
    extra = [int(e[2]) for e in groups if len(e) > 3 and name and name in e[3].split(",")]
    extra.extend(supplemental_groups or [])
    return User(uid=uid, gid=gid, additional_gids=sorted(set(extra) - {gid}))
