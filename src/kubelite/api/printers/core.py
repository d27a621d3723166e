"""`kubectl get` columns of the core kinds other than Pod.

Namespace, Node, Event, Service, Endpoints, ConfigMap, Secret and ServiceAccount, each as
Kubernetes' printers (1.37) fill them: the node STATUS built from its Ready condition, ROLES from
its labels, the service's EXTERNAL-IP and PORT(S), the first endpoints with a `+ N more...` tail,
and the event's LAST SEEN taken from whichever of its timestamps the event carries. The event
columns are shared with events.k8s.io/v1 (`kubelite.api.printers.events`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from kubelite.api import meta
from kubelite.api.printers import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    PRINTERS,
    UNKNOWN,
    Column,
    Printer,
    age_of,
    format_labels,
)
from kubelite.api.types import Obj

# Node role labels: `node-role.kubernetes.io/<role>` (any value) and the older
# `kubernetes.io/role=<role>` (labelNodeRolePrefix and nodeLabelRole in Kubernetes' printers).
NODE_ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"
# Endpoints prints at most this many addresses, then `+ N more...` (formatEndpoints).
MAX_ENDPOINTS_SHOWN = 3
# The EXTERNAL-IP of a LoadBalancer service that no load balancer has answered yet.
PENDING = "<pending>"


# --- Namespace ------------------------------------------------------------------------------

NAMESPACE_COLUMNS = (
    NAME_COLUMN,
    Column("Status", description="The status of the namespace"),
    AGE_COLUMN,
)


def namespace_cells(namespace: Obj, now: dt.datetime) -> list[Any]:
    phase = meta.get_path(namespace, "status", "phase", default="")
    return [meta.name_of(namespace), phase, age_of(namespace, now)]


# --- Node -----------------------------------------------------------------------------------

_NODE_ADDRESSES_DOC = (
    "List of addresses reachable to the node. Queried from cloud provider, if available. More "
    "info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is "
    "declared as mergeable, but the merge key is not sufficiently unique, which can cause data "
    "corruption when it is merged. Callers should instead use a full-replacement patch. See "
    "https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change "
    "during the lifetime of a Node. However, there are some exceptions where this may not be "
    "possible, such as Pods that inherit a Node's address in its own status or consumers of the "
    "downward API (status.hostIP)."
)
NODE_COLUMNS = (
    NAME_COLUMN,
    Column("Status", description="The status of the node"),
    Column("Roles", description="The roles of the node"),
    AGE_COLUMN,
    Column("Version", description="Kubelet Version reported by the node."),
    Column("Internal-IP", priority=1, description=_NODE_ADDRESSES_DOC),
    Column("External-IP", priority=1, description=_NODE_ADDRESSES_DOC),
    Column(
        "OS-Image",
        priority=1,
        description="OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux "
        "7 (wheezy)).",
    ),
    Column(
        "Kernel-Version",
        priority=1,
        description="Kernel Version reported by the node from 'uname -r' (e.g. "
        "3.16.0-0.bpo.4-amd64).",
    ),
    Column(
        "Container-Runtime",
        priority=1,
        description="ContainerRuntime Version reported by the node through runtime remote API "
        "(e.g. containerd://1.4.2).",
    ),
)
# A node with no Ready condition (it never reported) is shown as `Unknown`.
UNKNOWN_NODE_STATUS = "Unknown"


def node_status(node: Obj) -> str:
    """`Ready`, `NotReady` or `Unknown` (no Ready condition), then `,SchedulingDisabled`."""
    ready = None
    for condition in meta.get_path(node, "status", "conditions", default=[]):
        # A repeated type: the last one wins, as in Kubernetes' map of conditions.
        if condition.get("type") == "Ready":
            ready = condition
    parts = [UNKNOWN_NODE_STATUS if ready is None else _ready_word(ready)]
    if meta.get_path(node, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _ready_word(condition: Obj) -> str:
    return "Ready" if condition.get("status") == "True" else "NotReady"


def node_roles(node: Obj) -> str:
    """The node's roles, sorted and comma-separated; `<none>` when it has none."""
    roles: set[str] = set()
    for key, value in meta.labels_of(node).items():
        if key.startswith(NODE_ROLE_LABEL_PREFIX):
            role = key[len(NODE_ROLE_LABEL_PREFIX) :]
            if role:
                roles.add(role)
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return ",".join(sorted(roles)) or NONE


def _node_address(node: Obj, type_: str) -> str:
    """The node's first address of a type, `<none>` when it has none."""
    for address in meta.get_path(node, "status", "addresses", default=[]):
        if address.get("type") == type_:
            return address.get("address") or ""
    return NONE


def node_cells(node: Obj, now: dt.datetime) -> list[Any]:
    info = meta.get_path(node, "status", "nodeInfo", default={})
    return [
        meta.name_of(node),
        node_status(node),
        node_roles(node),
        age_of(node, now),
        info.get("kubeletVersion") or "",
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        info.get("osImage") or UNKNOWN,
        kernel_version(info),
        info.get("containerRuntimeVersion") or UNKNOWN,
    ]


def kernel_version(info: Obj) -> str:
    """The KERNEL-VERSION cell: since 1.36 (#132402) the node's architecture follows the kernel
    in parentheses, `6.12.76-linuxkit (arm64)`, rather than in a column of its own."""
    kernel = info.get("kernelVersion") or UNKNOWN
    architecture = info.get("architecture")
    return f"{kernel} ({architecture})" if architecture else kernel


# --- Event ----------------------------------------------------------------------------------

EVENT_COLUMNS = (
    Column(
        "Last Seen",
        description="The time at which the most recent occurrence of this event was recorded.",
    ),
    Column(
        "Type",
        description="Type of this event (Normal, Warning), new types could be added in the future",
    ),
    Column(
        "Reason",
        description="This should be a short, machine understandable string that gives the "
        "reason for the transition into the object's current status.",
    ),
    Column("Object", description="The object that this event is about."),
    Column(
        "Subobject",
        priority=1,
        description="If referring to a piece of an object instead of an entire object, this "
        "string should contain a valid JSON/Go field access statement, such as "
        "desiredState.manifest.containers[2]. For example, if the object reference is to a "
        'container within a pod, this would take on a value like: "spec.containers{name}" (where '
        '"name" refers to the name of the container that triggered the event) or if no '
        'container name is specified "spec.containers[2]" (container with index 2 in this pod). '
        "This syntax is chosen only to have some well-defined way of referencing a part of an "
        "object.",
    ),
    Column(
        "Source",
        priority=1,
        description="The component reporting this event. Should be a short machine "
        "understandable string.",
    ),
    Column("Message", description="A human-readable description of the status of this operation."),
    Column(
        "First Seen",
        priority=1,
        description="The time at which the event was first recorded. (Time of server receipt is "
        "in TypeMeta.)",
    ),
    Column("Count", priority=1, description="The number of times this event has occurred."),
    dataclasses.replace(NAME_COLUMN, priority=1),
)


def event_cells(event: Obj, now: dt.datetime) -> list[Any]:
    """One core/v1 Event's row.

    An event written through events.k8s.io/v1 has no firstTimestamp (its eventTime stands in)
    and may have a series, whose last observation and count win over the old fields.
    """
    first_seen = meta.age(event.get("firstTimestamp") or event.get("eventTime"), now)
    last_seen = (
        meta.age(event.get("lastTimestamp"), now) if event.get("lastTimestamp") else first_seen
    )
    count = event.get("count") or 0
    series = event.get("series")
    if series is not None:
        last_seen = meta.age(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        # Singleton events of the new API carry no count.
        count = 1

    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    name = involved.get("name") or ""
    source = event.get("source") or {}
    return [
        last_seen,
        event.get("type") or "",
        event.get("reason") or "",
        f"{kind}/{name}" if name else kind,
        involved.get("fieldPath") or "",
        _event_source(
            source.get("component") or event.get("reportingComponent") or "",
            source.get("host") or event.get("reportingInstance") or "",
        ),
        (event.get("message") or "").strip(),
        first_seen,
        count,
        meta.name_of(event),
    ]


def _event_source(component: str, instance: str) -> str:
    """`component, host`, or the component alone (formatEventSource)."""
    return f"{component}, {instance}" if instance else component


# --- Service --------------------------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Type",
        description="type determines how the Service is exposed. Defaults to ClusterIP. Valid "
        'options are ExternalName, ClusterIP, NodePort, and LoadBalancer. "ClusterIP" '
        "allocates a cluster-internal IP address for load-balancing to endpoints. Endpoints are "
        "determined by the selector or if that is not specified, by manual construction of an "
        'Endpoints object or EndpointSlice objects. If clusterIP is "None", no virtual IP is '
        "allocated and the endpoints are published as a set of endpoints rather than a virtual "
        'IP. "NodePort" builds on ClusterIP and allocates a port on every node which routes to '
        'the same endpoints as the clusterIP. "LoadBalancer" builds on NodePort and creates an '
        "external load-balancer (if supported in the current cloud) which routes to the same "
        'endpoints as the clusterIP. "ExternalName" aliases this service to the specified '
        "externalName. Several other fields do not apply to ExternalName services. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/"
        "#publishing-services-service-types",
    ),
    Column(
        "Cluster-IP",
        description="clusterIP is the IP address of the service and is usually assigned "
        "randomly. If an address is specified manually, is in-range (as per system "
        "configuration), and is not in use, it will be allocated to the service; otherwise "
        "creation of the service will fail. This field may not be changed through updates unless "
        "the type field is also being changed to ExternalName (which requires this field to be "
        "blank) or the type field is being changed from ExternalName (in which case this field "
        'may optionally be specified, as describe above).  Valid values are "None", empty string '
        '(""), or a valid IP address. Setting this to "None" makes a "headless service" (no '
        "virtual IP), which is useful when direct endpoint connections are preferred and "
        "proxying is not required.  Only applies to types ClusterIP, NodePort, and LoadBalancer. "
        "If this field is specified when creating a Service of type ExternalName, creation will "
        "fail. This field will be wiped when updating a Service to type ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/"
        "#virtual-ips-and-service-proxies",
    ),
    Column(
        "External-IP",
        description="externalIPs is a list of IP addresses for which nodes in the cluster will "
        "also accept traffic for this service.  These IPs are not managed by Kubernetes.  The "
        "user is responsible for ensuring that traffic arrives at a node with this IP.  A common "
        "example is external load-balancers that are not part of the Kubernetes system.",
    ),
    Column(
        "Port(s)",
        description="The list of ports that are exposed by this service. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/"
        "#virtual-ips-and-service-proxies",
    ),
    AGE_COLUMN,
    Column(
        "Selector",
        priority=1,
        description="Route service traffic to pods with label keys and values matching this "
        "selector. If empty or not present, the service is assumed to have an external process "
        "managing its endpoints, which Kubernetes will not modify. Only applies to types "
        "ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: "
        "https://kubernetes.io/docs/concepts/services-networking/service/",
    ),
)


def service_cluster_ip(service: Obj) -> str:
    """The primary cluster IP: `clusterIP` wins over `clusterIPs[0]`, as in the v1 conversion."""
    spec = service.get("spec") or {}
    return spec.get("clusterIP") or meta.get_path(spec, "clusterIPs", 0, default="") or NONE


def service_external_ip(service: Obj) -> str:
    """EXTERNAL-IP by service type (getServiceExternalIP, uncut as in the server's wide tables)."""
    spec = service.get("spec") or {}
    external_ips = spec.get("externalIPs") or []
    type_ = spec.get("type") or ""
    if type_ in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or NONE
    if type_ == "LoadBalancer":
        # Every ingress point once, sorted: an IP, or a hostname where there is no IP.
        ingress = meta.get_path(service, "status", "loadBalancer", "ingress", default=[])
        points = sorted({i.get("ip") or i.get("hostname") for i in ingress} - {None, ""})
        return ",".join(points + external_ips) or PENDING
    if type_ == "ExternalName":
        return spec.get("externalName") or ""
    return UNKNOWN


def service_ports(service: Obj) -> str:
    """`80/TCP`, `80:30080/TCP` with a node port; `<none>` for a service without ports."""
    pieces = []
    for port in meta.get_path(service, "spec", "ports", default=[]):
        number, protocol = port.get("port", 0), port.get("protocol", "")
        node_port = port.get("nodePort") or 0
        pieces.append(
            f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}"
        )
    return ",".join(pieces) or NONE


def service_cells(service: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(service),
        meta.get_path(service, "spec", "type", default=""),
        service_cluster_ip(service),
        service_external_ip(service),
        service_ports(service),
        age_of(service, now),
        format_labels(meta.get_path(service, "spec", "selector")),
    ]


# --- Endpoints ------------------------------------------------------------------------------

ENDPOINTS_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Endpoints",
        description="The set of all endpoints is the union of all subsets. Addresses are placed "
        "into subsets according to the IPs they share. A single address with multiple ports, "
        "some of which are ready and some of which are not (because they come from different "
        "containers) will result in the address being displayed in different subsets for the "
        "different ports. No address will appear in both Addresses and NotReadyAddresses in the "
        "same subset. Sets of addresses and ports that comprise a service.",
    ),
    AGE_COLUMN,
)


def format_endpoints(endpoints: Obj) -> str:
    """Ready addresses as `ip:port`, one per address and port, the first three shown.

    Not-ready addresses are left out; a subset without ports (a headless service) shows bare
    IPs. `<none>` only when there are no subsets at all.
    """
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return NONE
    shown: list[str] = []
    count = 0
    for subset in subsets:
        ips = [address.get("ip") or "" for address in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            count += len(ips)
            shown.extend(ips)
            continue
        for port in ports:
            count += len(ips)
            shown.extend(_join_host_port(ip, port.get("port", 0)) for ip in ips)
    if count > MAX_ENDPOINTS_SHOWN:
        first = ",".join(shown[:MAX_ENDPOINTS_SHOWN])
        return f"{first} + {count - MAX_ENDPOINTS_SHOWN} more..."
    return ",".join(shown)


def _join_host_port(host: str, port: int) -> str:
    """`host:port`, with an IPv6 host in brackets (Go's net.JoinHostPort)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def endpoints_cells(endpoints: Obj, now: dt.datetime) -> list[Any]:
    return [meta.name_of(endpoints), format_endpoints(endpoints), age_of(endpoints, now)]


# --- ConfigMap, Secret, ServiceAccount ------------------------------------------------------

CONFIG_MAP_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Data",
        description="Data contains the configuration data. Each key must consist of "
        "alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use "
        "the BinaryData field. The keys stored in Data must not overlap with the keys in the "
        "BinaryData field, this is enforced during validation process.",
    ),
    AGE_COLUMN,
)


def config_map_cells(config_map: Obj, now: dt.datetime) -> list[Any]:
    keys = len(config_map.get("data") or {}) + len(config_map.get("binaryData") or {})
    return [meta.name_of(config_map), keys, age_of(config_map, now)]


SECRET_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Type",
        description="Used to facilitate programmatic handling of secret data. More info: "
        "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types",
    ),
    Column(
        "Data",
        description="Data contains the secret data. Each key must consist of alphanumeric "
        "characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded "
        "string, representing the arbitrary (possibly non-string) data value here. Described in "
        "https://tools.ietf.org/html/rfc4648#section-4",
    ),
    AGE_COLUMN,
)


def secret_cells(secret: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(secret),
        secret.get("type") or "",
        len(secret.get("data") or {}),
        age_of(secret, now),
    ]


# No SECRETS count since #117160 (1.35): no core component fills `secrets` any more, so the
# count misled (`kubectl get` no longer shows counts of referenced tokens and secrets).
SERVICE_ACCOUNT_COLUMNS = (NAME_COLUMN, AGE_COLUMN)


def service_account_cells(service_account: Obj, now: dt.datetime) -> list[Any]:
    return [meta.name_of(service_account), age_of(service_account, now)]


PRINTERS.update(
    {
        ("", "Namespace"): Printer(NAMESPACE_COLUMNS, namespace_cells),
        ("", "Node"): Printer(NODE_COLUMNS, node_cells),
        ("", "Event"): Printer(EVENT_COLUMNS, event_cells),
        ("", "Service"): Printer(SERVICE_COLUMNS, service_cells),
        ("", "Endpoints"): Printer(ENDPOINTS_COLUMNS, endpoints_cells),
        ("", "ConfigMap"): Printer(CONFIG_MAP_COLUMNS, config_map_cells),
        ("", "Secret"): Printer(SECRET_COLUMNS, secret_cells),
        ("", "ServiceAccount"): Printer(SERVICE_ACCOUNT_COLUMNS, service_account_cells),
    }
)
