"""The kubelet's HTTPS API: container logs, exec, attach and port-forward for the API server to
proxy to, and health.

Construct a `KubeletServer` with a `ContainerLocator` (the kubelet's pod cache), the runtime and
the serving TLS files, then `await server.start()`; `server.port` is the bound port.
"""

from kubelite.kubelet.server.app import DEFAULT_PORT, ExecRuntime, KubeletServer
from kubelite.kubelet.server.auth import ServingTLS
from kubelite.kubelet.server.locator import (
    ContainerLocator,
    ContainerNotAvailable,
    ContainerNotFound,
    LocatorError,
    PodNotFound,
)

__all__ = [
    "DEFAULT_PORT",
    "ContainerLocator",
    "ContainerNotAvailable",
    "ContainerNotFound",
    "ExecRuntime",
    "KubeletServer",
    "LocatorError",
    "PodNotFound",
    "ServingTLS",
]
