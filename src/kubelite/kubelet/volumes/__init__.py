"""A pod's volumes on the host: setting them up, mounting them into containers, removing them.

The kubelet calls `prepare_volumes` before a pod's containers are created (and again to follow
ConfigMap and Secret changes), `mounts_for` for each container's CRI mounts, and
`teardown_volumes` once the pod is gone. One module per volume type, named as Kubernetes names
the type.
"""

from kubelite.kubelet.volumes.context import (
    FAILED_MOUNT,
    MountedVolume,
    TokenSource,
    VolumeError,
)
from kubelite.kubelet.volumes.mounter import HostMounter, Mounter
from kubelite.kubelet.volumes.mounts import mounts_for
from kubelite.kubelet.volumes.setup import (
    VOLUME_TYPES,
    VolumeSetupError,
    prepare_volumes,
    teardown_volumes,
)

__all__ = [
    "FAILED_MOUNT",
    "VOLUME_TYPES",
    "HostMounter",
    "MountedVolume",
    "Mounter",
    "TokenSource",
    "VolumeError",
    "VolumeSetupError",
    "mounts_for",
    "prepare_volumes",
    "teardown_volumes",
]
