"""Defaults of the core/v1 kinds other than Pod (Kubernetes' `pkg/apis/core/v1/defaults.go`).

Each function fills in, in place, what Kubernetes fills in when it decodes the kind, including
the few conversions that behave like defaults (a Secret's write-only `stringData` folded into
`data`, a Node's `podCIDR` kept in step with `podCIDRs`).
"""

from __future__ import annotations

import base64

from kubelite.api import meta
from kubelite.api.defaulting.fields import object_field, set_if_empty, set_if_none
from kubelite.api.defaulting.pods import null_zero_times
from kubelite.api.quantity import canonical_resource_list
from kubelite.api.types import Obj

# k8s.io/api/core/v1 well_known_labels.go: LabelMetadataName, the label every namespace carries.
LABEL_METADATA_NAME = "kubernetes.io/metadata.name"
# k8s.io/api/core/v1 types.go: DefaultClientIPServiceAffinitySeconds (3 hours).
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800

NAMESPACE_ACTIVE = "Active"
SERVICE_CLUSTER_IP = "ClusterIP"
SERVICE_NODE_PORT = "NodePort"
SERVICE_LOAD_BALANCER = "LoadBalancer"
SERVICE_EXTERNAL_NAME = "ExternalName"
AFFINITY_NONE = "None"
AFFINITY_CLIENT_IP = "ClientIP"
PROTOCOL_TCP = "TCP"
TRAFFIC_POLICY_CLUSTER = "Cluster"
LOAD_BALANCER_IP_MODE_VIP = "VIP"
SECRET_TYPE_OPAQUE = "Opaque"
# A claim no volume has been bound to yet (ClaimPending), and the default volume mode.
CLAIM_PENDING = "Pending"
VOLUME_MODE_FILESYSTEM = "Filesystem"


def default_namespace(ns: Obj) -> None:
    """SetDefaults_Namespace and SetDefaults_NamespaceStatus."""
    name = meta.name_of(ns)
    # A namespace made with generateName has no name yet; the strategy's canonicalize labels it.
    if name:
        ensure_name_label(ns)
    status = ns.setdefault("status", {})
    set_if_empty(status, "phase", NAMESPACE_ACTIVE)


def ensure_name_label(ns: Obj) -> None:
    """The `kubernetes.io/metadata.name` label always equals the namespace's name."""
    md = meta.metadata(ns)
    labels = md.get("labels")
    if not isinstance(labels, dict):
        labels = md["labels"] = {}
    labels[LABEL_METADATA_NAME] = meta.name_of(ns)


def default_node(node: Obj) -> None:
    """SetDefaults_NodeStatus, and the v1 podCIDR/podCIDRs conversion."""
    spec = node.get("spec")
    if isinstance(spec, dict):
        pod_cidr = spec.get("podCIDR") or ""
        pod_cidrs = spec.get("podCIDRs") or []
        # podCIDR wins when the two disagree (Convert_v1_NodeSpec_To_core_NodeSpec), and is
        # always written back as the first of podCIDRs.
        if pod_cidr and (not pod_cidrs or pod_cidrs[0] != pod_cidr):
            spec["podCIDRs"] = [pod_cidr]
        elif pod_cidrs:
            spec["podCIDR"] = pod_cidrs[0]
    status = node.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity"):
        status["allocatable"] = dict(status["capacity"])
    if isinstance(status, dict):
        null_zero_times(status.get("conditions"), ("lastHeartbeatTime", "lastTransitionTime"))


def externally_accessible(svc: Obj) -> bool:
    """service.ExternallyAccessible: node ports, a load balancer, or external IPs."""
    spec = svc.get("spec") or {}
    kind = spec.get("type")
    return kind in (SERVICE_LOAD_BALANCER, SERVICE_NODE_PORT) or (
        kind == SERVICE_CLUSTER_IP and bool(spec.get("externalIPs"))
    )


def default_service(svc: Obj) -> None:
    """SetDefaults_Service."""
    spec = svc.setdefault("spec", {})
    set_if_empty(spec, "sessionAffinity", AFFINITY_NONE)
    if spec["sessionAffinity"] == AFFINITY_NONE:
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == AFFINITY_CLIENT_IP:
        timeout = meta.get_path(spec, "sessionAffinityConfig", "clientIP", "timeoutSeconds")
        if timeout is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}
            }
    set_if_empty(spec, "type", SERVICE_CLUSTER_IP)
    for port in spec.get("ports") or []:
        if not isinstance(port, dict):
            continue
        set_if_empty(port, "protocol", PROTOCOL_TCP)
        # An unset, 0 or "" targetPort means "the same as port".
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    if externally_accessible(svc) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = TRAFFIC_POLICY_CLUSTER
    if spec.get("internalTrafficPolicy") is None and spec["type"] in (
        SERVICE_NODE_PORT,
        SERVICE_LOAD_BALANCER,
        SERVICE_CLUSTER_IP,
    ):
        spec["internalTrafficPolicy"] = TRAFFIC_POLICY_CLUSTER
    if spec["type"] == SERVICE_LOAD_BALANCER:
        set_if_none(spec, "allocateLoadBalancerNodePorts", True)
        for ingress in meta.get_path(svc, "status", "loadBalancer", "ingress", default=[]):
            if isinstance(ingress, dict) and ingress.get("ip") and ingress.get("ipMode") is None:
                ingress["ipMode"] = LOAD_BALANCER_IP_MODE_VIP


def default_endpoints(endpoints: Obj) -> None:
    """SetDefaults_Endpoints: ports speak TCP unless they say otherwise."""
    for subset in endpoints.get("subsets") or []:
        for port in (subset or {}).get("ports") or []:
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = PROTOCOL_TCP


def default_secret(secret: Obj) -> None:
    """SetDefaults_Secret, and Convert_v1_Secret_To_core_Secret's folding of stringData.

    `stringData` is write-only: its entries overwrite `data` (base64-encoded, as `data` is in
    JSON) and the field itself is never stored or returned.
    """
    set_if_empty(secret, "type", SECRET_TYPE_OPAQUE)
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = secret.get("data")
        if not isinstance(data, dict):
            data = secret["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def default_persistent_volume_claim(claim: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim and SetDefaults_PersistentVolumeClaimSpec.

    A claim no binder has looked at is Pending, and asks for a filesystem unless it says
    otherwise. StatefulSets run the same defaults on their volumeClaimTemplates.
    """
    spec = claim.get("spec")
    if isinstance(spec, dict):
        set_if_none(spec, "volumeMode", VOLUME_MODE_FILESYSTEM)
        resources = spec.get("resources")
        if isinstance(resources, dict):
            for key in ("limits", "requests"):
                if isinstance(resources.get(key), dict):
                    canonical_resource_list(resources[key])
    status = object_field(claim, "status")
    set_if_empty(status, "phase", CLAIM_PENDING)
