"""AtomicWriter: the ..data layout, atomic updates, stale names removed, modes, path checks."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.kubelet.volumes.atomic_writer import (
    AtomicWriter,
    FileProjection,
    PayloadError,
    validate_path,
)

TS_DIR = re.compile(r"^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$")


@pytest.fixture
def umask_077() -> Iterator[None]:
    """A strict umask, to show modes do not depend on it."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def hidden(target: Path) -> list[str]:
    return sorted(p.name for p in target.iterdir() if p.name.startswith(".."))


def test_layout_is_links_through_data_to_a_timestamped_dir(tmp_path: Path, umask_077: None) -> None:
    payload = {
        "app.conf": FileProjection(b"listen 80\n", 0o644),
        "secret.key": FileProjection(b"k", 0o400),
        "conf.d/extra.conf": FileProjection(b"x", 0o600),
    }
    assert AtomicWriter(tmp_path).write(payload) is True

    ts_name = os.readlink(tmp_path / "..data")
    assert TS_DIR.match(ts_name)
    assert hidden(tmp_path) == sorted(["..data", ts_name])
    assert stat.S_IMODE(os.stat(tmp_path / ts_name).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / ts_name / "conf.d").st_mode) == 0o755
    assert os.readlink(tmp_path / "app.conf") == "..data/app.conf"
    assert os.readlink(tmp_path / "conf.d") == "..data/conf.d"  # nested: via the top dir
    assert (tmp_path / "app.conf").read_bytes() == b"listen 80\n"
    assert (tmp_path / "conf.d" / "extra.conf").read_bytes() == b"x"
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o400
    assert stat.S_IMODE((tmp_path / "conf.d" / "extra.conf").stat().st_mode) == 0o600


def test_update_swaps_data_and_removes_stale_names(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write(
        {
            "keep": FileProjection(b"1"),
            "gone": FileProjection(b"2"),
            "dir/a": FileProjection(b"a"),
            "dir/b": FileProjection(b"b"),
            "olddir/x": FileProjection(b"x"),
        }
    )
    first = os.readlink(tmp_path / "..data")

    assert writer.write({"keep": FileProjection(b"1!"), "dir/a": FileProjection(b"a")}) is True

    second = os.readlink(tmp_path / "..data")
    assert second != first
    assert not (tmp_path / first).exists()  # the old version is deleted
    assert hidden(tmp_path) == sorted(["..data", second])
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == [
        "dir",
        "keep",
    ]
    assert (tmp_path / "keep").read_bytes() == b"1!"
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["a"]


def test_unchanged_payload_writes_nothing(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    payload = {"a": FileProjection(b"1"), "b/c": FileProjection(b"2", 0o600)}
    writer.write(payload)
    before = os.readlink(tmp_path / "..data")
    assert writer.write(dict(payload)) is False
    assert os.readlink(tmp_path / "..data") == before


def test_a_mode_change_alone_rewrites(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"a": FileProjection(b"1", 0o644)})
    assert writer.write({"a": FileProjection(b"1", 0o400)}) is True
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o400


def test_empty_payload_makes_an_empty_volume_and_empties_a_full_one(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({})
    assert "..data" in hidden(tmp_path)
    assert len(list(tmp_path.iterdir())) == 2  # ..data and its directory, nothing else
    writer.write({"a": FileProjection(b"1")})
    writer.write({})
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == []


def test_a_file_can_become_a_directory(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"a": FileProjection(b"1")})
    writer.write({"a/b": FileProjection(b"2")})
    assert (tmp_path / "a" / "b").read_bytes() == b"2"


def test_paths_are_cleaned(tmp_path: Path) -> None:
    AtomicWriter(tmp_path).write({"./a//b/": FileProjection(b"1")})
    assert (tmp_path / "a" / "b").read_bytes() == b"1"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", 'invalid path: must not be empty: ""'),
        ("/etc/passwd", "invalid path: must be relative path: /etc/passwd"),
        ("a/../../b", "invalid path: must not contain '..': a/../../b"),
        ("..", "invalid path: must not contain '..': .."),
        ("..data", "invalid path: must not start with '..': ..data"),
        ("..x/y", "invalid path: must not start with '..': ..x/y"),
        ("a" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
        ("a/" * 2049, "invalid path: must be less than or equal to 4096 characters"),
    ],
)
def test_invalid_paths_are_refused(tmp_path: Path, path: str, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        AtomicWriter(tmp_path).write({path: FileProjection(b"")})
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["a..b", "a/..b", ".hidden", "x/..y"])
def test_dots_inside_names_are_fine(path: str) -> None:
    validate_path(path)


def test_target_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        AtomicWriter(tmp_path / "missing")
