"""ServiceLB: which Services it serves and the ingress it gives them from the nodes."""

from __future__ import annotations

from typing import Any

from kubelite.controllers.servicelb import ingress_for, node_address, wants_service_lb

Obj = dict[str, Any]


def node(ready: bool, *addresses: tuple[str, str]) -> Obj:
    return {
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "addresses": [{"type": t, "address": a} for t, a in addresses],
        }
    }


def test_external_ip_wins_over_internal_ip() -> None:
    assert node_address(node(True, ("InternalIP", "10.0.0.2"), ("ExternalIP", "203.0.113.5"))) == (
        "203.0.113.5"
    )
    assert node_address(node(True, ("InternalIP", "10.0.0.2"), ("Hostname", "n"))) == "10.0.0.2"


def test_ingress_lists_ready_nodes_in_address_order() -> None:
    nodes = [
        node(True, ("InternalIP", "10.0.0.10")),
        node(True, ("InternalIP", "10.0.0.9")),
        node(False, ("InternalIP", "10.0.0.11")),
    ]
    assert ingress_for(nodes) == [
        {"ip": "10.0.0.9", "ipMode": "VIP"},
        {"ip": "10.0.0.10", "ipMode": "VIP"},
    ]
    assert ingress_for([node(False, ("InternalIP", "10.0.0.11"))]) == []


def test_only_load_balancers_without_another_class() -> None:
    assert wants_service_lb({"spec": {"type": "LoadBalancer"}})
    assert not wants_service_lb({"spec": {"type": "NodePort"}})
    assert not wants_service_lb(
        {"spec": {"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}}
    )
