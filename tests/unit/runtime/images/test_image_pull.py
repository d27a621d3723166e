"""Pulls against an in-process registry: auth, platforms, dedupe, failures, removal, push."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_registry import FakeRegistry
from image_builder import LayerTar, build_image, build_index

from kubelite.runtime.cri import AuthConfig, PullProgress
from kubelite.runtime.errors import (
    DigestMismatch,
    ImageNotFound,
    RegistryUnauthorized,
    RegistryUnavailable,
    UnknownRegistry,
    UnsupportedImage,
)
from kubelite.runtime.images import LocalImageService


def _two_layers():
    bottom = LayerTar().dir("bin").file("bin/tool", b"#!tool\n", mode=0o755).file("etc/a", b"a")
    top = LayerTar().file("etc/b", b"b").whiteout("etc/a")
    return build_image([bottom.bytes(), top.bytes()])


@pytest.fixture
async def registry() -> AsyncIterator[FakeRegistry]:
    reg = FakeRegistry()
    await reg.start()
    try:
        yield reg
    finally:
        await reg.stop()


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[LocalImageService]:
    async with LocalImageService(tmp_path / "images") as svc:
        yield svc


def _store_is_empty(svc: LocalImageService) -> bool:
    blobs = [p for p in (svc.root / "blobs").rglob("*") if p.is_file()]
    layers = list((svc.root / "layers").iterdir())
    ingest = list((svc.root / "ingest").iterdir())
    leases = list((svc.root / "leases").iterdir())
    return not (blobs or layers or ingest or leases or svc.records.load())


async def test_pull_stores_image_and_unpacks_layers_topmost_first(registry, service):
    image = _two_layers()
    registry.add_image("team/app", "1", image)
    ref = f"{registry.host}/team/app:1"
    seen: list[PullProgress] = []

    image_id = await service.pull_image(ref, progress=seen.append)

    assert image_id == image.config_digest
    status = await service.image_status(ref)
    assert status is not None
    assert status.repo_tags == [ref]
    assert status.repo_digests == [f"{registry.host}/team/app@{image.manifest_digest}"]
    assert status.config.cmd == ["/bin/sh"]
    assert status.size == sum(len(image.blobs[d]) for d in image.layer_digests)
    dirs = await service.layer_dirs(image_id)
    assert [d.name for d in dirs] == [i.split(":")[1] for i in reversed(image.diff_ids)]
    assert (dirs[1] / "bin/tool").read_bytes() == b"#!tool\n"
    assert os.stat(dirs[0] / "etc/a").st_rdev == 0  # the whiteout of etc/a
    assert {p.digest for p in seen if p.finished} == set(image.layer_digests)


async def test_pull_by_digest_and_by_id_lookup(registry, service):
    image = _two_layers()
    registry.add_image("app", "v", image)
    ref = f"{registry.host}/app@{image.manifest_digest}"
    image_id = await service.pull_image(ref)
    status = await service.image_status(image_id)
    assert status is not None and status.repo_tags == [] and status.repo_digests == [ref]
    assert await service.image_status(image_id.split(":")[1][:12]) == status


async def test_index_resolves_to_this_machines_platform(registry, tmp_path):
    from kubelite.runtime.images.platforms import Platform

    amd = build_image([LayerTar().file("arch", b"amd64").bytes()], architecture="amd64")
    arm = build_image([LayerTar().file("arch", b"arm64").bytes()], architecture="arm64")
    registry.add_image("multi", "amd", amd)
    registry.add_image("multi", "arm", arm)
    index, index_digest = build_index({"linux/amd64": amd, "linux/arm64/v8": arm})
    registry.add_manifest("multi", "latest", index, "application/vnd.oci.image.index.v1+json")
    registry.blobs[index_digest] = index
    async with LocalImageService(
        tmp_path / "images", platform=Platform("linux", "arm64", "v8")
    ) as svc:
        image_id = await svc.pull_image(f"{registry.host}/multi")
        assert image_id == arm.config_digest
        (layer,) = await svc.layer_dirs(image_id)
        assert (layer / "arch").read_bytes() == b"arm64"
        status = await svc.image_status(image_id)
        assert status is not None
        assert status.repo_digests == [f"{registry.host}/library/multi@{index_digest}"] or (
            status.repo_digests == [f"{registry.host}/multi@{index_digest}"]
        )
    async with LocalImageService(tmp_path / "other", platform=Platform("linux", "s390x")) as svc:
        with pytest.raises(UnsupportedImage, match="no match for platform linux/s390x"):
            await svc.pull_image(f"{registry.host}/multi")


async def test_concurrent_pulls_of_one_image_download_each_blob_once(registry, service):
    image = _two_layers()
    registry.add_image("app", "1", image)
    registry.blob_delay = 0.05
    ref = f"{registry.host}/app:1"

    ids = await asyncio.gather(*(service.pull_image(ref) for _ in range(5)))

    assert set(ids) == {image.config_digest}
    assert all(registry.blob_gets[d] == 1 for d in image.layer_digests)
    assert registry.blob_gets[image.config_digest] == 1


async def test_images_sharing_a_layer_download_it_once(registry, service):
    shared = LayerTar().file("shared", b"x" * 1000).bytes()
    one = build_image([shared, LayerTar().file("one", b"1").bytes()])
    two = build_image([shared, LayerTar().file("two", b"2").bytes()])
    registry.add_image("one", "1", one)
    registry.add_image("two", "1", two)
    registry.blob_delay = 0.05
    await asyncio.gather(
        service.pull_image(f"{registry.host}/one:1"), service.pull_image(f"{registry.host}/two:1")
    )
    assert registry.blob_gets[one.layer_digests[0]] == 1


async def test_missing_tag_is_image_not_found(registry, service):
    ref = f"{registry.host}/nope:1"
    with pytest.raises(ImageNotFound) as caught:
        await service.pull_image(ref)
    assert caught.value.image == ref
    assert str(caught.value) == (
        f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
        f"{ref}: not found"
    )


async def test_corrupt_layer_is_digest_mismatch_and_leaves_nothing(registry, service):
    image = _two_layers()
    registry.add_image("app", "1", image)
    registry.corrupt.add(image.layer_digests[1])
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        await service.pull_image(f"{registry.host}/app:1")
    assert _store_is_empty(service)


async def test_wrong_diff_id_is_digest_mismatch_and_leaves_nothing(registry, service):
    image = _two_layers()
    config = json.loads(image.blobs[image.config_digest])
    config["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
    # Rebuild the manifest around the lying config.
    from image_builder import sha256

    data = json.dumps(config).encode()
    manifest = json.loads(image.manifest)
    manifest["config"] = {**manifest["config"], "digest": sha256(data), "size": len(data)}
    registry.blobs.update(image.blobs)
    registry.blobs[sha256(data)] = data
    registry.add_manifest("app", "1", json.dumps(manifest).encode(), image.media_type)
    with pytest.raises(DigestMismatch, match="diffID mismatch"):
        await service.pull_image(f"{registry.host}/app:1")
    assert _store_is_empty(service)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_nothing_listening_is_registry_unavailable(service):
    ref = f"127.0.0.1:{_free_port()}/app:1"
    with pytest.raises(RegistryUnavailable, match="connection refused") as caught:
        await service.pull_image(ref)
    assert not isinstance(caught.value, UnknownRegistry)


async def test_unknown_host_is_unknown_registry(service):
    with pytest.raises(UnknownRegistry, match="no such host") as caught:
        await service.pull_image("registry.invalid/app:1")
    assert '"registry.invalid/app:1"' in str(caught.value)


async def test_bearer_token_with_credentials(registry, service):
    registry.auth = "bearer"
    registry.users = {"me": "secret"}
    registry.add_image("private", "1", _two_layers())
    ref = f"{registry.host}/private:1"
    with pytest.raises(RegistryUnauthorized, match="pull access denied"):
        await service.pull_image(ref)
    with pytest.raises(RegistryUnauthorized, match="failed to fetch oauth token"):
        await service.pull_image(ref, auth=AuthConfig(username="me", password="wrong"))
    await service.pull_image(ref, auth=AuthConfig(username="me", password="secret"))
    assert registry.tokens_issued == 1
    # The token that secret earned is not lent to a pull without it.
    with pytest.raises(RegistryUnauthorized):
        await service.pull_image(ref)


async def test_public_repository_behind_a_token_realm_pulls_anonymously(registry, service):
    registry.auth = "bearer"
    registry.public = True
    image = _two_layers()
    registry.add_image("library/app", "1", image)
    assert await service.pull_image(f"{registry.host}/library/app:1") == image.config_digest
    assert registry.tokens_issued == 0  # no credentials were sent anywhere


async def test_basic_auth_from_docker_config(registry, tmp_path):
    registry.auth = "basic"
    registry.users = {"me": "secret"}
    registry.add_image("private", "1", _two_layers())
    config = tmp_path / "config.json"
    auth = base64.b64encode(b"me:secret").decode()
    config.write_text(json.dumps({"auths": {f"http://{registry.host}": {"auth": auth}}}))
    async with LocalImageService(tmp_path / "images", docker_config=config) as svc:
        await svc.pull_image(f"{registry.host}/private:1")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"auths": {registry.host: {"username": "me", "password": "no"}}}))
    async with LocalImageService(tmp_path / "images2", docker_config=bad) as svc:
        with pytest.raises(RegistryUnauthorized, match="failed to authorize"):
            await svc.pull_image(f"{registry.host}/private:1")


async def test_mirror_is_tried_first_then_the_registry(registry, tmp_path):
    mirror = FakeRegistry()
    await mirror.start()
    try:
        image = _two_layers()
        mirror.add_image("library/app", "mirrored", image)
        registry.add_image("library/app", "direct", image)
        config = tmp_path / "registries.yaml"
        config.write_text(f'mirrors:\n  "docker.io":\n    endpoint: ["http://{mirror.host}"]\n')
        async with LocalImageService(tmp_path / "images", registries_config=config) as svc:
            assert await svc.pull_image("app:mirrored") == image.config_digest
            status = await svc.image_status("docker.io/library/app:mirrored")
            assert status is not None
        # A registry of our own as its own plain-HTTP mirror: missing on the mirror, so the
        # pull falls through to the registry.
        config.write_text(
            f'mirrors:\n  "{registry.host}":\n    endpoint: ["http://{mirror.host}"]\n'
        )
        async with LocalImageService(tmp_path / "images2", registries_config=config) as svc:
            await svc.pull_image(f"{registry.host}/library/app:direct")
        assert registry.blob_gets[image.layer_digests[0]] == 1
    finally:
        await mirror.stop()


async def test_remove_keeps_shared_layers_and_drops_the_rest(registry, service):
    shared = LayerTar().file("shared", b"s").bytes()
    one = build_image([shared, LayerTar().file("one", b"1").bytes()])
    two = build_image([shared, LayerTar().file("two", b"2").bytes()])
    registry.add_image("one", "1", one)
    registry.add_image("two", "1", two)
    await service.pull_image(f"{registry.host}/one:1")
    two_id = await service.pull_image(f"{registry.host}/two:1")

    await service.remove_image(f"{registry.host}/one:1")

    assert await service.image_status(f"{registry.host}/one:1") is None
    assert not service.content.has(one.layer_digests[1])
    assert not service.layers.has(one.diff_ids[1])
    assert service.layers.has(one.diff_ids[0])
    assert len(await service.layer_dirs(two_id)) == 2
    await service.remove_image(two_id)
    await service.remove_image(two_id)  # missing is fine
    assert _store_is_empty(service)


async def test_remove_one_tag_keeps_the_image_under_its_other_tag(registry, service):
    image = _two_layers()
    registry.add_image("app", "1", image)
    await service.pull_image(f"{registry.host}/app:1")
    await service.tag_image(f"{registry.host}/app:1", "app:copy")
    await service.remove_image(f"{registry.host}/app:1")
    status = await service.image_status("app:copy")
    assert status is not None and status.repo_tags == ["docker.io/library/app:copy"]


async def test_push_then_pull_elsewhere(registry, service, tmp_path):
    source = FakeRegistry()
    await source.start()
    try:
        image = _two_layers()
        source.add_image("app", "1", image)
        await service.pull_image(f"{source.host}/app:1")
    finally:
        await source.stop()
    registry.auth = "bearer"
    registry.users = {"me": "secret"}
    creds = AuthConfig(username="me", password="secret")
    digest = await service.push_image(
        f"{source.host}/app:1", f"{registry.host}/pushed/app:2", auth=creds
    )
    assert digest == image.manifest_digest
    assert registry.manifests[("pushed/app", "2")][0] == image.manifest
    async with LocalImageService(tmp_path / "fresh") as fresh:
        image_id = await fresh.pull_image(f"{registry.host}/pushed/app:2", auth=creds)
        assert image_id == image.config_digest


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_cancelling_the_only_caller_stops_the_pull_and_leaves_nothing(registry, service):
    image = _two_layers()
    registry.add_image("app", "1", image)
    registry.blob_delay = 30
    pull = asyncio.ensure_future(service.pull_image(f"{registry.host}/app:1"))
    await _until(lambda: sum(registry.blob_gets.values()) > 0)
    pull.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pull
    assert not service._pull_flights.running((f"{registry.host}/app:1", None))
    assert _store_is_empty(service)


async def test_a_joining_caller_gets_progress_and_survives_the_first_ones_cancel(registry, service):
    image = _two_layers()
    registry.add_image("app", "1", image)
    registry.blob_delay = 0.2
    ref = f"{registry.host}/app:1"
    first = asyncio.ensure_future(service.pull_image(ref))
    seen: list[PullProgress] = []
    second = asyncio.ensure_future(service.pull_image(ref, progress=seen.append))
    await _until(lambda: sum(registry.blob_gets.values()) > 0)
    first.cancel()
    assert await second == image.config_digest
    assert {p.digest for p in seen if p.finished} == set(image.layer_digests)
    assert sum(registry.blob_gets.values()) == 3  # config and two layers, once each


async def test_registry_that_never_answers_is_unavailable(registry, tmp_path):
    registry.add_image("app", "1", _two_layers())
    registry.blob_delay = 30
    async with LocalImageService(tmp_path / "images", read_timeout=0.2) as svc:
        with pytest.raises(RegistryUnavailable, match="timeout"):
            await svc.pull_image(f"{registry.host}/app:1")
        assert _store_is_empty(svc)
