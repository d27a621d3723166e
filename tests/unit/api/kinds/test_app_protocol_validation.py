"""A port's appProtocol must be a qualified name in Services, Endpoints and EndpointSlices alike
(ValidateQualifiedName in validateServicePort, validateEndpointPort and the EndpointSlice
ports): the same rule, the same field error under each kind's path."""

from __future__ import annotations

from kubelite.api.validation.core import validate_endpoints, validate_service
from kubelite.api.validation.discovery import validate_endpoint_slice

BAD = "not a/qualified name!"
PREFIX_PROBLEM = (
    'Invalid value: "not a/qualified name!": prefix part a lowercase RFC 1123 subdomain'
)
NAME_PROBLEM = 'Invalid value: "not a/qualified name!": name part must consist of alphanumeric'


def _app_protocol_errors(errors: list[object]) -> list[str]:
    found = [str(e) for e in errors if "appProtocol" in str(e)]
    assert any(PREFIX_PROBLEM in e for e in found)
    assert any(NAME_PROBLEM in e for e in found)
    return found


def test_service_port_app_protocol() -> None:
    svc = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "web"},
            "ports": [
                {"name": "a", "port": 80, "protocol": "TCP", "targetPort": 80, "appProtocol": BAD},
                {
                    "name": "b",
                    "port": 81,
                    "protocol": "TCP",
                    "targetPort": 81,
                    "appProtocol": "h2c",
                },
            ],
        },
    }
    found = _app_protocol_errors(list(validate_service(svc)))
    # One error for the prefix part, one for the name part, as IsQualifiedName reports them.
    assert len(found) == 2
    assert all(e.startswith("spec.ports[0].appProtocol: Invalid value: ") for e in found)


def test_endpoints_port_app_protocol() -> None:
    endpoints = {
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.5"}],
                "ports": [{"name": "a", "port": 80, "protocol": "TCP", "appProtocol": BAD}],
            }
        ],
    }
    found = _app_protocol_errors(list(validate_endpoints(endpoints)))
    # One error for the prefix part, one for the name part, as IsQualifiedName reports them.
    assert len(found) == 2
    assert all(e.startswith("subsets[0].ports[0].appProtocol: Invalid value: ") for e in found)


def test_endpoint_slice_port_app_protocol() -> None:
    eps = {
        "metadata": {"name": "web-abcde", "namespace": "default"},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.0.5"]}],
        "ports": [
            {"name": "a", "port": 80, "protocol": "TCP", "appProtocol": BAD},
            {"name": "b", "port": 81, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"},
        ],
    }
    found = _app_protocol_errors(list(validate_endpoint_slice(eps)))
    # One error for the prefix part, one for the name part, as IsQualifiedName reports them.
    assert len(found) == 2
    assert all(e.startswith("ports[0].appProtocol: Invalid value: ") for e in found)
