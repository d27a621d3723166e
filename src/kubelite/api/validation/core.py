"""Validation of the core/v1 kinds other than Pod (Kubernetes' `pkg/apis/core/validation`).

Each function checks what lies outside `metadata` (ObjectMeta is `validation.objectmeta`'s, run by
every `Strategy`) and returns the problems in Kubernetes' words and field paths, so that
`kubectl apply` prints the same `The Service "web" is invalid: spec.ports[0].port: ...` as it
would against Kubernetes. Paths and messages follow Kubernetes even where they look odd
(a Node's taints are reported under `metadata.taints`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Collection, Mapping
from typing import Any

from kubelite.api import meta
from kubelite.api.errors import (
    DUPLICATE,
    FieldError,
    child,
    duplicate,
    forbidden_field,
    invalid,
    not_supported,
    required,
)
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation import legacy_ip, names
from kubelite.api.validation.objectmeta import (
    FIELD_IMMUTABLE,
    go_strings,
    go_struct,
    go_time,
    invalid_rendered,
    too_long_bytes,
    validate_kube_finalizer_name,
    validate_label_name,
    validate_labels,
)

# pkg/apis/core/types.go: MaxSecretSize, also the limit of a ConfigMap (1 MiB).
MAX_SECRET_SIZE = 1024 * 1024
# pkg/apis/core/types.go: MaxClientIPServiceAffinitySeconds (one day).
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
# pkg/apis/core/validation/events.go length limits.
REPORTING_INSTANCE_LENGTH_LIMIT = 128
ACTION_LENGTH_LIMIT = 128
REASON_LENGTH_LIMIT = 128
NOTE_LENGTH_LIMIT = 1024
# The namespaces an event about a cluster-scoped object may live in (metav1.NamespaceDefault and
# NamespaceSystem).
_EVENT_HOME_NAMESPACES = ("default", "kube-system")

SUPPORTED_PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
# PreferSameTrafficDistribution is GA (locked on) since 1.35: PreferClose stays, a deprecated
# alias of PreferSameZone (KEP-3015), in the order Kubernetes lists them.
TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")
LOAD_BALANCER_IP_MODES = ("Proxy", "VIP")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
CLUSTER_IP_NONE = "None"

_IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"

# Secret types and the data keys each requires (k8s.io/api/core/v1 types.go).
SECRET_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
SECRET_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TLS = "kubernetes.io/tls"
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"


# --- Namespace ----------------------------------------------------------------------------------


def validate_namespace_spec(ns: Obj) -> list[FieldError]:
    """ValidateNamespace beyond metadata: spec.finalizers are finalizer names."""
    path = "spec.finalizers"
    return [
        err
        for f in _strings(meta.get_path(ns, "spec", "finalizers"))
        for err in _finalizer_name(f, path)
    ]


def validate_namespace_finalize_update(new: Obj) -> list[FieldError]:
    """ValidateNamespaceFinalizeUpdate: the finalizers a /finalize write leaves, by index."""
    finalizers = _strings(meta.get_path(new, "spec", "finalizers"))
    return [
        err for i, f in enumerate(finalizers) for err in _finalizer_name(f, f"spec.finalizers[{i}]")
    ]


def _finalizer_name(value: str, path: str) -> list[FieldError]:
    errs = [invalid(path, value, msg) for msg in names.is_qualified_name(value)]
    return errs + validate_kube_finalizer_name(value, path)


def validate_namespace_status_update(new: Obj) -> list[FieldError]:
    """ValidateNamespaceStatusUpdate: Active while alive, Terminating once being deleted."""
    phase = meta.get_path(new, "status", "phase", default="")
    if not meta.get_path(new, "metadata", "deletionTimestamp"):
        if phase != "Active":
            return [
                invalid(
                    "status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty"
                )
            ]
    elif phase != "Terminating":
        return [
            invalid(
                "status.Phase",
                phase,
                "may only be 'Terminating' if `deletionTimestamp` is not empty",
            )
        ]
    return []


# --- Node ---------------------------------------------------------------------------------------


def validate_node(node: Obj, old: Obj | None = None) -> list[FieldError]:
    """ValidateNode beyond metadata: taints and pod CIDRs (an update keeps the CIDRs the old
    node had, valid or not by today's rules)."""
    errs = _validate_taints(meta.get_path(node, "spec", "taints", default=[]))
    cidrs = _strings(meta.get_path(node, "spec", "podCIDRs"))
    old_cidrs = _strings(meta.get_path(old, "spec", "podCIDRs")) if old else []
    errs += [
        err
        for i, c in enumerate(cidrs)
        for err in _validate_cidr(c, f"spec.podCIDRs[{i}]", old_cidrs)
    ]
    if len(cidrs) > 1:
        families = {_family(c.split("/")[0]) for c in cidrs}
        if len(cidrs) > 2 or families != {4, 6}:
            errs.append(
                invalid_rendered(
                    "spec.podCIDRs",
                    go_strings(cidrs),
                    "may specify no more than one CIDR for each IP family",
                )
            )
        seen: set[str] = set()
        for i, cidr in enumerate(cidrs):
            if cidr in seen:
                errs.append(duplicate(f"spec.podCIDRs[{i}]", cidr))
            seen.add(cidr)
    return errs


def _validate_taints(taints: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints if isinstance(taints, list) else []):
        taint = taint if isinstance(taint, dict) else {}
        # Kubernetes reports node taints under metadata (ValidateNode passes the metadata path).
        path = f"metadata.taints[{i}]"
        key, value, effect = (
            _str(taint.get("key")),
            _str(taint.get("value")),
            _str(taint.get("effect")),
        )
        errs += validate_label_name(key, child(path, "key"))
        problems = names.is_valid_label_value(value)
        if problems:
            errs.append(invalid(child(path, "value"), value, ";".join(problems)))
        if not effect:
            errs.append(required(child(path, "effect")))
        elif effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(path, "effect"), effect, TAINT_EFFECTS))
        if (key, effect) in seen:
            rendered = go_struct(
                "core.Taint",
                [
                    ("Key", go_quote(key)),
                    ("Value", go_quote(value)),
                    ("Effect", go_quote(effect)),
                    (
                        "TimeAdded",
                        "(*v1.Time)(nil)"
                        if not taint.get("timeAdded")
                        else "(*v1.Time)(0xc000000000)",
                    ),
                ],
            )
            errs.append(
                FieldError(
                    DUPLICATE,
                    path,
                    detail=f"{rendered}: taints must be unique by key and effect pair",
                )
            )
            continue
        seen.add((key, effect))
    return errs


def validate_node_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateNodeUpdate: addresses unique, podCIDRs and providerID set once, externalID fixed."""
    errs: list[FieldError] = []
    seen: list[Any] = []
    for i, address in enumerate(meta.get_path(new, "status", "addresses", default=[])):
        if address in seen:
            rendered = go_struct(
                "core.NodeAddress",
                [
                    ("Type", go_quote(_str(address.get("type")))),
                    ("Address", go_quote(_str(address.get("address")))),
                ],
            )
            errs.append(FieldError(DUPLICATE, f"status.addresses[{i}]", detail=rendered))
        seen.append(address)
    old_cidrs = _strings(meta.get_path(old, "spec", "podCIDRs"))
    new_cidrs = _strings(meta.get_path(new, "spec", "podCIDRs"))
    cidr_message = 'node updates may not change podCIDR except from "" to valid'
    if old_cidrs:
        if len(old_cidrs) != len(new_cidrs):
            errs.append(forbidden_field("spec.podCIDRs", cidr_message))
        else:
            errs += [
                forbidden_field("spec.podCIDRs", cidr_message)
                for a, b in zip(old_cidrs, new_cidrs, strict=True)
                if a != b
            ]
    old_provider = _str(meta.get_path(old, "spec", "providerID"))
    if old_provider and old_provider != _str(meta.get_path(new, "spec", "providerID")):
        errs.append(
            forbidden_field(
                "spec.providerID", 'node updates may not change providerID except from "" to valid'
            )
        )
    if _str(meta.get_path(new, "spec", "externalID")) != _str(
        meta.get_path(old, "spec", "externalID")
    ):
        errs.append(forbidden_field("spec.externalID", "may not be updated"))
    return errs


# --- Service ------------------------------------------------------------------------------------


def is_headless(svc: Obj) -> bool:
    """isHeadlessService: clusterIPs is exactly ["None"]."""
    return _strings(meta.get_path(svc, "spec", "clusterIPs")) == [CLUSTER_IP_NONE]


def validate_service(svc: Obj, old: Obj | None = None) -> list[FieldError]:
    """ValidateService beyond metadata. On an update (`old`), IPs and CIDRs the old Service
    held are accepted as they are (KEP-4858's validOldIPs)."""
    spec = _mapping(svc.get("spec"))
    old_spec = _mapping(old.get("spec")) if old else {}
    errs: list[FieldError] = []
    kind = _str(spec.get("type"))
    ports = [p if isinstance(p, dict) else {} for p in _list(spec.get("ports"))]
    headless = is_headless(svc)
    cluster_ips = _strings(spec.get("clusterIPs"))
    if not ports and not headless and kind != "ExternalName":
        errs.append(required("spec.ports"))
    if kind in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            invalid(
                "spec.clusterIPs[0]",
                cluster_ips[0],
                f"may not be set to 'None' for {kind} services",
            )
        )
    elif kind == "ExternalName":
        if cluster_ips:
            errs.append(
                forbidden_field("spec.clusterIPs", "may not be set for ExternalName services")
            )
        if spec.get("ipFamilies"):
            errs.append(
                forbidden_field("spec.ipFamilies", "may not be set for ExternalName services")
            )
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(
                forbidden_field("spec.ipFamilyPolicy", "may not be set for ExternalName services")
            )
        # A CNAME may end in a dot to say it is fully qualified.
        cname = _str(spec.get("externalName")).removesuffix(".")
        if cname:
            errs += [
                invalid("spec.externalName", cname, msg)
                for msg in names.is_dns1123_subdomain(cname)
            ]
        else:
            errs.append(required("spec.externalName"))
    port_names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _validate_service_port(port, len(ports) > 1, port_names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += validate_labels(spec.get("selector"), "spec.selector")
    affinity = _str(spec.get("sessionAffinity"))
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in SESSION_AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    if affinity == "ClientIP":
        errs += _validate_client_ip_affinity(spec.get("sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(
            forbidden_field(
                "spec.sessionAffinityConfig", "must not be set when session affinity is None"
            )
        )
    errs += validate_cluster_ip_fields(svc, _strings(old_spec.get("clusterIPs")))
    old_external = _strings(old_spec.get("externalIPs"))
    for i, ip in enumerate(_strings(spec.get("externalIPs"))):
        ip_errs = _validate_ip(ip, f"spec.externalIPs[{i}]", old_external)
        errs += ip_errs or _validate_non_special_ip(ip, f"spec.externalIPs[{i}]")
    if not kind:
        errs.append(required("spec.type"))
    elif kind not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", kind, SERVICE_TYPES))
    if kind == "ClusterIP":
        errs += [
            forbidden_field(
                f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"
            )
            for i, port in enumerate(ports)
            if port.get("nodePort")
        ]
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        if not port.get("nodePort"):
            continue
        key = (_str(port.get("protocol")), port["nodePort"])
        if key in node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", port["nodePort"]))
        node_ports.add(key)
    seen_ports: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        key = (_str(port.get("protocol")), port.get("port", 0))
        if key in seen_ports:
            errs.append(
                FieldError(DUPLICATE, f"spec.ports[{i}]", detail=_go_service_port_key(*key))
            )
        seen_ports.add(key)
    errs += _validate_source_ranges(svc, kind, old)
    allocate = spec.get("allocateLoadBalancerNodePorts")
    if allocate is not None and kind != "LoadBalancer":
        errs.append(
            forbidden_field(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    if kind == "LoadBalancer" and allocate is None:
        # Kubernetes reports this one without the spec prefix.
        errs.append(required("allocateLoadBalancerNodePorts"))
    errs += _validate_load_balancer_class(svc)
    errs += _validate_external_traffic_policy(svc)
    internal = spec.get("internalTrafficPolicy")
    if internal is None:
        if kind in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required("spec.internalTrafficPolicy"))
    elif internal not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", internal, TRAFFIC_POLICIES))
    distribution = spec.get("trafficDistribution")
    if distribution is not None and distribution not in TRAFFIC_DISTRIBUTIONS:
        errs.append(not_supported("spec.trafficDistribution", distribution, TRAFFIC_DISTRIBUTIONS))
    return errs


def _validate_service_port(
    port: Obj, require_name: bool, seen: set[str], path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    name = _str(port.get("name"))
    if require_name and not name:
        errs.append(required(child(path, "name")))
    elif name:
        errs += [invalid(child(path, "name"), name, msg) for msg in names.is_dns1123_label(name)]
        if name in seen:
            errs.append(duplicate(child(path, "name"), name))
        else:
            seen.add(name)
    number = port.get("port", 0)
    errs += [invalid(child(path, "port"), number, msg) for msg in _port_num(number)]
    errs += _validate_protocol(port.get("protocol"), child(path, "protocol"))
    errs += validate_port_num_or_name(port.get("targetPort", 0), child(path, "targetPort"))
    errs += validate_app_protocol(port, path)
    return errs


def _validate_protocol(protocol: Any, path: str) -> list[FieldError]:
    if not protocol:
        return [required(path)]
    if protocol not in SUPPORTED_PORT_PROTOCOLS:
        return [not_supported(path, protocol, SUPPORTED_PORT_PROTOCOLS)]
    return []


def validate_app_protocol(port: Obj, path: str) -> list[FieldError]:
    """A port's appProtocol, when given, is a qualified name (`kubernetes.io/h2c`, `https`):
    the rule of Service, Endpoints and EndpointSlice ports alike."""
    app_protocol = port.get("appProtocol")
    if app_protocol is None:
        return []
    return [
        invalid(child(path, "appProtocol"), app_protocol, msg)
        for msg in names.is_qualified_name(_str(app_protocol))
    ]


def validate_port_num_or_name(port: Any, path: str) -> list[FieldError]:
    """ValidatePortNumOrName: an IntOrString port is a number in range or an IANA name."""
    if isinstance(port, str):
        return [invalid(path, port, msg) for msg in names.is_valid_port_name(port)]
    return [invalid(path, port, msg) for msg in _port_num(port)]


def _port_num(port: Any) -> list[str]:
    return names.is_valid_port_num(port if isinstance(port, int) else 0)


def _go_service_port_key(protocol: str, port: Any) -> str:
    """The core.ServicePort Kubernetes reports for a repeated (protocol, port)."""
    return go_struct(
        "core.ServicePort",
        [
            ("Name", '""'),
            ("Protocol", go_quote(protocol)),
            ("AppProtocol", "(*string)(nil)"),
            ("Port", str(port)),
            ("TargetPort", 'intstr.IntOrString{Type:0, IntVal:0, StrVal:""}'),
            ("NodePort", "0"),
        ],
    )


def _validate_client_ip_affinity(config: Any) -> list[FieldError]:
    path = "spec.sessionAffinityConfig"
    detail = "when session affinity type is ClientIP"
    if not isinstance(config, dict):
        return [required(path, detail)]
    client_ip = config.get("clientIP")
    if not isinstance(client_ip, dict):
        return [required(child(path, "clientIP"), detail)]
    timeout = client_ip.get("timeoutSeconds")
    timeout_path = child(path, "clientIP.timeoutSeconds")
    if timeout is None:
        return [required(timeout_path, detail)]
    if timeout <= 0 or timeout > MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [
            invalid(
                timeout_path,
                timeout,
                f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}",
            )
        ]
    return []


def validate_cluster_ip_fields(svc: Obj, old_ips: Collection[str] = ()) -> list[FieldError]:
    """ValidateServiceClusterIPsRelatedFields: clusterIP, clusterIPs and the IP families agree.
    `old_ips`: the clusterIPs of the Service being updated, accepted as they are."""
    spec = _mapping(svc.get("spec"))
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    cluster_ip = _str(spec.get("clusterIP"))
    cluster_ips = _strings(spec.get("clusterIPs"))
    if cluster_ip:
        if not cluster_ips:
            errs.append(required("spec.clusterIPs"))
        elif cluster_ips[0] != cluster_ip:
            errs.append(
                invalid_rendered(
                    "spec.clusterIPs", go_strings(cluster_ips), "first value must match `clusterIP`"
                )
            )
    elif cluster_ips:
        errs.append(
            invalid_rendered(
                "spec.clusterIPs",
                go_strings(cluster_ips),
                "must be empty when `clusterIP` is not specified",
            )
        )
    families = _strings(spec.get("ipFamilies"))
    seen: set[str] = set()
    for i, family in enumerate(families):
        if family not in IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
        if family in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    bad_ips = False
    for i, ip in enumerate(cluster_ips):
        if i == 0 and ip == CLUSTER_IP_NONE:
            if len(cluster_ips) > 1:
                bad_ips = True
                errs.append(
                    invalid_rendered(
                        "spec.clusterIPs",
                        go_strings(cluster_ips),
                        "'None' must be the first and only value",
                    )
                )
            continue
        ip_errs = _validate_ip(ip, f"spec.clusterIPs[{i}]", old_ips)
        bad_ips = bad_ips or bool(ip_errs)
        errs += ip_errs
    if len(cluster_ips) > 2:
        errs.append(
            invalid_rendered(
                "spec.clusterIPs", go_strings(cluster_ips), "may only hold up to 2 values"
            )
        )
    if bad_ips:
        return errs
    if len(cluster_ips) > 1 and {_family(ip) for ip in cluster_ips} != {4, 6}:
        errs.append(
            invalid_rendered(
                "spec.clusterIPs",
                go_strings(cluster_ips),
                "may specify no more than one IP for each IP family",
            )
        )
    if not is_headless(svc):
        for i, (ip, family) in enumerate(zip(cluster_ips, families, strict=False)):
            if family == "IPv4" and _family(ip) == 6:
                errs.append(
                    invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if family == "IPv6" and _family(ip) != 6:
                errs.append(
                    invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _source_ranges(svc: Obj | None) -> list[str]:
    """The CIDRs of loadBalancerSourceRanges and of the older annotation, as validated."""
    if not svc:
        return []
    ranges = [r.strip() for r in _strings(meta.get_path(svc, "spec", "loadBalancerSourceRanges"))]
    annotation = _str(meta.get_path(svc, "metadata", "annotations", _SOURCE_RANGES_ANNOTATION))
    return ranges + [c.strip() for c in annotation.strip().split(",") if annotation.strip()]


def _validate_source_ranges(svc: Obj, kind: str, old: Obj | None = None) -> list[FieldError]:
    ranges = _strings(meta.get_path(svc, "spec", "loadBalancerSourceRanges"))
    old_ranges = _source_ranges(old)
    errs: list[FieldError] = []
    if ranges:
        # Kubernetes names this path with a capital L.
        path = "spec.LoadBalancerSourceRanges"
        if kind != "LoadBalancer":
            errs.append(forbidden_field(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            errs += _validate_cidr(value.strip(), f"{path}[{i}]", old_ranges)
        return errs
    annotation = _SOURCE_RANGES_ANNOTATION
    value = meta.get_path(svc, "metadata", "annotations", annotation)
    if value is not None:
        path = f"metadata.annotations[{annotation}]"
        if kind != "LoadBalancer":
            errs.append(forbidden_field(path, "may only be used when `type` is 'LoadBalancer'"))
        value = _str(value).strip()
        if value:
            for cidr in value.split(","):
                errs += _validate_cidr(cidr.strip(), path, old_ranges)
    return errs


def _validate_load_balancer_class(svc: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    cls = meta.get_path(svc, "spec", "loadBalancerClass")
    is_lb = meta.get_path(svc, "spec", "type") == "LoadBalancer"
    if is_lb:
        if cls is not None:
            errs += [
                invalid("spec.loadBalancerClass", cls, msg)
                for msg in names.is_qualified_name(_str(cls))
            ]
    elif cls is not None:
        errs.append(
            forbidden_field(
                "spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"
            )
        )
    return errs


def _externally_accessible(svc: Obj) -> bool:
    kind = meta.get_path(svc, "spec", "type")
    return kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(meta.get_path(svc, "spec", "externalIPs"))
    )


def needs_health_check(svc: Obj) -> bool:
    """service.NeedsHealthCheck: a LoadBalancer that keeps traffic on the local node."""
    return (
        meta.get_path(svc, "spec", "type") == "LoadBalancer"
        and meta.get_path(svc, "spec", "externalTrafficPolicy") == "Local"
    )


def _validate_external_traffic_policy(svc: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    policy = _str(meta.get_path(svc, "spec", "externalTrafficPolicy"))
    if not _externally_accessible(svc):
        if policy:
            errs.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    policy,
                    "may only be set for externally-accessible services",
                )
            )
    elif not policy:
        errs.append(required("spec.externalTrafficPolicy"))
    elif policy not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", policy, TRAFFIC_POLICIES))
    port = meta.get_path(svc, "spec", "healthCheckNodePort", default=0)
    if not needs_health_check(svc):
        if port:
            errs.append(
                invalid(
                    "spec.healthCheckNodePort",
                    port,
                    "may only be set when `type` is 'LoadBalancer' and "
                    "`externalTrafficPolicy` is 'Local'",
                )
            )
    elif not port:
        errs.append(required("spec.healthCheckNodePort"))
    else:
        errs += [invalid("spec.healthCheckNodePort", port, msg) for msg in _port_num(port)]
    return errs


def validate_service_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateServiceUpdate's rules for what may change (ValidateService runs too)."""
    errs = _validate_cluster_ips_update(old, new)
    errs += _validate_ip_families_update(old, new)
    both_lb = all(meta.get_path(s, "spec", "type") == "LoadBalancer" for s in (new, old))
    cls = meta.get_path(new, "spec", "loadBalancerClass")
    if both_lb and cls != meta.get_path(old, "spec", "loadBalancerClass"):
        errs.append(
            invalid_rendered(
                "spec.loadBalancerClass", _go_string_pointer(cls), "may not change once set"
            )
        )
    port = meta.get_path(new, "spec", "healthCheckNodePort")
    if (
        needs_health_check(old)
        and needs_health_check(new)
        and port != meta.get_path(old, "spec", "healthCheckNodePort")
    ):
        errs.append(forbidden_field("spec.healthCheckNodePort", FIELD_IMMUTABLE))
    return errs


def _validate_cluster_ips_update(old: Obj, new: Obj) -> list[FieldError]:
    """validateUpgradeDowngradeClusterIPs: a cluster IP stays until the type stops needing one."""
    if "ExternalName" in (meta.get_path(new, "spec", "type"), meta.get_path(old, "spec", "type")):
        return []
    if is_headless(old) and is_headless(new):
        return []
    old_ips = _strings(meta.get_path(old, "spec", "clusterIPs"))
    new_ips = _strings(meta.get_path(new, "spec", "clusterIPs"))
    rendered = go_strings(new_ips if meta.get_path(new, "spec", "clusterIPs") is not None else None)
    errs: list[FieldError] = []
    if len(old_ips) == len(new_ips):
        errs += [
            invalid_rendered(f"spec.clusterIPs[{i}]", rendered, "may not change once set")
            for i, ip in enumerate(old_ips)
            if ip != new_ips[i]
        ]
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            errs.append(
                invalid_rendered(
                    "spec.clusterIPs[0]", rendered, "primary clusterIP can not be unset"
                )
            )
        if old_ips and new_ips and new_ips[0] != old_ips[0]:
            errs.append(invalid_rendered("spec.clusterIPs[0]", rendered, "may not change once set"))
        if len(new_ips) == 1 and meta.get_path(new, "spec", "ipFamilyPolicy") != "SingleStack":
            errs.append(
                invalid_rendered(
                    "spec.ipFamilyPolicy",
                    _go_string_pointer(meta.get_path(new, "spec", "ipFamilyPolicy")),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                )
            )
    elif old_ips and new_ips[0] != old_ips[0]:
        errs.append(invalid_rendered("spec.clusterIPs[0]", rendered, "may not change once set"))
    return errs


def _validate_ip_families_update(old: Obj, new: Obj) -> list[FieldError]:
    """validateUpgradeDowngradeIPFamilies."""
    if "ExternalName" in (meta.get_path(new, "spec", "type"), meta.get_path(old, "spec", "type")):
        return []
    if is_headless(old) or is_headless(new):
        return []
    old_families = _strings(meta.get_path(old, "spec", "ipFamilies"))
    new_families = _strings(meta.get_path(new, "spec", "ipFamilies"))
    new_ips = _strings(meta.get_path(new, "spec", "clusterIPs"))
    families_rendered = go_strings(new_families, "[]core.IPFamily")
    ips_rendered = go_strings(new_ips)
    errs: list[FieldError] = []
    if len(old_families) == len(new_families):
        errs += [
            invalid_rendered("spec.ipFamilies[0]", families_rendered, "may not change once set")
            for i, family in enumerate(old_families)
            if family != new_families[i]
        ]
    elif len(old_families) > len(new_families):
        if not new_ips:
            errs.append(
                invalid_rendered(
                    "spec.ipFamilies[0]", families_rendered, "primary ipFamily can not be unset"
                )
            )
        if new_families and new_families[0] != old_families[0]:
            errs.append(
                invalid_rendered("spec.ipFamilies[0]", ips_rendered, "may not change once set")
            )
        if len(new_families) == 1 and meta.get_path(new, "spec", "ipFamilyPolicy") != "SingleStack":
            errs.append(
                invalid_rendered(
                    "spec.ipFamilyPolicy",
                    _go_string_pointer(meta.get_path(new, "spec", "ipFamilyPolicy")),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
    elif old_families and new_families[0] != old_families[0]:
        errs.append(invalid_rendered("spec.ipFamilies[0]", ips_rendered, "may not change once set"))
    return errs


def validate_service_status(svc: Obj, old: Obj | None = None) -> list[FieldError]:
    """ValidateLoadBalancerStatus, what ValidateServiceStatusUpdate adds to the metadata rules;
    ingress IPs the old status held are accepted as they are."""
    path = "status.loadBalancer.ingress"
    ingresses = meta.get_path(svc, "status", "loadBalancer", "ingress", default=[])
    old_ingresses = (
        meta.get_path(old, "status", "loadBalancer", "ingress", default=[]) if old else []
    )
    old_ips = [_str(i.get("ip")) for i in _list(old_ingresses) if isinstance(i, dict)]
    if ingresses and meta.get_path(svc, "spec", "type") != "LoadBalancer":
        return [forbidden_field(path, "may only be used when `spec.type` is 'LoadBalancer'")]
    errs: list[FieldError] = []
    for i, ingress in enumerate(ingresses):
        ingress = ingress if isinstance(ingress, dict) else {}
        item = f"{path}[{i}]"
        ip = _str(ingress.get("ip"))
        if ip:
            errs += _validate_ip(ip, child(item, "ip"), old_ips)
        mode = ingress.get("ipMode")
        if mode is None:
            if ip:
                errs.append(required(child(item, "ipMode"), "must be specified when `ip` is set"))
        elif not ip:
            errs.append(
                forbidden_field(child(item, "ipMode"), "may not be specified when `ip` is not set")
            )
        elif mode not in LOAD_BALANCER_IP_MODES:
            errs.append(not_supported(child(item, "ipMode"), mode, LOAD_BALANCER_IP_MODES))
        hostname = _str(ingress.get("hostname"))
        if hostname:
            errs += [
                invalid(child(item, "hostname"), hostname, msg)
                for msg in names.is_dns1123_subdomain(hostname)
            ]
            if parse_ip(hostname) is not None:
                errs.append(
                    invalid(
                        child(item, "hostname"), hostname, "must be a DNS name, not an IP address"
                    )
                )
    return errs


# --- Endpoints ----------------------------------------------------------------------------------


def validate_endpoints(endpoints: Obj, old: Obj | None = None) -> list[FieldError]:
    """ValidateEndpoints beyond metadata: every subset has addresses, and valid ones.

    An update that leaves `subsets` exactly as it was keeps addresses that today's strict rules
    refuse; any other change must fix them all (KEP-4858: Endpoints are not ratcheted address by
    address)."""
    errs: list[FieldError] = []
    unchanged = old is not None and endpoints.get("subsets") == old.get("subsets")
    for i, subset in enumerate(_list(endpoints.get("subsets"))):
        subset = subset if isinstance(subset, dict) else {}
        path = f"subsets[{i}]"
        addresses = _list(subset.get("addresses"))
        not_ready = _list(subset.get("notReadyAddresses"))
        if not addresses and not not_ready:
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for field, items in (("addresses", addresses), ("notReadyAddresses", not_ready)):
            for j, address in enumerate(items):
                errs += _validate_endpoint_address(
                    address if isinstance(address, dict) else {}, f"{path}.{field}[{j}]", unchanged
                )
        ports = _list(subset.get("ports"))
        for j, port in enumerate(ports):
            errs += _validate_endpoint_port(
                port if isinstance(port, dict) else {}, len(ports) > 1, f"{path}.ports[{j}]"
            )
    return errs


def _validate_endpoint_address(address: Obj, path: str, kept: bool = False) -> list[FieldError]:
    ip = _str(address.get("ip"))
    errs = _validate_ip(ip, child(path, "ip")) if not kept or parse_ip(ip) is None else []
    hostname = _str(address.get("hostname"))
    if hostname:
        errs += [
            invalid(child(path, "hostname"), hostname, msg)
            for msg in names.is_dns1123_label(hostname)
        ]
    node_name = address.get("nodeName")
    if node_name is not None:
        errs += [
            invalid(child(path, "nodeName"), node_name, msg)
            for msg in names.name_is_dns_subdomain(_str(node_name), False)
        ]
    return errs + _validate_non_special_ip(ip, child(path, "ip"))


def _validate_endpoint_port(port: Obj, require_name: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = _str(port.get("name"))
    if require_name and not name:
        errs.append(required(child(path, "name")))
    elif name:
        errs += [invalid(child(path, "name"), name, msg) for msg in names.is_dns1123_label(name)]
    number = port.get("port", 0)
    errs += [invalid(child(path, "port"), number, msg) for msg in _port_num(number)]
    errs += _validate_protocol(port.get("protocol"), child(path, "protocol"))
    errs += validate_app_protocol(port, path)
    return errs


# --- ConfigMap and Secret -----------------------------------------------------------------------


def is_config_map_key(key: str) -> list[str]:
    """IsConfigMapKey: the key of a ConfigMap or Secret entry becomes a file name."""
    errs: list[str] = []
    if len(key) > names.DNS1123_SUBDOMAIN_MAX:
        errs.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX))
    if not _CONFIG_KEY_CHARS.issuperset(key) or not key:
        errs.append(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
            "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
            "'[-._a-zA-Z0-9]+')"
        )
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


_CONFIG_KEY_CHARS = frozenset("-._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def validate_config_map(cm: Obj) -> list[FieldError]:
    """ValidateConfigMap beyond metadata: keys, no key in both maps, 1 MiB in all."""
    data = _mapping(cm.get("data"))
    binary = _mapping(cm.get("binaryData"))
    errs: list[FieldError] = []
    total = 0
    for key, value in data.items():
        errs += [invalid(f"data[{key}]", key, msg) for msg in is_config_map_key(key)]
        if key in binary:
            errs.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        total += len(_str(value).encode())
    for key, value in binary.items():
        errs += [invalid(f"binaryData[{key}]", key, msg) for msg in is_config_map_key(key)]
        total += _decoded_length(value)
    if total > MAX_SECRET_SIZE:
        # Kubernetes reports the size of the whole object, at an empty path.
        errs.append(too_long_bytes("", MAX_SECRET_SIZE))
    return errs


def validate_config_map_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateConfigMapUpdate: nothing changes once `immutable` was set."""
    if old.get("immutable") is not True:
        return []
    errs: list[FieldError] = []
    if new.get("immutable") is not True:
        errs.append(forbidden_field("immutable", _IMMUTABLE_WHEN_SET))
    for field in ("data", "binaryData"):
        if (new.get(field) or None) != (old.get(field) or None):
            errs.append(forbidden_field(field, _IMMUTABLE_WHEN_SET))
    return errs


def validate_secret(secret: Obj) -> list[FieldError]:
    """ValidateSecret beyond metadata: keys, 1 MiB of data, and what each type requires."""
    data = _mapping(secret.get("data"))
    errs: list[FieldError] = []
    total = 0
    for key, value in data.items():
        errs += [invalid(f"data[{key}]", key, msg) for msg in is_config_map_key(key)]
        total += _decoded_length(value)
    if total > MAX_SECRET_SIZE:
        errs.append(too_long_bytes("data", MAX_SECRET_SIZE))
    kind = _str(secret.get("type"))
    if kind == SECRET_SERVICE_ACCOUNT_TOKEN:
        if not meta.get_path(secret, "metadata", "annotations", SERVICE_ACCOUNT_NAME_ANNOTATION):
            errs.append(required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_ANNOTATION}]"))
    elif kind in (SECRET_DOCKERCFG, SECRET_DOCKER_CONFIG_JSON):
        key = ".dockercfg" if kind == SECRET_DOCKERCFG else ".dockerconfigjson"
        if key not in data:
            errs.append(required(f"data[{key}]"))
        else:
            problem = _json_object_problem(_decoded(data[key]))
            if problem:
                errs.append(invalid(f"data[{key}]", "<secret contents redacted>", problem))
    elif kind == SECRET_BASIC_AUTH:
        if "username" not in data and "password" not in data:
            errs += [required("data[username]"), required("data[password]")]
    elif kind == SECRET_SSH_AUTH:
        if not _decoded(data.get("ssh-privatekey")):
            errs.append(required("data[ssh-privatekey]"))
    elif kind == SECRET_TLS:
        errs += [required(f"data[{key}]") for key in ("tls.crt", "tls.key") if key not in data]
    return errs


def validate_secret_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateSecretUpdate: the type is fixed, and nothing changes once `immutable` was set."""
    errs: list[FieldError] = []
    new_type = _str(new.get("type"))
    if new_type != _str(old.get("type")):
        errs.append(invalid("type", new_type, FIELD_IMMUTABLE))
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            errs.append(forbidden_field("immutable", _IMMUTABLE_WHEN_SET))
        if (new.get("data") or None) != (old.get("data") or None):
            errs.append(forbidden_field("data", _IMMUTABLE_WHEN_SET))
    return errs


def _decoded(value: Any) -> bytes:
    """A `data` value is base64 in JSON; one that is not decodes to its raw bytes."""
    text = _str(value)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def _decoded_length(value: Any) -> int:
    return len(_decoded(value))


def _json_object_problem(raw: bytes) -> str:
    """What Go's json.Unmarshal into a map says about content that is not a JSON object."""
    text = raw.decode(errors="replace")
    if not text.strip():
        return "unexpected end of JSON input"
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        first = text.strip()[0]
        return f"invalid character {first!r} looking for beginning of value"
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", bool: "bool", type(None): "null"}.get(
            type(value), "number"
        )
        if kind == "null":
            return ""
        return f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}"
    return ""


# --- Event --------------------------------------------------------------------------------------
#
# ValidateEventCreate and ValidateEventUpdate work on a core/v1 Event. Every write gets the legacy
# checks; writes through events.k8s.io/v1 also get the strict ones (and ObjectMeta's, which the
# strategy runs between the two, as Kubernetes does), while core/v1 writes skip them for the sake
# of old clients.


def validate_event_legacy(event: Obj) -> list[FieldError]:
    """legacyValidateEvent: where the event lives, and the fields a new-style event must have."""
    errs: list[FieldError] = []
    namespace = meta.namespace_of(event)
    involved_namespace = _str(meta.get_path(event, "involvedObject", "namespace"))
    mismatch = invalid(
        "involvedObject.namespace", involved_namespace, "does not match event.namespace"
    )
    if not event.get("eventTime"):
        # Events of the old API: an event about a cluster-scoped object lives in no namespace
        # (or "default", for old clients); otherwise it lives with its object.
        if not involved_namespace:
            if namespace not in ("", "default"):
                errs.append(mismatch)
        elif namespace != involved_namespace:
            errs.append(mismatch)
    else:
        if not involved_namespace and namespace not in _EVENT_HOME_NAMESPACES:
            errs.append(mismatch)
        controller = _str(event.get("reportingComponent"))
        if not controller:
            errs.append(required("reportingController"))
        errs += [
            invalid("reportingController", controller, msg)
            for msg in names.is_qualified_name(controller)
        ]
        for field, limit in (
            ("reportingInstance", REPORTING_INSTANCE_LENGTH_LIMIT),
            ("action", ACTION_LENGTH_LIMIT),
            ("reason", REASON_LENGTH_LIMIT),
        ):
            value = _str(event.get(field))
            if not value:
                errs.append(required(field))
            if names.go_len(value) > limit:
                errs.append(invalid(field, "", f"can have at most {limit} characters"))
        if names.go_len(_str(event.get("message"))) > NOTE_LENGTH_LIMIT:
            errs.append(invalid("message", "", f"can have at most {NOTE_LENGTH_LIMIT} characters"))
    errs += [invalid("namespace", namespace, msg) for msg in names.is_dns1123_subdomain(namespace)]
    return errs


def validate_event_strict(event: Obj) -> list[FieldError]:
    """What events.k8s.io/v1 adds on create: a series that adds up, an eventTime, a type, and
    none of the deprecated fields."""
    errs: list[FieldError] = []
    series = event.get("series")
    if isinstance(series, dict):
        errs += _event_series_errors(series)
    if not event.get("eventTime"):
        errs.append(required("eventTime"))
    kind = _str(event.get("type"))
    if kind not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {kind}"))
    for field in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(field):
            errs.append(invalid(field, "", "needs to be unset"))
    source = _mapping(event.get("source"))
    if source.get("component") or source.get("host"):
        errs.append(invalid("source", "", "needs to be unset"))
    return errs


def _event_series_errors(series: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    if (series.get("count") or 0) < 2:
        errs.append(invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(required("series.lastObservedTime"))
    return errs


# The fields an events.k8s.io/v1 update may not change, in Kubernetes' order (reason twice).
_IMMUTABLE_EVENT_FIELDS = (
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "reason",
    "type",
    "eventTime",
    "action",
    "related",
    "reportingComponent",
    "reportingInstance",
)


def validate_event_update_strict(new: Obj, old: Obj) -> list[FieldError]:
    """What events.k8s.io/v1 adds on update: a changed series adds up, the rest is fixed."""
    errs: list[FieldError] = []
    series = new.get("series")
    if series != old.get("series") and isinstance(series, dict):
        errs += _event_series_errors(series)
    for field in _IMMUTABLE_EVENT_FIELDS:
        if (new.get(field) or None) != (old.get(field) or None):
            # The error names the internal field: reportingComponent is reportingController.
            path = "reportingController" if field == "reportingComponent" else field
            errs.append(
                invalid_rendered(path, _go_event_field(field, new.get(field)), FIELD_IMMUTABLE)
            )
    return errs


def _go_event_field(field: str, value: Any) -> str:
    """An Event field as Kubernetes prints it in an immutability error."""
    if field in ("involvedObject", "related"):
        if value is None and field == "related":
            return "null"
        ref = _mapping(value)
        return go_struct(
            "core.ObjectReference",
            [
                (name, go_quote(_str(ref.get(key))))
                for name, key in (
                    ("Kind", "kind"),
                    ("Namespace", "namespace"),
                    ("Name", "name"),
                    ("UID", "uid"),
                    ("APIVersion", "apiVersion"),
                    ("ResourceVersion", "resourceVersion"),
                    ("FieldPath", "fieldPath"),
                )
            ],
        )
    if field == "source":
        source = _mapping(value)
        return go_struct(
            "core.EventSource",
            [
                ("Component", go_quote(_str(source.get("component")))),
                ("Host", go_quote(_str(source.get("host")))),
            ],
        )
    if field in ("firstTimestamp", "lastTimestamp", "eventTime"):
        return go_time(value)
    if field == "count":
        return str(value or 0)
    return go_quote(_str(value))


# --- IP addresses -------------------------------------------------------------------------------


# netutils.ParseIPSloppy: like Go's net.ParseIP, IPv4 parts may have leading zeros.
parse_ip = legacy_ip.parse_ip_sloppy


def ip_family(ip: str) -> str:
    """familyOf: "IPv4" or "IPv6" (an IPv4-mapped IPv6 address is IPv4), "" if not an IP."""
    return {4: "IPv4", 6: "IPv6"}.get(_family(ip), "")


def _family(ip: str) -> int:
    parsed = parse_ip(ip)
    if parsed is None:
        return 0
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return 6
    return 4


# IsValidIPForLegacyField / IsValidCIDRForLegacyField: strict since StrictIPCIDRValidation
# (beta, on in 1.37).
_validate_ip = legacy_ip.validate_ip
_validate_cidr = legacy_ip.validate_cidr


def _validate_non_special_ip(ip: str, path: str) -> list[FieldError]:
    """ValidateNonSpecialIP: no unspecified, loopback or link-local addresses."""
    parsed = parse_ip(ip)
    if parsed is None:
        return [invalid(path, ip, "must be a valid IP address")]
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    errs: list[FieldError] = []
    if parsed.is_unspecified:
        errs.append(invalid(path, ip, f"may not be unspecified ({ip})"))
    if parsed.is_loopback:
        errs.append(invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if parsed.is_link_local and not parsed.is_multicast:
        errs.append(
            invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    if parsed in _LINK_LOCAL_MULTICAST_V4 or parsed in _LINK_LOCAL_MULTICAST_V6:
        errs.append(
            invalid(
                path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
            )
        )
    return errs


def validate_endpoint_ip(ip: str, path: str) -> list[FieldError]:
    """ValidateEndpointIP, which EndpointSlices share with Endpoints and externalIPs."""
    return _validate_non_special_ip(ip, path)


# Go's IsLinkLocalMulticast: 224.0.0.0/24, and IPv6 multicast of link-local scope (ff02::/16).
_LINK_LOCAL_MULTICAST_V4 = ipaddress.ip_network("224.0.0.0/24")
_LINK_LOCAL_MULTICAST_V6 = ipaddress.ip_network("ff02::/16")


# --- small helpers ------------------------------------------------------------------------------


def _go_string_pointer(value: Any) -> str:
    """A *string as Go prints it inside an error: the pointed-to string, or null."""
    return "null" if value is None else go_quote(_str(value))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _strings(value: Any) -> list[str]:
    return [_str(v) for v in value] if isinstance(value, list) else []


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
