"""Images: pulled over the OCI distribution protocol, stored by digest, unpacked for overlayfs.

`LocalImageService` (also exported as `ImageStore`) implements `runtime.cri.ImageService` plus
import, export, push and tag; `reference.normalize` turns any name a pod may use into the fully
qualified reference the store keys images by. The store's layout under its root directory:

    blobs/sha256/<hex>     manifests, indexes, configs and layer blobs, by digest
    layers/<diffID hex>/   each layer unpacked once, with overlayfs whiteouts
    images.json            image records: references -> manifest, config, layers
    leases/, ingest/, trash/, lock   in-flight pulls, downloads, removals, the store's lock
"""

from kubelite.runtime.images.reference import normalize
from kubelite.runtime.images.service import LocalImageService

ImageStore = LocalImageService

__all__ = ["ImageStore", "LocalImageService", "normalize"]
