"""Real mounts (root): memory-backed volumes on a sized tmpfs, subPaths pinned by bind mounts, and
nothing left after teardown."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.kubelet.envvars import ConfigError
from kubelite.kubelet.volumes import HostMounter, mounts_for, prepare_volumes, teardown_volumes

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting tmpfs needs root"),
]

MI = 1 << 20


class Lookup:
    async def config_map(self, namespace: str, name: str) -> dict | None:
        return None

    async def secret(self, namespace: str, name: str) -> dict | None:
        if name == "creds":
            return {"data": {"password": base64.b64encode(b"s3cret").decode()}}
        return None


@pytest.fixture
def pod_dir(tmp_path: Path) -> Iterator[Path]:
    """A pod directory whose mounts are always undone, whatever the test did."""
    directory = tmp_path / "pods" / "uid-e2e"
    directory.mkdir(parents=True)
    mounter = HostMounter()
    try:
        yield directory
    finally:
        for point, _ in sorted(
            mounter.mounts_under(tmp_path.resolve()), key=lambda m: len(m[0].parts), reverse=True
        ):
            mounter.unmount(point)


def tmpfs_size(path: Path) -> int:
    stats = os.statvfs(path)
    return stats.f_blocks * stats.f_frsize


def mount_type(path: Path) -> str | None:
    for point, fstype in HostMounter().mounts_under(path.resolve()):
        if point == path.resolve():
            return fstype
    return None


POD = {
    "metadata": {"name": "web", "namespace": "default", "uid": "uid-e2e"},
    "spec": {
        "containers": [{"name": "c", "resources": {"limits": {"memory": "96Mi"}}}],
        "volumes": [
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "creds", "secret": {"secretName": "creds"}},
            {"name": "scratch", "emptyDir": {}},
        ],
    },
}
NODE = {"status": {"allocatable": {"memory": "1Gi"}}}


async def test_memory_volumes_are_sized_tmpfs_and_teardown_unmounts_them(pod_dir: Path) -> None:
    volumes = await prepare_volumes(POD, pod_dir, lookup=Lookup(), node=NODE)
    cache, creds, scratch = volumes["cache"].path, volumes["creds"].path, volumes["scratch"].path

    assert mount_type(cache) == "tmpfs"
    assert tmpfs_size(cache) == 64 * MI  # the volume's sizeLimit
    assert mount_type(creds) == "tmpfs"
    assert tmpfs_size(creds) == 96 * MI  # the pod's memory limit, below allocatable
    assert (creds / "password").read_bytes() == b"s3cret"
    assert mount_type(scratch) is None  # on disk
    (cache / "blob").write_bytes(b"x" * 1024)

    # Preparing again (as the kubelet does to follow Secret changes) mounts nothing twice.
    await prepare_volumes(POD, pod_dir, lookup=Lookup(), node=NODE)
    mounted = HostMounter().mounts_under(pod_dir.resolve())
    assert sorted(p.name for p, _ in mounted) == ["cache", "creds"]

    teardown_volumes(pod_dir)

    assert HostMounter().mounts_under(pod_dir.resolve()) == []
    assert not (pod_dir / "volumes").exists()


async def test_a_full_tmpfs_refuses_writes_past_its_limit(pod_dir: Path) -> None:
    pod = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c"}],
            "volumes": [{"name": "tiny", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}],
        },
    }
    volumes = await prepare_volumes(pod, pod_dir, lookup=Lookup(), node=NODE)
    with pytest.raises(OSError, match="No space left"):
        (volumes["tiny"].path / "big").write_bytes(b"x" * (2 * MI))
    teardown_volumes(pod_dir)
    assert not (pod_dir / "volumes").exists()


async def test_sub_paths_are_pinned_by_bind_mounts(pod_dir: Path) -> None:
    pod = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "c"}], "volumes": [{"name": "shared", "emptyDir": {}}]},
    }
    volumes = await prepare_volumes(pod, pod_dir, lookup=Lookup())
    shared = volumes["shared"].path
    (shared / "app").mkdir()
    (shared / "app" / "config").write_text("v1")
    container = {
        "name": "c",
        "volumeMounts": [{"name": "shared", "mountPath": "/cfg", "subPath": "app"}],
    }

    (mount,) = mounts_for(container, volumes, pod_dir=pod_dir)
    (again,) = mounts_for(container, volumes, pod_dir=pod_dir)  # a restart reuses the pin
    target = pod_dir / "volume-subpaths" / "shared" / "c" / "0"
    assert mount.host_path == again.host_path == str(target)
    assert (target / "config").read_text() == "v1"
    assert [p for p, _ in HostMounter().mounts_under(target.resolve())] == [target.resolve()]

    # A container swaps the directory for a link to the host's root: the pin still holds the
    # directory that was checked, and the next start refuses the link.
    os.rename(shared / "app", shared / "old")
    os.symlink("/", shared / "app")
    assert (target / "config").read_text() == "v1"
    with pytest.raises(ConfigError, match="failed to prepare subPath"):
        mounts_for(container, volumes, pod_dir=pod_dir)

    teardown_volumes(pod_dir)
    assert HostMounter().mounts_under(pod_dir.resolve()) == []
    assert not (pod_dir / "volume-subpaths").exists()
    assert not (pod_dir / "volumes").exists()


async def test_a_pod_dir_reached_through_a_link_is_mounted_once(
    pod_dir: Path, tmp_path: Path
) -> None:
    link = tmp_path / "linked-pod"
    link.symlink_to(pod_dir)
    pod = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c"}],
            "volumes": [{"name": "creds", "secret": {"secretName": "creds"}}],
        },
    }
    await prepare_volumes(pod, link, lookup=Lookup(), node=NODE)
    await prepare_volumes(pod, link, lookup=Lookup(), node=NODE)
    assert len(HostMounter().mounts_under(pod_dir)) == 1
    teardown_volumes(link)
    assert HostMounter().mounts_under(pod_dir) == []
    assert not (pod_dir / "volumes").exists()
