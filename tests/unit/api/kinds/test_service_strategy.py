"""Services: defaults, the cluster IP bookkeeping, and the rules Kubernetes checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.strategies.core import (
    ServiceStrategy,
    assign_cluster_ip,
    cluster_ip_request,
    needs_cluster_ip,
)

Obj = dict[str, Any]
STRATEGY = ServiceStrategy()


def service(**spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def created(**spec: Any) -> Obj:
    """A service as the REST code prepares it: defaults, preparation, an allocated cluster IP."""
    svc = service(**spec)
    STRATEGY.default(svc)
    STRATEGY.prepare_for_create(svc)
    if cluster_ip_request(svc) == "":
        assign_cluster_ip(svc, "10.43.0.10")
    return svc


def errors(svc: Obj) -> list[str]:
    return [str(e) for e in STRATEGY.validate(svc)]


def test_defaults_of_a_plain_service() -> None:
    svc = created()
    assert svc["spec"] == {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
        "clusterIP": "10.43.0.10",
        "clusterIPs": ["10.43.0.10"],
    }
    assert svc["status"] == {"loadBalancer": {}}
    assert errors(svc) == []


def test_named_target_port_is_kept() -> None:
    svc = created(ports=[{"port": 80, "targetPort": "http"}])
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


def test_client_ip_affinity_gets_a_three_hour_timeout() -> None:
    svc = created(sessionAffinity="ClientIP")
    assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_node_port_service_defaults_its_external_traffic_policy() -> None:
    svc = created(type="NodePort")
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"


def test_load_balancer_allocates_node_ports_by_default() -> None:
    assert created(type="LoadBalancer")["spec"]["allocateLoadBalancerNodePorts"] is True


def test_external_name_service_needs_no_cluster_ip() -> None:
    svc = created(type="ExternalName", externalName="db.example.com.", ports=[])
    assert not needs_cluster_ip(svc)
    assert cluster_ip_request(svc) is None
    assert "clusterIP" not in svc["spec"] and "ipFamilies" not in svc["spec"]
    assert errors(svc) == []


def test_headless_service_without_selector_is_dual_stack() -> None:
    svc = created(clusterIP="None", selector=None, ports=[])
    assert cluster_ip_request(svc) is None
    assert svc["spec"]["clusterIPs"] == ["None"]
    assert svc["spec"]["ipFamilyPolicy"] == "RequireDualStack"
    assert svc["spec"]["ipFamilies"] == ["IPv4", "IPv6"]
    assert errors(svc) == []


def test_requested_cluster_ip_is_reserved_not_allocated() -> None:
    svc = service(clusterIP="10.43.0.99")
    STRATEGY.default(svc)
    STRATEGY.prepare_for_create(svc)
    assert cluster_ip_request(svc) == "10.43.0.99"
    assert svc["spec"]["clusterIPs"] == ["10.43.0.99"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ports": []}, ["spec.ports: Required value"]),
        (
            # targetPort defaults to port, so it is out of range too.
            {"ports": [{"port": 0}]},
            [
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, "
                "inclusive",
            ],
        ),
        (
            {"ports": [{"port": 70000}]},
            [
                "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, "
                "inclusive",
            ],
        ),
        (
            {"ports": [{"port": 80}, {"port": 81, "name": "b"}]},
            ["spec.ports[0].name: Required value"],
        ),
        (
            {"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]},
            ['spec.ports[1].name: Duplicate value: "a"'],
        ),
        (
            {"ports": [{"port": 80, "protocol": "HTTP"}]},
            [
                'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", '
                '"TCP", "UDP"'
            ],
        ),
        (
            {"type": "Balanced"},
            [
                'spec.type: Unsupported value: "Balanced": supported values: "ClusterIP", '
                '"ExternalName", "LoadBalancer", "NodePort"'
            ],
        ),
        (
            {"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]},
            [
                'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", '
                "AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, "
                'IntVal:0, StrVal:""}, NodePort:0}'
            ],
        ),
        (
            {"ports": [{"port": 80, "nodePort": 30080}]},
            ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
        ),
        (
            {"type": "ExternalName", "ports": []},
            ["spec.externalName: Required value"],
        ),
        (
            {"sessionAffinity": "Sticky"},
            [
                'spec.sessionAffinity: Unsupported value: "Sticky": supported values: '
                '"ClientIP", "None"'
            ],
        ),
        (
            {"externalIPs": ["127.0.0.1", "nope"]},
            [
                'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback '
                "range (127.0.0.0/8, ::1/128)",
                'spec.externalIPs[1]: Invalid value: "nope": must be a valid IP address, (e.g. '
                "10.9.8.7 or 2001:db8::ffff)",
            ],
        ),
    ],
)
def test_service_rules(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors(created(**spec)) == expected


def test_service_names_are_dns_1123_labels_and_may_start_with_a_digit() -> None:
    """RelaxedServiceNameValidation (KEP-5311) is GA in 1.37: NameIsDNSLabel, not DNS-1035."""
    svc = created()
    svc["metadata"]["name"] = "1web"
    assert errors(svc) == []
    svc["metadata"]["name"] = "web.1"
    assert errors(svc) == [
        'metadata.name: Invalid value: "web.1": a lowercase RFC 1123 label must consist of lower '
        "case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]


# --- updates ------------------------------------------------------------------------------------


def stored_service(**spec: Any) -> Obj:
    svc = created(**spec)
    svc["metadata"].update(uid="s-1", resourceVersion="4", creationTimestamp="2025-06-01T12:00:00Z")
    return svc


def updated(old: Obj, change: dict[str, Any]) -> tuple[Obj, list[str]]:
    new = copy.deepcopy(old)
    new["spec"].update(change)
    STRATEGY.default(new)
    STRATEGY.prepare_for_update(new, old)
    return new, [str(e) for e in STRATEGY.validate_update(new, old)]


def test_update_that_omits_the_cluster_ip_keeps_it() -> None:
    old = stored_service()
    new = copy.deepcopy(old)
    del new["spec"]["clusterIP"], new["spec"]["clusterIPs"]
    STRATEGY.prepare_for_update(new, old)
    assert new["spec"]["clusterIP"] == "10.43.0.10"
    assert new["spec"]["clusterIPs"] == ["10.43.0.10"]
    assert STRATEGY.validate_update(new, old) == []


def test_cluster_ip_cannot_change() -> None:
    _, errs = updated(stored_service(), {"clusterIP": "10.43.0.11"})
    assert errs == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.43.0.11"}: may not change once set'
    ]


def test_changing_to_external_name_releases_the_cluster_ip() -> None:
    new, errs = updated(
        stored_service(), {"type": "ExternalName", "externalName": "db.example.com"}
    )
    assert errs == []
    for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert field not in new["spec"]


def test_status_update_keeps_the_spec_and_checks_the_load_balancer() -> None:
    old = stored_service()
    new = copy.deepcopy(old)
    new["spec"]["type"] = "NodePort"
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    STRATEGY.prepare_for_status_update(new, old)
    assert new["spec"]["type"] == "ClusterIP"
    assert [str(e) for e in STRATEGY.validate_status_update(new, old)] == [
        "status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is "
        "'LoadBalancer'"
    ]


def test_services_select_by_cluster_ip_and_type() -> None:
    assert STRATEGY.selectable_fields(created()) == {
        "spec.clusterIP": "10.43.0.10",
        "spec.type": "ClusterIP",
    }
