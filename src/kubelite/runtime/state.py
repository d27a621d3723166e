"""The runtime's persisted records of its sandboxes and containers, for recovery after a restart.

conmon and runc keep containers running when the runtime process goes away (CRI-O's model), so
everything the runtime needs to find them again is written down here: one JSON file per sandbox
(`<state_dir>/sandboxes/<id>/sandbox.json`) and per container
(`<state_dir>/containers/<id>/container.json`). Each file is replaced atomically (write a
temporary file, fsync, rename), so a crash leaves either the old record or the new one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.runtime import cri

SANDBOX_RECORD = "sandbox.json"
CONTAINER_RECORD = "container.json"


@dataclass(slots=True)
class SandboxRecord:
    """What a sandbox is made of: enough to show its status and to take it apart again."""

    id: str
    config: cri.PodSandboxConfig
    state: cri.PodSandboxState
    created_at: int
    hostname: str
    cgroup_parent: str
    netns_path: str = ""  # empty for host-network pods
    ipc_ns_path: str = ""
    uts_ns_path: str = ""
    shm_path: str = ""
    files_dir: str = ""  # /etc/hosts, /etc/resolv.conf and /etc/hostname of the pod
    ip: str = ""
    cni_result: dict[str, Any] = field(default_factory=dict)  # prevResult for CNI DEL
    network_ready: bool = False  # CNI ADD done and not yet undone


@dataclass(slots=True)
class ContainerRecord:
    """A container and its monitor: bundle, conmon, exit file, and the times of its life."""

    id: str
    sandbox_id: str
    config: cri.ContainerConfig
    state: cri.ContainerState
    created_at: int
    image_ref: str
    bundle: str
    rootfs: str
    upper_dir: str  # the overlay's upperdir and workdir live under its parent
    log_path: str
    cgroups_path: str
    stop_signal: str
    pid: int = 0
    conmon_pid: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""


def _to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, cri.PodSandboxState | cri.ContainerState):
        return value.value
    if isinstance(value, list | tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    return value


def _sandbox_config(data: dict[str, Any]) -> cri.PodSandboxConfig:
    dns = data.get("dns_config")
    return cri.PodSandboxConfig(
        **{
            **data,
            "metadata": cri.PodSandboxMetadata(**data["metadata"]),
            "dns_config": cri.DNSConfig(**dns) if dns is not None else None,
            "port_mappings": [cri.PortMapping(**p) for p in data.get("port_mappings", [])],
            "host_aliases": [cri.HostAlias(**a) for a in data.get("host_aliases", [])],
        }
    )


def _container_config(data: dict[str, Any]) -> cri.ContainerConfig:
    sc = dict(data["security_context"])
    caps = sc.get("capabilities")
    sc["capabilities"] = cri.Capability(**caps) if caps is not None else None
    for key in ("seccomp", "apparmor"):
        profile = sc.get(key)
        if profile is not None:
            sc[key] = cri.SecurityProfile(
                cri.SecurityProfileType(profile["profile_type"]), profile["localhost_ref"]
            )
    return cri.ContainerConfig(
        **{
            **data,
            "metadata": cri.ContainerMetadata(**data["metadata"]),
            "envs": [(k, v) for k, v in data.get("envs", [])],
            "mounts": [cri.Mount(**m) for m in data.get("mounts", [])],
            "resources": cri.LinuxContainerResources(**data["resources"]),
            "security_context": cri.LinuxContainerSecurityContext(**sc),
        }
    )


def sandbox_from_json(data: dict[str, Any]) -> SandboxRecord:
    return SandboxRecord(
        **{
            **data,
            "config": _sandbox_config(data["config"]),
            "state": cri.PodSandboxState(data["state"]),
        }
    )


def container_from_json(data: dict[str, Any]) -> ContainerRecord:
    return ContainerRecord(
        **{
            **data,
            "config": _container_config(data["config"]),
            "state": cri.ContainerState(data["state"]),
        }
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class StateStore:
    """The records under one state dir: sandboxes/<id>/sandbox.json, containers/<id>/..."""

    def __init__(self, state_dir: Path) -> None:
        self.sandboxes_dir = state_dir / "sandboxes"
        self.containers_dir = state_dir / "containers"
        self.sandboxes_dir.mkdir(parents=True, exist_ok=True)
        self.containers_dir.mkdir(parents=True, exist_ok=True)

    def sandbox_dir(self, sandbox_id: str) -> Path:
        return self.sandboxes_dir / sandbox_id

    def container_dir(self, container_id: str) -> Path:
        return self.containers_dir / container_id

    def save_sandbox(self, record: SandboxRecord) -> None:
        data = json.dumps(_to_jsonable(record), indent=1).encode()
        write_atomically(self.sandbox_dir(record.id) / SANDBOX_RECORD, data)

    def save_container(self, record: ContainerRecord) -> None:
        data = json.dumps(_to_jsonable(record), indent=1).encode()
        write_atomically(self.container_dir(record.id) / CONTAINER_RECORD, data)

    def load_sandboxes(self) -> list[SandboxRecord]:
        return [sandbox_from_json(d) for d in self._load_all(self.sandboxes_dir, SANDBOX_RECORD)]

    def load_containers(self) -> list[ContainerRecord]:
        return [
            container_from_json(d) for d in self._load_all(self.containers_dir, CONTAINER_RECORD)
        ]

    @staticmethod
    def _load_all(parent: Path, name: str) -> list[dict[str, Any]]:
        # A directory without its record is a create that crashed half-way; nothing refers to
        # it, so it is skipped here (and its id never handed out).
        found = []
        for entry in sorted(parent.iterdir()):
            record = entry / name
            if record.is_file():
                found.append(json.loads(record.read_bytes()))
        return found
