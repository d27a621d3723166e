"""discovery.k8s.io/v1 EndpointSlices: defaults, what ValidateEndpointSlice refuses with
Kubernetes' field errors, the immutable addressType, and when the generation moves."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.kinds import REGISTRY
from kubelite.api.strategies.discovery import EndpointSliceStrategy

Obj = dict[str, Any]

STRATEGY = EndpointSliceStrategy()


def eps(address_type: str = "IPv4", endpoints: Any = None, ports: Any = None) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "web-abcde", "namespace": "default"},
        "addressType": address_type,
        "endpoints": endpoints if endpoints is not None else [{"addresses": ["10.42.0.5"]}],
        "ports": ports if ports is not None else [{"name": "http", "port": 80}],
    }


def stored(obj: Obj) -> Obj:
    """The object as an update carries it: with the resourceVersion it was read at."""
    obj["metadata"]["resourceVersion"] = "7"
    return obj


def errors_of(obj: Obj) -> list[str]:
    STRATEGY.default(obj)
    return [str(e) for e in STRATEGY.validate(obj)]


def test_served_as_discovery_v1_endpointslices() -> None:
    resource = REGISTRY.lookup("discovery.k8s.io", "v1", "endpointslices")
    assert resource is not None
    assert (resource.kind, resource.namespaced) == ("EndpointSlice", True)


def test_ports_default_to_an_empty_name_and_tcp() -> None:
    obj = eps(ports=[{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}])
    STRATEGY.default(obj)
    assert obj["ports"] == [
        {"port": 80, "name": "", "protocol": "TCP"},
        {"name": "dns", "port": 53, "protocol": "UDP"},
    ]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (eps(), []),
        (eps("IPv6", [{"addresses": ["fd00::5"]}]), []),
        (eps("FQDN", [{"addresses": ["db.example.com"]}]), []),
        (eps(""), ["addressType: Required value"]),
        (
            eps("IP"),
            ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"'],
        ),
        (
            eps(endpoints=[{"addresses": []}]),
            ["endpoints[0].addresses: Required value: must contain at least 1 address"],
        ),
        (
            eps(endpoints=[{"addresses": ["fd00::5"]}]),
            ['endpoints[0].addresses[0]: Invalid value: "fd00::5": must be a valid IPv4 address'],
        ),
        (
            eps(endpoints=[{"addresses": ["127.0.0.1"]}]),
            [
                'endpoints[0].addresses[0]: Invalid value: "127.0.0.1": may not be in the '
                "loopback range (127.0.0.0/8, ::1/128)"
            ],
        ),
        (
            eps("FQDN", [{"addresses": ["localhost"]}]),
            [
                'endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with '
                "at least two segments separated by dots"
            ],
        ),
        (
            eps(endpoints=[{"addresses": ["10.42.0.5"], "hostname": "Web_0"}]),
            [
                'endpoints[0].hostname: Invalid value: "Web_0": a lowercase RFC 1123 label must '
                "consist of lower case alphanumeric characters or '-', and must start and end "
                "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ],
        ),
        (
            eps(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]),
            ['ports[1].name: Duplicate value: "http"'],
        ),
        (
            eps(ports=[{"name": "http", "port": 80, "protocol": "ICMP"}]),
            [
                'ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", '
                '"TCP", "UDP"'
            ],
        ),
        (
            eps(endpoints=[{"addresses": [f"10.0.{i // 250}.{i % 250 + 1}"]} for i in range(1001)]),
            ["endpoints: Too many: 1001: must have at most 1000 items"],
        ),
        (
            eps(ports=[{"name": f"p{i}", "port": 1000 + i} for i in range(101)]),
            ["ports: Too many: 101: must have at most 100 items"],
        ),
        (
            eps(endpoints=[{"addresses": ["10.42.0.5"], "nodeName": "Node_1"}]),
            [
                'endpoints[0].nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain '
                "must consist of lower case alphanumeric characters, '-' or '.', and must start "
                "and end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ],
        ),
    ],
)
def test_validation(obj: Obj, expected: list[str]) -> None:
    assert errors_of(obj) == expected


def test_address_type_is_immutable() -> None:
    old = stored(eps())
    STRATEGY.default(old)
    new = stored(eps("IPv6", [{"addresses": ["fd00::5"]}]))
    STRATEGY.default(new)
    errs = [str(e) for e in STRATEGY.validate_update(new, old)]
    assert errs == ['addressType: Invalid value: "IPv6": field is immutable']


def test_the_deprecated_ip_type_may_stay_on_update_but_not_be_created() -> None:
    old = stored(eps("IP"))
    assert errors_of(eps("IP"))
    new = stored(eps("IP"))
    STRATEGY.default(new)
    assert [str(e) for e in STRATEGY.validate_update(new, old)] == []


def test_generation_moves_with_content_and_labels_only() -> None:
    old = eps()
    STRATEGY.prepare_for_create(old)
    assert old["metadata"]["generation"] == 1
    annotated = eps()
    annotated["metadata"]["annotations"] = {"a": "b"}
    STRATEGY.prepare_for_update(annotated, old)
    assert annotated["metadata"]["generation"] == 1
    relabelled = eps()
    relabelled["metadata"]["labels"] = {"kubernetes.io/service-name": "web"}
    STRATEGY.prepare_for_update(relabelled, old)
    assert relabelled["metadata"]["generation"] == 2
    moved = eps(endpoints=[{"addresses": ["10.42.0.6"]}])
    STRATEGY.prepare_for_update(moved, old)
    assert moved["metadata"]["generation"] == 2


def test_empty_endpoints_and_ports_are_stored_as_null() -> None:
    obj = eps(endpoints=[], ports=[])
    obj.pop("ports")
    STRATEGY.canonicalize(obj)
    assert obj["endpoints"] is None and obj["ports"] is None


def test_node_hints_are_kept_on_create_and_update() -> None:
    """PreferSameTrafficDistribution is GA in 1.37: `hints.forNodes` is stored as sent."""
    hints = {"forZones": [{"name": "a"}], "forNodes": [{"name": "n1"}]}

    def hinted() -> Obj:
        return {"addresses": ["10.42.0.5"], "hints": {k: list(v) for k, v in hints.items()}}

    obj = eps(endpoints=[hinted()])
    STRATEGY.prepare_for_create(obj)
    assert obj["endpoints"][0]["hints"] == hints
    assert errors_of(obj) == []
    # An update may add node hints to a slice that had none.
    new = stored(eps(endpoints=[hinted()]))
    STRATEGY.prepare_for_update(new, stored(eps()))
    assert new["endpoints"][0]["hints"] == hints
