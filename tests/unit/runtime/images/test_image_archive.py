"""Import and export of OCI archives and `docker save` tarballs, without a registry."""

from __future__ import annotations

import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from image_builder import LayerTar, build_image, docker_save_archive, oci_archive

from kubelite.runtime.errors import DigestMismatch, ImageError
from kubelite.runtime.images import LocalImageService


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[LocalImageService]:
    async with LocalImageService(tmp_path / "images") as svc:
        yield svc


def _layers() -> list[bytes]:
    return [
        LayerTar().file("bin/tool", b"tool", mode=0o755).bytes(),
        LayerTar().file("etc/motd", b"hello").bytes(),
    ]


async def test_import_oci_archive(service: LocalImageService, tmp_path: Path) -> None:
    image = build_image(_layers())
    path = tmp_path / "img.tar"
    path.write_bytes(oci_archive([("example.com/app:1", image)]))
    assert await service.import_archive(path) == [image.config_digest]
    status = await service.image_status("example.com/app:1")
    assert status is not None and status.id == image.config_digest
    top, _ = await service.layer_dirs(status.id)
    assert (top / "etc/motd").read_bytes() == b"hello"


@pytest.mark.parametrize(
    ("ref_name", "tags"),
    [("busybox:1.36", ["docker.io/library/busybox:1.36"]), ("1.36", [])],
)
async def test_oci_ref_name_annotation(
    service: LocalImageService, tmp_path: Path, ref_name: str, tags: list[str]
) -> None:
    image = build_image(_layers())
    path = tmp_path / "img.tar"
    path.write_bytes(oci_archive([(ref_name, image)], ref_name_only=True))
    (image_id,) = await service.import_archive(path)
    status = await service.image_status(image_id)
    assert status is not None and status.repo_tags == tags


async def test_import_docker_save_tarball(service: LocalImageService, tmp_path: Path) -> None:
    data, image_id = docker_save_archive(["app:1", "localhost:5000/app:2"], _layers())
    path = tmp_path / "saved.tar"
    path.write_bytes(data)
    assert await service.import_archive(path) == [image_id]
    status = await service.image_status(image_id)
    assert status is not None
    assert status.repo_tags == ["docker.io/library/app:1", "localhost:5000/app:2"]
    assert len(await service.layer_dirs(image_id)) == 2


@pytest.mark.parametrize("fmt", ["oci", "docker"])
async def test_export_then_import_round_trip(
    service: LocalImageService, tmp_path: Path, fmt: str
) -> None:
    image = build_image(_layers())
    source = tmp_path / "in.tar"
    source.write_bytes(oci_archive([("example.com/app:1", image)]))
    await service.import_archive(source)
    out = tmp_path / f"out-{fmt}.tar"
    await service.export_image(["example.com/app:1"], out, format=fmt)
    with tarfile.open(out) as tf:
        names = tf.getnames()
    if fmt == "oci":
        assert {"oci-layout", "index.json"} <= set(names)
    else:
        assert {"manifest.json", "repositories"} <= set(names)
        with tarfile.open(out) as tf:
            manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == ["example.com/app:1"]
    async with LocalImageService(tmp_path / "elsewhere") as other:
        assert await other.import_archive(out) == [image.config_digest]
        status = await other.image_status("example.com/app:1")
        assert status is not None
        top, _ = await other.layer_dirs(status.id)
        assert (top / "etc/motd").read_bytes() == b"hello"


async def test_corrupt_blob_in_archive_leaves_nothing(
    service: LocalImageService, tmp_path: Path
) -> None:
    image = build_image(_layers())
    layer = image.layer_digests[0]
    image.blobs[layer] = image.blobs[layer][:-1] + bytes([image.blobs[layer][-1] ^ 0xFF])
    path = tmp_path / "bad.tar"
    path.write_bytes(oci_archive([("example.com/app:1", image)]))
    with pytest.raises(DigestMismatch):
        await service.import_archive(path)
    assert not [p for p in (service.root / "blobs").rglob("*") if p.is_file()]
    assert service.records.load() == {}


async def test_not_an_archive(service: LocalImageService, tmp_path: Path) -> None:
    path = tmp_path / "junk.tar"
    path.write_bytes(b"junk" * 200)
    with pytest.raises(ImageError, match="not a tar archive"):
        await service.import_archive(path)
