"""Import and export of image archives, checked against skopeo (a real OCI tool).

kubelite's archives must be readable by skopeo, and what skopeo writes (`docker save` style
docker-archive, OCI archive from a registry) must import into kubelite.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from images_fixtures import BuiltArchive, Registry, running_registry, write_busybox_archive

from kubelite.runtime.images import LocalImageService

pytestmark = pytest.mark.e2e

NAME = "docker.io/kubelite/busybox:1"
SKOPEO_TIMEOUT = 60


def skopeo(*args: str) -> str:
    return subprocess.run(
        ["skopeo", "--insecure-policy", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=SKOPEO_TIMEOUT,
    ).stdout


@pytest.fixture
def built(tmp_path: Path) -> BuiltArchive:
    return write_busybox_archive(tmp_path / "busybox.tar", NAME)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[LocalImageService]:
    async with LocalImageService(tmp_path / "images") as svc:
        yield svc


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry") as reg:
        yield reg


async def _assert_busybox(svc: LocalImageService, image_id: str) -> None:
    top, bottom = await svc.layer_dirs(image_id)
    assert (top / "etc/hello").read_text() == "hello from the top layer\n"
    assert (bottom / "bin/busybox").stat().st_size == Path("/bin/busybox").stat().st_size


async def test_import_oci_archive(built: BuiltArchive, service: LocalImageService) -> None:
    assert await service.import_archive(built.path) == [built.image_id]
    status = await service.image_status("kubelite/busybox:1")
    assert status is not None and status.id == built.image_id
    await _assert_busybox(service, built.image_id)


async def test_import_docker_save_tarball_written_by_skopeo(
    built: BuiltArchive, service: LocalImageService, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.tar"
    skopeo("copy", f"oci-archive:{built.path}", f"docker-archive:{saved}:saved/busybox:2")
    (image_id,) = await service.import_archive(saved)
    status = await service.image_status(image_id)
    assert status is not None and status.repo_tags == ["docker.io/saved/busybox:2"]
    await _assert_busybox(service, image_id)


@pytest.mark.parametrize(
    ("fmt", "transport"), [("oci", "oci-archive"), ("docker", "docker-archive")]
)
async def test_export_is_readable_by_skopeo_and_imports_back(
    built: BuiltArchive, service: LocalImageService, tmp_path: Path, fmt: str, transport: str
) -> None:
    await service.import_archive(built.path)
    out = tmp_path / f"export-{fmt}.tar"
    await service.export_image([NAME], out, format=fmt)
    inspected = json.loads(skopeo("inspect", "--raw", f"{transport}:{out}"))
    assert len(inspected["layers"]) == 2
    async with LocalImageService(tmp_path / "fresh") as fresh:
        (image_id,) = await fresh.import_archive(out)
        assert image_id == built.image_id
        assert (await fresh.image_status(NAME)) is not None
        await _assert_busybox(fresh, image_id)


async def test_oci_archive_copied_by_skopeo_from_a_registry_imports(
    built: BuiltArchive, service: LocalImageService, registry: Registry, tmp_path: Path
) -> None:
    await service.import_archive(built.path)
    await service.push_image(NAME, f"{registry.host}/pushed/busybox:3")
    copied = tmp_path / "copied.tar"
    skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{registry.host}/pushed/busybox:3",
        f"oci-archive:{copied}:localhost/copied:3",
    )
    async with LocalImageService(tmp_path / "fresh") as fresh:
        (image_id,) = await fresh.import_archive(copied)
        assert image_id == built.image_id
        status = await fresh.image_status(image_id)
        assert status is not None and status.repo_tags == ["localhost/copied:3"]
