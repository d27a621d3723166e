"""Running a fleet of hollow nodes until asked to stop.

`HollowConfig` is everything `kubelite hollow-nodes` was told; `run()` connects to the API
server (only over HTTP, through the client package), registers the nodes, then runs their
heartbeats and their pods' lifecycle side by side until SIGINT or SIGTERM, and leaves the nodes
in place (they turn NotReady once their leases expire, as after a kubelet stops) unless
`delete_on_exit` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import signal
from collections.abc import Callable
from dataclasses import dataclass, field

from kubelite.api.types import Obj
from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import load_config
from kubelite.hollow.heartbeats import NodeFleet
from kubelite.hollow.lifecycle import PodLifecycle
from kubelite.hollow.nodes import DEFAULT_MAX_PODS, HollowNode, NodeShape
from kubelite.hollow.timing import LEASE_DURATION_SECONDS, HeartbeatPolicy

log = logging.getLogger(__name__)


DEFAULT_NAME_PREFIX = "hollow-node-"
# kubelite.io/hollow=true is always set; `--label` adds more.
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass
class HollowConfig:
    """What `kubelite hollow-nodes` was asked to simulate."""

    count: int
    kubeconfig: str | None = None
    context: str | None = None
    name_prefix: str = DEFAULT_NAME_PREFIX
    first_index: int = 0
    cpu: str = "32"
    memory: str = "256Gi"
    pods: int = DEFAULT_MAX_PODS
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)
    lease_duration_seconds: int = LEASE_DURATION_SECONDS
    # Concurrent heartbeat requests (connections) and concurrent pod status writers.
    heartbeat_concurrency: int = 8
    pod_workers: int = 16
    delete_on_exit: bool = False

    def capacity(self) -> dict[str, str]:
        return {
            "cpu": self.cpu,
            "memory": self.memory,
            "pods": str(self.pods),
            "ephemeral-storage": self.ephemeral_storage,
        }


def _architecture() -> str:
    machine = platform.machine().lower()
    return _ARCHITECTURES.get(machine, machine)


async def _kubelet_version(client: APIClient) -> str:
    """The API server's version: a kubelet is normally as recent as its control plane."""
    info = await client.version()
    return str(info.get("gitVersion") or "v0.0.0")


class HollowNodes:
    """The fleet, its pods, and the client they share."""

    def __init__(self, config: HollowConfig, client: APIClient, shape: NodeShape) -> None:
        self.config = config
        self.client = client
        self.nodes = [
            HollowNode.numbered(config.name_prefix, config.first_index + i, config.pods, index=i)
            for i in range(config.count)
        ]
        self.fleet = NodeFleet(
            client,
            self.nodes,
            shape,
            policy=HeartbeatPolicy(lease_duration_seconds=config.lease_duration_seconds),
            concurrency=config.heartbeat_concurrency,
        )
        self.pods = PodLifecycle(client, self.fleet.by_name, workers=config.pod_workers)

    async def run(self, on_ready: Callable[[], None] | None = None) -> None:
        """Register, then heartbeat and run pods until cancelled."""
        try:
            await self.fleet.register()
            log.info("registered %d hollow nodes", len(self.nodes))
            if on_ready is not None:
                on_ready()
            async with asyncio.TaskGroup() as group:
                group.create_task(self.fleet.run(), name="hollow-heartbeats")
                group.create_task(self.pods.run(), name="hollow-pods")
        except ExceptionGroup as failed:
            # The first failure is the one to report (the other task was cancelled for it).
            raise failed.exceptions[0] from failed
        finally:
            await self.fleet.stop()


async def serve(config: HollowConfig, on_ready: Callable[[], None] | None = None) -> None:
    """Run hollow nodes until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client = APIClient(
        load_config(kubeconfig=config.kubeconfig, context=config.context),
        user_agent="kubelite/0.1.0 (linux) hollow-nodes",
    )
    try:
        shape = NodeShape(
            capacity=config.capacity(),
            kubelet_version=await _kubelet_version(client),
            kernel_version=platform.release(),
            architecture=_architecture(),
            labels=dict(config.labels),
            taints=tuple(config.taints),
        )
        hollow = HollowNodes(config, client, shape)
        running = asyncio.create_task(hollow.run(on_ready), name="hollow-nodes")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([running, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not running.done():
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        else:
            running.result()  # a failure, raised here
        if config.delete_on_exit:
            await hollow.fleet.delete_all()
            log.info("deleted %d hollow nodes", len(hollow.nodes))
    finally:
        await client.close()
