"""A pod's image volumes in a sync: pulled before its containers start, mounted for those that
use them (SyncPod's `getImageVolumes` and `toKubeContainerImageVolumes`, kuberuntime_manager.go).

- Each `volumes[].image` is pulled as a container's image is (`ImagePuller.ensure`): its
  `pullPolicy`, the pod's pull secrets, the per-pod back-off; the Pulling / Pulled / Failed /
  BackOff events are about the pod itself, not a container.
- The pulls happen once per sync, and only in a sync that starts a container (kubernetes#138655:
  a pod at rest records no events about its image volumes).
- A failed pull fails no volume and not the pod: each container that mounts the volume fails to
  start with the pull's reason (ErrImagePull, ImagePullBackOff, ErrImageNeverPull...) and
  message, and a `Failed` event `Error: <reason>` about it for each such mount; containers
  that do not mount it start.
- A container about to be created has the images of the volumes it mounts mounted first
  (`volumes.image.mount_image`); a failure there is its CreateContainerError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import ObjectLookup
from kubelite.kubelet.images import ImagePuller, ImagePullError, default_policy
from kubelite.kubelet.pull_secrets import PodPullSecrets
from kubelite.kubelet.volumes import image as image_volume
from kubelite.kubelet.volumes.image import ImageVolumeMountError
from kubelite.kubelet.volumes.mounter import HostMounter, Mounter
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import ImageService

# Records an event about the pod: (type, reason, message, field path), as sync.PodRecorder.
PodRecorder = Callable[[str, str, str, str], Awaitable[None]]


@dataclass(frozen=True)
class ImageVolumePull:
    """What became of one image volume's pull: the image id, or the error."""

    image_id: str = ""
    error: ImagePullError | None = None


def image_volume_sources(pod: Obj) -> dict[str, Obj]:
    """The pod's image volumes: name -> `image` source."""
    found = {}
    for volume in (pod.get("spec") or {}).get("volumes") or ():
        source = volume.get("image") if isinstance(volume, dict) else None
        if isinstance(source, dict):
            found[volume.get("name") or ""] = source
    return found


def mount_failures(container: Obj, pulls: Mapping[str, ImageVolumePull]) -> list[ImagePullError]:
    """The failed pulls of the image volumes `container` mounts, one per mount, in order."""
    failures = []
    for mount in container.get("volumeMounts") or ():
        pull = pulls.get(mount.get("name") or "")
        if pull is not None and pull.error is not None:
            failures.append(pull.error)
    return failures


class ImageVolumes:
    """Pulls and mounts the image volumes of the pods of one node."""

    def __init__(
        self,
        puller: ImagePuller,
        images: ImageService,
        lookup: ObjectLookup,
        pod_dir: Callable[[str], Path],
        mounter: Mounter | None = None,
    ) -> None:
        self.puller = puller
        self.images = images
        self.lookup = lookup
        self.pod_dir = pod_dir
        self.mounter = mounter or HostMounter()

    async def pull(
        self, pod: Obj, record: PodRecorder, secrets: PodPullSecrets | None = None
    ) -> dict[str, ImageVolumePull]:
        """EnsureImageExists for each image volume: volume name -> its pull (with `secrets`,
        the sync's pull secrets, or the pod's read for these pulls)."""
        if secrets is None:
            secrets = PodPullSecrets(pod, self.lookup)
        pulls: dict[str, ImageVolumePull] = {}
        for name, source in image_volume_sources(pod).items():
            reference = source.get("reference") or ""
            policy = source.get("pullPolicy") or default_policy(reference)

            async def on_event(kind: str, reason: str, message: str) -> None:
                # The pod's own object reference: no field path (getImageVolumes).
                await record(kind, reason, message, "")

            auths = await secrets.credentials(reference)
            try:
                image_id = await self.puller.ensure(pod, reference, policy, on_event, auths=auths)
            except ImagePullError as e:
                pulls[name] = ImageVolumePull(error=e)
            else:
                pulls[name] = ImageVolumePull(image_id=image_id)
        return pulls

    async def mount(self, pod: Obj, container: Obj, pulls: Mapping[str, ImageVolumePull]) -> None:
        """Mount the pulled image of every image volume `container` mounts, where the pod's
        volume is; raises ImageVolumeMountError."""
        uid = pod["metadata"].get("uid", "")
        for name in dict.fromkeys(m.get("name") or "" for m in container.get("volumeMounts") or ()):
            pull = pulls.get(name)
            if pull is None or not pull.image_id:
                continue
            try:
                layers = await self.images.layer_dirs(pull.image_id)
            except runtime_errors.RuntimeFailure as e:
                raise ImageVolumeMountError(f'failed to get image volume "{name}": {e}') from e
            path = self.pod_dir(uid) / "volumes" / image_volume.PLUGIN_DIR / name
            await asyncio.to_thread(
                image_volume.mount_image, path, pull.image_id, layers, self.mounter
            )


class SyncPulls:
    """One sync's pulls of a pod's image volumes, made when first asked for (when the sync
    starts its first container) and then kept for the sync's other containers."""

    def __init__(
        self,
        volumes: ImageVolumes,
        pod: Obj,
        record: PodRecorder,
        secrets: PodPullSecrets | None = None,
    ) -> None:
        self.volumes = volumes
        self.pod = pod
        self.record = record
        self.secrets = secrets
        self._pulls: dict[str, ImageVolumePull] | None = None

    async def get(self) -> dict[str, ImageVolumePull]:
        if self._pulls is None:
            self._pulls = await self.volumes.pull(self.pod, self.record, self.secrets)
        return self._pulls
