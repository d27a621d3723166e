"""The node's local registry: a docker.io mirror on loopback, so manifests run unchanged offline.

Pods name images as Docker Hub knows them (`nginx`, `busybox:1.28`), and a tag of `latest` or
none means `imagePullPolicy: Always`: Kubernetes pulls such an image every time, so an image
merely copied onto the node is not enough. k3s answers this with registry mirrors; kubelite
does the same. `kubelite server` runs Debian's `docker-registry` on 127.0.0.1:5000 (storage
under the data dir) and, unless the user has a registries config of their own, points the
node's pulls of docker.io at it first (docker.io itself is still tried after it). The example
images go into it with `python -m images.build --push 127.0.0.1:5000` (scripts/setup.sh does
this), or any image with `kubelite image push`.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from kubelite.api.wellknown import REGISTRIES_CONFIG

DEFAULT_ADDRESS = "127.0.0.1:5000"
BINARY = "docker-registry"
# Where users keep their registries config (the agent's default, as k3s' registries.yaml).
SYSTEM_REGISTRIES_CONFIG = REGISTRIES_CONFIG


def available(address: str) -> str:
    """Why the registry cannot run at `address`, or "" when it can."""
    if shutil.which(BINARY) is None:
        return f"{BINARY} is not installed"
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex((host or "127.0.0.1", int(port))) == 0:
            return f"{address} is taken"
    return ""


def write_config(data_dir: Path, address: str) -> Path:
    """The registry's config.yml: loopback only, storage in the data dir, deletes allowed."""
    directory = data_dir / "registry"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
    )
    return config


def argv(config: Path) -> list[str]:
    return [BINARY, "serve", str(config)]


def mirror_config(data_dir: Path, address: str) -> Path:
    """A registries config that makes the local registry docker.io's first mirror."""
    path = data_dir / "registries.yaml"
    path.write_text(f'mirrors:\n  docker.io:\n    endpoint: ["http://{address}"]\n')
    return path
