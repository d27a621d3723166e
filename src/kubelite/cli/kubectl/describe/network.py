"""The text of `kubectl describe` for Services, Endpoints and EndpointSlices.

Each follows its describer in kubectl 1.33 (k8s.io/kubectl/pkg/describe: describeService,
describeEndpoints, describeEndpointSliceV1). A Service's `Endpoints:` lines come from its
EndpointSlices, as kubectl 1.33 reads them: the first three `address:port` of the slices that
serve that port, then `+ N more...`. Pure functions of objects: `command` fetches the slices
and the events and passes them in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api.types import Obj
from kubelite.cli.kubectl.describe.events import describe_events
from kubelite.cli.kubectl.describe.printing import (
    NONE,
    PrefixWriter,
    named_with_labels,
)
from kubelite.cli.output import format_labels

# formatEndpointSlices and the Endpoints subset lines show this many addresses.
MAX_SHOWN = 3
UNSET = "<unset>"


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoint_slices(slices: list[Obj], port_name: str | None) -> str:
    """formatEndpointSlices: `ip:port` for the ready endpoints of the slices serving the named
    port (any port when None; bare addresses for slices without ports)."""
    if not slices:
        return NONE
    shown: list[str] = []
    count = 0
    for eps in slices:
        # Only endpoints that may take traffic: ready, or of unknown readiness.
        endpoints = [
            e
            for e in eps.get("endpoints") or ()
            if (e.get("conditions") or {}).get("ready") is not False
        ]
        ports = eps.get("ports") or []
        if not ports:
            for endpoint in endpoints:
                if len(shown) < MAX_SHOWN:
                    shown.append((endpoint.get("addresses") or [""])[0])
                count += 1
            continue
        for port in ports:
            if port_name is not None and (port.get("name") or "") != port_name:
                continue
            for endpoint in endpoints:
                if len(shown) < MAX_SHOWN:
                    address = (endpoint.get("addresses") or [""])[0]
                    shown.append(_join_host_port(address, int(port.get("port") or 0)))
                count += 1
    text = ",".join(shown)
    if count > MAX_SHOWN:
        return f"{text} + {count - MAX_SHOWN} more..."
    return text


def _ingress_text(ingress: list[Obj]) -> str:
    """buildIngressString: each entry's IP with its mode (`1.2.3.4 (VIP)`), or its hostname."""
    texts = []
    for entry in ingress:
        if entry.get("ip"):
            mode = f" ({entry['ipMode']})" if entry.get("ipMode") else ""
            texts.append(f"{entry['ip']}{mode}")
        else:
            texts.append(entry.get("hostname") or "")
    return ", ".join(texts)


def describe_service(
    service: Obj, slices: list[Obj], events: list[Obj] | None, now: dt.datetime
) -> str:
    """describeService."""
    w = PrefixWriter()
    spec = service.get("spec") or {}
    status = service.get("status") or {}
    named_with_labels(w, service)
    w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
    w.write(0, f"Type:\t{spec.get('type', '')}\n")
    if spec.get("ipFamilyPolicy"):
        w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    families = spec.get("ipFamilies") or []
    w.write(0, f"IP Families:\t{','.join(families) if families else NONE}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP', '')}\n")
    cluster_ips = spec.get("clusterIPs") or []
    w.write(0, f"IPs:\t{','.join(cluster_ips) if cluster_ips else NONE}\n")
    if spec.get("externalIPs"):
        w.write(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("loadBalancerIP"):
        w.write(0, f"Desired LoadBalancer IP:\t{spec['loadBalancerIP']}\n")
    if spec.get("externalName"):
        w.write(0, f"External Name:\t{spec['externalName']}\n")
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        w.write(0, f"LoadBalancer Ingress:\t{_ingress_text(ingress)}\n")
    for port in spec.get("ports") or []:
        name = port.get("name") or UNSET
        protocol = port.get("protocol", "TCP")
        w.write(0, f"Port:\t{name}\t{port.get('port', 0)}/{protocol}\n")
        target = port.get("targetPort", port.get("port", 0))
        w.write(0, f"TargetPort:\t{target}/{protocol}\n")
        if port.get("appProtocol"):
            # kubectl 1.36 (kubernetes/kubernetes#135744).
            w.write(0, f"AppProtocol:\t{port['appProtocol']}\n")
        if port.get("nodePort"):
            w.write(0, f"NodePort:\t{name}\t{port['nodePort']}/{protocol}\n")
        w.write(0, f"Endpoints:\t{format_endpoint_slices(slices, port.get('name') or '')}\n")
    if not spec.get("ports") and slices:
        w.write(0, f"Endpoints:\t{format_endpoint_slices(slices, None)}\n")
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', '')}\n")
    if spec.get("externalTrafficPolicy"):
        w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        w.write(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    if spec.get("healthCheckNodePort"):
        w.write(0, f"HealthCheck NodePort:\t{spec['healthCheckNodePort']}\n")
    if spec.get("loadBalancerSourceRanges"):
        w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec['loadBalancerSourceRanges'])}\n")
    if spec.get("trafficDistribution"):
        w.write(0, f"Traffic Distribution:\t{spec['trafficDistribution']}\n")
    describe_events(w, events, now)
    return w.text()


def _address_list(addresses: list[Obj]) -> str:
    """formatEndpoints' per-subset list: every address, or `<none>`."""
    return ",".join(a.get("ip", "") for a in addresses) if addresses else NONE


def describe_endpoints(endpoints: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describeEndpoints: each subset's ready and not-ready addresses and its ports."""
    w = PrefixWriter()
    named_with_labels(w, endpoints)
    w.write(0, "Subsets:\n")
    for subset in endpoints.get("subsets") or []:
        w.write(1, f"Addresses:\t{_address_list(subset.get('addresses') or [])}\n")
        w.write(1, f"NotReadyAddresses:\t{_address_list(subset.get('notReadyAddresses') or [])}\n")
        ports = subset.get("ports") or []
        if ports:
            w.write(1, "Ports:\n")
            w.write(2, "Name\tPort\tProtocol\n")
            w.write(2, "----\t----\t--------\n")
            for port in ports:
                name = port.get("name") or UNSET
                w.write(2, f"{name}\t{port.get('port', 0)}\t{port.get('protocol', '')}\n")
        w.write(0, "\n")
    describe_events(w, events, now)
    return w.text()


def _optional(value: Any) -> str:
    return UNSET if value is None else str(value)


def _bool(value: Any) -> str:
    return "true" if value else "false"


def describe_endpoint_slice(eps: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describeEndpointSliceV1: ports, then each endpoint with its conditions and topology."""
    w = PrefixWriter()
    named_with_labels(w, eps)
    w.write(0, f"AddressType:\t{eps.get('addressType', '')}\n")
    ports = eps.get("ports") or []
    if not ports:
        w.write(0, "Ports: <unset>\n")
    else:
        w.write(0, "Ports:\n")
        w.write(1, "Name\tPort\tProtocol\n")
        w.write(1, "----\t----\t--------\n")
        for port in ports:
            name = port.get("name") or UNSET
            number = _optional(port.get("port"))
            w.write(1, f"{name}\t{number}\t{_optional(port.get('protocol'))}\n")
    endpoints = eps.get("endpoints") or []
    if not endpoints:
        w.write(0, "Endpoints: <none>\n")
    else:
        w.write(0, "Endpoints:\n")
        for endpoint in endpoints:
            w.write(1, f"- Addresses:\t{','.join(endpoint.get('addresses') or [])}\n")
            w.write(2, "Conditions:\n")
            ready = (endpoint.get("conditions") or {}).get("ready")
            w.write(3, f"Ready:\t{UNSET if ready is None else _bool(ready)}\n")
            w.write(2, f"Hostname:\t{_optional(endpoint.get('hostname'))}\n")
            ref = endpoint.get("targetRef")
            if ref is not None:
                w.write(2, f"TargetRef:\t{ref.get('kind', '')}/{ref.get('name', '')}\n")
            w.write(2, f"NodeName:\t{_optional(endpoint.get('nodeName'))}\n")
            w.write(2, f"Zone:\t{_optional(endpoint.get('zone'))}\n")
    describe_events(w, events, now)
    return w.text()
