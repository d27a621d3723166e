"""A container's user resolved in its own root's /etc/passwd and /etc/group, as containerd
resolves it: the primary group is always among the process's groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci.users import User, resolve_user, user_string


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
        ("", User(0, 0, [0])),
        ("www", User(33, 33, [33, 40])),
        ("33", User(33, 33, [33, 40])),
        ("www:logs", User(33, 40, [40])),  # the user's other groups still count
        ("1000", User(1000, 0, [0])),  # not in the image's passwd: group 0
        ("1000:2000", User(1000, 2000, [2000])),
        ("nobody:0", User(65534, 0, [0])),
    ],
)
def test_image_user_forms(rootfs: Path, spec: str, expected: User) -> None:
    assert resolve_user(rootfs, spec) == expected


def test_supplemental_groups_merge_sorted_without_repeats(rootfs: Path) -> None:
    user = resolve_user(rootfs, "33:3000", supplemental_groups=[4000, 2000, 40])
    assert user == User(33, 3000, [40, 2000, 3000, 4000])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"uid": 1000}, "1000"),
        ({"uid": 1000, "gid": 3000}, "1000:3000"),
        ({"username": "www", "uid": 5, "gid": 7}, "www:7"),  # a name wins over a uid
        ({"image_user": "nginx:nginx"}, "nginx:nginx"),  # only without any of the others
        ({"uid": 0, "image_user": "nginx"}, "0"),
    ],
)
def test_the_user_string_is_containerds(fields: dict, expected: str) -> None:
    assert user_string(**fields) == expected


def test_a_group_without_a_user_is_refused() -> None:
    with pytest.raises(ContainerError, match='user group "3000" is specified without user'):
        user_string(gid=3000)


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
