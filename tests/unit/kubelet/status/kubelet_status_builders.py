"""Builders shared by the pod status tests: pods, runtime containers and sandboxes in a line.

Times are whole seconds after T0 (2023-11-14T22:13:20Z), so expected JSON reads plainly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from kubelite.kubelet.status import ContainerRuntimeState, PodRuntimeState
from kubelite.runtime import cri

T0 = 1_700_000_000
NOW = dt.datetime.fromtimestamp(T0 + 1000, dt.UTC)
NOW_TEXT = "2023-11-14T22:30:00Z"
EARLIER_TEXT = "2023-11-14T22:00:00Z"
UID = "6f1e2d3c-0000-4000-8000-000000000001"


def at(seconds: int) -> str:
    """The API text of T0 + seconds."""
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ns(seconds: int) -> int:
    return (T0 + seconds) * 1_000_000_000


def pod(
    containers: list[str | dict[str, Any]],
    *,
    init: Sequence[str | dict[str, Any]] = (),
    sidecars: Sequence[str] = (),
    restart_policy: str = "Always",
    status: dict[str, Any] | None = None,
    deleted: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    """A pod named web in default; containers are names (image busybox) or whole specs.

    `sidecars` are init containers with restartPolicy Always, placed after `init`.
    """

    def container(c: str | dict[str, Any]) -> dict[str, Any]:
        return {"name": c, "image": "busybox"} if isinstance(c, str) else c

    init_containers = [container(c) for c in init]
    init_containers += [
        {"name": s, "image": "busybox", "restartPolicy": "Always"} for s in sidecars
    ]
    body: dict[str, Any] = {
        "containers": [container(c) for c in containers],
        "restartPolicy": restart_policy,
        **spec,
    }
    if init_containers:
        body["initContainers"] = init_containers
    metadata: dict[str, Any] = {"name": "web", "namespace": "default", "uid": UID}
    if deleted:
        metadata["deletionTimestamp"] = NOW_TEXT
    result: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}
    result["spec"] = body
    result["status"] = status if status is not None else {"phase": "Pending"}
    return result


def running(
    name: str, *, started: int = 10, attempt: int = 0, cid: str = ""
) -> cri.ContainerStatus:
    return cri.ContainerStatus(
        id=cid or f"{name}-{attempt}",
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        state=cri.ContainerState.CONTAINER_RUNNING,
        created_at=ns(started - 1),
        started_at=ns(started),
        image="docker.io/library/busybox:latest",
        image_ref="sha256:" + "b" * 64,
    )


def exited(
    name: str,
    exit_code: int = 0,
    *,
    started: int = 10,
    finished: int = 20,
    attempt: int = 0,
    reason: str = "",
    message: str = "",
) -> cri.ContainerStatus:
    return cri.ContainerStatus(
        id=f"{name}-{attempt}",
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        state=cri.ContainerState.CONTAINER_EXITED,
        created_at=ns(started - 1),
        started_at=ns(started),
        finished_at=ns(finished),
        exit_code=exit_code,
        image="docker.io/library/busybox:latest",
        image_ref="sha256:" + "b" * 64,
        reason=reason,
        message=message,
    )


def created(name: str, *, attempt: int = 0) -> cri.ContainerStatus:
    return cri.ContainerStatus(
        id=f"{name}-{attempt}",
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        state=cri.ContainerState.CONTAINER_CREATED,
        created_at=ns(5),
        image_ref="sha256:" + "b" * 64,
    )


def unknown(name: str, *, attempt: int = 0) -> cri.ContainerStatus:
    return cri.ContainerStatus(
        id=f"{name}-{attempt}",
        metadata=cri.ContainerMetadata(name=name, attempt=attempt),
        state=cri.ContainerState.CONTAINER_UNKNOWN,
        created_at=ns(5),
    )


def sandbox(
    *, ready: bool = True, ip: str = "10.88.0.5", extra: Sequence[str] = ()
) -> cri.PodSandboxStatus:
    return cri.PodSandboxStatus(
        id="sandbox-1",
        metadata=cri.PodSandboxMetadata(name="web", uid=UID, namespace="default"),
        state=cri.PodSandboxState.SANDBOX_READY if ready else cri.PodSandboxState.SANDBOX_NOTREADY,
        created_at=ns(1),
        ip=ip,
        additional_ips=list(extra),
    )


def observed(
    containers: dict[str, ContainerRuntimeState | cri.ContainerStatus] | None = None,
    *,
    sandbox_ready: bool | None = True,
    host_ips: tuple[str, ...] = ("192.168.1.10",),
    **kwargs: Any,
) -> PodRuntimeState:
    """A PodRuntimeState; a bare ContainerStatus stands for a container with only that run."""
    states = {
        name: value if isinstance(value, ContainerRuntimeState) else ContainerRuntimeState(value)
        for name, value in (containers or {}).items()
    }
    sandboxes = () if sandbox_ready is None else (sandbox(ready=sandbox_ready),)
    return PodRuntimeState(
        containers=states,
        sandboxes=sandboxes,
        host_ips=host_ips,
        runtime_name="containerd",
        **kwargs,
    )
