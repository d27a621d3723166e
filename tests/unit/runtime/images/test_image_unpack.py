"""Unpacking layer tars for overlayfs: whiteouts, opaque dirs, links, attributes, escapes."""

from __future__ import annotations

import gzip
import os
import stat
from pathlib import Path

import pytest
import zstandard
from image_builder import LayerTar, sha256

from kubelite.runtime.images.unpack import (
    OVERLAY_OPAQUE_XATTR,
    LayerFormatError,
    diff_id_of,
    unpack_layer,
)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (ownership, trusted xattrs)")


def _unpack(tmp_path: Path, data: bytes, *, compress: str = "") -> Path:
    blob = tmp_path / "blob"
    if compress == "gzip":
        blob.write_bytes(gzip.compress(data))
    elif compress == "zstd":
        blob.write_bytes(zstandard.ZstdCompressor().compress(data))
    else:
        blob.write_bytes(data)
    dest = tmp_path / "layer"
    dest.mkdir()
    result = unpack_layer(blob, dest)
    assert result.diff_id == sha256(data)
    assert result.size == len(data)
    return dest


@pytest.mark.parametrize("compress", ["", "gzip", "zstd"])
def test_files_dirs_and_symlinks_with_their_modes_and_times(tmp_path: Path, compress: str) -> None:
    layer = (
        LayerTar()
        .dir("usr", mode=0o750, mtime=1_000_000)
        .file("usr/run.sh", b"echo hi\n", mode=0o4755, mtime=2_000_000)
        .symlink("usr/sh", "/bin/busybox")
        .file("./deep/er/file", b"made parents")
        .bytes()
    )
    dest = _unpack(tmp_path, layer, compress=compress)
    run = dest / "usr/run.sh"
    assert run.read_bytes() == b"echo hi\n"
    assert stat.S_IMODE(run.stat().st_mode) == 0o4755
    assert run.stat().st_mtime == 2_000_000
    assert stat.S_IMODE((dest / "usr").stat().st_mode) == 0o750
    assert (dest / "usr").stat().st_mtime == 1_000_000  # set after its children were made
    assert os.readlink(dest / "usr/sh") == "/bin/busybox"
    assert (dest / "deep/er/file").read_bytes() == b"made parents"


def test_whiteout_becomes_an_overlay_whiteout_device(tmp_path: Path) -> None:
    dest = _unpack(tmp_path, LayerTar().dir("etc").whiteout("etc/passwd").whiteout("gone").bytes())
    for path in (dest / "etc/passwd", dest / "gone"):
        st = os.lstat(path)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert not (dest / "etc/.wh.passwd").exists()


@as_root
def test_opaque_marker_sets_the_overlay_xattr(tmp_path: Path) -> None:
    dest = _unpack(tmp_path, LayerTar().dir("var/cache").opaque("var/cache").file("var/x").bytes())
    assert os.getxattr(dest / "var/cache", OVERLAY_OPAQUE_XATTR) == b"y"
    assert not (dest / "var/cache/.wh..wh..opq").exists()
    with pytest.raises(OSError):
        os.getxattr(dest / "var", OVERLAY_OPAQUE_XATTR)


def test_hardlinks_share_an_inode(tmp_path: Path) -> None:
    layer = LayerTar().file("bin/busybox", b"BB", mode=0o755).hardlink("bin/ls", "bin/busybox")
    dest = _unpack(tmp_path, layer.bytes())
    assert os.stat(dest / "bin/ls").st_ino == os.stat(dest / "bin/busybox").st_ino


@as_root
def test_ownership_and_devices(tmp_path: Path) -> None:
    layer = LayerTar().file("owned", b"x", uid=1234, gid=5678).char_device("dev/null", 1, 3)
    dest = _unpack(tmp_path, layer.bytes())
    st = os.stat(dest / "owned")
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    dev = os.lstat(dest / "dev/null")
    assert stat.S_ISCHR(dev.st_mode) and dev.st_rdev == os.makedev(1, 3)


def test_later_entry_replaces_earlier_one(tmp_path: Path) -> None:
    layer = LayerTar().file("a", b"first").file("a", b"second").symlink("b", "x").dir("b")
    dest = _unpack(tmp_path, layer.bytes())
    assert (dest / "a").read_bytes() == b"second"
    assert (dest / "b").is_dir() and not (dest / "b").is_symlink()


@pytest.mark.parametrize(
    "layer",
    [
        LayerTar().file("../escape", b"x"),
        LayerTar().file("a/../../escape", b"x"),
        # A symlink to outside, then a write through it: must not reach the host.
        LayerTar().symlink("lib", "/tmp").file("lib/escape", b"x"),
        LayerTar().symlink("lib", "../../..").file("lib/escape", b"x"),
        LayerTar().file("target", b"x").hardlink("link", "../../etc/passwd"),
        LayerTar().symlink("l", "/etc").hardlink("link", "l/passwd"),
        LayerTar().hardlink("link", "not-in-layer"),
        LayerTar().dir("d").hardlink("link", "d"),
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "abs-symlink-parent",
        "rel-symlink-parent",
        "hardlink-dotdot",
        "hardlink-through-symlink",
        "hardlink-missing",
        "hardlink-to-dir",
    ],
)
def test_entries_that_escape_are_refused(tmp_path: Path, layer: LayerTar) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(layer.bytes())
    dest = tmp_path / "work" / "layer"
    dest.mkdir(parents=True)
    with pytest.raises(LayerFormatError):
        unpack_layer(blob, dest)
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "work" / "escape").exists()
    assert not Path("/tmp/escape").exists()


def test_absolute_names_stay_inside(tmp_path: Path) -> None:
    dest = _unpack(tmp_path, LayerTar().file("/abs/file", b"in").bytes())
    assert (dest / "abs/file").read_bytes() == b"in"


def test_broken_archive_is_a_format_error(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(gzip.compress(LayerTar().file("a", b"x" * 5000).bytes())[:-100])
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(LayerFormatError):
        unpack_layer(blob, dest)


def test_diff_id_of_a_compressed_blob(tmp_path: Path) -> None:
    data = LayerTar().file("a", b"x").bytes()
    blob = tmp_path / "blob"
    blob.write_bytes(gzip.compress(data))
    assert diff_id_of(blob) == sha256(data)
