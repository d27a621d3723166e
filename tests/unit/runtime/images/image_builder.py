"""Test helper: small OCI images built in memory (layer tars, config, manifest, index, archives)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LayerTar:
    """Build a layer tar entry by entry."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        # Closed by bytes(), which every caller ends with.
        self._tar = tarfile.open(  # noqa: SIM115
            fileobj=self._buffer, mode="w", format=tarfile.PAX_FORMAT
        )

    def _info(self, name: str, kind: bytes, mode: int, **attrs: Any) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.mtime = attrs.pop("mtime", 1_700_000_000)
        for key, value in attrs.items():
            setattr(info, key, value)
        return info

    def dir(self, name: str, mode: int = 0o755, **attrs: Any) -> LayerTar:
        self._tar.addfile(self._info(name, tarfile.DIRTYPE, mode, **attrs))
        return self

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, **attrs: Any) -> LayerTar:
        info = self._info(name, tarfile.REGTYPE, mode, **attrs)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data))
        return self

    def symlink(self, name: str, target: str) -> LayerTar:
        self._tar.addfile(self._info(name, tarfile.SYMTYPE, 0o777, linkname=target))
        return self

    def hardlink(self, name: str, target: str) -> LayerTar:
        self._tar.addfile(self._info(name, tarfile.LNKTYPE, 0o644, linkname=target))
        return self

    def char_device(self, name: str, major: int, minor: int) -> LayerTar:
        info = self._info(name, tarfile.CHRTYPE, 0o666, devmajor=major, devminor=minor)
        self._tar.addfile(info)
        return self

    def whiteout(self, path: str) -> LayerTar:
        parent, _, base = path.rpartition("/")
        name = f"{parent}/.wh.{base}" if parent else f".wh.{base}"
        return self.file(name)

    def opaque(self, directory: str) -> LayerTar:
        return self.file(f"{directory}/.wh..wh..opq")

    def bytes(self) -> bytes:
        self._tar.close()
        return self._buffer.getvalue()


@dataclass
class BuiltImage:
    manifest: bytes
    manifest_digest: str
    media_type: str
    config_digest: str
    blobs: dict[str, bytes] = field(default_factory=dict)
    layer_digests: list[str] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)


def build_image(
    layers: list[bytes],
    *,
    docker: bool = False,
    compress: bool = True,
    cmd: list[str] | None = None,
    architecture: str = "amd64",
) -> BuiltImage:
    """An image of the given layer tars: gzip-compressed unless `compress` is False."""
    blobs: dict[str, bytes] = {}
    diff_ids = [sha256(layer) for layer in layers]
    descriptors = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0) if compress else layer
        digest = sha256(blob)
        blobs[digest] = blob
        media = (DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP) if compress else OCI_LAYER
        descriptors.append({"mediaType": media, "digest": digest, "size": len(blob)})
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Cmd": cmd or ["/bin/sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    config_digest = sha256(config)
    blobs[config_digest] = config
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": config_digest,
                "size": len(config),
            },
            "layers": descriptors,
        }
    ).encode()
    manifest_digest = sha256(manifest)
    return BuiltImage(
        manifest,
        manifest_digest,
        media_type,
        config_digest,
        blobs,
        [d["digest"] for d in descriptors],
        diff_ids,
    )


def build_index(images: dict[str, BuiltImage]) -> tuple[bytes, str]:
    """An OCI index of `{"linux/amd64": image, ...}`; returns (bytes, digest)."""
    manifests = []
    for plat, image in images.items():
        os_name, arch, *variant = plat.split("/")
        platform: dict[str, str] = {"os": os_name, "architecture": arch}
        if variant:
            platform["variant"] = variant[0]
        manifests.append(
            {
                "mediaType": image.media_type,
                "digest": image.manifest_digest,
                "size": len(image.manifest),
                "platform": platform,
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    data = index.encode()
    return data, sha256(data)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def oci_archive(named: list[tuple[str, BuiltImage]], *, ref_name_only: bool = False) -> bytes:
    """An OCI archive; names go in io.containerd.image.name unless `ref_name_only`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        manifests = []
        blobs: dict[str, bytes] = {}
        for name, image in named:
            blobs.update(image.blobs)
            blobs[image.manifest_digest] = image.manifest
            key = (
                "org.opencontainers.image.ref.name" if ref_name_only else "io.containerd.image.name"
            )
            manifests.append(
                {
                    "mediaType": image.media_type,
                    "digest": image.manifest_digest,
                    "size": len(image.manifest),
                    "annotations": {key: name},
                }
            )
        _add(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": manifests}).encode())
        for digest, data in blobs.items():
            _add(tar, "blobs/sha256/" + digest.split(":")[1], data)
    return buffer.getvalue()


def docker_save_archive(tags: list[str], layers: list[bytes]) -> tuple[bytes, str]:
    """A `docker save` tarball (old layout: <id>/layer.tar); returns (bytes, image id)."""
    image = build_image(layers, compress=False)
    config = image.blobs[image.config_digest]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        layer_paths = []
        for i, layer in enumerate(layers):
            path = f"{i:064x}/layer.tar"
            _add(tar, path, layer)
            layer_paths.append(path)
        config_name = image.config_digest.split(":")[1] + ".json"
        _add(tar, config_name, config)
        manifest = [{"Config": config_name, "RepoTags": tags, "Layers": layer_paths}]
        _add(tar, "manifest.json", json.dumps(manifest).encode())
    return buffer.getvalue(), image.config_digest
