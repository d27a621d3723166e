"""Image archives, for machines without a registry: OCI archives and `docker save` tarballs.

An OCI archive is an OCI image layout in a tar (image-layout.md): `oci-layout`, `index.json`
naming the manifests, and `blobs/<alg>/<hex>`. Names come from the manifests' annotations:
containerd's `io.containerd.image.name` (a full reference) if present, else
`org.opencontainers.image.ref.name` when it is a full reference (`busybox:1.36`); a bare tag
names no repository, and such an image comes in without a name.

A `docker save` tarball has `manifest.json` (`[{Config, RepoTags, Layers}]`), the config and
one tar per layer, uncompressed or not; Docker 25 writes it inside an OCI layout. It is read
through `manifest.json`, and an OCI manifest is made for each image, since the tarball has none.

Reading stores every blob in the content store, verified; unpacking and records are the
service's work. Writing builds the archive in a temp file beside the target and renames it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.runtime.errors import InvalidImageReference
from kubelite.runtime.images import digests, mediatypes, reference
from kubelite.runtime.images.content import CHUNK, ContentStore
from kubelite.runtime.images.manifests import (
    Descriptor,
    ManifestError,
    is_index,
    media_type_of,
    parse_index,
    parse_manifest,
)
from kubelite.runtime.images.platforms import Platform, select_manifest
from kubelite.runtime.images.records import ImageRecord
from kubelite.runtime.images.unpack import open_decompressed

log = logging.getLogger(__name__)

DOCKER_MANIFEST_FILE = "manifest.json"
DOCKER_REPOSITORIES_FILE = "repositories"
OCI_INDEX_FILE = "index.json"


class ArchiveError(ValueError):
    """The file is not an image archive, or lacks something it names."""


@dataclass(frozen=True, slots=True)
class ArchiveImage:
    """An image found in an archive, its blobs already in the content store."""

    names: list[str]  # normalized tag references
    manifest_digest: str
    media_type: str


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One image to write into an archive, and the tag it is written under."""

    name: str  # the normalized tag reference to write it under; "" for none
    record: ImageRecord


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def _read_member(tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> bytes:
    member = members.get(_clean(name))
    source = tf.extractfile(member) if member is not None else None
    if source is None:
        raise ArchiveError(f"{name} is missing from the archive")
    return source.read()


def read_archive(path: Path, content: ContentStore, platform: Platform) -> list[ArchiveImage]:
    """Store the blobs of the archive at `path` and say which images it holds."""
    try:
        tf = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as e:
        raise ArchiveError(f"not a tar archive: {e}") from e
    with tf:
        members = {_clean(m.name): m for m in tf.getmembers()}
        if DOCKER_MANIFEST_FILE in members:
            return _read_docker(tf, members, content)
        if OCI_INDEX_FILE in members:
            return _read_oci(tf, members, content, platform)
    raise ArchiveError(
        "neither an OCI archive (index.json) nor a docker save tarball (manifest.json)"
    )


def _names_from(annotations: dict[str, str]) -> list[str]:
    name = annotations.get(mediatypes.ANNOTATION_CONTAINERD_NAME) or ""
    if not name:
        ref_name = annotations.get(mediatypes.ANNOTATION_REF_NAME) or ""
        # A bare tag ("latest", "1.0") is what the OCI spec means; it names no repository.
        if any(c in ref_name for c in "/:@"):
            name = ref_name
    if not name:
        return []
    try:
        ref = reference.parse(name)
    except InvalidImageReference:
        log.warning("ignoring image name %r in archive: not a valid reference", name)
        return []
    return [str(ref)] if ref.tag else []


def _read_oci(
    tf: tarfile.TarFile,
    members: dict[str, tarfile.TarInfo],
    content: ContentStore,
    platform: Platform,
) -> list[ArchiveImage]:
    if "oci-layout" in members:
        layout = json.loads(_read_member(tf, members, "oci-layout"))
        version = layout.get("imageLayoutVersion")
        if version != mediatypes.OCI_LAYOUT_VERSION:
            raise ArchiveError(f"unsupported OCI layout version {version!r}")
    for name, member in members.items():
        parts = name.split("/")
        if len(parts) != 3 or parts[0] != "blobs" or member.isdir():
            continue
        digest = f"{parts[1]}:{parts[2]}"
        digests.split(digest)
        source = tf.extractfile(member)
        if source is not None and not content.has(digest):
            content.write_stream(source, digest)
    index = parse_index(_read_member(tf, members, OCI_INDEX_FILE))
    found: list[ArchiveImage] = []
    for entry in index["manifests"]:
        descriptor = Descriptor.from_json(entry)
        _need(content, descriptor.digest)
        media_type = media_type_of(content.read(descriptor.digest), descriptor.media_type)
        if is_index(media_type):
            chosen = select_manifest(parse_index(content.read(descriptor.digest)), platform)
            if chosen is None:
                raise ManifestError(f"no match for platform {platform} in {descriptor.digest}")
            chosen_descriptor = Descriptor.from_json(chosen)
            _need(content, chosen_descriptor.digest)
            media_type = media_type_of(
                content.read(chosen_descriptor.digest), chosen_descriptor.media_type
            )
            manifest_digest = chosen_descriptor.digest
        else:
            manifest_digest = descriptor.digest
        manifest = parse_manifest(content.read(manifest_digest), media_type)
        for blob in [manifest.config, *manifest.layers]:
            _need(content, blob.digest)
        found.append(ArchiveImage(_names_from(descriptor.annotations), manifest_digest, media_type))
    return found


def _need(content: ContentStore, digest: str) -> None:
    if not content.has(digest):
        raise ArchiveError(f"blob {digest} is missing from the archive")


def _layer_media_type(path: Path) -> str:
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic.startswith(b"\x1f\x8b"):
        return mediatypes.OCI_LAYER_GZIP
    if magic == b"\x28\xb5\x2f\xfd":
        return mediatypes.OCI_LAYER_ZSTD
    return mediatypes.OCI_LAYER


def _read_docker(
    tf: tarfile.TarFile, members: dict[str, tarfile.TarInfo], content: ContentStore
) -> list[ArchiveImage]:
    try:
        entries = json.loads(_read_member(tf, members, DOCKER_MANIFEST_FILE))
    except ValueError as e:
        raise ArchiveError(f"invalid manifest.json: {e}") from e
    if not isinstance(entries, list):
        raise ArchiveError("invalid manifest.json: not a list")
    stored: dict[str, Descriptor] = {}  # layer file -> its blob, for layers shared by images
    found: list[ArchiveImage] = []
    for entry in entries:
        config_data = _read_member(tf, members, str(entry.get("Config", "")))
        config_digest = content.write_bytes(config_data)
        layers: list[Descriptor] = []
        for layer_name in entry.get("Layers") or []:
            if layer_name not in stored:
                member = members.get(_clean(layer_name))
                source = tf.extractfile(member) if member is not None else None
                if source is None:
                    raise ArchiveError(f"{layer_name} is missing from the archive")
                digest, size = content.ingest(source)
                stored[layer_name] = Descriptor(
                    _layer_media_type(content.path(digest)), digest, size
                )
            layers.append(stored[layer_name])
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": Descriptor(mediatypes.OCI_CONFIG, config_digest, len(config_data)).to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
        manifest_digest = content.write_bytes(json.dumps(manifest, separators=(",", ":")).encode())
        names: list[str] = []
        for tag in entry.get("RepoTags") or []:
            try:
                names.append(reference.normalize(tag))
            except InvalidImageReference:
                log.warning("ignoring RepoTag %r in archive: not a valid reference", tag)
        found.append(ArchiveImage(names, manifest_digest, mediatypes.OCI_MANIFEST))
    return found


# --- writing ---


@contextlib.contextmanager
def _atomic_tar(path: Path) -> Iterator[tarfile.TarFile]:
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
            yield tf
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0  # reproducible archives, as containerd and Docker write them
    return info


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    tf.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_file(tf: tarfile.TarFile, name: str, path: Path) -> None:
    with open(path, "rb") as f:
        tf.addfile(_info(name, os.fstat(f.fileno()).st_size), f)


def _blob_name(digest: str) -> str:
    algorithm, hexpart = digests.split(digest)
    return f"blobs/{algorithm}/{hexpart}"


def write_oci_archive(path: Path, content: ContentStore, entries: list[ExportEntry]) -> None:
    """An OCI archive with one index entry per entry, named by the annotations containerd
    writes (full name, and the tag as `org.opencontainers.image.ref.name`)."""
    blobs: dict[str, None] = {}
    manifests: list[dict[str, Any]] = []
    for entry in entries:
        record = entry.record
        for digest in [record.manifest_digest, record.id, *(la.digest for la in record.layers)]:
            blobs[digest] = None
        descriptor: dict[str, Any] = {
            "mediaType": record.manifest_media_type,
            "digest": record.manifest_digest,
            "size": content.size(record.manifest_digest),
        }
        if entry.name:
            descriptor["annotations"] = {
                mediatypes.ANNOTATION_CONTAINERD_NAME: entry.name,
                mediatypes.ANNOTATION_REF_NAME: reference.parse(entry.name).tag,
            }
        manifests.append(descriptor)
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": manifests}
    layout = {"imageLayoutVersion": mediatypes.OCI_LAYOUT_VERSION}
    with _atomic_tar(path) as tf:
        _add_bytes(tf, mediatypes.OCI_LAYOUT_FILE, json.dumps(layout).encode())
        _add_bytes(tf, OCI_INDEX_FILE, json.dumps(index).encode())
        for digest in blobs:
            _add_file(tf, _blob_name(digest), content.path(digest))


def _decompress_to(blob: Path, target: Path, diff_id: str) -> None:
    verifier = digests.Verifier(diff_id)
    with open(blob, "rb") as raw, open(target, "wb") as out:
        source = open_decompressed(raw)
        while chunk := source.read(CHUNK):
            out.write(chunk)
            verifier.update(chunk)
    verifier.check()


def write_docker_archive(path: Path, content: ContentStore, entries: list[ExportEntry]) -> None:
    """A tarball `docker load` reads: manifest.json, repositories, the config and uncompressed
    layers named by digest (as Docker 25 lays them out)."""
    by_id: dict[str, tuple[ImageRecord, list[str]]] = {}
    for entry in entries:
        record, tags = by_id.setdefault(entry.record.id, (entry.record, []))
        if entry.name and entry.name not in tags:
            tags.append(entry.name)
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    layer_blobs: dict[str, Path] = {}  # diffID -> the blob to decompress
    for record, tags in by_id.values():
        layer_names = [_blob_name(layer.diff_id) for layer in record.layers]
        for layer in record.layers:
            layer_blobs.setdefault(layer.diff_id, content.path(layer.digest))
        familiar = [reference.familiar(tag) for tag in tags]
        manifest.append(
            {"Config": _blob_name(record.id), "RepoTags": familiar, "Layers": layer_names}
        )
        top = digests.split(record.layers[-1].diff_id)[1] if record.layers else ""
        for name in familiar:
            repo, _, tag = name.rpartition(":")
            repositories.setdefault(repo, {})[tag] = top
    with (
        tempfile.TemporaryDirectory(dir=path.parent, prefix=".export-") as tmp,
        _atomic_tar(path) as tf,
    ):
        _add_bytes(tf, DOCKER_MANIFEST_FILE, json.dumps(manifest).encode())
        _add_bytes(tf, DOCKER_REPOSITORIES_FILE, json.dumps(repositories).encode())
        for record, _ in by_id.values():
            _add_file(tf, _blob_name(record.id), content.path(record.id))
        for diff_id, blob in layer_blobs.items():
            plain = Path(tmp) / digests.split(diff_id)[1]
            _decompress_to(blob, plain, diff_id)
            _add_file(tf, _blob_name(diff_id), plain)
            plain.unlink()
