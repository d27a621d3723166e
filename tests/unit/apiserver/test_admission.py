"""Admission: NamespaceLifecycle, and Service cluster IP and node port allocation."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors, servicenetwork
from kubelite.apiserver import admission
from kubelite.apiserver.registry import DeleteOptions

Obj = dict[str, Any]


async def refused(call: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as err:
        await call
    return err.value


def service(name: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], **spec}}


# --- NamespaceLifecycle -----------------------------------------------------------------------


async def test_create_in_a_missing_namespace_is_not_found(stores: Stores) -> None:
    err = await refused(stores.of("configmaps").create("nope", {"metadata": {"name": "a"}}))
    assert (err.code, err.reason) == (404, "NotFound")
    assert err.message == 'namespaces "nope" not found'
    assert err.details == {"name": "nope", "kind": "namespaces"}


async def test_missing_namespace_is_reported_before_validation(stores: Stores) -> None:
    bad = {"metadata": {"name": "NOT_A_NAME"}}
    err = await refused(stores.of("configmaps").create("nope", bad))
    assert err.code == 404


async def test_create_in_a_terminating_namespace_is_forbidden_with_its_cause(
    stores: Stores,
) -> None:
    await stores.namespace("going")
    await stores.of("configmaps").create("going", {"metadata": {"name": "before"}})
    _, gone = await stores.of("namespaces").delete("", "going", DeleteOptions())
    assert not gone
    err = await refused(stores.of("configmaps").create("going", {"metadata": {"name": "a"}}))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == (
        'configmaps "a" is forbidden: unable to create new content in namespace going because '
        "it is being terminated"
    )
    assert err.details is not None
    assert err.details["causes"] == [
        {
            "reason": "NamespaceTerminating",
            "message": "namespace going is being terminated",
            "field": "metadata.namespace",
        }
    ]
    # What is already there may still change (the namespace controller empties it).
    cm = await stores.of("configmaps").get("going", "before")
    cm["metadata"]["labels"] = {"a": "b"}

    async def relabel(_current: Obj | None) -> Obj:
        return cm

    updated, _ = await stores.of("configmaps").update("going", "before", relabel)
    assert updated["metadata"]["labels"] == {"a": "b"}


@pytest.mark.parametrize("name", admission.IMMORTAL_NAMESPACES)
async def test_immortal_namespaces_cannot_be_deleted(stores: Stores, name: str) -> None:
    err = await refused(stores.of("namespaces").delete("", name, DeleteOptions()))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
    ns = await stores.of("namespaces").get("", name)
    assert "deletionTimestamp" not in ns["metadata"]
    assert ns["status"]["phase"] == "Active"


async def test_other_system_namespaces_can_be_deleted(stores: Stores) -> None:
    _, gone = await stores.of("namespaces").delete("", "kube-node-lease", DeleteOptions())
    assert not gone  # terminating: the namespace controller finishes it


async def test_cluster_scoped_kinds_need_no_namespace(stores: Stores) -> None:
    node = {"metadata": {"name": "n1"}}
    created = await stores.of("nodes").create("", node)
    assert "namespace" not in created["metadata"]


# --- Service cluster IPs ----------------------------------------------------------------------


async def test_a_cluster_ip_service_gets_a_free_address_of_the_range(stores: Stores) -> None:
    services = stores.of("services")
    ips = set()
    for i in range(5):
        created = await services.create("default", service(f"s{i}"))
        spec = created["spec"]
        ip = ipaddress.ip_address(spec["clusterIP"])
        assert ip in servicenetwork.SERVICE_CIDR
        assert ip not in (
            servicenetwork.SERVICE_CIDR.network_address,
            ipaddress.ip_address("10.43.0.1"),
        )
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        ips.add(ip)
    assert len(ips) == 5


async def test_a_requested_cluster_ip_is_kept_and_then_taken(stores: Stores) -> None:
    services = stores.of("services")
    created = await services.create("default", service("a", clusterIP="10.43.7.7"))
    assert created["spec"]["clusterIPs"] == ["10.43.7.7"]
    err = await refused(services.create("default", service("b", clusterIP="10.43.7.7")))
    assert (err.code, err.reason) == (422, "Invalid")
    assert "failed to allocate IP 10.43.7.7: provided IP is already allocated" in err.message
    assert err.details is not None and err.details["causes"][0]["field"] == "spec.clusterIPs"
    # Once the holder is gone, the address is free again.
    await services.delete("default", "a", DeleteOptions())
    again = await services.create("default", service("b", clusterIP="10.43.7.7"))
    assert again["spec"]["clusterIP"] == "10.43.7.7"


@pytest.mark.parametrize(
    "ip",
    [
        "10.44.0.1",
        "192.168.1.1",
        "10.43.0.0",
        "10.43.255.255",
    ],
)
async def test_a_requested_ip_out_of_the_range_is_invalid(stores: Stores, ip: str) -> None:
    err = await refused(stores.of("services").create("default", service("a", clusterIP=ip)))
    assert (err.code, err.reason) == (422, "Invalid")
    assert (
        f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The "
        "range of valid IPs is 10.43.0.0/16" in err.message
    )


async def test_out_of_range_message_prints_the_ips_as_go_does(stores: Stores) -> None:
    """Kubernetes passes service.Spec.ClusterIPs, a []string, which field.Invalid prints
    with %#v (pkg/registry/core/service/storage/alloc.go)."""
    err = await refused(
        stores.of("services").create("default", service("a", clusterIP="10.44.0.1"))
    )
    assert err.message.startswith(
        'Service "a" is invalid: spec.clusterIPs: Invalid value: []string{"10.44.0.1"}: '
    )


async def test_already_allocated_message_prints_the_ips_as_go_does(stores: Stores) -> None:
    services = stores.of("services")
    await services.create("default", service("a", clusterIP="10.43.7.8"))
    err = await refused(services.create("default", service("b", clusterIP="10.43.7.8")))
    assert err.message == (
        'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.7.8"}: '
        "failed to allocate IP 10.43.7.8: provided IP is already allocated"
    )


async def test_concurrent_creates_cannot_both_get_one_address(stores: Stores) -> None:
    services = stores.of("services")
    results = await asyncio.gather(
        services.create("default", service("a", clusterIP="10.43.9.9")),
        services.create("default", service("b", clusterIP="10.43.9.9")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, errors.StatusError) for r in results) == 1


async def test_services_without_a_cluster_ip(stores: Stores) -> None:
    services = stores.of("services")
    headless = await services.create("default", service("h", clusterIP="None"))
    assert headless["spec"]["clusterIPs"] == ["None"]
    external = await services.create(
        "default",
        {"metadata": {"name": "e"}, "spec": {"type": "ExternalName", "externalName": "x.io"}},
    )
    assert "clusterIP" not in external["spec"]


async def test_an_update_keeps_the_allocated_ip_and_node_ports(stores: Stores) -> None:
    services = stores.of("services")
    created = await services.create("default", service("a", type="NodePort"))
    ip = created["spec"]["clusterIP"]
    node_port = created["spec"]["ports"][0]["nodePort"]
    body = service("a", type="NodePort")
    body["metadata"]["labels"] = {"x": "y"}

    async def replace(_current: Obj | None) -> Obj:
        return body

    updated, _ = await services.update("default", "a", replace)
    assert updated["spec"]["clusterIP"] == ip
    assert updated["spec"]["ports"][0]["nodePort"] == node_port


# --- node ports -------------------------------------------------------------------------------


async def test_node_port_services_get_free_ports_of_the_range(stores: Stores) -> None:
    services = stores.of("services")
    spec: Any = {
        "type": "NodePort",
        "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}],
    }
    created = await services.create("default", {"metadata": {"name": "np"}, "spec": spec})
    ports = [p["nodePort"] for p in created["spec"]["ports"]]
    low, high = servicenetwork.NODE_PORT_RANGE
    assert all(low <= p <= high for p in ports)
    assert len(set(ports)) == 2


async def test_a_requested_node_port_in_use_or_out_of_range_is_invalid(stores: Stores) -> None:
    services = stores.of("services")

    def taken() -> Obj:
        return {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}

    await services.create("default", {"metadata": {"name": "a"}, "spec": taken()})
    err = await refused(services.create("default", {"metadata": {"name": "b"}, "spec": taken()}))
    assert err.code == 422
    assert err.message == (
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is '
        "already allocated"
    )
    low = {"type": "NodePort", "ports": [{"port": 80, "nodePort": 8080}]}
    err = await refused(services.create("default", {"metadata": {"name": "c"}, "spec": low}))
    assert err.message == (
        'Service "c" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is '
        "not in the valid range. The range of valid ports is 30000-32767"
    )


async def test_cluster_ip_services_get_no_node_ports(stores: Stores) -> None:
    created = await stores.of("services").create("default", service("a"))
    assert "nodePort" not in created["spec"]["ports"][0]
