"""The Node a kubelet registers and the status it reports, from its machine's facts (pure).

Shapes follow `pkg/kubelet/kubelet_node_status.go` (initialNode) and the setters of
`pkg/kubelet/nodestatus/setters.go`:

- capacity: cpu (cores), memory (MemTotal), ephemeral-storage (the filesystem of the kubelet's
  root), pods (--max-pods, 110), and each huge page size the kernel offers;
- allocatable: capacity less the hard eviction thresholds (`memory.available<100Mi`,
  `nodefs.available<10%`, pkg/kubelet/eviction/defaults_linux.go) and the huge pages reserved;
  kube-reserved and system-reserved are empty by default, as in Kubernetes;
- conditions in the kubelet's order, Ready last: MemoryPressure and DiskPressure from those
  same thresholds, PIDPressure (no default threshold, so never True here), then Ready, False with
  the runtime's problem while it has one. A condition's lastTransitionTime moves only when its
  status does; lastHeartbeatTime is the time of the report;
- declaredFeatures (NodeDeclaredFeatures, GA in 1.37): see `declared_features`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelite.api.conditions import transition_time
from kubelite.api.types import Obj
from kubelite.api.wellknown import DEFAULT_MAX_PODS, KUBELET_PORT
from kubelite.kubelet.node.declared_features import declared_features
from kubelite.kubelet.node.machine import MachineInfo, Usage

# Hard eviction defaults on Linux (pkg/kubelet/eviction/defaults_linux.go).
EVICTION_MEMORY_AVAILABLE = 100 * 1024 * 1024
EVICTION_NODEFS_AVAILABLE_PERCENT = 10

RUNTIME_NAME = "kubelite"

# (type, healthy status, healthy reason and message, unhealthy reason and message), in the
# order the kubelet writes them: Ready last (kubernetes#16961).
_PRESSURE_CONDITIONS = (
    (
        "MemoryPressure",
        ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ),
    (
        "DiskPressure",
        ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ),
    (
        "PIDPressure",
        ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ),
)
READY_REASON = "KubeletReady"
READY_MESSAGE = "kubelet is posting ready status"
NOT_READY_REASON = "KubeletNotReady"


@dataclass(frozen=True)
class NodeConfig:
    """What the kubelet's flags say about its node."""

    name: str
    internal_ip: str
    kubelet_version: str
    runtime_version: str
    pod_cidr: str = ""
    max_pods: int = DEFAULT_MAX_PODS
    kubelet_port: int = KUBELET_PORT
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[tuple[str, str, str], ...] = ()  # (key, value, effect)


def _quantity_bytes(value: int) -> str:
    """Bytes as the kubelet's resource.Quantity prints them: Ki when a whole number of them."""
    if value % 1024 == 0 and value:
        return f"{value // 1024}Ki"
    return str(value)


def capacity(machine: MachineInfo, max_pods: int = DEFAULT_MAX_PODS) -> dict[str, str]:
    resources = {
        "cpu": str(machine.num_cores),
        "memory": _quantity_bytes(machine.memory_bytes),
        "ephemeral-storage": _quantity_bytes(machine.filesystem_bytes),
        "pods": str(max_pods),
    }
    for size, pages in machine.hugepages.items():
        resources[f"hugepages-{_page_size_name(size)}"] = str(size * pages)
    return dict(sorted(resources.items()))


def allocatable(machine: MachineInfo, max_pods: int = DEFAULT_MAX_PODS) -> dict[str, str]:
    """Capacity less the hard eviction thresholds and the huge pages (kubelet
    `GetNodeAllocatableReservation` with empty kube- and system-reserved)."""
    resources = capacity(machine, max_pods)
    hugepage_bytes = sum(size * pages for size, pages in machine.hugepages.items())
    memory = max(machine.memory_bytes - EVICTION_MEMORY_AVAILABLE - hugepage_bytes, 0)
    resources["memory"] = _quantity_bytes(memory)
    # The percentage threshold is of capacity, rounded down as Quantity arithmetic does.
    storage_reserve = machine.filesystem_bytes * EVICTION_NODEFS_AVAILABLE_PERCENT // 100
    resources["ephemeral-storage"] = str(machine.filesystem_bytes - storage_reserve)
    return resources


def _page_size_name(size: int) -> str:
    """2097152 -> "2Mi", 1073741824 -> "1Gi": huge page resource names."""
    for unit, name in ((1 << 30, "Gi"), (1 << 20, "Mi"), (1 << 10, "Ki")):
        if size % unit == 0:
            return f"{size // unit}{name}"
    return str(size)


def pressures(usage: Usage) -> dict[str, bool]:
    """Which pressure conditions hold, by the eviction manager's default thresholds."""
    disk_floor = usage.filesystem_capacity_bytes * EVICTION_NODEFS_AVAILABLE_PERCENT // 100
    return {
        "MemoryPressure": usage.memory_available_bytes < EVICTION_MEMORY_AVAILABLE,
        "DiskPressure": usage.filesystem_available_bytes < disk_floor,
        "PIDPressure": False,
    }


def conditions(
    previous: list[Obj] | None,
    *,
    pressure: dict[str, bool],
    runtime_problem: str,
    now: str,
) -> list[Obj]:
    """The kubelet's conditions for this report, keeping each transition time while its
    status holds; conditions other components own (NetworkUnavailable) are left out: the
    status write merges by type and leaves them alone."""
    before = {c.get("type"): c for c in previous or ()}

    def condition(type_: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": transition_time(before.get(type_), status, now),
            "reason": reason,
            "message": message,
        }

    made = []
    for type_, healthy, unhealthy in _PRESSURE_CONDITIONS:
        under = pressure.get(type_, False)
        reason, message = unhealthy if under else healthy
        made.append(condition(type_, "True" if under else "False", reason, message))
    if runtime_problem:
        made.append(condition("Ready", "False", NOT_READY_REASON, runtime_problem))
    else:
        made.append(condition("Ready", "True", READY_REASON, READY_MESSAGE))
    return made


def conditions_changed(previous: list[Obj] | None, current: list[Obj]) -> bool:
    """Whether a report carries news beyond a heartbeat (status, reason or message)."""
    before = {c.get("type"): c for c in previous or ()}
    for made in current:
        old = before.get(made["type"])
        if old is None or any(old.get(k) != made[k] for k in ("status", "reason", "message")):
            return True
    return False


def node_labels(config: NodeConfig, machine: MachineInfo) -> dict[str, str]:
    """The labels a kubelet puts on its node (initialNode), then the configured ones."""
    labels = {
        "beta.kubernetes.io/arch": machine.architecture,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": machine.architecture,
        "kubernetes.io/hostname": config.name,
        "kubernetes.io/os": "linux",
    }
    labels.update(dict(config.labels))
    return labels


def node_status(
    config: NodeConfig,
    machine: MachineInfo,
    conditions_now: list[Obj],
    images: list[Obj] | None = None,
) -> Obj:
    status: Obj = {
        "capacity": capacity(machine, config.max_pods),
        "allocatable": allocatable(machine, config.max_pods),
        "conditions": conditions_now,
        "addresses": [
            {"type": "InternalIP", "address": config.internal_ip},
            {"type": "Hostname", "address": config.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": {
            "machineID": machine.machine_id,
            "systemUUID": machine.system_uuid,
            "bootID": machine.boot_id,
            "kernelVersion": machine.kernel_version,
            "osImage": machine.os_image,
            "containerRuntimeVersion": f"{RUNTIME_NAME}://{config.runtime_version}",
            "kubeletVersion": config.kubelet_version,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": machine.architecture,
        },
    }
    if images is not None:
        status["images"] = images
    if features := declared_features():
        status["declaredFeatures"] = features
    return status


def node_object(config: NodeConfig, machine: MachineInfo, conditions_now: list[Obj]) -> Obj:
    """The Node the kubelet POSTs when it registers."""
    spec: Obj = {}
    if config.pod_cidr:
        spec["podCIDR"] = config.pod_cidr
        spec["podCIDRs"] = [config.pod_cidr]
    if config.taints:
        spec["taints"] = [
            {"key": key, **({"value": value} if value else {}), "effect": effect}
            for key, value, effect in config.taints
        ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": config.name,
            "labels": node_labels(config, machine),
            "annotations": {
                # Every kubelet that leaves attach/detach to the controller (the default).
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": spec,
        "status": node_status(config, machine, conditions_now),
    }
