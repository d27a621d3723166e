"""The pod-level cgroup's limits, which the kubelet sets itself (its pod container manager).

Kubernetes' kubelet gives every pod a cgroup (`kubepods/<qos>/pod<uid>`) sized from all of
its containers (`ResourceConfigForPod`, pkg/kubelet/cm/helpers_linux.go):

- Guaranteed: cpu shares from the pod's CPU requests, a CFS quota from its CPU limits, and a
  memory limit from its memory limits;
- Burstable: the shares, and the quota (memory limit) only when every container limits CPU
  (memory);
- BestEffort: the smallest shares (2), nothing else.

kubelite's runtime makes the pod's cgroup directories with the sandbox; the kubelet writes these
settings into them on the cgroup v1 hierarchies (`cpu.shares`, `cpu.cfs_quota_us`,
`cpu.cfs_period_us`, `memory.limit_in_bytes`; -1 is "no limit") right after, and again when an
in-place resize changes the pod's allocation. A child's CFS quota may not exceed its parent's
(the kernel refuses it), which is why a resize grows the pod's limits before its containers'
and shrinks them after.

It also reads a container's memory use (`memory.usage_in_bytes`), for the check that keeps a
memory limit from being set below it.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from kubelite.api import pods as podutil
from kubelite.api.podlevel import is_pod_level_resources_set, pod_level
from kubelite.api.podresources import pod_limits, pod_requests
from kubelite.api.qos import BURSTABLE, GUARANTEED, qos_class
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.kubelet import cpu_units

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = -1


class PodCgroupError(OSError):
    """The kernel refused a pod cgroup setting."""


@dataclass(frozen=True, slots=True)
class PodResourceConfig:
    """ResourceConfig of a pod's cgroup; None leaves a setting as it is."""

    cpu_shares: int | None = None
    cpu_quota: int | None = None  # microseconds per period, -1 for none
    cpu_period: int | None = None
    memory_limit: int | None = None  # bytes, -1 for none


def _all_containers_limit(pod: Obj, resource: str) -> bool:
    spec = podutil.spec_of(pod)
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    for container in containers:
        limit = ((container.get("resources") or {}).get("limits") or {}).get(resource)
        if limit is None or Quantity.from_json(limit).sign() <= 0:
            return False
    return True


def _pod_level_limit(pod: Obj, resource: str) -> bool:
    """Whether the pod limits `resource` itself (pod-level resources, KEP-2837)."""
    limit = pod_level(pod, "limits").get(resource) if is_pod_level_resources_set(pod) else None
    return limit is not None and Quantity.from_json(limit).sign() > 0


def pod_resource_config(pod: Obj) -> PodResourceConfig:
    """ResourceConfigForPod of the pod as allocated (its QoS class is the one it was made
    with)."""
    requests = pod_requests(pod)
    limits = pod_limits(pod)
    cpu_request = requests["cpu"].milli_value() if "cpu" in requests else 0
    cpu_limit = limits["cpu"].milli_value() if "cpu" in limits else 0
    memory_limit = limits["memory"].value() if "memory" in limits else 0
    shares = cpu_units.milli_cpu_to_shares(cpu_request)
    quota = cpu_units.milli_cpu_to_quota(cpu_limit) or UNLIMITED
    qos = qos_class(pod)
    if qos == GUARANTEED:
        return PodResourceConfig(shares, quota, cpu_units.QUOTA_PERIOD, memory_limit or UNLIMITED)
    if qos == BURSTABLE:
        # A limit the pod sets for itself (spec.resources) bounds every container.
        cpu_limited = _all_containers_limit(pod, "cpu") or _pod_level_limit(pod, "cpu")
        memory_limited = _all_containers_limit(pod, "memory") or _pod_level_limit(pod, "memory")
        return PodResourceConfig(
            cpu_shares=shares,
            cpu_quota=quota if cpu_limited else UNLIMITED,
            cpu_period=cpu_units.QUOTA_PERIOD,
            memory_limit=memory_limit if memory_limited else UNLIMITED,
        )
    return PodResourceConfig(cpu_shares=cpu_units.MIN_SHARES)


class PodCgroups:
    """The pod cgroups of one node on the cgroup v1 hierarchies under `root`."""

    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        self.root = root

    def _dir(self, controller: str, cgroup: str) -> Path:
        return self.root / controller / cgroup.lstrip("/")

    def exists(self, cgroup: str) -> bool:
        return self._dir("cpu", cgroup).is_dir() and self._dir("memory", cgroup).is_dir()

    def read(self, cgroup: str) -> PodResourceConfig | None:
        """The pod cgroup's settings (GetPodCgroupConfig), None when it has no cgroup here."""
        if not self.exists(cgroup):
            return None
        cpu, memory = self._dir("cpu", cgroup), self._dir("memory", cgroup)
        limit = int((memory / "memory.limit_in_bytes").read_text())
        # The kernel shows "no limit" as the largest page-aligned value.
        return PodResourceConfig(
            cpu_shares=int((cpu / "cpu.shares").read_text()),
            cpu_quota=int((cpu / "cpu.cfs_quota_us").read_text()),
            cpu_period=int((cpu / "cpu.cfs_period_us").read_text()),
            memory_limit=UNLIMITED if limit >= 1 << 62 else limit,
        )

    def write(self, cgroup: str, config: PodResourceConfig) -> None:
        """SetPodCgroupConfig: the settings `config` gives, in an order the kernel takes (the
        period before a quota measured in it). Raises PodCgroupError."""
        if not self.exists(cgroup):
            return
        cpu, memory = self._dir("cpu", cgroup), self._dir("memory", cgroup)
        writes: list[tuple[Path, int]] = []
        if config.cpu_period is not None:
            writes.append((cpu / "cpu.cfs_period_us", config.cpu_period))
        if config.cpu_quota is not None:
            writes.append((cpu / "cpu.cfs_quota_us", config.cpu_quota))
        if config.cpu_shares is not None:
            writes.append((cpu / "cpu.shares", config.cpu_shares))
        if config.memory_limit is not None:
            writes.append((memory / "memory.limit_in_bytes", config.memory_limit))
        for path, value in writes:
            try:
                path.write_text(str(value))
            except OSError as e:
                raise PodCgroupError(
                    e.errno, f"setting {path.name} of pod cgroup {cgroup} to {value}: {e.strerror}"
                ) from e

    def memory_usage(self, cgroup: str) -> int | None:
        """The memory a cgroup (a container's, or a pod's) uses now, None if unknown."""
        with contextlib.suppress(OSError, ValueError):
            return int((self._dir("memory", cgroup) / "memory.usage_in_bytes").read_text())
        return None


def apply_pod_config(cgroups: PodCgroups, pod: Obj, cgroup: str) -> None:
    """Size a new pod's cgroup; a failure is logged, the pod runs on without pod-level limits
    (its containers keep their own)."""
    try:
        cgroups.write(cgroup, pod_resource_config(pod))
    except OSError as e:
        log.warning("pod %s: %s", pod["metadata"].get("name"), e)
