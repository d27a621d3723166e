"""The image service against a real registry (Debian's docker-registry on loopback).

A busybox image built here is pushed with kubelite's own client, then pulled back anonymously,
with basic auth from a docker config.json, with wrong credentials, by a missing tag, from a
port nothing listens on and through a proxy that corrupts a layer; the pulled layers are
stacked with a real overlayfs mount and busybox runs from it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from images_fixtures import (
    PASSWORD,
    USER,
    BuiltArchive,
    Registry,
    free_port,
    running_registry,
    self_signed_certificate,
    write_busybox_archive,
)

from kubelite.runtime.cri import AuthConfig
from kubelite.runtime.errors import (
    DigestMismatch,
    ImageInUse,
    ImageNotFound,
    RegistryUnauthorized,
    RegistryUnavailable,
)
from kubelite.runtime.images import LocalImageService

pytestmark = pytest.mark.e2e

REPO = "test/busybox:1"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images-registry")


@pytest.fixture(scope="module")
def built(workdir: Path) -> BuiltArchive:
    return write_busybox_archive(workdir / "busybox.tar", "docker.io/kubelite/busybox:1")


@pytest.fixture(scope="module")
def open_registry(workdir: Path) -> Iterator[Registry]:
    with running_registry(workdir / "open") as registry:
        yield registry


@pytest.fixture(scope="module")
def auth_registry(workdir: Path) -> Iterator[Registry]:
    with running_registry(workdir / "auth", with_auth=True) as registry:
        yield registry


@pytest.fixture(scope="module")
def pushed(
    workdir: Path, built: BuiltArchive, open_registry: Registry, auth_registry: Registry
) -> BuiltArchive:
    """The busybox image, pushed with kubelite's client to both registries."""

    async def push() -> None:
        async with LocalImageService(workdir / "source-store") as source:
            await source.import_archive(built.path)
            await source.push_image("kubelite/busybox:1", f"{open_registry.host}/{REPO}")
            await source.push_image(
                "kubelite/busybox:1",
                f"{auth_registry.host}/{REPO}",
                auth=AuthConfig(username=USER, password=PASSWORD),
            )

    asyncio.run(push())
    return built


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[LocalImageService]:
    async with LocalImageService(tmp_path / "images") as svc:
        yield svc


def _store_is_empty(svc: LocalImageService) -> bool:
    blobs = [p for p in (svc.root / "blobs").rglob("*") if p.is_file()]
    return not blobs and not list((svc.root / "layers").iterdir()) and not svc.records.load()


@contextmanager
def overlay(lowers: list[Path], base: Path) -> Iterator[Path]:
    upper, work, merged = base / "upper", base / "work", base / "merged"
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    options = f"lowerdir={':'.join(map(str, lowers))},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)], check=True)
    try:
        yield merged
    finally:
        subprocess.run(["umount", str(merged)], check=True)


async def test_pull_anonymous_then_run_busybox_from_the_layers(
    pushed: BuiltArchive, open_registry: Registry, service: LocalImageService, tmp_path: Path
) -> None:
    ref = f"{open_registry.host}/{REPO}"
    image_id = await service.pull_image(ref)
    assert image_id == pushed.image_id
    status = await service.image_status(ref)
    assert status is not None
    assert status.repo_digests == [f"{open_registry.host}/test/busybox@{pushed.manifest_digest}"]
    assert status.config.cmd == ["/bin/sh"]
    dirs = await service.layer_dirs(image_id)
    assert len(dirs) == 2
    with overlay(dirs, tmp_path / "rootfs") as root:
        run = subprocess.run(
            [
                "chroot",
                str(root),
                "/bin/sh",
                "-c",
                "cat /etc/hello; ls /cache; test -e /etc/remove-me",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        )
        with pytest.raises(ImageInUse, match="in use"):
            await service.remove_image(ref)
    # The opaque /cache hides cache/old; the whiteout hides /etc/remove-me of the layer below.
    assert run.stdout == "hello from the top layer\nnew\n"
    assert run.returncode == 1
    await service.remove_image(ref)  # unmounted: it goes
    assert await service.image_status(image_id) is None


async def test_pull_with_basic_auth_from_docker_config(
    pushed: BuiltArchive, auth_registry: Registry, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config.write_text(json.dumps({"auths": {auth_registry.host: {"auth": auth}}}))
    async with LocalImageService(tmp_path / "images", docker_config=config) as svc:
        assert await svc.pull_image(f"{auth_registry.host}/{REPO}") == pushed.image_id


async def test_pull_with_wrong_or_no_credentials_is_unauthorized(
    pushed: BuiltArchive, auth_registry: Registry, service: LocalImageService
) -> None:
    ref = f"{auth_registry.host}/{REPO}"
    with pytest.raises(RegistryUnauthorized, match="failed to authorize") as caught:
        await service.pull_image(ref, auth=AuthConfig(username=USER, password="wrong"))
    assert caught.value.image == ref
    assert f'failed to pull and unpack image "{ref}"' in str(caught.value)
    with pytest.raises(RegistryUnauthorized, match="no basic auth credentials"):
        await service.pull_image(ref)
    assert _store_is_empty(service)


async def test_missing_tag_is_not_found(
    pushed: BuiltArchive, open_registry: Registry, service: LocalImageService
) -> None:
    ref = f"{open_registry.host}/test/busybox:nope"
    with pytest.raises(ImageNotFound) as caught:
        await service.pull_image(ref)
    assert str(caught.value) == (
        f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": '
        f"{ref}: not found"
    )
    with pytest.raises(ImageNotFound):
        await service.pull_image(f"{open_registry.host}/no/such/repo:1")


async def test_nothing_listening_is_unavailable(service: LocalImageService) -> None:
    ref = f"127.0.0.1:{free_port()}/{REPO}"
    with pytest.raises(RegistryUnavailable, match="connection refused"):
        await service.pull_image(ref)


@pytest.fixture
async def corrupting_proxy(open_registry: Registry, pushed: BuiltArchive) -> AsyncIterator[str]:
    """A registry in front of the real one that flips a byte of every layer blob it serves."""
    session = ClientSession()

    async def forward(request: web.Request) -> web.Response:
        async with session.get(
            f"http://{open_registry.host}{request.path_qs}",
            headers={"Accept": request.headers.get("Accept", "*/*")},
        ) as answer:
            body = await answer.read()
            headers = {
                k: v
                for k, v in answer.headers.items()
                if k.lower().startswith(("content-type", "docker-"))
            }
        if "/blobs/" in request.path and len(body) > 10_000:
            body = body[:-20] + bytes(20)
        return web.Response(status=answer.status, body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        await session.close()


async def test_corrupt_layer_is_digest_mismatch_and_leaves_nothing(
    corrupting_proxy: str, service: LocalImageService
) -> None:
    with pytest.raises(DigestMismatch, match="digest mismatch"):
        await service.pull_image(f"{corrupting_proxy}/{REPO}")
    assert _store_is_empty(service)
    assert list((service.root / "ingest").iterdir()) == []


@pytest.fixture(scope="module")
def tls_registry(workdir: Path) -> Iterator[tuple[Registry, Path]]:
    certs = workdir / "certs"
    certs.mkdir()
    cert, key = self_signed_certificate(certs)
    with running_registry(workdir / "tls", tls=(cert, key)) as registry:
        yield registry, cert


@pytest.mark.parametrize("trust", ["ca_file", "insecure_skip_verify", "nothing"])
async def test_https_registry_with_its_tls_settings(
    built: BuiltArchive, tls_registry: tuple[Registry, Path], tmp_path: Path, trust: str
) -> None:
    registry, cert = tls_registry
    # Loopback hosts are plain HTTP by default: list it as its own https mirror.
    tls = {"ca_file": f"ca_file: {cert}", "insecure_skip_verify": "insecure_skip_verify: true"}
    config = tmp_path / "registries.yaml"
    config.write_text(
        f'mirrors:\n  "{registry.host}":\n    endpoint: ["https://{registry.host}"]\n'
        + (f'configs:\n  "{registry.host}":\n    tls: {{{tls[trust]}}}\n' if trust in tls else "")
    )
    async with LocalImageService(tmp_path / "images", registries_config=config) as svc:
        if trust == "nothing":
            await svc.import_archive(built.path)
            with pytest.raises(RegistryUnavailable, match="certificate verify failed"):
                await svc.push_image("kubelite/busybox:1", f"{registry.host}/tls/busybox:1")
            return
        await svc.import_archive(built.path)
        await svc.push_image("kubelite/busybox:1", f"{registry.host}/tls/busybox:1")
    async with LocalImageService(tmp_path / "fresh", registries_config=config) as svc:
        assert await svc.pull_image(f"{registry.host}/tls/busybox:1") == built.image_id
