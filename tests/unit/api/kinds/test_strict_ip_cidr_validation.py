"""Strict IP/CIDR validation of the legacy IP and CIDR fields (KEP-4858; StrictIPCIDRValidation,
beta and on by default since 1.36, kubernetes#137053). The messages are parseIP's and parseCIDR's
in apimachinery's util/validation/ip.go; values the old object held stay acceptable on update
(validOldIPs), except in Endpoints and EndpointSlices, which keep them only while the whole
`subsets` / `endpoints` is unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.validation import legacy_ip
from kubelite.api.validation.core import (
    validate_endpoints,
    validate_node,
    validate_service,
    validate_service_status,
)
from kubelite.api.validation.discovery import (
    validate_endpoint_slice,
    validate_endpoint_slice_update,
)
from kubelite.api.validation.pods.spec import validate_pod_spec
from kubelite.api.validation.pods.status import validate_pod_status_update


def shown(errors: list[Any]) -> list[str]:
    return [str(e) for e in errors]


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("1.2.3.4", None),
        ("fe80::1", None),
        # Non-canonical IPv6 stays valid in legacy fields.
        ("FE80:0:0::1", None),
        ("010.0.0.1", "must not have leading 0s"),
        ("1.1.1.01", "must not have leading 0s"),
        ("::ffff:1.2.3.4", "must not be an IPv4-mapped IPv6 address"),
        ("1.2.3.400", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
        ("fe80::1%eth0", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
        ("", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
    ],
)
def test_legacy_ips(value: str, detail: str | None) -> None:
    errs = shown(legacy_ip.validate_ip(value, "f"))
    assert errs == ([] if detail is None else [f'f: Invalid value: "{value}": {detail}'])


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("192.168.0.0/24", None),
        ("2001:db8::/64", None),
        ("0.0.0.0/0", None),
        ("192.168.0.5/24", "must not have bits set beyond the prefix length"),
        ("2001:db8::1/64", "must not have bits set beyond the prefix length"),
        ("1.1.01.0/24", "must not have leading 0s in IP or prefix length"),
        ("192.168.0.0/016", "must not have leading 0s in IP or prefix length"),
        ("::ffff:1.1.1.0/120", "must not have an IPv4-mapped IPv6 address"),
        ("::ffff:1.1.1.0/24", "must not have an IPv4-mapped IPv6 address"),
        ("1.2.3.4", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
        ("192.168.0.0/+16", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
        ("192.168.0.0/33", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
    ],
)
def test_legacy_cidrs(value: str, detail: str | None) -> None:
    errs = shown(legacy_ip.validate_cidr(value, "f"))
    assert errs == ([] if detail is None else [f'f: Invalid value: "{value}": {detail}'])


def test_an_old_value_is_accepted_whatever_it_is() -> None:
    assert legacy_ip.validate_ip("010.0.0.1", "f", ["010.0.0.1"]) == []
    assert legacy_ip.validate_cidr("10.0.0.5/8", "f", ["10.0.0.5/8"]) == []


def service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "ClusterIP",
        "selector": {"app": "web"},
        "ports": [{"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
    }
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {**base, **spec}}


def test_service_ips_and_ranges_are_strict_on_create() -> None:
    svc = service(
        type="LoadBalancer",
        clusterIP="10.043.0.10",
        clusterIPs=["10.043.0.10"],
        externalIPs=["::ffff:1.2.3.4"],
        loadBalancerSourceRanges=["192.168.0.5/24"],
        externalTrafficPolicy="Cluster",
        allocateLoadBalancerNodePorts=True,
    )
    errs = shown(validate_service(svc))
    assert 'spec.clusterIPs[0]: Invalid value: "10.043.0.10": must not have leading 0s' in errs
    assert (
        'spec.externalIPs[0]: Invalid value: "::ffff:1.2.3.4": must not be an IPv4-mapped '
        "IPv6 address"
    ) in errs
    assert (
        'spec.LoadBalancerSourceRanges[0]: Invalid value: "192.168.0.5/24": must not have bits '
        "set beyond the prefix length"
    ) in errs


def test_an_update_keeps_the_services_old_values_but_not_new_bad_ones() -> None:
    old = service(
        type="LoadBalancer",
        externalIPs=["010.1.1.1"],
        loadBalancerSourceRanges=["192.168.0.5/24"],
        externalTrafficPolicy="Cluster",
        allocateLoadBalancerNodePorts=True,
    )
    new = service(
        type="LoadBalancer",
        externalIPs=["010.1.1.1", "020.1.1.1"],
        loadBalancerSourceRanges=["192.168.0.5/24"],
        externalTrafficPolicy="Cluster",
        allocateLoadBalancerNodePorts=True,
    )
    errs = [e for e in shown(validate_service(new, old)) if "externalIPs" in e or "Ranges" in e]
    assert errs == ['spec.externalIPs[1]: Invalid value: "020.1.1.1": must not have leading 0s']


def test_load_balancer_ingress_ips() -> None:
    svc = service(type="LoadBalancer")
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "01.2.3.4", "ipMode": "VIP"}]}}
    assert shown(validate_service_status(svc)) == [
        'status.loadBalancer.ingress[0].ip: Invalid value: "01.2.3.4": must not have leading 0s'
    ]
    assert validate_service_status(svc, svc) == []


def test_node_pod_cidrs() -> None:
    node = {"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.42.0.1/24"]}}
    assert shown(validate_node(node)) == [
        'spec.podCIDRs[0]: Invalid value: "10.42.0.1/24": must not have bits set beyond the '
        "prefix length"
    ]
    assert validate_node(node, node) == []


def endpoints(ip: str, *, label: str = "") -> dict[str, Any]:
    md: dict[str, Any] = {"name": "web", "namespace": "default"}
    if label:
        md["labels"] = {"l": label}
    return {
        "metadata": md,
        "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80, "protocol": "TCP"}]}],
    }


def test_endpoints_keep_bad_addresses_only_while_subsets_are_unchanged() -> None:
    bad = endpoints("010.42.0.5")
    message = 'subsets[0].addresses[0].ip: Invalid value: "010.42.0.5": must not have leading 0s'
    assert message in shown(validate_endpoints(bad))
    assert validate_endpoints(endpoints("010.42.0.5", label="x"), bad) == []
    changed = endpoints("010.42.0.5")
    changed["subsets"][0]["addresses"].append({"ip": "10.42.0.6"})
    assert message in shown(validate_endpoints(changed, bad))


def slice_of(*addresses: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": "default"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": list(addresses)}],
        "ports": [],
    }


def test_endpoint_slices_keep_bad_addresses_only_while_endpoints_are_unchanged() -> None:
    bad = slice_of("::ffff:10.42.0.5")
    message = (
        'endpoints[0].addresses[0]: Invalid value: "::ffff:10.42.0.5": must not be an '
        "IPv4-mapped IPv6 address"
    )
    assert message in shown(validate_endpoint_slice(bad))
    relabelled = {**bad, "metadata": {**bad["metadata"], "labels": {"l": "x"}}}
    assert message not in shown(validate_endpoint_slice_update(relabelled, bad))
    grown = slice_of("::ffff:10.42.0.5", "10.42.0.6")
    assert message in shown(validate_endpoint_slice_update(grown, bad))


def pod_status(*ips: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"nodeName": "n", "containers": [{"name": "c", "image": "i"}]},
        "status": {"podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]},
    }


def test_pod_ips_in_status() -> None:
    old = pod_status("10.42.0.5")
    bad = pod_status("010.42.0.5")
    assert 'status.podIPs[0]: Invalid value: "010.42.0.5": must not have leading 0s' in shown(
        validate_pod_status_update(bad, old)
    )
    assert not [e for e in shown(validate_pod_status_update(bad, bad)) if "podIPs" in e]


def test_host_aliases_and_nameservers_are_strict() -> None:
    spec = {
        "containers": [{"name": "c", "image": "i"}],
        "hostAliases": [{"ip": "::ffff:1.2.3.4", "hostnames": ["a"]}],
        "dnsPolicy": "None",
        "dnsConfig": {"nameservers": ["08.8.8.8"]},
    }
    errs = shown(validate_pod_spec(spec, "spec"))
    assert (
        'spec.hostAliases[0].ip: Invalid value: "::ffff:1.2.3.4": must not be an IPv4-mapped '
        "IPv6 address"
    ) in errs
    assert 'spec.dnsConfig.nameservers[0]: Invalid value: "08.8.8.8": must not have leading 0s' in (
        errs
    )
