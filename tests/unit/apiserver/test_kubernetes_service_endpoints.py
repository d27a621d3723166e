"""The `kubernetes` Service's endpoints, as kube-apiserver writes them: an Endpoints the
mirroring controller skips and the EndpointSlice beside it, following the server's port; and
the service range flags reaching the allocator and the Service's address."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from kubelite.apiserver.server import APIServer, ServerConfig

ADVERTISED = "192.0.2.10"


async def test_the_kubernetes_endpoint_slice_follows_the_server(tmp_path: Path) -> None:
    config = ServerConfig(
        data_dir=tmp_path / "data",
        https_port=0,
        bind_address="127.0.0.1",
        advertise_address=ADVERTISED,
        service_cidr=ipaddress.ip_network("10.96.0.0/24"),
    )
    server = APIServer(config)
    await server.start()
    try:
        slices = server.resource_store("discovery.k8s.io", "v1", "endpointslices")
        eps = await slices.get("default", "kubernetes")
        assert eps["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
        assert eps["addressType"] == "IPv4"
        assert eps["endpoints"] == [{"addresses": [ADVERTISED], "conditions": {"ready": True}}]
        assert eps["ports"] == [{"name": "https", "port": server.port, "protocol": "TCP"}]
        endpoints = await server.resource_store("", "v1", "endpoints").get("default", "kubernetes")
        assert endpoints["metadata"]["labels"] == {
            "endpointslice.kubernetes.io/skip-mirror": "true"
        }
        svc = await server.resource_store("", "v1", "services").get("default", "kubernetes")
        assert svc["spec"]["clusterIP"] == "10.96.0.1"
        created = await server.resource_store("", "v1", "services").create(
            "default", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
        )
        assert ipaddress.ip_address(created["spec"]["clusterIP"]) in config.service_cidr
    finally:
        await server.stop()
