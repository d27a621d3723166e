"""Stand-ins for what an in-place resize touches on the node, shared by the kubelet's resize
tests (container and pod level): a running container's status, a runtime and pod cgroups that
log their writes in one list, so a test can assert the order of the whole actuation."""

from __future__ import annotations

from pathlib import Path

from kubelite.kubelet.pod_cgroups import PodCgroups, PodResourceConfig
from kubelite.kubelet.resize_actuation import ResizeActuator
from kubelite.runtime.cri import (
    ContainerMetadata,
    ContainerState,
    ContainerStatus,
    LinuxContainerResources,
)


def running(
    name: str = "app", cid: str = "c1", res: LinuxContainerResources | None = None
) -> ContainerStatus:
    """The runtime's status of a running container, with the resources it runs with."""
    return ContainerStatus(
        id=cid,
        metadata=ContainerMetadata(name),
        state=ContainerState.CONTAINER_RUNNING,
        created_at=1,
        started_at=1_000_000_000,
        resources=res,
    )


class Runtime:
    """A runtime whose container updates are logged as ("container", id, quota, memory)."""

    def __init__(self, log: list) -> None:
        self.log = log

    async def update_container_resources(
        self, container_id: str, res: LinuxContainerResources
    ) -> None:
        self.log.append(("container", container_id, res.cpu_quota, res.memory_limit_in_bytes))


class Cgroups(PodCgroups):
    """Pod cgroups held in memory: reads give `config`, writes are logged as ("pod", field,
    value) in the order they are made, and the pod uses `usage` bytes of memory."""

    def __init__(self, log: list, config: PodResourceConfig, usage: int = 0) -> None:
        super().__init__(Path("/nonexistent"))
        self.log = log
        self.config = config
        self.usage = usage

    def read(self, cgroup: str) -> PodResourceConfig | None:
        return self.config

    def write(self, cgroup: str, config: PodResourceConfig) -> None:
        for field in ("cpu_quota", "cpu_shares", "memory_limit"):
            value = getattr(config, field)
            if value is not None:
                self.log.append(("pod", field, value))

    def memory_usage(self, cgroup: str) -> int | None:
        return self.usage


def actuator(log: list, cgroups: Cgroups, recorded: dict) -> ResizeActuator:
    """An actuator over `Runtime(log)` and `cgroups` that records what it actuated in
    `recorded` (container name -> resources)."""
    return ResizeActuator(
        Runtime(log),  # type: ignore[arg-type]
        cgroups,
        memory_capacity=4 << 30,
        record_actuated=lambda pod, name, res: recorded.__setitem__(name, res),
        actuated=lambda uid, name: None,
    )
