"""The subsets of a Service's v1 Endpoints, computed from its pods as Kubernetes does.

`pkg/controller/endpoint` (syncService's loop, addEndpointSubset, truncateEndpoints) and
`pkg/api/v1/endpoints` (RepackSubsets): each pod becomes one address per Service port it has,
ready or not ready; the addresses are then regrouped so that addresses serving the same set of
ports share one subset; past 1000 addresses the not-ready ones go first, and the Endpoints is
marked over capacity.

Kubernetes orders subsets and ports by a hash of their Go representation; kubelite orders them
by their content instead (addresses by IP then uid, as Kubernetes does), which is stable across
syncs too, so an unchanged set of pods never rewrites the object.
"""

from __future__ import annotations

import json
import math
from typing import Any

from kubelite.api import meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.types import Obj
from kubelite.controllers.endpoints_util import (
    CLUSTER_IP_NONE,
    find_port,
    pod_ips_of_family,
    service_family,
    should_pod_be_in_endpoints,
    should_set_hostname,
    target_ref,
)

# endpoints_controller.go: maxCapacity, the addresses one Endpoints holds.
MAX_CAPACITY = 1000
TRUNCATED = "truncated"


def endpoint_address(service: Obj, pod: Obj) -> Obj | None:
    """podToEndpointAddressForService: the pod's address of the Service's family, or None."""
    ips = pod_ips_of_family(pod, service_family(service, pod))
    if not ips:
        return None
    address: Obj = {
        "ip": ips[0],
        "nodeName": (pod.get("spec") or {}).get("nodeName") or "",
        "targetRef": target_ref(pod),
    }
    if should_set_hostname(pod, service):
        address = {"ip": ips[0], "hostname": pod["spec"]["hostname"], **address}
    return address


def endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port = {"name": service_port["name"], **port}
    if service_port.get("appProtocol") is not None:
        port["appProtocol"] = service_port["appProtocol"]
    return port


def pod_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """One single-address subset per pod and Service port, before repacking."""
    spec = service.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    service_ports = spec.get("ports") or []
    subsets: list[Obj] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, publish_not_ready):
            continue
        address = endpoint_address(service, pod)
        if address is None:
            continue
        field = "addresses" if publish_not_ready or is_pod_ready(pod) else "notReadyAddresses"
        if not service_ports:
            # A headless Service may have no ports: its pods are listed without any.
            if spec.get("clusterIP") == CLUSTER_IP_NONE:
                subsets.append({field: [address]})
            continue
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is None:
                continue  # This pod has no port of that name: left out of that port.
            subsets.append({field: [address], "ports": [endpoint_port(service_port, number)]})
    return subsets


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _address_key(address: Obj) -> tuple[str, str]:
    return (address.get("ip", ""), (address.get("targetRef") or {}).get("uid", ""))


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """RepackSubsets: group addresses by the exact set of ports they serve.

    An address not ready for any one port is not ready for all of them (not ready wins).
    """
    addresses: dict[tuple[str, str], Obj] = {}
    # port (canonical) -> {address key: ready}
    by_port: dict[str, dict[tuple[str, str], bool]] = {}
    port_objects: dict[str, Obj | None] = {}
    for given in subsets:
        ports = given.get("ports") or [None]  # None: the no-ports sentinel
        for port in ports:
            pkey = _canonical(port)
            port_objects[pkey] = port
            members = by_port.setdefault(pkey, {})
            for field, is_ready in (("addresses", True), ("notReadyAddresses", False)):
                for address in given.get(field) or ():
                    akey = _address_key(address)
                    addresses.setdefault(akey, address)
                    if members.get(akey, True):
                        members[akey] = is_ready
    groups: dict[str, tuple[dict[tuple[str, str], bool], list[Obj]]] = {}
    for pkey, members in by_port.items():
        gkey = _canonical(sorted([list(k), v] for k, v in members.items()))
        entry = groups.setdefault(gkey, (members, []))
        port = port_objects[pkey]
        if port is not None:
            entry[1].append(port)
    final: list[Obj] = []
    for members, ports in groups.values():
        ready = sorted((k for k, v in members.items() if v))
        not_ready = sorted((k for k, v in members.items() if not v))
        subset: Obj = {}
        if ready:
            subset["addresses"] = [addresses[k] for k in ready]
        if not_ready:
            subset["notReadyAddresses"] = [addresses[k] for k in not_ready]
        if ports:
            subset["ports"] = sorted(
                ports, key=lambda p: (p.get("name", ""), p.get("port", 0), p.get("protocol", ""))
            )
        final.append(subset)
    final.sort(key=_canonical)
    return final


def truncate(subsets: list[Obj]) -> bool:
    """truncateEndpoints, in place: at most MAX_CAPACITY addresses, ready ones kept first and
    each subset cut in proportion to its share; True if anything was cut."""
    total_ready = sum(len(s.get("addresses") or ()) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    limit = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    room = limit
    for i, subset in enumerate(subsets):
        field = "addresses" if truncate_ready else "notReadyAddresses"
        count = len(subset.get(field) or ())
        take = room
        if i != len(subsets) - 1:
            take = math.ceil(count / total * limit)
        take = min(take, room)
        kept = (subset.get(field) or [])[:take]
        if kept:
            subset[field] = kept
        else:
            subset.pop(field, None)
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        room -= len(kept)
    return True


def desired_subsets(service: Obj, pods: list[Obj]) -> tuple[list[Obj], bool]:
    """The Endpoints' subsets for these pods, and whether they were cut to capacity."""
    subsets = repack_subsets(pod_subsets(service, pods))
    truncated = truncate(subsets)
    return [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")], truncated


def ignoring_resource_versions(subsets: list[Obj]) -> str:
    """endpointSubsetsEqualIgnoreResourceVersion's comparison key."""
    stripped = meta.clone(subsets)
    for subset in stripped:
        for field in ("addresses", "notReadyAddresses"):
            for address in subset.get(field) or ():
                (address.get("targetRef") or {}).pop("resourceVersion", None)
    return _canonical(stripped)
