"""Carrying out an in-place resize: the pod's cgroup and its containers', in a safe order.

Kubernetes' `doPodResizeAction` (kuberuntime_manager.go) resizes memory, then CPU; for each:

1. the pod's cgroup limit first if it grows, then its request (CPU shares) if that grows;
2. the containers listed for that resource, decreases first (`UpdateContainerResources`, with
   the other resource kept at what the container runs with, so each call changes one thing);
3. the pod's request if it shrinks, then its limit if that shrinks.

Limits grow before and shrink after requests, keeping requests within limits at every step; the
pod grows before its containers and shrinks after them, so that a container is never allowed more
than its pod (the kernel refuses a child CFS quota above its parent's).

A memory limit is never lowered below what the pod or the container uses now (a best-effort
check, as the kubelet's: usage can grow between the check and the write): the resize stops with
an error, reported as the PodResizeInProgress condition's reason Error, and is tried again on the
next sync. Each container update that succeeds is recorded as actuated at once, so a resize cut
short is resumed where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kubelite.api import pods as podutil
from kubelite.api.types import Obj
from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet.pod_cgroups import UNLIMITED, PodCgroups, PodResourceConfig
from kubelite.kubelet.pod_cgroups import pod_resource_config as pod_config
from kubelite.kubelet.resize_actions import ContainerResize, ResizeActions, memory_limit_of
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import LinuxContainerResources, RuntimeService

log = logging.getLogger(__name__)

# Records what a container now runs with: (pod, container name, resources).
ActuatedRecorder = Callable[[Obj, str, Obj], None]
# Looks up what a container last ran with: (pod uid, container name) -> resources or None.
ActuatedLookup = Callable[[str, str], Obj | None]


class ResizeError(Exception):
    """The resize could not be carried out; the message is the condition's."""


def pod_memory_limit_below_usage(pod: Obj) -> str:
    """The kubelet's error for a pod limit below the pod's memory usage."""
    return (
        "aborting attempt to set pod memory limit less than current memory usage for pod "
        + pod["metadata"]["name"]
    )


def container_memory_limit_below_usage(name: str) -> str:
    """kubelite's words for the same check on one container's limit."""
    return f"aborting attempt to set container {name} memory limit less than current memory usage"


@dataclass
class ResizeActuator:
    """doPodResizeAction for the pods of one node."""

    runtime: RuntimeService
    cgroups: PodCgroups
    memory_capacity: int
    record_actuated: ActuatedRecorder
    actuated: ActuatedLookup

    async def actuate(self, pod: Obj, cgroup: str, actions: ResizeActions) -> None:
        """Resize `pod` (as allocated) whose cgroup is `cgroup`. Raises ResizeError."""
        current = self.cgroups.read(cgroup)
        desired = pod_config(pod)
        # What each container runs with, moved on as each resource is updated.
        running = {u.name: u.current for updates in actions.updates.values() for u in updates}
        for resource in ("memory", "cpu"):
            updates = actions.updates.get(resource, [])
            if not updates and not actions.update_pod_resources:
                continue
            await self._resize(pod, cgroup, resource, current, desired, updates, running)

    async def _resize(
        self,
        pod: Obj,
        cgroup: str,
        resource: str,
        current: PodResourceConfig | None,
        desired: PodResourceConfig,
        updates: list[ContainerResize],
        running: dict[str, Obj],
    ) -> None:
        if resource == "memory":
            limit_now = current.memory_limit if current else None
            limit_new = desired.memory_limit
            request_now = request_new = None
        else:
            limit_now = current.cpu_quota if current else None
            limit_new = desired.cpu_quota
            request_now = current.cpu_shares if current else None
            request_new = desired.cpu_shares
        limit_grows = _grows(limit_now, limit_new)
        limit_shrinks = _grows(limit_new, limit_now)
        if resource == "memory" and limit_shrinks and limit_new is not None:
            usage = self.cgroups.memory_usage(cgroup)
            if usage is not None and usage >= limit_new:
                raise ResizeError(pod_memory_limit_below_usage(pod))
        if limit_grows:
            self._set_pod(cgroup, resource, limit=limit_new)
        if request_now is not None and request_new is not None and request_new > request_now:
            self._set_pod(cgroup, resource, shares=request_new)
        for update in updates:
            await self._update_container(pod, cgroup, resource, update, running)
        if request_now is not None and request_new is not None and request_new < request_now:
            self._set_pod(cgroup, resource, shares=request_new)
        if limit_shrinks:
            self._set_pod(cgroup, resource, limit=limit_new)

    def _set_pod(
        self, cgroup: str, resource: str, *, limit: int | None = None, shares: int | None = None
    ) -> None:
        if resource == "memory":
            config = PodResourceConfig(memory_limit=limit)
        elif limit is not None:
            config = PodResourceConfig(cpu_quota=limit, cpu_period=rc.QUOTA_PERIOD)
        else:
            config = PodResourceConfig(cpu_shares=shares)
        try:
            self.cgroups.write(cgroup, config)
        except OSError as e:
            raise ResizeError(str(e)) from e

    async def _update_container(
        self,
        pod: Obj,
        cgroup: str,
        resource: str,
        update: ContainerResize,
        running: dict[str, Obj],
    ) -> None:
        """updatePodContainerResources for one container and one resource."""
        container = _spec(pod, update.name)
        now = running[update.name]
        # The resource being resized at its new value, the other at what the container has.
        mixed: Obj = {"requests": {}, "limits": {}}
        for kind in ("requests", "limits"):
            for name in ("cpu", "memory"):
                source = update.desired if name == resource else now
                value = (source.get(kind) or {}).get(name)
                if value is not None:
                    mixed[kind][name] = value
        for kind in ("requests", "limits"):
            if not mixed[kind]:
                del mixed[kind]
        wanted = rc.container_resources(
            pod, {**container, "resources": mixed}, self.memory_capacity
        )
        if resource == "memory":
            self._check_container_memory(cgroup, update, now, wanted)
        try:
            await self.runtime.update_container_resources(update.container_id, wanted)
        except runtime_errors.RuntimeFailure as e:
            raise ResizeError(str(e)) from e
        self.record_actuated(pod, update.name, mixed)
        running[update.name] = mixed

    def _check_container_memory(
        self, cgroup: str, update: ContainerResize, now: Obj, wanted: LinuxContainerResources
    ) -> None:
        limit = wanted.memory_limit_in_bytes
        before = memory_limit_of(now)
        if not limit or (before and limit >= before):
            return
        usage = self.cgroups.memory_usage(f"{cgroup.rstrip('/')}/{update.container_id}")
        if usage is not None and usage >= limit:
            raise ResizeError(container_memory_limit_below_usage(update.name))


def _grows(before: int | None, after: int | None) -> bool:
    """Whether a limit goes up (-1, no limit, is the largest); unknown values never move."""
    if before is None or after is None or before == after:
        return False
    if after == UNLIMITED:
        return True
    if before == UNLIMITED:
        return False
    return after > before


def _spec(pod: Obj, name: str) -> Obj:
    for container in podutil.all_containers(podutil.spec_of(pod)):
        if container.get("name") == name:
            return container
    raise KeyError(name)
