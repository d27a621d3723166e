"""`LocalImageService`: the runtime's image service (CRI's ImageService) on a local store.

It puts the other modules of this package together:

- a pull resolves the reference (`reference`), tries each endpoint of the registry, mirrors
  first (`registries`), fetches the manifest, picks this machine's manifest from an index
  (`platforms`), then the config, then the layers, at most `max_concurrent_downloads` blobs at
  a time across all pulls (`distribution`); each blob is verified while it streams into the
  content store (`content`) and each layer is unpacked once (`unpack`, `layers`);
- concurrent pulls of one reference share one download, and two images that share a layer
  share its download and its unpack (`flights`);
- an image record (`records`) is written last: an image is in the store once everything it
  needs is, and a failed pull leaves nothing behind but blobs no image uses, which are collected
  at once;
- archives (`archive`) come in and go out through the same content and layer stores.

Registry failures become the runtime's errors (`runtime.errors`) with containerd's wording, e.g.
`failed to pull and unpack image "docker.io/library/nope:latest": failed to resolve reference
"docker.io/library/nope:latest": docker.io/library/nope:latest: not found`; the kubelet puts them
in `ErrImagePull` events as they are.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

from kubelite.runtime.cri import AuthConfig, Image, ImageConfig, PullProgress
from kubelite.runtime.errors import (
    DigestMismatch,
    ImageError,
    ImageInUse,
    ImageNotFound,
    InvalidImageReference,
    RegistryUnauthorized,
    RegistryUnavailable,
    UnknownRegistry,
    UnsupportedImage,
)
from kubelite.runtime.images import archive, digests, reference
from kubelite.runtime.images.auth import Credentials, DockerConfig, credentials_from_cri
from kubelite.runtime.images.content import ContentStore
from kubelite.runtime.images.distribution import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    Manifest,
    RegistryClient,
    RegistryDenied,
    RegistryError,
    RegistryNotFound,
    RegistryUnknownHost,
    RegistryUnreachable,
    Repository,
)
from kubelite.runtime.images.flights import SingleFlight
from kubelite.runtime.images.layers import LayerStore, mounted_lowerdirs, remove_tree
from kubelite.runtime.images.manifests import (
    Descriptor,
    ManifestError,
    is_index,
    layer_records,
    media_type_of,
    parse_config,
    parse_index,
    parse_manifest,
)
from kubelite.runtime.images.platforms import Platform, host_platform, select_manifest
from kubelite.runtime.images.records import (
    HOLD_ALL,
    ImageRecord,
    LayerRecord,
    Lease,
    Records,
    find_image,
    move_tag,
    tag_named,
)
from kubelite.runtime.images.registries import Endpoint, RegistriesConfig
from kubelite.runtime.images.unpack import LayerFormatError, check_diff_id, unpack_layer

log = logging.getLogger(__name__)

# containerd's CRI config: max_concurrent_downloads defaults to 3.
DEFAULT_MAX_CONCURRENT_DOWNLOADS = 3

ProgressCallback = Callable[[PullProgress], None]
# Pulls are shared by reference and credentials: another pod's secret must not share a pull
# that its own credentials would have been refused.
_PullKey = tuple[str, Credentials | None]


def _with_prefix(error: RegistryError, prefix: str) -> RegistryError:
    return type(error)(f"{prefix}: {error}")


class LocalImageService:
    """CRI's ImageService over a store in `root`, plus import, export, push and tag.

    `registries_config` is kubelite's registries.yaml and `docker_config` a docker
    config.json; None reads neither (the `kubelite image` command passes the usual paths).
    """

    def __init__(
        self,
        root: Path,
        registries_config: Path | None = None,
        docker_config: Path | None = None,
        *,
        max_concurrent_downloads: int = DEFAULT_MAX_CONCURRENT_DOWNLOADS,
        platform: Platform | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.content = ContentStore(root)
        self.records = Records(root)
        self.layers = LayerStore(root)
        self.registries = RegistriesConfig.load(registries_config)
        self.client = RegistryClient(
            self.registries,
            DockerConfig(docker_config),
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self.platform = platform or host_platform()
        self._download_slots = asyncio.Semaphore(max_concurrent_downloads)
        self._pull_flights: SingleFlight[str] = SingleFlight()
        # Who wants the progress of each pull in flight, by the pull's key.
        self._pull_listeners: dict[_PullKey, list[ProgressCallback]] = {}
        self._blob_flights: SingleFlight[None] = SingleFlight()
        self._unpack_flights: SingleFlight[None] = SingleFlight()
        self._configs: dict[str, ImageConfig] = {}
        self.content.clean_ingest()
        self.layers.clean_temps()

    async def __aenter__(self) -> LocalImageService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop pulls in flight and close the HTTP session."""
        await self._pull_flights.cancel_all()
        await self._blob_flights.cancel_all()
        await self._unpack_flights.cancel_all()
        await self.client.close()

    # --- CRI ImageService ---

    async def pull_image(
        self,
        image: str,
        *,
        auth: AuthConfig | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        ref = reference.parse(image)
        credentials = credentials_from_cri(auth) if auth else None
        key: _PullKey = (str(ref), credentials or None)
        listeners = self._pull_listeners.setdefault(key, [])
        if progress is not None:
            listeners.append(progress)

        def report(update: PullProgress) -> None:
            for listener in list(listeners):
                listener(update)

        try:
            return await self._pull_flights.do(
                key, lambda: self._pull(image, ref, credentials, report)
            )
        finally:
            if progress is not None:
                listeners.remove(progress)
            if not self._pull_flights.running(key):
                self._pull_listeners.pop(key, None)

    async def image_status(self, image: str) -> Image | None:
        record = find_image(self.records.load(), image)
        return self._image(record) if record else None

    async def list_images(self) -> list[Image]:
        records = sorted(self.records.load().values(), key=lambda r: (r.references() or [r.id])[0])
        return [self._image(record) for record in records]

    async def remove_image(self, image: str) -> None:
        async with self.records.locked():
            images = self.records.load()
            record = find_image(images, image)
            if record is None:
                return
            tag = tag_named(image, record)
            if tag and len(record.repo_tags) > 1:
                record.repo_tags.remove(tag)
                self.records.save(images)
                return
            self._check_not_in_use(record, images)
            del images[record.id]
            self.records.save(images)
            self._trash_garbage(images)
        await asyncio.to_thread(self.layers.empty_trash)

    async def layer_dirs(self, image_id: str) -> list[Path]:
        record = find_image(self.records.load(), image_id)
        if record is None:
            raise ImageNotFound(image_id, f'image "{image_id}" is not in the image store')
        dirs: list[Path] = []
        # Topmost first; a layer that comes twice (empty layers often do) keeps its top place:
        # below a copy of itself it changes nothing, and overlayfs refuses a lowerdir twice.
        for layer in reversed(record.layers):
            path = self.layers.path(layer.diff_id)
            if path not in dirs:
                dirs.append(path)
        missing = [str(p) for p in dirs if not p.is_dir()]
        if missing:
            raise ImageError(
                image_id,
                f'image "{image_id}" is damaged: layer directories {missing} are missing; '
                "remove and pull it again",
            )
        return dirs

    # --- beyond CRI ---

    async def import_archive(self, path: Path) -> list[str]:
        """Load an OCI archive or a `docker save` tarball; return the ids of its images."""
        lease = Lease(self.records)
        await lease.hold([HOLD_ALL])
        name = str(path)
        try:
            found = await asyncio.to_thread(archive.read_archive, path, self.content, self.platform)
            ids: list[str] = []
            for item in found:
                manifest = parse_manifest(self.content.read(item.manifest_digest), item.media_type)
                config = parse_config(self.content.read(manifest.config.digest))
                layers = layer_records(manifest, config)
                for layer in layers:
                    await self._ensure_unpacked(layer)
                record = ImageRecord(
                    id=manifest.config.digest,
                    manifest_digest=item.manifest_digest,
                    manifest_media_type=manifest.media_type,
                    layers=layers,
                )
                await self._add_record(record, tags=item.names, digest_refs=[])
                if record.id not in ids:  # an image under several names comes once
                    ids.append(record.id)
            return ids
        except archive.ArchiveError as e:
            raise ImageError(name, f'failed to import "{name}": {e}') from e
        except digests.DigestError as e:
            raise DigestMismatch(name, f'failed to import "{name}": {e}') from e
        except (ManifestError, LayerFormatError, digests.BadDigest) as e:
            raise UnsupportedImage(name, f'failed to import "{name}": {e}') from e
        except OSError as e:
            raise ImageError(name, f'failed to import "{name}": {e}') from e
        finally:
            lease.release()
            await self._collect_garbage()

    async def export_image(self, refs: list[str], path: Path, format: str = "oci") -> None:
        """Write images to an OCI archive (`format="oci"`) or a `docker save` tarball
        (`format="docker"`), each under the name it was asked by."""
        if format not in ("oci", "docker"):
            raise ValueError(f"unknown archive format {format!r}: want oci or docker")
        images = self.records.load()
        entries: list[archive.ExportEntry] = []
        for ref in refs:
            record = find_image(images, ref)
            if record is None:
                raise ImageNotFound(ref, f'failed to export image "{ref}": not found')
            name = tag_named(ref, record) or (record.repo_tags[0] if record.repo_tags else "")
            entries.append(archive.ExportEntry(name, record))
        lease = Lease(self.records)
        await lease.hold([HOLD_ALL])
        try:
            writer = archive.write_oci_archive if format == "oci" else archive.write_docker_archive
            await asyncio.to_thread(writer, path, self.content, entries)
        except (OSError, digests.DigestError) as e:
            raise ImageError(str(path), f'failed to export to "{path}": {e}') from e
        finally:
            lease.release()

    async def image_info(self, image: str) -> dict[str, Any] | None:
        """Everything the store knows of an image, for `kubelite image inspect`: its status in
        CRI's field names, its manifest and layers, and the image config as the image has it."""
        record = find_image(self.records.load(), image)
        if record is None:
            return None
        try:
            config = json.loads(self.content.read(record.id))
        except (FileNotFoundError, ValueError):
            config = None
        return {
            "status": {
                "id": record.id,
                "repoTags": record.repo_tags,
                "repoDigests": record.repo_digests,
                "size": str(record.size),
            },
            "info": {
                "manifestDigest": record.manifest_digest,
                "manifestMediaType": record.manifest_media_type,
                "indexDigest": record.index_digest,
                "layers": [
                    {**asdict(layer), "dir": str(self.layers.path(layer.diff_id))}
                    for layer in record.layers
                ],
                "imageSpec": config,
            },
        }

    async def tag_image(self, source: str, target: str) -> None:
        """Give an image in the store one more name (a tag reference)."""
        target_ref = reference.parse(target)
        if not target_ref.tag:
            raise InvalidImageReference(target, f'cannot tag with a digest reference "{target}"')
        async with self.records.locked():
            images = self.records.load()
            record = find_image(images, source)
            if record is None:
                raise ImageNotFound(source, f'image "{source}" is not in the image store')
            move_tag(images, record, str(target_ref))
            self.records.save(images)

    async def push_image(
        self,
        image: str,
        target: str | None = None,
        *,
        auth: AuthConfig | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Push an image of the store to a registry as `target` (default: its own name).

        Uploads the blobs the registry lacks, then the manifest; returns the manifest digest.
        """
        record = find_image(self.records.load(), image)
        if record is None:
            raise ImageNotFound(image, f'failed to push image "{image}": not found')
        target_ref = reference.parse(target or image)
        norm = str(target_ref)
        credentials = credentials_from_cri(auth) if auth else None
        endpoint = self.registries.registry_endpoint(target_ref.registry)
        repo = self.client.repository(
            endpoint, target_ref.repository, credentials=credentials, push=True
        )
        try:
            blobs = [(layer.digest, layer.size) for layer in record.layers]
            blobs.append((record.id, self.content.size(record.id)))
            for digest, size in blobs:
                if not await repo.has_blob(digest):
                    await repo.push_blob(digest, self.content.path(digest), size)
                if progress is not None:
                    progress(PullProgress(digest, size, size, finished=True))
            manifest = self.content.read(record.manifest_digest)
            await repo.put_manifest(
                target_ref.tag or record.manifest_digest, manifest, record.manifest_media_type
            )
        except RegistryError as e:
            raise _image_error(image, f'failed to push image "{norm}"', e) from e
        except OSError as e:
            raise ImageError(image, f'failed to push image "{norm}": {e}') from e
        return record.manifest_digest

    # --- pulling ---

    async def _pull(
        self,
        image: str,
        ref: reference.Reference,
        credentials: Credentials | None,
        report: ProgressCallback,
    ) -> str:
        norm = str(ref)
        lease = Lease(self.records)
        failed = True
        try:
            endpoints = self.registries.endpoints(ref.registry)
            for i, endpoint in enumerate(endpoints):
                try:
                    image_id = await self._pull_from(endpoint, ref, credentials, report, lease)
                except RegistryError as e:
                    if i == len(endpoints) - 1:
                        raise
                    log.info("pulling %s from %s failed, trying the next: %s", norm, endpoint, e)
                    continue
                failed = False
                return image_id
            raise AssertionError("no endpoints")
        except RegistryError as e:
            raise _image_error(image, f'failed to pull and unpack image "{norm}"', e) from e
        except digests.DigestError as e:
            raise DigestMismatch(
                image, f'failed to pull and unpack image "{norm}": failed to copy: {e}'
            ) from e
        except (ManifestError, LayerFormatError, digests.BadDigest) as e:
            raise UnsupportedImage(image, f'failed to pull and unpack image "{norm}": {e}') from e
        except OSError as e:  # the store's disk: full, read-only, ...
            raise ImageError(image, f'failed to pull and unpack image "{norm}": {e}') from e
        finally:
            lease.release()
            if failed:
                await self._collect_garbage()

    async def _pull_from(
        self,
        endpoint: Endpoint,
        ref: reference.Reference,
        credentials: Credentials | None,
        report: ProgressCallback,
        lease: Lease,
    ) -> str:
        norm = str(ref)
        # The pod's own credentials are for the registry it names, never for a mirror.
        given = None if endpoint.is_mirror else credentials
        repo = self.client.repository(endpoint, ref.repository, credentials=given)
        try:
            top = await repo.get_manifest(ref.object)
        except RegistryNotFound as e:
            raise RegistryNotFound(
                f'failed to resolve reference "{norm}": {norm}: not found'
            ) from e
        except RegistryError as e:
            raise _with_prefix(e, f'failed to resolve reference "{norm}"') from e
        top_digest = _manifest_digest(top, ref.digest)
        top_type = media_type_of(top.data, top.media_type)
        index_digest = ""
        manifest_data, manifest_digest, manifest_type = top.data, top_digest, top_type
        if is_index(top_type):
            chosen = select_manifest(parse_index(top.data), self.platform)
            if chosen is None:
                raise ManifestError(
                    f"no match for platform {self.platform} in manifest {top_digest}"
                )
            descriptor = Descriptor.from_json(chosen)
            child = await repo.get_manifest(descriptor.digest)
            index_digest = top_digest
            manifest_data = child.data
            manifest_digest = _manifest_digest(child, descriptor.digest)
            manifest_type = media_type_of(child.data, child.media_type or descriptor.media_type)
        manifest = parse_manifest(manifest_data, manifest_type)
        await lease.hold(
            [index_digest, manifest_digest, manifest.config.digest]
            + [layer.digest for layer in manifest.layers]
        )
        config_data = await self._fetch_small(repo, manifest.config)
        layers = layer_records(manifest, parse_config(config_data))
        await lease.hold(layer.diff_id for layer in layers)
        await _all_or_nothing([self._ensure_layer(repo, layer, report) for layer in layers])
        self.content.write_bytes(manifest_data, manifest_digest)
        if index_digest:
            self.content.write_bytes(top.data, index_digest)
        record = ImageRecord(
            id=manifest.config.digest,
            manifest_digest=manifest_digest,
            manifest_media_type=manifest_type,
            layers=layers,
            index_digest=index_digest,
        )
        await self._add_record(
            record, tags=[norm] if ref.tag else [], digest_refs=[f"{ref.name}@{top_digest}"]
        )
        return record.id

    async def _fetch_small(self, repo: Repository, descriptor: Descriptor) -> bytes:
        """A config (or other small blob), from the store or else downloaded into it."""
        if not self.content.has(descriptor.digest):
            await self._blob_flights.do(
                descriptor.digest,
                lambda: self._download(repo, descriptor.digest, descriptor.size, None),
            )
        return self.content.read(descriptor.digest)

    async def _ensure_layer(
        self, repo: Repository, layer: LayerRecord, report: ProgressCallback
    ) -> None:
        if not self.content.has(layer.digest):
            await self._blob_flights.do(
                layer.digest, lambda: self._download(repo, layer.digest, layer.size, report)
            )
        await self._ensure_unpacked(layer)
        report(PullProgress(layer.digest, layer.size, layer.size, finished=True))

    async def _download(
        self, repo: Repository, digest: str, size: int, report: ProgressCallback | None
    ) -> None:
        async with self._download_slots:
            if self.content.has(digest):
                return
            async with repo.blob_chunks(digest) as (_, chunks):
                with self.content.writing(digest, size) as writer:
                    async for chunk in chunks:
                        writer.write(chunk)
                        if writer.written > size:
                            raise digests.DigestError(
                                f"blob {digest} is longer than the {size} bytes its descriptor says"
                            )
                        if report is not None:
                            report(PullProgress(digest, size, writer.written))
                    writer.commit()

    async def _ensure_unpacked(self, layer: LayerRecord) -> None:
        if not self.layers.has(layer.diff_id):
            await self._unpack_flights.do(layer.diff_id, lambda: self._unpack(layer))

    async def _unpack(self, layer: LayerRecord) -> None:
        if self.layers.has(layer.diff_id):
            return
        temp = self.layers.new_temp(layer.diff_id)
        unpacking = asyncio.ensure_future(
            asyncio.to_thread(unpack_layer, self.content.path(layer.digest), temp)
        )
        try:
            result = await asyncio.shield(unpacking)
            check_diff_id(result, layer.diff_id)
            self.layers.publish(temp, layer.diff_id)
        except BaseException:
            # A thread cannot be stopped: let it finish before its directory goes.
            await asyncio.wait([unpacking])
            remove_tree(temp)
            raise

    # --- records and garbage ---

    async def _add_record(
        self, record: ImageRecord, *, tags: list[str], digest_refs: list[str]
    ) -> None:
        async with self.records.locked():
            images = self.records.load()
            existing = images.get(record.id)
            replaced = False
            if existing is not None:
                record.repo_tags = existing.repo_tags
                record.repo_digests = existing.repo_digests
                replaced = existing.manifest_digest != record.manifest_digest
            images[record.id] = record
            for tag in tags:
                move_tag(images, record, tag)
            for digest_ref in digest_refs:
                if digest_ref not in record.repo_digests:
                    record.repo_digests.append(digest_ref)
            self.records.save(images)
            if replaced:
                self._trash_garbage(images)
        if replaced:
            await asyncio.to_thread(self.layers.empty_trash)

    def _trash_garbage(self, images: dict[str, ImageRecord]) -> None:
        """Remove blobs and layers no image and no lease holds. Call with the lock held."""
        held = self.records.leased()
        if HOLD_ALL in held:
            return
        blobs: set[str] = set(held)
        diff_ids: set[str] = set(held)
        for record in images.values():
            blobs.update([record.id, record.manifest_digest, record.index_digest])
            blobs.update(layer.digest for layer in record.layers)
            diff_ids.update(layer.diff_id for layer in record.layers)
        for digest in self.content.all_digests() - blobs:
            self.content.delete(digest)
        for diff_id in self.layers.all_diff_ids() - diff_ids:
            self.layers.trash(diff_id)

    async def _collect_garbage(self) -> None:
        async with self.records.locked():
            self._trash_garbage(self.records.load())
        await asyncio.to_thread(self.layers.empty_trash)

    def _check_not_in_use(self, record: ImageRecord, images: dict[str, ImageRecord]) -> None:
        others = {layer.diff_id for r in images.values() if r.id != record.id for layer in r.layers}
        mine = {str(self.layers.path(layer.diff_id)) for layer in record.layers} - {
            str(self.layers.path(d)) for d in others
        }
        busy = mine & mounted_lowerdirs()
        if busy:
            name = (record.references() or [record.id])[0]
            raise ImageInUse(
                name,
                f'image "{name}" ({record.id}) is in use: its layers are mounted by a container',
            )

    def _image(self, record: ImageRecord) -> Image:
        config = self._configs.get(record.id)
        if config is None:
            try:
                config = parse_config(self.content.read(record.id)).config
            except (FileNotFoundError, ManifestError):
                config = ImageConfig()
            self._configs[record.id] = config
        return Image(
            id=record.id,
            repo_tags=list(record.repo_tags),
            repo_digests=list(record.repo_digests),
            size=record.size,
            config=config,
        )


def _manifest_digest(manifest: Manifest, expected: str) -> str:
    """The digest of a fetched manifest, checked against the one asked for or announced."""
    algorithm = digests.split(expected)[0] if expected else "sha256"
    actual = digests.of_bytes(manifest.data, algorithm)
    if expected and actual != expected:
        raise digests.DigestError(f"manifest digest mismatch: expected {expected}, got {actual}")
    announced = manifest.digest_header
    if not expected and announced.startswith(f"{algorithm}:") and announced != actual:
        raise digests.DigestError(
            f"manifest digest mismatch: registry announced {announced}, got {actual}"
        )
    return actual


async def _all_or_nothing(coroutines: list[Coroutine[Any, Any, object]]) -> None:
    """Run coroutines together; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _image_error(image: str, prefix: str, error: RegistryError) -> ImageError:
    message = f"{prefix}: {error}"
    if isinstance(error, RegistryNotFound):
        return ImageNotFound(image, message)
    if isinstance(error, RegistryDenied):
        return RegistryUnauthorized(image, message)
    if isinstance(error, RegistryUnknownHost):
        return UnknownRegistry(image, message)
    if isinstance(error, RegistryUnreachable):
        return RegistryUnavailable(image, message)
    return ImageError(image, message)
