"""What every image has besides its packages: the users, the empty mount points, nsswitch.conf.

Debian puts these in place with base-files and base-passwd and their maintainer scripts; an image
built from a handful of packages has none of them. The user list is Debian's base-passwd trimmed
to the accounts programs look up (root, daemon, www-data, nobody); recipes add their own.
"""

from __future__ import annotations

from .rootfs import RootFS

BASE_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh",
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    "bin:x:2:2:bin:/bin:/usr/sbin/nologin",
    "sys:x:3:3:sys:/dev:/usr/sbin/nologin",
    "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
)
BASE_GROUP = (
    "root:x:0:",
    "daemon:x:1:",
    "bin:x:2:",
    "sys:x:3:",
    "adm:x:4:",
    "tty:x:5:",
    "www-data:x:33:",
    "users:x:100:",
    "nogroup:x:65534:",
)
# Without this file glibc asks DNS before /etc/hosts (its built-in default is
# `dns [!UNAVAIL=return] files`), so names the kubelet writes into /etc/hosts would not resolve.
NSSWITCH_CONF = """\
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
"""

# The directories a runtime mounts over (/proc, /sys, /dev) or that programs expect to find:
# (path, mode). /tmp and /var/tmp are world-writable with the sticky bit, as on any Linux.
BASE_DIRS = (
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("etc", 0o755),
    ("root", 0o700),
    ("run", 0o755),
    ("tmp", 0o1777),
    ("var/tmp", 0o1777),
)


def lookup(lines: tuple[str, ...], name: str) -> tuple[int, int]:
    """(uid, gid) of `name` from passwd lines, or (gid, gid) from group lines."""
    for line in lines:
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2]), int(fields[3] if len(fields) > 3 and fields[3] else fields[2])
    raise KeyError(name)


def lay_down(root: RootFS, *, users: tuple[str, ...], groups: tuple[str, ...]) -> None:
    """Add the base directories, /etc/passwd, /etc/group and /etc/nsswitch.conf to `root`."""
    for path, mode in BASE_DIRS:
        root.mkdir(path, mode)
    if "var/run" not in root:
        root.symlink("var/run", "/run")
    root.write("etc/passwd", _lines(BASE_PASSWD + users))
    root.write("etc/group", _lines(BASE_GROUP + groups))
    root.write("etc/nsswitch.conf", NSSWITCH_CONF.encode())


def _lines(lines: tuple[str, ...]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()
