"""The pod's cgroup on the cgroup v1 hierarchies (cgroupfs style, no systemd).

A sandbox owns the directory `cgroup_parent` in every hierarchy; runc makes each container's
`<cgroup_parent>/<container id>` below it and removes it on `runc delete`. In the hybrid layout
of these machines runc also makes the same path in the cgroup2 tree (`unified`), so removal
covers every mounted hierarchy.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def hierarchies(root: Path = CGROUP_ROOT) -> list[Path]:
    """The mounted cgroup hierarchies: one per v1 controller (or named), plus cgroup2."""
    found = []
    for entry in sorted(root.iterdir()):
        # Co-mounted controllers appear once as a dir and again as symlinks (cpu,cpuacct).
        if entry.is_dir() and not entry.is_symlink() and (entry / "cgroup.procs").exists():
            found.append(entry)
    return found


def create_pod_cgroup(cgroup_parent: str, root: Path = CGROUP_ROOT) -> None:
    for hierarchy in hierarchies(root):
        (hierarchy / cgroup_parent.lstrip("/")).mkdir(parents=True, exist_ok=True)


def remove_pod_cgroup(
    cgroup_parent: str,
    root: Path = CGROUP_ROOT,
    *,
    ignore: type[OSError] = FileNotFoundError,
) -> None:
    """rmdir the pod's cgroup, children first, in every hierarchy; gone already is fine.

    `kubelite reset` removes the node's whole tree the same way but passes `ignore=OSError`:
    it takes what is empty and leaves a cgroup that still holds a process (EBUSY) in place."""
    for hierarchy in hierarchies(root):
        top = hierarchy / cgroup_parent.lstrip("/")
        if not top.is_dir():
            continue
        # A cgroup dir holds only control files besides its child cgroups, and rmdir takes
        # those with it, so only dirs are walked.
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            with contextlib.suppress(ignore):
                os.rmdir(dirpath)


def oom_killed(cgroups_path: str, root: Path = CGROUP_ROOT) -> bool:
    """Whether the kernel OOM-killed a process of the cgroup (memory.oom_control's counter)."""
    control = root / "memory" / cgroups_path.lstrip("/") / "memory.oom_control"
    try:
        for line in control.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value) > 0
    except FileNotFoundError:
        pass
    return False
