"""The pod cgroup across every hierarchy, on a fake /sys/fs/cgroup."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.sandbox import cgroups


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("memory", "cpu,cpuacct", "unified"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "cgroup.procs").touch()
    (tmp_path / "cpu").symlink_to("cpu,cpuacct")
    return tmp_path


def test_hierarchies_skip_symlinks_of_co_mounted_controllers(root: Path) -> None:
    assert [p.name for p in cgroups.hierarchies(root)] == ["cpu,cpuacct", "memory", "unified"]


def test_create_and_remove_pod_cgroup_with_children(root: Path) -> None:
    cgroups.create_pod_cgroup("/kl/pod1", root)
    assert (root / "memory" / "kl" / "pod1").is_dir()
    (root / "memory" / "kl" / "pod1" / "ctr").mkdir()
    cgroups.remove_pod_cgroup("/kl/pod1", root)
    assert not (root / "memory" / "kl" / "pod1").exists()
    assert (root / "memory" / "kl").exists()  # the parent belongs to whoever made it
    cgroups.remove_pod_cgroup("/kl/pod1", root)  # gone already is fine


def test_removing_a_tree_can_leave_what_is_not_empty(root: Path) -> None:
    # A real cgroup that still holds a process refuses rmdir (EBUSY); a plain directory with a
    # file in it refuses the same way (ENOTEMPTY).
    busy = root / "memory" / "kubelite" / "pod1" / "ctr"
    busy.mkdir(parents=True)
    (busy / "held").touch()
    (root / "memory" / "kubelite" / "pod2").mkdir()
    with pytest.raises(OSError):
        cgroups.remove_pod_cgroup("/kubelite", root)
    cgroups.remove_pod_cgroup("/kubelite", root, ignore=OSError)  # `kubelite reset`'s way
    assert busy.is_dir()
    assert not (root / "memory" / "kubelite" / "pod2").exists()


def test_oom_killed_reads_the_oom_kill_counter(root: Path) -> None:
    ctr = root / "memory" / "kl" / "c"
    ctr.mkdir(parents=True)
    (ctr / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not cgroups.oom_killed("/kl/c", root)
    (ctr / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert cgroups.oom_killed("/kl/c", root)
    assert not cgroups.oom_killed("/kl/gone", root)
