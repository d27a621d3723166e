"""Picking this machine's manifest out of an image index."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.runtime.images import platforms
from kubelite.runtime.images.platforms import Platform, host_platform, select_manifest


def _entry(
    digest: str, os_name: str = "linux", arch: str = "amd64", variant: str = ""
) -> dict[str, Any]:
    plat = {"os": os_name, "architecture": arch}
    if variant:
        plat["variant"] = variant
    return {"digest": digest, "platform": plat}


INDEX = {
    "manifests": [
        _entry("arm-v6", arch="arm", variant="v6"),
        _entry("arm-v7", arch="arm", variant="v7"),
        _entry("amd64"),
        _entry("arm64", arch="arm64"),
        _entry("ppc", arch="ppc64le"),
        _entry("attestation", os_name="unknown", arch="unknown"),
        _entry("windows", os_name="windows"),
    ]
}


@pytest.mark.parametrize(
    ("want", "digest"),
    [
        (Platform("linux", "amd64"), "amd64"),
        (Platform("linux", "arm", "v7"), "arm-v7"),
        (Platform("linux", "arm64", "v8"), "arm64"),  # no variant counts as v8 for arm64
        (Platform("linux", "ppc64le"), "ppc"),
        (Platform("linux", "s390x"), None),
        (Platform("linux", "arm", "v5"), None),
    ],
)
def test_select_manifest(want: Platform, digest: str | None) -> None:
    chosen = select_manifest(INDEX, want)
    assert (chosen["digest"] if chosen else None) == digest


def test_exact_variant_beats_a_compatible_one() -> None:
    index = {"manifests": [_entry("plain", arch="arm64"), _entry("v8", arch="arm64", variant="v8")]}
    assert select_manifest(index, Platform("linux", "arm64", "v8"))["digest"] == "v8"


def test_single_entry_without_platform_is_taken() -> None:
    assert select_manifest({"manifests": [{"digest": "only"}]}, Platform("linux", "amd64")) == {
        "digest": "only"
    }


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", Platform("linux", "amd64")),
        ("aarch64", Platform("linux", "arm64", "v8")),
        ("armv7l", Platform("linux", "arm", "v7")),
        ("i686", Platform("linux", "386")),
    ],
)
def test_host_platform_maps_uname_to_go_names(
    monkeypatch, machine: str, expected: Platform
) -> None:
    monkeypatch.setattr(platforms._platform, "machine", lambda: machine)
    assert host_platform() == expected
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"
