"""What every volume type shares: the request it is set up from, its result, and its errors.

Each volume type's module (`empty_dir`, `configmap`, ...) has one `set_up(ctx, volume)` that turns
a pod's `spec.volumes[]` entry into a directory on the host, as each of Kubernetes' in-tree volume
plugins has a `SetUp`. Volumes live where the kubelet keeps them:
`<pod dir>/volumes/kubernetes.io~<plugin>/<volume name>`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import ObjectLookup
from kubelite.kubelet.volumes.mounter import Mounter

# The event the kubelet records when a volume cannot be set up (operation_generator.go).
FAILED_MOUNT = "FailedMount"
# The permission bits configMap, secret, downwardAPI and projected files get when the pod does
# not say (SetDefaults_*VolumeSource: 0644).
DEFAULT_MODE = 0o644

# Asks the API for a ServiceAccount token (TokenRequest, `serviceaccounts/<name>/token`):
# (audience or "" for the API server's own, expirationSeconds, pod) -> the token. May be async.
TokenSource = Callable[[str, int, Obj], "str | Awaitable[str]"]


@dataclass(frozen=True)
class MountedVolume:
    """A pod volume ready on the host (Kubernetes' VolumeInfo in the kubelet's VolumeMap)."""

    name: str
    path: Path
    # Mounted read-only into every container whatever the volumeMount says: configMap, secret,
    # downwardAPI and projected volumes (their plugins' Attributes().ReadOnly), image volumes.
    read_only: bool = False
    # An image volume: its path is mounted with the pulled image when a container needs it, and
    # a subPath in it must be a directory the image has (`volumes.image`).
    image: bool = False


@dataclass(frozen=True)
class VolumeContext:
    """Everything a volume's set-up may need besides the volume itself."""

    pod: Obj
    pod_dir: Path
    lookup: ObjectLookup
    mounter: Mounter
    token_source: TokenSource | None = None
    node: Obj | None = None

    @property
    def namespace(self) -> str:
        return (self.pod.get("metadata") or {}).get("namespace") or "default"

    def volume_dir(self, plugin_dir: str, name: str) -> Path:
        return self.pod_dir / "volumes" / plugin_dir / name


class VolumeError(Exception):
    """One volume could not be set up; `str()` is the cause as Kubernetes words it."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(message)
        self.volume = volume
        self.message = message

    @property
    def event_message(self) -> str:
        """The FailedMount event's message, as the kubelet's operation generator writes it."""
        return f'MountVolume.SetUp failed for volume "{self.volume}" : {self.message}'


def aggregate_message(messages: Iterable[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message alone, several as `[a, b]`, no repeats."""
    unique = list(dict.fromkeys(messages))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def file_mode(value: Any, default: int) -> int:
    """A mode field from the pod (an int, as JSON carries 0644 = 420), or the default."""
    return default if value is None else int(value)
