"""Reading manifests, indexes and image configs, whether Docker schema 2 or OCI.

Both formats are the same JSON shapes under different media types (OCI image spec manifest.md,
image-index.md, config.md), so one reader serves both; anything else (Docker schema 1, foreign
artifacts) is refused with ManifestError, which the service reports as UnsupportedImage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kubelite.runtime.cri import ImageConfig
from kubelite.runtime.images import digests, mediatypes
from kubelite.runtime.images.records import LayerRecord


class ManifestError(ValueError):
    """A manifest, index or config that kubelite cannot use."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor: what a blob is, its digest and size."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Any) -> Descriptor:
        if not isinstance(data, dict):
            raise ManifestError("descriptor is not an object")
        try:
            digest = str(data["digest"])
            digests.split(digest)
            size = int(data["size"])
        except (KeyError, ValueError, TypeError) as e:
            raise ManifestError(f"invalid descriptor {data!r}: {e}") from e
        if size < 0:
            raise ManifestError(f"invalid descriptor size {size}")
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=digest,
            size=size,
            annotations=dict(data.get("annotations") or {}),
            platform=data.get("platform"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        if self.platform:
            out["platform"] = self.platform
        return out


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """An image manifest reduced to what a pull needs: the config's and the layers' descriptors."""

    media_type: str
    config: Descriptor
    layers: list[Descriptor]


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ManifestError(f"invalid {what}: {e}") from e
    if not isinstance(doc, dict):
        raise ManifestError(f"invalid {what}: not a JSON object")
    return doc


def media_type_of(data: bytes, content_type: str = "") -> str:
    """A manifest's media type: its own `mediaType`, else the HTTP Content-Type, else guessed
    from its shape (OCI made `mediaType` optional in early manifests)."""
    doc = _load(data, "manifest")
    declared = doc.get("mediaType") or ""
    if declared:
        return str(declared)
    if content_type in mediatypes.INDEX_TYPES | mediatypes.MANIFEST_TYPES:
        return content_type
    if doc.get("schemaVersion") == 1:
        return mediatypes.DOCKER_MANIFEST_V1
    if "manifests" in doc:
        return mediatypes.OCI_INDEX
    if "config" in doc:
        return mediatypes.OCI_MANIFEST
    return content_type


def is_index(media_type: str) -> bool:
    return media_type in mediatypes.INDEX_TYPES


def parse_index(data: bytes) -> dict[str, Any]:
    doc = _load(data, "image index")
    if not isinstance(doc.get("manifests"), list):
        raise ManifestError("invalid image index: no manifests")
    return doc


def parse_manifest(data: bytes, media_type: str) -> ParsedManifest:
    if media_type in (mediatypes.DOCKER_MANIFEST_V1, mediatypes.DOCKER_MANIFEST_V1_SIGNED):
        raise ManifestError(
            "Docker image manifest schema 1 is no longer supported; push the image again "
            "with a current client"
        )
    if media_type not in mediatypes.MANIFEST_TYPES:
        raise ManifestError(f"unsupported manifest media type {media_type!r}")
    doc = _load(data, "manifest")
    if doc.get("schemaVersion") != 2:
        raise ManifestError(f"unsupported manifest schemaVersion {doc.get('schemaVersion')!r}")
    config = Descriptor.from_json(doc.get("config"))
    layers = [Descriptor.from_json(layer) for layer in doc.get("layers") or []]
    for layer in layers:
        if layer.media_type not in mediatypes.LAYER_TYPES:
            raise ManifestError(f"unsupported layer media type {layer.media_type!r}")
    return ParsedManifest(media_type, config, layers)


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    """An image config reduced to what the runtime needs: the layers' diff IDs and the container
    defaults."""

    diff_ids: list[str]
    config: ImageConfig


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def parse_config(data: bytes) -> ParsedConfig:
    doc = _load(data, "image config")
    rootfs = doc.get("rootfs") or {}
    if rootfs.get("type") != "layers":
        raise ManifestError(f"image config: unsupported rootfs type {rootfs.get('type')!r}")
    diff_ids = _strings(rootfs.get("diff_ids"))
    for diff_id in diff_ids:
        try:
            digests.split(diff_id)
        except ValueError as e:
            raise ManifestError(f"image config: {e}") from e
    run = doc.get("config") or {}
    config = ImageConfig(
        entrypoint=_strings(run.get("Entrypoint")),
        cmd=_strings(run.get("Cmd")),
        env=_strings(run.get("Env")),
        working_dir=str(run.get("WorkingDir") or ""),
        user=str(run.get("User") or ""),
        exposed_ports=sorted((run.get("ExposedPorts") or {}).keys()),
        labels={str(k): str(v) for k, v in (run.get("Labels") or {}).items()},
        stop_signal=str(run.get("StopSignal") or ""),
    )
    return ParsedConfig(diff_ids, config)


def layer_records(manifest: ParsedManifest, config: ParsedConfig) -> list[LayerRecord]:
    if len(manifest.layers) != len(config.diff_ids):
        raise ManifestError(
            f"manifest has {len(manifest.layers)} layers but the config names "
            f"{len(config.diff_ids)} diffIDs"
        )
    return [
        LayerRecord(layer.digest, diff_id, layer.size, layer.media_type)
        for layer, diff_id in zip(manifest.layers, config.diff_ids, strict=True)
    ]
