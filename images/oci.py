"""OCI image archives: one layer, its config, a manifest, and an index naming the image.

The archive is an OCI image layout (image-spec `image-layout.md`) packed in a tar, which is what
`skopeo copy oci-archive:...` reads and what containerd's `ctr images import` takes. Every name in
the index carries two annotations: `org.opencontainers.image.ref.name` with the tag (the OCI
convention skopeo looks up) and `io.containerd.image.name` with the whole normalized reference
(containerd's, which is how an importer learns the repository). Every byte is deterministic: JSON
with sorted keys, gzip without a name or timestamp, tar entries sorted with one fixed mtime.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

# Media types from the OCI image spec (`media-types.md`).
MEDIA_TYPE_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# image-layout.md: the content of the `oci-layout` file.
IMAGE_LAYOUT_VERSION = "1.0.0"
# annotations.md (OCI) and containerd's images/annotations.go.
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

# Docker's reference normalization (distribution/reference `normalize.go`).
DEFAULT_REGISTRY = "docker.io"
OFFICIAL_REPOSITORY_PREFIX = "library/"
DEFAULT_TAG = "latest"

# A fixed, well-compressing level: the layer's digest depends on it.
GZIP_LEVEL = 6


@dataclass(frozen=True)
class Reference:
    """A normalized image reference: `docker.io/library/nginx:latest`."""

    registry: str
    repository: str  # `library/nginx`
    tag: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


def normalize(name: str) -> Reference:
    """`nginx` -> docker.io/library/nginx:latest; `malexer/twemproxy` -> docker.io/malexer/...

    The first path component is a registry only when it looks like a host (has a `.` or `:`, or
    is `localhost`), as Docker decides.
    """
    if "@" in name:
        raise ValueError(f"{name!r}: a recipe names images by tag, not by digest")
    registry, rest = DEFAULT_REGISTRY, name
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    repository, tag = rest, DEFAULT_TAG
    last_slash = rest.rfind("/")
    if ":" in rest[last_slash + 1 :]:
        repository, _, tag = rest.rpartition(":")
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = OFFICIAL_REPOSITORY_PREFIX + repository
    if not repository or not tag or repository != repository.lower():
        raise ValueError(f"{name!r}: not a valid image reference")
    return Reference(registry, repository, tag)


def canonical_json(value: Any) -> bytes:
    """JSON that is the same bytes for the same value: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no file name and mtime 0, so equal input gives equal output."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=GZIP_LEVEL, mtime=0, filename="") as f:
        f.write(data)
    return out.getvalue()


@dataclass(frozen=True)
class BuiltImage:
    """What `write_archive` made: the archive's bytes and the digests that identify the image."""

    archive: bytes
    manifest_digest: str
    config_digest: str
    layer_digest: str
    layer_size: int  # compressed
    diff_id: str  # digest of the uncompressed layer


def image_config(
    run_config: dict[str, Any], diff_id: str, *, created: str, created_by: str
) -> dict[str, Any]:
    """An OCI image config (`config.md`) for a linux/amd64 image of one layer."""
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": run_config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": created_by}],
    }


def write_archive(
    layer_tar: bytes,
    run_config: dict[str, Any],
    references: list[Reference],
    *,
    mtime: int,
    created: str,
    created_by: str,
) -> BuiltImage:
    """Pack a one-layer image named by `references` into an OCI archive tar."""
    diff_id = digest(layer_tar)
    layer = gzip_bytes(layer_tar)
    config = canonical_json(
        image_config(run_config, diff_id, created=created, created_by=created_by)
    )
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE_MANIFEST,
            "config": _descriptor(MEDIA_TYPE_CONFIG, config),
            "layers": [_descriptor(MEDIA_TYPE_LAYER_GZIP, layer)],
        }
    )
    entries = []
    for ref in dict.fromkeys(references):
        entry = _descriptor(MEDIA_TYPE_MANIFEST, manifest)
        entry["annotations"] = {ANNOTATION_CONTAINERD_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag}
        entries.append(entry)
    index = canonical_json(
        {"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": entries}
    )
    files = {
        "oci-layout": canonical_json({"imageLayoutVersion": IMAGE_LAYOUT_VERSION}),
        "index.json": index,
    }
    for blob in (layer, config, manifest):
        files["blobs/sha256/" + digest(blob).removeprefix("sha256:")] = blob
    return BuiltImage(
        archive=_tar(files, mtime),
        manifest_digest=digest(manifest),
        config_digest=digest(config),
        layer_digest=digest(layer),
        layer_size=len(layer),
        diff_id=diff_id,
    )


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data)}


def _tar(files: dict[str, bytes], mtime: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, mtime
            tar.addfile(info, io.BytesIO(files[name]))
    return out.getvalue()
