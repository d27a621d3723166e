"""Setting up all of a pod's volumes before its containers start, and removing them after.

`prepare_volumes` plays the part of Kubernetes' volume manager for one pod: every entry of
`spec.volumes` is set up by the module for its type, each independently, so one missing ConfigMap
does not hold up the others. Running it again is how contents follow their sources: emptyDir
and tmpfs mounts are kept, configMap / secret / downwardAPI / projected files are rewritten
atomically when they changed. When any volume fails, VolumeSetupError lists each failure with its
FailedMount event message, and the pod waits (ContainerCreating) until a later try succeeds.

`teardown_volumes` undoes everything under `<pod dir>/volumes` and `<pod dir>/volume-subpaths`:
mounts first (subPath binds, then tmpfs and image volumes' overlays), then the directories.
HostPaths are never under the pod's directory, so never touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import ObjectLookup
from kubelite.kubelet.volumes import (
    configmap,
    downward_api,
    empty_dir,
    host_path,
    image,
    projected,
    secret,
)
from kubelite.kubelet.volumes.context import (
    MountedVolume,
    TokenSource,
    VolumeContext,
    VolumeError,
)
from kubelite.kubelet.volumes.mounter import HostMounter, Mounter
from kubelite.kubelet.volumes.subpath import SUBPATHS_DIR

SetUp = Callable[[VolumeContext, Obj], Awaitable[MountedVolume]]

# The volume sources kubelite sets up, by their field name in the Volume object.
VOLUME_TYPES: dict[str, SetUp] = {
    "emptyDir": empty_dir.set_up,
    "configMap": configmap.set_up,
    "secret": secret.set_up,
    "downwardAPI": downward_api.set_up,
    "projected": projected.set_up,
    "hostPath": host_path.set_up,
    # Made ready here, mounted once the kubelet has pulled the image (`image.mount_image`).
    "image": image.set_up,
}


class VolumeSetupError(Exception):
    """Some volumes could not be set up; `errors` has one VolumeError each, `prepared` the rest."""

    def __init__(self, errors: list[VolumeError], prepared: dict[str, MountedVolume]) -> None:
        names = ", ".join(error.volume for error in errors)
        super().__init__(f"unmounted volumes=[{names}]: " + "; ".join(map(str, errors)))
        self.errors = errors
        self.prepared = prepared


def _set_up_for(volume: Obj) -> SetUp:
    for kind, set_up in VOLUME_TYPES.items():
        if volume.get(kind) is not None:
            return set_up
    known = {"name"} | set(VOLUME_TYPES)
    kinds = sorted(key for key in volume if key not in known) or ["<none>"]
    raise VolumeError(
        volume.get("name", ""), f"volume type {', '.join(kinds)} is not supported by kubelite"
    )


async def prepare_volumes(
    pod: Obj,
    pod_dir: Path,
    *,
    lookup: ObjectLookup,
    token_source: TokenSource | None = None,
    node: Obj | None = None,
    mounter: Mounter | None = None,
) -> dict[str, MountedVolume]:
    """Set up (or bring up to date) every volume of `pod` under `pod_dir`; volume name -> volume.

    `node` is the kubelet's Node (its allocatable memory sizes tmpfs volumes and stands in for
    unset limits in Downward API files); `token_source` serves serviceAccountToken projections;
    `mounter` defaults to the real mount(2).
    """
    ctx = VolumeContext(
        pod=pod,
        pod_dir=pod_dir,
        lookup=lookup,
        mounter=mounter or HostMounter(),
        token_source=token_source,
        node=node,
    )
    prepared: dict[str, MountedVolume] = {}
    errors: list[VolumeError] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        try:
            prepared[volume["name"]] = await _set_up_for(volume)(ctx, volume)
        except VolumeError as e:
            errors.append(e)
        except Exception as e:
            # An API or disk failure fails this volume alone, as the kubelet's mount operations
            # report any error of a plugin's SetUp.
            failure = VolumeError(volume.get("name", ""), str(e) or type(e).__name__)
            failure.__cause__ = e
            errors.append(failure)
    if errors:
        raise VolumeSetupError(errors, prepared)
    return prepared


def teardown_volumes(pod_dir: Path, *, mounter: Mounter | None = None) -> None:
    """Unmount and remove every volume and pinned subPath of the pod at `pod_dir`.
    Missing is fine."""
    directories = [d for d in (pod_dir / "volumes", pod_dir / SUBPATHS_DIR) if d.exists()]
    if not directories:
        return
    mounter = mounter or HostMounter()

    def mounted() -> list[Path]:
        return [p for d in directories for p, _ in mounter.mounts_under(d.resolve())]

    # Deepest first, and subPath binds before the volumes they were taken from.
    for point in sorted(mounted(), key=lambda p: (SUBPATHS_DIR not in p.parts, -len(p.parts))):
        mounter.unmount(point)
    left = mounted()
    if left:
        # Deleting now would delete through a mount; better to leave it all and say so.
        points = ", ".join(map(str, left))
        raise OSError(f"volumes of {pod_dir} are still mounted: {points}")
    for directory in directories:
        shutil.rmtree(directory)
