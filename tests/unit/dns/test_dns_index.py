"""The index follows informer events: what is added, changed and deleted is what answers see."""

from __future__ import annotations

from tests.unit.dns.cluster_objects import endpoint, endpoint_slice, namespace, service

from kubelite.dns.index import ClusterIndex


def test_a_service_change_replaces_its_addresses_and_reverse_entries() -> None:
    index = ClusterIndex()
    changes: list[int] = []
    index.on_change.append(lambda: changes.append(1))
    obj = service("web", clusterIP="10.43.0.20", clusterIPs=["10.43.0.20"], ports=[])
    index.on_service("ADDED", obj)
    assert index.services[("default", "web")].cluster_ips == ("10.43.0.20",)
    assert index.by_cluster_ip == {"10.43.0.20": [("default", "web")]}
    moved = service("web", clusterIP="10.43.0.21", clusterIPs=["10.43.0.21"], ports=[])
    index.on_service("MODIFIED", moved)
    assert index.by_cluster_ip == {"10.43.0.21": [("default", "web")]}
    index.on_service("DELETED", moved)
    assert index.services == {} and index.by_cluster_ip == {}
    assert len(changes) == 3


def test_service_kinds() -> None:
    index = ClusterIndex()
    index.on_service("ADDED", service("h", clusterIP="None"))
    index.on_service("ADDED", service("x", type="ExternalName", externalName="example.com"))
    index.on_service("ADDED", service("c", clusterIP="10.43.0.5"))
    kinds = {name: s.kind for (_, name), s in index.services.items()}
    assert kinds == {"h": "Headless", "x": "ExternalName", "c": "ClusterIP"}
    assert index.services[("default", "c")].cluster_ips == ("10.43.0.5",)
    assert index.services[("default", "h")].cluster_ips == ()


def test_slices_keep_only_ready_endpoints_and_follow_updates() -> None:
    index = ClusterIndex()
    ports = [{"name": "http", "port": 80, "protocol": "TCP"}]
    first = endpoint_slice(
        "web-a",
        "web",
        [
            endpoint("10.42.0.1"),
            endpoint("10.42.0.2", ready=False),
            endpoint("10.42.0.3", ready=None),
        ],
        ports,
    )
    index.on_endpoint_slice("ADDED", first)
    [piece] = index.service_slices("default", "web")
    assert [e.ip for e in piece.endpoints] == ["10.42.0.1", "10.42.0.3"]
    assert [e.hostname for e in piece.endpoints] == ["10-42-0-1", "10-42-0-3"]
    assert set(index.by_endpoint_ip) == {"10.42.0.1", "10.42.0.3"}
    # The same address in a second slice (a move between slices) survives the first's removal.
    index.on_endpoint_slice("ADDED", endpoint_slice("web-b", "web", [endpoint("10.42.0.3")], ports))
    index.on_endpoint_slice("DELETED", first)
    assert set(index.by_endpoint_ip) == {"10.42.0.3"}
    index.on_endpoint_slice("DELETED", endpoint_slice("web-b", "web", [], ports))
    assert index.slices == {} and index.by_endpoint_ip == {}


def test_a_slice_relabelled_to_another_service_moves() -> None:
    index = ClusterIndex()
    index.on_endpoint_slice("ADDED", endpoint_slice("s", "one", [endpoint("10.42.0.1")], None))
    index.on_endpoint_slice("MODIFIED", endpoint_slice("s", "two", [endpoint("10.42.0.1")], None))
    assert index.service_slices("default", "one") == []
    assert len(index.service_slices("default", "two")) == 1
    assert index.by_endpoint_ip == {"10.42.0.1": {("default", "two")}}


def test_slices_of_no_service_and_fqdn_slices_are_ignored() -> None:
    index = ClusterIndex()
    orphan = endpoint_slice("o", "x", [endpoint("10.42.0.1")], None)
    del orphan["metadata"]["labels"]["kubernetes.io/service-name"]
    index.on_endpoint_slice("ADDED", orphan)
    index.on_endpoint_slice(
        "ADDED", endpoint_slice("f", "x", [endpoint("example.com")], None, address_type="FQDN")
    )
    assert index.slices == {}


def test_namespaces_come_and_go() -> None:
    index = ClusterIndex()
    index.on_namespace("ADDED", namespace("team"))
    assert "team" in index.namespaces
    index.on_namespace("DELETED", namespace("team"))
    assert "team" not in index.namespaces
