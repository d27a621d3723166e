"""A pod status's own `resources` and `allocatedResources` (PodStatus fields of 1.35's
InPlacePodLevelResourcesVerticalScaling, beta and on since 1.36).

Kubernetes 1.37's kubelet writes both for every pod it reports, pod-level resources or not
(`convertStatusToAPIStatus` in pkg/kubelet/kubelet_pods.go, under the feature gate alone):

- `allocatedResources`: PodRequests of the pod as allocated: the pod's own requests where it
  sets them, its containers' otherwise, the overhead added (left out when empty, as for a
  BestEffort pod);
- `resources` (convertToAPIPodLevelResourcesStatus): while the pod's phase (as the API server
  has it) is not Running, what it was allocated: `requests` PodRequests, `limits` PodLimits.
  Once Running, the pod's own `spec.resources` with what its cgroup holds laid over them:
  the CPU request from `cpu.shares`, the CPU limit from the CFS quota, the memory limit from
  `memory.limit_in_bytes` (a value at or below the kernel's floor is not shown when the
  allocation is at or below it too: 2m of CPU request, 10m of CPU limit). What the cgroup
  cannot say is kept from the previous status (the pod still Running), else taken from the
  spec with the overhead added. A memory request no cgroup setting holds: the pod's own
  (allocated) one, else the containers' PodRequests.

One difference from Kubernetes, on purpose: Kubernetes keeps the *previous* status's memory
request whenever the pod sets one itself, so a resize of the pod's memory request never shows
in `status.resources` while the pod runs; kubelite shows the allocated request, as it does for
containers.

A value the cgroup reports exactly as the allocation converts is shown as the allocation writes
it, so that `200m` stays `200m` and shares' rounding never shows.
"""

from __future__ import annotations

import copy

from kubelite.api.podresources import pod_limits, pod_requests
from kubelite.api.quantity import BINARY_SI, DECIMAL_SI, Quantity
from kubelite.api.types import Obj
from kubelite.kubelet import cpu_units
from kubelite.kubelet.pod_cgroups import UNLIMITED, PodResourceConfig
from kubelite.kubelet.status.resources import quota_to_milli_cpu, shares_to_milli_cpu

RUNNING = "Running"
# cm.MinShares and cm.MinMilliCPULimit: the kernel's floors, in millicores.
MIN_MILLI_CPU_REQUEST = cpu_units.MIN_SHARES
MIN_MILLI_CPU_LIMIT = cpu_units.MIN_QUOTA * 1000 // cpu_units.QUOTA_PERIOD


def allocated_resources(allocated_pod: Obj) -> Obj:
    """status.allocatedResources: PodRequests of the allocated pod."""
    return {name: str(q) for name, q in sorted(pod_requests(allocated_pod).items())}


def _effective(allocated_pod: Obj) -> Obj:
    """getEffectiveAllocatedResources: the allocation's PodRequests and PodLimits."""
    resources: Obj = {}
    requests = allocated_resources(allocated_pod)
    limits = {name: str(q) for name, q in sorted(pod_limits(allocated_pod).items())}
    if limits:
        resources["limits"] = limits
    if requests:
        resources["requests"] = requests
    return resources


def status_resources(
    allocated_pod: Obj, cgroup: PodResourceConfig | None, old_status: Obj | None
) -> Obj:
    """status.resources of the allocated pod, its cgroup's settings (None: unknown) and the
    status the kubelet reported before."""
    if ((allocated_pod.get("status") or {}).get("phase")) != RUNNING:
        return _effective(allocated_pod)
    spec = allocated_pod.get("spec") or {}
    own: Obj = spec["resources"] if isinstance(spec.get("resources"), dict) else {}
    requests: Obj = dict(own.get("requests") or {})
    limits: Obj = dict(own.get("limits") or {})
    old = old_status or {}
    old_resources = old.get("resources") or {}
    old_running = old.get("phase") == RUNNING
    overhead = spec.get("overhead") or {}

    def keep(name: str, into: Obj, before: Obj, is_limit: bool) -> None:
        """preserveOldResourcesValue."""
        if old_running and name in before:
            into[name] = before[name]
            return
        if name in into and name in overhead:
            value = Quantity.from_json(into[name])
            if not is_limit or not value.is_zero():
                into[name] = str(value + Quantity.from_json(overhead[name]))

    cpu_request = _cpu_request(cgroup)
    if cgroup is not None and cpu_request:
        allocated = _milli(requests.get("cpu"))
        if cpu_request > MIN_MILLI_CPU_REQUEST or allocated > MIN_MILLI_CPU_REQUEST:
            as_set = cpu_units.milli_cpu_to_shares(allocated) == cgroup.cpu_shares
            requests["cpu"] = _shown(requests.get("cpu"), as_set, cpu_request)
    else:
        keep("cpu", requests, old_resources.get("requests") or {}, False)

    if "memory" not in requests:
        total = pod_requests(allocated_pod).get("memory")
        if total is not None:
            requests["memory"] = str(total)
    elif "memory" in overhead:
        requests["memory"] = str(
            Quantity.from_json(requests["memory"]) + Quantity.from_json(overhead["memory"])
        )

    cpu_limit = _cpu_limit(cgroup)
    if cgroup is not None and cpu_limit:
        allocated = _milli(limits.get("cpu"))
        if cpu_limit > MIN_MILLI_CPU_LIMIT or allocated > MIN_MILLI_CPU_LIMIT:
            as_set = cpu_units.milli_cpu_to_quota(allocated) == cgroup.cpu_quota
            limits["cpu"] = _shown(limits.get("cpu"), as_set, cpu_limit)
    else:
        keep("cpu", limits, old_resources.get("limits") or {}, True)

    memory_limit = _memory_limit(cgroup)
    if memory_limit:
        allocated_memory = limits.get("memory")
        same = (
            allocated_memory is not None
            and Quantity.from_json(allocated_memory).value() == memory_limit
        )
        limits["memory"] = (
            allocated_memory if same else Quantity(memory_limit, 0, BINARY_SI).canonical()
        )
    else:
        keep("memory", limits, old_resources.get("limits") or {}, True)

    resources: Obj = {}
    if limits:
        resources["limits"] = limits
    if requests:
        resources["requests"] = requests
    if own.get("claims"):
        resources["claims"] = copy.deepcopy(own["claims"])
    return resources


def _shown(allocated: object, as_set: bool, reported_milli: int) -> object:
    """The allocation as written when the cgroup holds exactly what it converts to, else what
    the cgroup reports."""
    if allocated is not None and as_set:
        return allocated
    return Quantity(reported_milli, -3, DECIMAL_SI).canonical()


def _milli(value: object) -> int:
    return Quantity.from_json(value).milli_value() if value is not None else 0


def _cpu_request(cgroup: PodResourceConfig | None) -> int:
    """CPURequestsFromConfig, in millicores (0: none)."""
    if cgroup is None or not cgroup.cpu_shares or cgroup.cpu_shares <= 0:
        return 0
    return shares_to_milli_cpu(cgroup.cpu_shares)


def _cpu_limit(cgroup: PodResourceConfig | None) -> int:
    """CPULimitsFromConfig, in millicores (0: none)."""
    if cgroup is None or not cgroup.cpu_period or cgroup.cpu_quota is None:
        return 0
    return quota_to_milli_cpu(cgroup.cpu_quota, cgroup.cpu_period)


def _memory_limit(cgroup: PodResourceConfig | None) -> int:
    """MemoryLimitsFromConfig, in bytes (0: none; cgroup v1's "no limit" is none too)."""
    if cgroup is None or cgroup.memory_limit is None or cgroup.memory_limit == UNLIMITED:
        return 0
    return max(cgroup.memory_limit, 0)
