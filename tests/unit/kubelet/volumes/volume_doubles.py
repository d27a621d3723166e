"""Test doubles for volume tests: objects from dicts, and a mounter that only keeps records.

A plain module (not conftest) so that test modules can import it by a name no other test
directory uses.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

Obj = dict[str, Any]


class DictLookup:
    """ConfigMaps and Secrets from dicts keyed by (namespace, name)."""

    def __init__(self, config_maps: dict | None = None, secrets: dict | None = None) -> None:
        self.config_maps = config_maps or {}
        self.secrets = secrets or {}

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        return self.config_maps.get((namespace, name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get((namespace, name))


class RecordingMounter:
    """Pretends to mount: remembers tmpfs mounts so the code under test can see them."""

    def __init__(self) -> None:
        self.mounted: dict[Path, str] = {}
        self.mount_calls: list[tuple[Path, int | None]] = []
        self.bind_calls: list[tuple[str, Path]] = []
        self.unmount_calls: list[Path] = []

    def mount_tmpfs(self, target: Path, size_bytes: int | None) -> None:
        assert target.is_dir()
        self.mount_calls.append((target, size_bytes))
        self.mounted[target.resolve()] = "tmpfs"

    def bind_mount(self, source: str, target: Path) -> None:
        assert target.exists()
        self.bind_calls.append((source, target))
        self.mounted[target.resolve()] = "bind"

    def unmount(self, target: Path) -> None:
        self.unmount_calls.append(target)
        del self.mounted[target.resolve()]

    def mounts_under(self, root: Path) -> list[tuple[Path, str]]:
        root = root.resolve()
        return [(p, kind) for p, kind in self.mounted.items() if p == root or root in p.parents]


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def make_pod(volumes: list[Obj] | None = None, containers: list[Obj] | None = None) -> Obj:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "uid-1",
            "labels": {"tier": "front", "app": "web"},
            "annotations": {"build": "42"},
        },
        "spec": {
            "nodeName": "node-1",
            "serviceAccountName": "default",
            "containers": containers or [{"name": "c"}],
            "volumes": volumes or [],
        },
    }


NODE = {"status": {"allocatable": {"cpu": "2", "memory": "1Gi"}}}

LOOKUP = DictLookup(
    config_maps={
        ("default", "cfg"): {
            "data": {"app.conf": "listen 80\n", "mode": "prod"},
            "binaryData": {"logo.bin": b64(b"\x00\x01\xff")},
        },
        ("default", "kube-root-ca.crt"): {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}},
    },
    secrets={("default", "creds"): {"data": {"user": b64("admin"), "pass": b64("s3cret")}}},
)
