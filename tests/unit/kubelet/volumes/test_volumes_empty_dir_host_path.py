"""emptyDir (disk and memory) and hostPath volumes, including hostPath's type checks."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from volume_doubles import NODE, RecordingMounter, make_pod

from kubelite.kubelet.volumes import empty_dir, host_path
from kubelite.kubelet.volumes.context import VolumeContext, VolumeError

MI = 1 << 20


async def test_empty_dir_on_disk_is_world_writable(ctx: VolumeContext) -> None:
    old = os.umask(0o022)
    try:
        mounted = await empty_dir.set_up(ctx, {"name": "scratch", "emptyDir": {}})
    finally:
        os.umask(old)
    assert mounted.path == ctx.pod_dir / "volumes" / "kubernetes.io~empty-dir" / "scratch"
    assert mounted.read_only is False
    assert stat.S_IMODE(os.lstat(mounted.path).st_mode) == 0o777
    assert ctx.mounter.mount_calls == []  # type: ignore[attr-defined]


async def test_empty_dir_keeps_its_contents_across_set_ups(ctx: VolumeContext) -> None:
    volume = {"name": "scratch", "emptyDir": {}}
    mounted = await empty_dir.set_up(ctx, volume)
    (mounted.path / "data").write_text("kept")
    await empty_dir.set_up(ctx, volume)
    assert (mounted.path / "data").read_text() == "kept"


async def test_memory_medium_mounts_a_sized_tmpfs_once(ctx: VolumeContext) -> None:
    volume = {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    mounted = await empty_dir.set_up(ctx, volume)
    await empty_dir.set_up(ctx, volume)
    mounter = ctx.mounter
    assert isinstance(mounter, RecordingMounter)
    assert mounter.mount_calls == [(mounted.path, 64 * MI)]


async def test_unknown_medium_is_refused(ctx: VolumeContext) -> None:
    with pytest.raises(VolumeError, match="unsupported emptyDir medium 'HugePages'"):
        await empty_dir.set_up(ctx, {"name": "h", "emptyDir": {"medium": "HugePages"}})


def limits(memory: str | None) -> dict:
    return {"resources": {"limits": {"memory": memory}}} if memory else {}


@pytest.mark.parametrize(
    ("containers", "inits", "size_limit", "node", "expected"),
    [
        ([{}], [], None, NODE, 1024 * MI),  # node allocatable
        ([{}], [], "64Mi", NODE, 64 * MI),  # the volume's own limit
        ([{}], [], "2Gi", NODE, 1024 * MI),  # never more than allocatable
        ([limits("100Mi"), limits("28Mi")], [], None, NODE, 128 * MI),  # the pod's limit
        ([limits("100Mi"), {}], [], None, NODE, 1024 * MI),  # one container without a limit
        ([limits("100Mi")], [limits("300Mi")], None, NODE, 300 * MI),  # init containers count
        ([limits("100Mi")], [limits("300Mi")], "200Mi", NODE, 200 * MI),
        ([limits("100Mi")], [{"restartPolicy": "Always", **limits("50Mi")}], None, NODE, 150 * MI),
        ([{}], [], None, None, None),  # nothing known: the kernel's default
        ([{}], [], "64Mi", None, 64 * MI),
    ],
)
def test_memory_size_limit(
    containers: list, inits: list, size_limit: str | None, node: dict | None, expected: int | None
) -> None:
    pod = make_pod(containers=[{"name": f"c{i}", **c} for i, c in enumerate(containers)])
    pod["spec"]["initContainers"] = [{"name": f"i{i}", **c} for i, c in enumerate(inits)]
    assert empty_dir.memory_size_limit(pod, size_limit, node) == expected


def test_pod_overhead_adds_to_the_pod_limit() -> None:
    pod = make_pod(containers=[{"name": "c", **limits("100Mi")}])
    pod["spec"]["overhead"] = {"memory": "10Mi"}
    assert empty_dir.pod_memory_limit(pod) == 110 * MI


# --- hostPath -----------------------------------------------------------------------------------


@pytest.fixture
def unix_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    try:
        yield path
    finally:
        server.close()


async def host_path_volume(ctx: VolumeContext, path: Path | str, kind: str | None) -> Path:
    source = {"path": str(path), **({"type": kind} if kind is not None else {})}
    return (await host_path.set_up(ctx, {"name": "host", "hostPath": source})).path


@pytest.mark.parametrize(
    "kind", [None, "", "Directory", "DirectoryOrCreate"], ids=["absent", "unset", "dir", "dir-or"]
)
async def test_host_path_directories(ctx: VolumeContext, tmp_path: Path, kind: str | None) -> None:
    assert await host_path_volume(ctx, tmp_path, kind) == tmp_path


async def test_host_path_is_not_under_the_pod(ctx: VolumeContext, tmp_path: Path) -> None:
    mounted = await host_path.set_up(ctx, {"name": "h", "hostPath": {"path": str(tmp_path)}})
    assert mounted.read_only is False
    assert not (ctx.pod_dir / "volumes").exists()


async def test_directory_or_create_makes_missing_parents(
    ctx: VolumeContext, tmp_path: Path
) -> None:
    target = tmp_path / "a" / "b"
    old = os.umask(0o022)
    try:
        await host_path_volume(ctx, target, "DirectoryOrCreate")
    finally:
        os.umask(old)
    assert target.is_dir()
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


async def test_file_or_create_makes_an_empty_file(ctx: VolumeContext, tmp_path: Path) -> None:
    target = tmp_path / "f"
    old = os.umask(0o022)
    try:
        await host_path_volume(ctx, target, "FileOrCreate")
    finally:
        os.umask(old)
    assert target.read_bytes() == b""
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


async def test_file_or_create_needs_the_parent(ctx: VolumeContext, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "f"
    with pytest.raises(VolumeError) as caught:
        await host_path_volume(ctx, target, "FileOrCreate")
    assert str(caught.value) == f"open {target}: no such file or directory"


async def test_host_path_types_that_match(
    ctx: VolumeContext, tmp_path: Path, unix_socket: Path
) -> None:
    (tmp_path / "file").write_text("x")
    await host_path_volume(ctx, tmp_path / "file", "File")
    await host_path_volume(ctx, tmp_path / "file", "FileOrCreate")
    await host_path_volume(ctx, unix_socket, "Socket")
    await host_path_volume(ctx, "/dev/null", "CharDevice")
    os.symlink(tmp_path / "file", tmp_path / "link")
    await host_path_volume(ctx, tmp_path / "link", "File")  # links are followed


@pytest.mark.parametrize(
    ("target", "kind", "message"),
    [
        ("dir", "File", "hostPath type check failed: {dir} is not a file, it's a Directory"),
        (
            "dir",
            "FileOrCreate",
            "hostPath type check failed: {dir} is not a file, it's a Directory",
        ),
        ("file", "Directory", "hostPath type check failed: {file} is not a directory, it's a File"),
        (
            "file",
            "DirectoryOrCreate",
            "hostPath type check failed: {file} is not a directory, it's a File",
        ),
        ("file", "Socket", "hostPath type check failed: {file} is not a socket file, it's a File"),
        ("dir", "CharDevice", "hostPath type check failed: {dir} is not a character device, "),
        ("file", "BlockDevice", "hostPath type check failed: {file} is not a block device, "),
        ("missing", "File", "hostPath {missing} doesn't exist"),
        ("missing", "Directory", "hostPath {missing} doesn't exist"),
        ("fifo", "File", "hostPath type check failed, {fifo} is not a file, unable to determine"),
        ("dir", "Whatever", "Whatever is an invalid volume type"),
        ("dotdot", None, "invalid HostPath `{dotdot}`: must not contain '..'"),
    ],
)
async def test_host_path_type_check_failures(
    ctx: VolumeContext, tmp_path: Path, target: str, kind: str | None, message: str
) -> None:
    paths = {
        "dir": tmp_path / "d",
        "file": tmp_path / "f",
        "missing": tmp_path / "m",
        "fifo": tmp_path / "p",
        "dotdot": f"{tmp_path}/d/../f",
    }
    paths["dir"].mkdir()
    paths["file"].write_text("x")
    os.mkfifo(paths["fifo"])
    with pytest.raises(VolumeError) as caught:
        await host_path_volume(ctx, paths[target], kind)
    assert str(caught.value).startswith(message.format(**paths))
    assert not paths["missing"].exists()
