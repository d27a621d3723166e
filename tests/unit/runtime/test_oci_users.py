"""A container's user resolved in its own root's /etc/passwd and /etc/group."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci.users import User, resolve_user


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "www:x:33:33:www:/var/www:/bin/false\n"
        "nobody:x:65534:65534:nobody:/:/bin/false\n"
    )
    (tmp_path / "etc" / "group").write_text(
        "root:x:0:\nwww:x:33:\nlogs:x:40:www,other\nnogroup:x:65534:\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", User(0, 0)),
        ("www", User(33, 33, [40])),
        ("33", User(33, 33, [40])),
        ("www:logs", User(33, 40)),
        ("1000", User(1000, 0)),
        ("1000:2000", User(1000, 2000)),
        ("nobody:0", User(65534, 0)),
    ],
)
def test_image_user_forms(rootfs: Path, spec: str, expected: User) -> None:
    assert resolve_user(rootfs, spec) == expected


def test_security_context_ids_win_over_the_image_user(rootfs: Path) -> None:
    user = resolve_user(rootfs, "www", run_as_user=1234, run_as_group=99, supplemental_groups=[7])
    assert user == User(1234, 99, [7])


def test_unknown_user_name_is_a_config_error(rootfs: Path) -> None:
    with pytest.raises(ContainerError, match="unable to find user ghost") as failure:
        resolve_user(rootfs, "ghost")
    assert failure.value.reason == "CreateContainerConfigError"


def test_unknown_group_name_is_a_config_error(rootfs: Path) -> None:
    with pytest.raises(
        ContainerError, match="unable to find group ghosts: no matching entries in group file"
    ) as failure:
        resolve_user(rootfs, "0:ghosts")
    assert failure.value.reason == "CreateContainerConfigError"


def test_passwd_symlink_out_of_the_root_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    outside = tmp_path / "host-passwd"
    outside.write_text("secret:x:4242:4242::/:/bin/sh\n")
    (root / "etc" / "passwd").symlink_to(outside)
    with pytest.raises(ContainerError):
        resolve_user(root, "secret")
