"""A container status's `allocatedResources` and `resources` (in-place resize, GA in 1.35).

Kubernetes' kubelet writes, for each container it can resize (app containers and sidecars;
`convertToAPIContainerStatuses` in pkg/kubelet/kubelet_pods.go):

- `allocatedResources`: the requests it allocated the container (its spec's, unless a resize is
  pending);
- `resources`: the requests and limits the container actually runs with. For a container that
  is not running, its allocation (what it will be started with). For a running one, CPU limit
  and request and memory limit are read back from the runtime's cgroup settings (CFS quota,
  shares, memory limit); the memory request, which no cgroup setting holds, is the allocated one.
  When the runtime gives no value the previous status's is kept. A value the runtime reports
  exactly as the allocation converts is shown as the allocation writes it (1.5 stays `1500m`,
  and shares' rounding never shows).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

from kubelite.api.quantity import BINARY_SI, DECIMAL_SI, Quantity
from kubelite.api.types import Obj
from kubelite.kubelet import cpu_units as rc
from kubelite.runtime import cri


def shares_to_milli_cpu(shares: int) -> int:
    """sharesToMilliCPU (kuberuntime): 0 below the minimum shares, else rounded up."""
    if shares < rc.MIN_SHARES:
        return 0
    return math.ceil(shares * 1000 / rc.SHARES_PER_CPU)


def quota_to_milli_cpu(quota: int, period: int) -> int:
    """quotaToMilliCPU: 0 without a quota."""
    if quota <= 0 or period <= 0:
        return 0
    return quota * 1000 // period


def _milli(value: int) -> str:
    return Quantity(value, -3, DECIMAL_SI).canonical()


def _cpu_request(allocated: Obj, shares: int) -> str | None:
    milli = shares_to_milli_cpu(shares)
    if not milli:
        return None
    want = (allocated.get("requests") or {}).get("cpu")
    if (
        want is not None
        and rc.milli_cpu_to_shares(Quantity.from_json(want).milli_value()) == shares
    ):
        return str(want)
    return _milli(milli)


def _cpu_limit(allocated: Obj, quota: int, period: int) -> str | None:
    milli = quota_to_milli_cpu(quota, period)
    if not milli:
        return None
    want = (allocated.get("limits") or {}).get("cpu")
    if want is not None and rc.milli_cpu_to_quota(Quantity.from_json(want).milli_value()) == quota:
        return str(want)
    return _milli(milli)


def _memory_limit(allocated: Obj, limit: int) -> str | None:
    if limit <= 0:
        return None
    want = (allocated.get("limits") or {}).get("memory")
    if want is not None and Quantity.from_json(want).value() == limit:
        return str(want)
    return Quantity(limit, 0, BINARY_SI).canonical()


def status_resources(
    allocated: Obj,
    current: cri.ContainerStatus | None,
    old: Obj | None,
) -> Obj:
    """convertContainerStatusResources: what the container runs with, as the status says."""
    if current is None or current.state is not cri.ContainerState.CONTAINER_RUNNING:
        return copy.deepcopy(allocated)
    old_resources = (old or {}).get("resources") or {}
    same_instance = (
        old is not None
        and "running" in (old.get("state") or {})
        and str(old.get("containerID", "")).endswith(current.id)
    )
    runtime = current.resources

    def keep(kind: str, name: str, into: Obj) -> None:
        if same_instance and name in (old_resources.get(kind) or {}):
            into[name] = old_resources[kind][name]

    result: Obj = {}
    allocated_limits = allocated.get("limits") or {}
    if allocated_limits:
        limits: Obj = {}
        cpu = _cpu_limit(allocated, runtime.cpu_quota, runtime.cpu_period) if runtime else None
        if cpu is not None:
            limits["cpu"] = cpu
        else:
            keep("limits", "cpu", limits)
        memory = _memory_limit(allocated, runtime.memory_limit_in_bytes) if runtime else None
        if memory is not None:
            limits["memory"] = memory
        else:
            keep("limits", "memory", limits)
        for name, value in allocated_limits.items():
            if name not in ("cpu", "memory"):
                limits[name] = value
        result["limits"] = limits
    allocated_requests = allocated.get("requests") or {}
    if allocated_requests:
        requests: Obj = {}
        cpu = _cpu_request(allocated, runtime.cpu_shares) if runtime else None
        if cpu is not None:
            requests["cpu"] = cpu
        else:
            keep("requests", "cpu", requests)
        for name, value in allocated_requests.items():
            if name != "cpu":
                requests[name] = value
        result["requests"] = requests
    return result


def apply_resources(
    statuses: list[Obj],
    allocated: Mapping[str, Obj],
    current: Mapping[str, cri.ContainerStatus | None],
    old_statuses: list[Obj],
) -> None:
    """Set allocatedResources and resources on the statuses of the containers that have an
    allocation (the others, plain init and ephemeral containers, get neither)."""
    old_by_name = {s.get("name"): s for s in old_statuses}
    for status in statuses:
        name = status.get("name", "")
        allocation = allocated.get(name)
        if allocation is None:
            continue
        mounts = status.pop("volumeMounts", None)
        requests = allocation.get("requests")
        if requests:
            status["allocatedResources"] = copy.deepcopy(requests)
        status["resources"] = status_resources(allocation, current.get(name), old_by_name.get(name))
        if mounts is not None:
            status["volumeMounts"] = mounts
