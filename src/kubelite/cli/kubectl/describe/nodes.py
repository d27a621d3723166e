"""The text of `kubectl describe node` (describeNode): roles, taints, the Lease, conditions,
capacity, and what the node's pods request of it (resourcehelper.PodRequestsAndLimits).
"""

from __future__ import annotations

import datetime as dt

from kubelite.api import meta, podresources
from kubelite.api.quantity import Quantity
from kubelite.cli.kubectl.describe.events import describe_events
from kubelite.cli.kubectl.describe.printing import (
    NONE,
    Obj,
    PrefixWriter,
    go_value,
    metadata_labels,
    multiline,
    rfc1123z,
    since,
)

NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def taint_text(taint: Obj) -> str:
    """Taint.ToString: `key=value:Effect`."""
    key, value, effect = taint.get("key", ""), taint.get("value", ""), taint.get("effect", "")
    if not effect:
        return f"{key}={value}:" if value else key
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def taints_multiline(w: PrefixWriter, title: str, taints: list[Obj]) -> None:
    ordered = sorted(taints, key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    multiline(w, title, [taint_text(taint) for taint in ordered])


def node_roles(node: Obj) -> list[str]:
    """findNodeRoles: from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels."""
    roles: set[str] = set()
    for key, value in meta.labels_of(node).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX) :]:
            roles.add(key[len(NODE_ROLE_PREFIX) :])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _percent(part: Quantity, whole: Quantity | None, milli: bool) -> int:
    if whole is None:
        return 0
    denominator = whole.milli_value() if milli else whole.value()
    if denominator == 0:
        return 0
    numerator = part.milli_value() if milli else part.value()
    return int(numerator / denominator * 100)


def _node_resources(w: PrefixWriter, node: Obj, pods: list[Obj], now: dt.datetime) -> None:
    """describeNodeResource: the pods on the node and what they request of it."""
    status = node.get("status") or {}
    allocatable = {
        name: Quantity.from_json(raw)
        for name, raw in (status.get("allocatable") or status.get("capacity") or {}).items()
    }
    zero = Quantity.from_json("0")
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    for pod in pods:
        pod_requests, pod_limits = podresources.pod_requests(pod), podresources.pod_limits(pod)
        cells = []
        for values, name, milli in (
            (pod_requests, "cpu", True),
            (pod_limits, "cpu", True),
            (pod_requests, "memory", False),
            (pod_limits, "memory", False),
        ):
            quantity = values.get(name, zero)
            cells.append(f"{quantity} ({_percent(quantity, allocatable.get(name), milli)}%)")
        age = since(meta.get_path(pod, "metadata", "creationTimestamp"), now)
        w.write(
            1,
            f"{meta.namespace_of(pod)}\t{meta.name_of(pod)}\t\t{cells[0]}\t{cells[1]}\t{cells[2]}\t"
            f"{cells[3]}\t{age}\n",
        )
    w.write(
        0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n"
    )
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    for pod in pods:
        pod_requests, pod_limits = podresources.pod_requests(pod), podresources.pod_limits(pod)
        for name, quantity in pod_requests.items():
            requests[name] = requests[name] + quantity if name in requests else quantity
        for name, quantity in pod_limits.items():
            limits[name] = limits[name] + quantity if name in limits else quantity
    for name, milli in (("cpu", True), ("memory", False), ("ephemeral-storage", False)):
        req, lim = requests.get(name, zero), limits.get(name, zero)
        w.write(
            1,
            f"{name}\t{req} ({_percent(req, allocatable.get(name), milli)}%)\t"
            f"{lim} ({_percent(lim, allocatable.get(name), milli)}%)\n",
        )
    standard = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}
    for name in sorted(n for n in allocatable if n.startswith("hugepages-")):
        req, lim = requests.get(name, zero), limits.get(name, zero)
        w.write(
            1,
            f"{name}\t{req} ({_percent(req, allocatable[name], False)}%)\t"
            f"{lim} ({_percent(lim, allocatable[name], False)}%)\n",
        )
    for name in sorted(
        n for n in allocatable if n not in standard and not n.startswith("hugepages-")
    ):
        w.write(1, f"{name}\t{requests.get(name, zero)}\t{limits.get(name, zero)}\n")


def describe_node(
    node: Obj, pods: list[Obj], events: list[Obj] | None, lease: Obj | str, now: dt.datetime
) -> str:
    """describeNode; `lease` is the node's Lease, or the error that fetching it gave."""
    w = PrefixWriter()
    metadata = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    w.write(0, f"Name:\t{metadata.get('name', '')}\n")
    w.write(0, f"Roles:\t{','.join(node_roles(node)) or NONE}\n")
    metadata_labels(w, node)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(metadata.get('creationTimestamp'))}\n")
    taints_multiline(w, "Taints", spec.get("taints") or [])
    w.write(0, f"Unschedulable:\t{go_value(bool(spec.get('unschedulable')))}\n")
    if isinstance(lease, str):
        w.write(0, f"Lease:\tFailed to get lease: {lease}\n")
    else:
        lease_spec = lease.get("spec") or {}
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lease_spec.get('holderIdentity') or '<unset>'}\n")
        for key, title in (("acquireTime", "AcquireTime"), ("renewTime", "RenewTime")):
            value = rfc1123z(lease_spec[key]) if lease_spec.get(key) else "<unset>"
            w.write(1, f"{title}:\t{value}\n")
    conditions = status.get("conditions") or []
    if conditions:
        w.write(
            0,
            "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
        )
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(
                1,
                f"{c.get('type', '')} \t{c.get('status', '')} \t"
                f"{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t"
                f"{c.get('message', '')}\n",
            )
    w.write(0, "Addresses:\n")
    for address in status.get("addresses") or []:
        w.write(1, f"{address.get('type', '')}:\t{address.get('address', '')}\n")
    for key, title in (("capacity", "Capacity"), ("allocatable", "Allocatable")):
        values = status.get(key) or {}
        if values:
            w.write(0, f"{title}:\n")
            for name in sorted(values):
                w.write(0, f"  {name}:\t{Quantity.from_json(values[name])}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for key, title in (
        ("machineID", "Machine ID"),
        ("systemUUID", "System UUID"),
        ("bootID", "Boot ID"),
        ("kernelVersion", "Kernel Version"),
        ("osImage", "OS Image"),
        ("operatingSystem", "Operating System"),
        ("architecture", "Architecture"),
        ("containerRuntimeVersion", "Container Runtime Version"),
        ("kubeletVersion", "Kubelet Version"),
        ("kubeProxyVersion", "Kube-Proxy Version"),
    ):
        w.write(0, f"  {title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    _node_resources(w, node, pods, now)
    describe_events(w, events, now)
    return w.text()
