"""The media types of manifests, indexes, configs and layers that the image service handles.

Two families describe the same things: Docker's image manifest v2 schema 2
(`distribution/manifest/schema2`, `manifestlist`) and the OCI image spec (`specs-go/v1/
mediatype.go`). Registries serve both, so every check here accepts either.
"""

from __future__ import annotations

# OCI image spec, specs-go/v1/mediatype.go.
OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
# OCI image spec, annotations.go: the tag (or full name) of a manifest in an index.json.
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# containerd's images/annotations.go: the full name containerd writes beside the tag.
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"

# Docker image manifest v2 schema 2, distribution/manifest/schema2 and manifestlist.
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
LAYER_TYPES = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_NONDISTRIBUTABLE,
        OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        DOCKER_LAYER_GZIP,
        DOCKER_LAYER_FOREIGN_GZIP,
        DOCKER_LAYER,
    }
)

# The Accept header of a manifest request: every manifest and index type we can use, most
# specific first, as containerd's resolver sends it.
MANIFEST_ACCEPT = ", ".join([DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX, "*/*"])
