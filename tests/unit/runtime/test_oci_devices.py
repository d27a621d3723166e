"""The host's devices a privileged container gets, found as containerd's HostDevices finds
them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubelite.runtime.oci.devices import device, host_devices


def test_dev_null_is_the_character_device_1_3() -> None:
    found = {d["path"]: d for d in host_devices()}
    null = found["/dev/null"]
    assert (null["type"], null["major"], null["minor"]) == ("c", 1, 3)
    assert null["fileMode"] == 0o666 and null["uid"] == 0


def test_the_managed_directories_and_symlinks_are_left_out() -> None:
    paths = [d["path"] for d in host_devices()]
    assert not any(p.startswith(("/dev/pts/", "/dev/shm/", "/dev/mqueue/")) for p in paths)
    assert not any(os.path.islink(p) for p in paths)


def test_files_fifos_and_links_are_no_devices(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to("/dev/null")
    assert host_devices(tmp_path) == []
    assert device(tmp_path / "gone") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_devices_in_subdirectories_are_found_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "pts").mkdir()
    os.mknod(tmp_path / "net" / "tun", 0o600 | 0o020000, os.makedev(10, 200))
    os.mknod(tmp_path / "pts" / "0", 0o600 | 0o020000, os.makedev(136, 0))
    os.mknod(tmp_path / "loop0", 0o660 | 0o060000, os.makedev(7, 0))
    found = host_devices(tmp_path)
    assert [(d["path"], d["type"], d["major"], d["minor"]) for d in found] == [
        (str(tmp_path / "loop0"), "b", 7, 0),
        (str(tmp_path / "net" / "tun"), "c", 10, 200),
    ]
