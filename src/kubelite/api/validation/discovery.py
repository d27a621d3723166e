"""Validation of discovery.k8s.io/v1 EndpointSlices (`pkg/apis/discovery/validation`).

An EndpointSlice is written by controllers (and by hand for selectorless Services) and read by
every node's service proxy and by cluster DNS, so what it may hold is bounded: at most 1000
endpoints of at most 100 addresses each, at most 100 ports, addresses of the slice's one
address type, and an addressType that never changes once the slice exists (a proxy keys its
rules by family).
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import (
    FieldError,
    child,
    duplicate,
    invalid,
    not_supported,
    required,
    too_many,
)
from kubelite.api.types import Obj
from kubelite.api.validation import legacy_ip, names
from kubelite.api.validation.core import (
    SUPPORTED_PORT_PROTOCOLS,
    parse_ip,
    validate_app_protocol,
    validate_endpoint_ip,
)
from kubelite.api.validation.objectmeta import FIELD_IMMUTABLE, validate_labels

ADDRESS_TYPE_IPV4 = "IPv4"
ADDRESS_TYPE_IPV6 = "IPv6"
ADDRESS_TYPE_FQDN = "FQDN"
# supportedAddressTypes, listed sorted as sets.List() gives them to NotSupported.
SUPPORTED_ADDRESS_TYPES = (ADDRESS_TYPE_FQDN, ADDRESS_TYPE_IPV4, ADDRESS_TYPE_IPV6)
# The deprecated "IP" type may stay on a slice that already has it, never be created anew.
DEPRECATED_ADDRESS_TYPE_IP = "IP"
# validation.go's limits.
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 100
MAX_TOPOLOGY_LABELS = 16
MAX_ZONE_HINTS = 8
MAX_NODE_HINTS = 8
# corev1.LabelTopologyZone: v1 carries it in `zone`, never in deprecatedTopology.
LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"


def validate_endpoint_slice(
    eps: Obj, *, updating: bool = False, kept: bool = False
) -> list[FieldError]:
    """ValidateEndpointSlice beyond metadata (which the strategy's base checks). `kept`: an
    update left `endpoints` exactly as it was, so addresses that today's strict IP rules refuse
    may stay (KEP-4858 ratchets EndpointSlices as a whole, not address by address)."""
    address_type = _str(eps.get("addressType"))
    return (
        _validate_address_type(address_type, updating)
        + _validate_endpoints(_list(eps.get("endpoints")), address_type, kept)
        + _validate_ports(_list(eps.get("ports")))
    )


def validate_endpoint_slice_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateEndpointSliceUpdate: the rules of a new slice, and addressType is immutable."""
    kept = new.get("endpoints") == old.get("endpoints")
    errs = validate_endpoint_slice(new, updating=True, kept=kept)
    if new.get("addressType") != old.get("addressType"):
        errs.append(invalid("addressType", new.get("addressType"), FIELD_IMMUTABLE))
    return errs


def _validate_address_type(address_type: str, updating: bool) -> list[FieldError]:
    supported: tuple[str, ...] = SUPPORTED_ADDRESS_TYPES
    if updating:
        supported = tuple(sorted((*supported, DEPRECATED_ADDRESS_TYPE_IP)))
    if not address_type:
        return [required("addressType")]
    if address_type not in supported:
        return [not_supported("addressType", address_type, supported)]
    return []


def _validate_endpoints(
    endpoints: list[Any], address_type: str, kept: bool = False
) -> list[FieldError]:
    if len(endpoints) > MAX_ENDPOINTS:
        return [too_many("endpoints", len(endpoints), MAX_ENDPOINTS)]
    errs: list[FieldError] = []
    for i, endpoint in enumerate(endpoints):
        endpoint = endpoint if isinstance(endpoint, dict) else {}
        path = f"endpoints[{i}]"
        addresses_path = child(path, "addresses")
        addresses = _list(endpoint.get("addresses"))
        if not addresses:
            errs.append(required(addresses_path, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(too_many(addresses_path, len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            errs += _validate_address(_str(address), address_type, f"{addresses_path}[{j}]", kept)
        node_name = endpoint.get("nodeName")
        if node_name is not None:
            errs += [
                invalid(child(path, "nodeName"), node_name, msg)
                for msg in names.name_is_dns_subdomain(_str(node_name), False)
            ]
        topology = endpoint.get("deprecatedTopology")
        topology_path = child(path, "deprecatedTopology")
        if isinstance(topology, dict):
            if len(topology) > MAX_TOPOLOGY_LABELS:
                errs.append(too_many(topology_path, len(topology), MAX_TOPOLOGY_LABELS))
            errs += validate_labels(topology, topology_path)
        hostname = endpoint.get("hostname")
        if hostname is not None:
            errs += [
                invalid(child(path, "hostname"), hostname, msg)
                for msg in names.is_dns1123_label(_str(hostname))
            ]
        hints = endpoint.get("hints")
        if isinstance(hints, dict):
            errs += _validate_hints(hints, child(path, "hints"))
    return errs


def _validate_address(
    address: str, address_type: str, path: str, kept: bool = False
) -> list[FieldError]:
    """Addresses of known types only; a type this server does not know is not checked. IPs
    also meet the strict rules (no leading zeros, no IPv4-mapped IPv6) unless `kept`."""
    if address_type in (ADDRESS_TYPE_IPV4, ADDRESS_TYPE_IPV6):
        parsed = parse_ip(address)
        want = 4 if address_type == ADDRESS_TYPE_IPV4 else 6
        if parsed is None or _family(parsed) != want:
            return [invalid(path, address, f"must be a valid {address_type} address")]
        strict = [] if kept else legacy_ip.validate_ip(address, path)
        return strict + validate_endpoint_ip(address, path)
    if address_type == ADDRESS_TYPE_FQDN:
        return _fully_qualified_domain_name(address, path)
    return []


def _family(parsed: Any) -> int:
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        return 4
    return int(parsed.version)


def _fully_qualified_domain_name(name: str, path: str) -> list[FieldError]:
    """IsFullyQualifiedDomainName: a DNS-1123 subdomain of at least two labels."""
    if not name:
        return [required(path)]
    name = name.removesuffix(".")
    if problems := names.is_dns1123_subdomain(name):
        return [invalid(path, name, ",".join(problems))]
    labels = name.split(".")
    if len(labels) < 2:
        return [
            invalid(path, name, "should be a domain with at least two segments separated by dots")
        ]
    for label in labels:
        if problems := names.is_dns1123_label(label):
            return [invalid(path, label, ",".join(problems))]
    return []


def _validate_hints(hints: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for field, limit in (("forZones", MAX_ZONE_HINTS), ("forNodes", MAX_NODE_HINTS)):
        entries = _list(hints.get(field))
        field_path = child(path, field)
        if len(entries) > limit:
            errs.append(too_many(field_path, len(entries), limit))
            continue
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            name = _str((entry if isinstance(entry, dict) else {}).get("name"))
            name_path = f"{field_path}[{i}].name"
            if name in seen:
                errs.append(duplicate(name_path, name))
            seen.add(name)
            check = names.is_valid_label_value if field == "forZones" else _node_name
            errs += [invalid(name_path, name, msg) for msg in check(name)]
    return errs


def _node_name(name: str) -> list[str]:
    return names.name_is_dns_subdomain(name, False)


def _validate_ports(ports: list[Any]) -> list[FieldError]:
    if len(ports) > MAX_PORTS:
        return [too_many("ports", len(ports), MAX_PORTS)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port = port if isinstance(port, dict) else {}
        path = f"ports[{i}]"
        name = _str(port.get("name"))
        if name:
            errs += [
                invalid(child(path, "name"), name, msg) for msg in names.is_dns1123_label(name)
            ]
        if name in seen:
            errs.append(duplicate(child(path, "name"), name))
        seen.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(required(child(path, "protocol")))
        elif protocol not in SUPPORTED_PORT_PROTOCOLS:
            errs.append(not_supported(child(path, "protocol"), protocol, SUPPORTED_PORT_PROTOCOLS))
        errs += validate_app_protocol(port, path)
    return errs


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
