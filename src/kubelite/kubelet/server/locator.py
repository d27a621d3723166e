"""How the kubelet's server finds a pod's container: the seam between it and the pod cache.

The server knows nothing of how the kubelet keeps its pods; it asks a `ContainerLocator`, and
whatever the kubelet's pod cache is implements it. Failures are `LocatorError`s whose message is
what the client sees (the API server passes it on to `kubectl`), with the HTTP status the
kubelet answers them with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class LocatorError(Exception):
    """The container cannot be served; `status` is the HTTP status the kubelet answers."""

    status = 400


class PodNotFound(LocatorError):
    """No pod of that name on this node: `pod "web" does not exist` (404)."""

    status = 404


class ContainerNotFound(LocatorError):
    """The pod has no container of that name: `container "c" not found in pod "web"` (404)."""

    status = 404


class ContainerNotAvailable(LocatorError):
    """The container exists but has nothing to serve yet or any more (400), in the kubelet's
    words: `container "c" in pod "web" is waiting to start: ContainerCreating`,
    `previous terminated container "c" in pod "web" not found`, ..."""


class ContainerLocator(Protocol):
    """What the kubelet's server needs of the pod cache: a container's id and log file by namespace,
    pod and name."""

    def find(self, namespace: str, pod: str, container: str, previous: bool) -> tuple[str, Path]:
        """The runtime's id of the container and its CRI log file.

        `previous`: the container's last terminated instance rather than the current one.
        Raises a `LocatorError` (message as above) when there is no such container to serve.
        """
        ...

    def find_pod(self, namespace: str, pod: str) -> dict[str, Any]:
        """The pod object (attach needs its containers' `tty`); `PodNotFound` if absent."""
        ...

    def find_sandbox(self, namespace: str, pod: str) -> tuple[str, str]:
        """The runtime's id of the pod's running sandbox and the pod's uid (port-forward);
        `ContainerNotAvailable` when the pod has no running sandbox."""
        ...
