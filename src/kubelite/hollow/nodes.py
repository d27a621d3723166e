"""The objects a hollow node writes: its Node, its node status, and its Lease.

They have the shapes a real kubelet gives them (`pkg/kubelet/kubelet_node_status.go` and
`pkg/kubelet/nodestatus/setters.go`), so that the scheduler, `kubectl get nodes` and anything
else reading nodes cannot tell the difference by structure:

- labels `kubernetes.io/hostname`, `kubernetes.io/os`, `kubernetes.io/arch` and their `beta.`
  twins, `node.kubernetes.io/instance-type`;
- `status.capacity` and `status.allocatable` for cpu, memory, pods, ephemeral-storage and the
  hugepages sizes of the architecture (allocatable equals capacity: no system or kube reserved);
- the conditions in the kubelet's order, Ready last: MemoryPressure, DiskPressure and PIDPressure
  False (`KubeletHasSufficientMemory`, `KubeletHasNoDiskPressure`, `KubeletHasSufficientPID`),
  then Ready True (`KubeletReady`, "kubelet is posting ready status");
- `addresses` (InternalIP, Hostname), `daemonEndpoints.kubeletEndpoint.Port` 10250, `nodeInfo`.

They are also plainly simulated, and say so: the label and annotation `kubelite.io/hollow`, a
`kubelite-hollow://` provider ID and container runtime, and addresses from ranges no real
machine uses (node IPs from 198.18.0.0/15, the benchmarking range of RFC 2544; pod CIDRs from
100.64.0.0/10, the shared address space of RFC 6598). No taint marks them: a hollow node is a
node pods can land on, which is the point.

Everything here is pure: the I/O that writes these objects lives in `heartbeats.py`.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
import uuid
from dataclasses import dataclass, field

import orjson

from kubelite.api.types import Obj
from kubelite.api.wellknown import DEFAULT_MAX_PODS, KUBELET_PORT, NODE_LEASE_NAMESPACE

HOLLOW_LABEL = "kubelite.io/hollow"
HOLLOW_ANNOTATION = "kubelite.io/hollow"
HOLLOW_ANNOTATION_VALUE = "simulated by kubelite hollow-nodes: no kubelet, no containers"
INSTANCE_TYPE = "hollow"
PROVIDER_SCHEME = "kubelite-hollow://"
RUNTIME_NAME = "kubelite-hollow"
OS_IMAGE = "kubelite hollow node"


NODE_IP_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
POD_IP_RANGE = ipaddress.IPv4Network("100.64.0.0/10")

# The condition types a kubelet owns, with their healthy status, reason and message
# (nodestatus setters), in the order it writes them: Ready last (kubernetes#16961).
NODE_CONDITIONS = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)

# Every x86-64 and arm64 kubelet reports its hugepage sizes, zero when none are reserved.
_HUGEPAGES = {
    "amd64": ("hugepages-1Gi", "hugepages-2Mi"),
    "arm64": ("hugepages-1Gi", "hugepages-2Mi", "hugepages-32Mi", "hugepages-64Ki"),
}


@functools.lru_cache(maxsize=4)
def _second(epoch_second: int) -> str:
    # Thousands of stamps a second fall in the same second: format it once.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_second))


def rfc3339(epoch: float) -> str:
    """metav1.Time: seconds, UTC."""
    return _second(math.floor(epoch)) + "Z"


def rfc3339_micro(epoch: float) -> str:
    """metav1.MicroTime, the type of a Lease's renewTime: microseconds, UTC."""
    seconds = math.floor(epoch)
    micros = min(int((epoch - seconds) * 1_000_000), 999_999)
    return f"{_second(seconds)}.{micros:06d}Z"


@dataclass(frozen=True)
class NodeShape:
    """What every hollow node of one process has in common: its machine and its software."""

    capacity: dict[str, str]
    kubelet_version: str
    kernel_version: str
    architecture: str = "amd64"
    operating_system: str = "linux"
    runtime_version: str = "0.1.0"
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()

    @property
    def max_pods(self) -> int:
        return int(self.capacity.get("pods", DEFAULT_MAX_PODS))


def pod_cidr_prefix(max_pods: int) -> int:
    """The smallest block that gives every pod an address (network and broadcast aside):
    /24 for the kubelet's default of 110 pods, as the node IPAM controller would hand out."""
    return 32 - max(8, math.ceil(math.log2(max_pods + 2)))


def node_capacity_limit(max_pods: int) -> int:
    """How many hollow nodes the pod address range has room for at that pod density."""
    return min(
        POD_IP_RANGE.num_addresses >> (32 - pod_cidr_prefix(max_pods)),
        NODE_IP_RANGE.num_addresses - 2,
    )


@dataclass(slots=True)
class HollowNode:
    """One simulated node and what its kubelet remembers between heartbeats."""

    name: str
    # Position in the process's list of nodes: how the timer heap names the node.
    index: int
    internal_ip: str
    pod_cidr: ipaddress.IPv4Network
    uid: str = ""
    # lastTransitionTime of the conditions: when this node last became Ready.
    ready_since: str = ""
    # resourceVersion of the Lease as last written, for the next optimistic PUT.
    lease_version: str = ""
    lease: LeaseBody | None = None
    # Monotonic time of the last status write.
    last_report: float = 0.0
    active: bool = True

    @classmethod
    def numbered(
        cls, prefix: str, number: int, max_pods: int, *, index: int | None = None
    ) -> HollowNode:
        """Node `number` of a fleet: its name, node IP and pod CIDR all follow from the number,
        so that processes given different `--first-index` never share an address. `index` is
        its position among this process's nodes (the number by default)."""
        prefix_len = pod_cidr_prefix(max_pods)
        block = 1 << (32 - prefix_len)
        network = ipaddress.IPv4Network(
            (int(POD_IP_RANGE.network_address) + number * block, prefix_len)
        )
        return cls(
            name=f"{prefix}{number}",
            index=number if index is None else index,
            internal_ip=str(NODE_IP_RANGE.network_address + number + 1),
            pod_cidr=network,
        )


def machine_id(name: str) -> str:
    """A stable machine ID (32 hex digits, like /etc/machine-id) for a node name."""
    return uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.hollow.kubelite.io").hex


def node_conditions(since: str, heartbeat: str) -> list[Obj]:
    """The conditions of a healthy node, Ready last, as the kubelet's setters write them."""
    return [
        {
            "type": type_,
            "status": status,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }
        for type_, status, reason, message in NODE_CONDITIONS
    ]


def conditions_differ(current: list[Obj] | None) -> bool:
    """Whether a node's conditions are not what a healthy kubelet reports (heartbeat and
    transition times aside); conditions owned by others (NetworkUnavailable) are ignored."""
    by_type = {c.get("type"): c for c in current or ()}
    for type_, status, reason, message in NODE_CONDITIONS:
        found = by_type.get(type_)
        if found is None or (found.get("status"), found.get("reason"), found.get("message")) != (
            status,
            reason,
            message,
        ):
            return True
    return False


def ready_since(current: list[Obj] | None, default: str) -> str:
    """The transition time to keep: when the node became Ready, if it is Ready now."""
    for condition in current or ():
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return str(condition.get("lastTransitionTime") or default)
    return default


def node_labels(node: HollowNode, shape: NodeShape) -> dict[str, str]:
    """The labels a kubelet sets on its node (kubelet_node_status.go initialNode), the
    instance type a cloud provider would add, the hollow mark, then the caller's own."""
    labels = {
        "beta.kubernetes.io/arch": shape.architecture,
        "beta.kubernetes.io/os": shape.operating_system,
        "kubernetes.io/arch": shape.architecture,
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": shape.operating_system,
        "node.kubernetes.io/instance-type": INSTANCE_TYPE,
        HOLLOW_LABEL: "true",
    }
    labels.update(shape.labels)
    return labels


def node_annotations() -> dict[str, str]:
    return {
        HOLLOW_ANNOTATION: HOLLOW_ANNOTATION_VALUE,
        # Set by every kubelet that leaves attach/detach to the controller (the default).
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
    }


def node_resources(shape: NodeShape) -> dict[str, str]:
    """status.capacity (and allocatable, which equals it): the caller's figures and the
    architecture's hugepage sizes at zero."""
    resources = dict.fromkeys(_HUGEPAGES.get(shape.architecture, ()), "0")
    resources.update(shape.capacity)
    return dict(sorted(resources.items()))


def node_status(node: HollowNode, shape: NodeShape, now: str) -> Obj:
    """The whole status a kubelet reports for its node."""
    resources = node_resources(shape)
    return {
        "capacity": resources,
        "allocatable": dict(resources),
        "conditions": node_conditions(node.ready_since or now, now),
        "addresses": [
            {"type": "InternalIP", "address": node.internal_ip},
            {"type": "Hostname", "address": node.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": machine_id(node.name),
            "systemUUID": str(uuid.UUID(machine_id(node.name))),
            "bootID": shape.boot_id,
            "kernelVersion": shape.kernel_version,
            "osImage": OS_IMAGE,
            "containerRuntimeVersion": f"{RUNTIME_NAME}://{shape.runtime_version}",
            "kubeletVersion": shape.kubelet_version,
            # Deprecated and no longer filled in by kubelets since 1.31 (but still served).
            "kubeProxyVersion": "",
            "operatingSystem": shape.operating_system,
            "architecture": shape.architecture,
        },
    }


def node_object(node: HollowNode, shape: NodeShape, now: str) -> Obj:
    """The Node a hollow kubelet registers (POST /api/v1/nodes), status included."""
    spec: Obj = {
        "podCIDR": str(node.pod_cidr),
        "podCIDRs": [str(node.pod_cidr)],
        "providerID": f"{PROVIDER_SCHEME}{node.name}",
    }
    if shape.taints:
        spec["taints"] = [dict(t) for t in shape.taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node.name,
            "labels": node_labels(node, shape),
            "annotations": node_annotations(),
        },
        "spec": spec,
        "status": node_status(node, shape, now),
    }


def heartbeat_patch(node: HollowNode, now: str) -> bytes:
    """The periodic status write: the same conditions with a new lastHeartbeatTime, as a
    strategic merge patch of nodes/status (conditions merge by type, so conditions other
    components own are left alone, as the kubelet's own PatchNodeStatus does)."""
    return orjson.dumps({"status": {"conditions": node_conditions(node.ready_since, now)}})


class LeaseBody:
    """A node's Lease, encoded once: each renewal only splices in the resourceVersion it
    expects and the new renewTime, instead of building and encoding an object 500 times a
    second.

    The Lease is the one the kubelet's lease controller writes: named after the node, in
    kube-node-lease, holderIdentity the node name, leaseDurationSeconds 40, and owned by the
    Node (so that deleting the node takes its lease along).
    """

    _VERSION = "\x00version\x00"
    _RENEW = "\x00renew\x00"

    def __init__(self, node: HollowNode, duration_seconds: int) -> None:
        self.name = node.name
        template = lease_object(node, duration_seconds, self._RENEW)
        template["metadata"]["resourceVersion"] = self._VERSION
        encoded = orjson.dumps(template)
        head, rest = encoded.split(orjson.dumps(self._VERSION))
        middle, tail = rest.split(orjson.dumps(self._RENEW))
        self._parts = (head + b'"', b'"' + middle + b'"', b'"' + tail)

    def encode(self, resource_version: str, renew_time: str) -> bytes:
        """The PUT body: conditional on `resource_version`, renewed at `renew_time`."""
        head, middle, tail = self._parts
        return b"".join((head, resource_version.encode(), middle, renew_time.encode(), tail))


def lease_object(node: HollowNode, duration_seconds: int, renew_time: str) -> Obj:
    """A new node Lease (what the kubelet POSTs when it finds none)."""
    metadata: Obj = {"name": node.name, "namespace": NODE_LEASE_NAMESPACE}
    if node.uid:
        # The kubelet's setNodeOwnerFunc: the Node owns its Lease.
        metadata["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node.uid}
        ]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": node.name,
            "leaseDurationSeconds": duration_seconds,
            "renewTime": renew_time,
        },
    }
