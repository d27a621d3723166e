"""A container's volume mounts, as CRI mounts (kubelet_pods.go makeMounts).

For each `volumeMounts[]` entry: the volume's host path (a subPath or an expanded subPathExpr
resolved inside it), the container path made absolute, read-only when the mount asks or the
volume type insists (configMap, secret, downwardAPI, projected, image), and the propagation
(`None` -> private, `HostToContainer` -> rslave, `Bidirectional` -> rshared). Any problem raises
ConfigError with the kubelet's message: the container's CreateContainerConfigError; a subPath
an image volume's image lacks raises ImageVolumeMountError instead (the runtime finds it in
Kubernetes: CreateContainerError).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import ConfigError, expand_with
from kubelite.kubelet.volumes import image as image_volumes
from kubelite.kubelet.volumes import subpath as subpaths
from kubelite.kubelet.volumes.context import MountedVolume
from kubelite.kubelet.volumes.mounter import HostMounter, Mounter
from kubelite.runtime import cri

# v1.MountPropagationMode -> the CRI propagation (translateMountPropagation).
_PROPAGATION = {
    None: "private",
    "None": "private",
    "HostToContainer": "rslave",
    "Bidirectional": "rshared",
}


def expand_subpath_expr(expression: str, env: Mapping[str, str]) -> str:
    """kubecontainer.ExpandContainerVolumeMounts: `$(VAR)` from the container's environment;
    a variable that is unset or empty is an error."""
    missing: set[str] = set()

    def mapping(name: str) -> str:
        value = env.get(name, "")
        if not value:
            missing.add(name)
        return value

    expanded = expand_with(expression, mapping)
    if missing:
        raise ConfigError(f"missing value for {', '.join(sorted(missing))}")
    return expanded


def propagation(mode: str | None) -> str:
    if mode not in _PROPAGATION:
        raise ConfigError(f'invalid MountPropagation mode: "{mode}"')
    return _PROPAGATION[mode]


def mounts_for(
    container: Obj,
    volumes: Mapping[str, MountedVolume],
    *,
    env: Iterable[tuple[str, str]] = (),
    pod_dir: Path | None = None,
    mounter: Mounter | None = None,
) -> list[cri.Mount]:
    """The CRI mounts of `container` over the pod's prepared `volumes`; `env` is the
    container's environment (for subPathExpr).

    With `pod_dir`, each subPath is pinned by a bind mount under it, as Kubernetes does (needs
    root; `mounter` defaults to the real one); without, the runtime gets the checked path.
    """
    name = container.get("name", "")
    environment = dict(env)
    if pod_dir is not None and mounter is None:
        mounter = HostMounter()
    mounts = []
    for index, mount in enumerate(container.get("volumeMounts") or []):
        volume = volumes.get(mount.get("name", ""))
        if volume is None:
            raise ConfigError(
                f'cannot find volume "{mount.get("name", "")}" to mount into container "{name}"'
            )
        sub = mount.get("subPath") or ""
        if mount.get("subPathExpr"):
            sub = expand_subpath_expr(mount["subPathExpr"], environment)
        host_path = volume.path
        if sub and volume.image:
            # Checked as any subPath, then found in the image (which nothing can change, so
            # there is nothing to pin); ImageVolumeMountError when it is not a directory there.
            subpaths.validate(sub)
            host_path = image_volumes.resolve_subpath(volume.path, sub)
        elif sub:
            pin = None
            if pod_dir is not None and mounter is not None:
                pin = subpaths.Pin(pod_dir, mounter, volume.name, index)
            host_path = subpaths.resolve(
                volume.path, sub, volume_mount=volume.name, container=name, pin=pin
            )
        container_path = mount.get("mountPath", "")
        if not container_path.startswith("/"):
            container_path = posixpath.normpath("/" + container_path)  # MakeAbsolutePath
        mounts.append(
            cri.Mount(
                container_path=container_path,
                host_path=str(host_path),
                readonly=bool(mount.get("readOnly")) or volume.read_only,
                propagation=propagation(mount.get("mountPropagation")),
            )
        )
    return mounts
