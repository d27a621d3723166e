"""`APIServer` bootstraps the kube-dns Service and its Endpoints where the cluster DNS answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelite.api import errors
from kubelite.apiserver.server import APIServer, ServerConfig


def config(data_dir: Path, cluster_dns: tuple[str, int]) -> ServerConfig:
    return ServerConfig(
        data_dir=data_dir, https_port=0, bind_address="127.0.0.1", cluster_dns=cluster_dns
    )


async def kube_dns(server: APIServer) -> tuple[dict, dict]:
    svc = await server.resource_store("", "v1", "services").get("kube-system", "kube-dns")
    endpoints = await server.resource_store("", "v1", "endpoints").get("kube-system", "kube-dns")
    return svc, endpoints


async def test_the_kube_dns_service_leads_to_the_dns_port_and_follows_it(tmp_path: Path) -> None:
    first = APIServer(config(tmp_path / "data", ("192.0.2.7", 40053)))
    await first.start()
    try:
        svc, endpoints = await kube_dns(first)
        assert svc["spec"]["clusterIP"] == "10.43.0.10"
        assert svc["spec"]["type"] == "ClusterIP" and "selector" not in svc["spec"]
        assert svc["metadata"]["labels"] == {
            "k8s-app": "kube-dns",
            "kubernetes.io/cluster-service": "true",
            "kubernetes.io/name": "CoreDNS",
        }
        assert svc["spec"]["ports"] == [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 40053},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 40053},
        ]
        assert endpoints["subsets"] == [
            {
                "addresses": [{"ip": "192.0.2.7"}],
                "ports": [
                    {"name": "dns", "port": 40053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 40053, "protocol": "TCP"},
                ],
            }
        ]
    finally:
        await first.stop()
    # The next start's port (`--cluster-dns-port 0`) replaces the last.
    second = APIServer(config(tmp_path / "data", ("192.0.2.7", 41053)))
    await second.start()
    try:
        svc, endpoints = await kube_dns(second)
        assert {p["targetPort"] for p in svc["spec"]["ports"]} == {41053}
        assert {p["port"] for p in endpoints["subsets"][0]["ports"]} == {41053}
        assert svc["spec"]["clusterIP"] == "10.43.0.10"
    finally:
        await second.stop()


async def test_a_loopback_dns_address_gets_the_service_but_no_endpoints(tmp_path: Path) -> None:
    server = APIServer(config(tmp_path / "data", ("127.0.0.1", 40053)))
    await server.start()
    try:
        svc = await server.resource_store("", "v1", "services").get("kube-system", "kube-dns")
        assert svc["spec"]["clusterIP"] == "10.43.0.10"
        with pytest.raises(errors.StatusError):
            await server.resource_store("", "v1", "endpoints").get("kube-system", "kube-dns")
    finally:
        await server.stop()


async def test_an_address_already_taken_does_not_stop_the_server(tmp_path: Path) -> None:
    first = APIServer(
        ServerConfig(data_dir=tmp_path / "data", https_port=0, bind_address="127.0.0.1")
    )
    await first.start()
    await first.resource_store("", "v1", "services").create(
        "default",
        {
            "metadata": {"name": "squatter"},
            "spec": {"clusterIP": "10.43.0.10", "ports": [{"port": 80, "protocol": "TCP"}]},
        },
    )
    await first.stop()
    second = APIServer(config(tmp_path / "data", ("192.0.2.7", 40053)))
    await second.start()
    try:
        with pytest.raises(errors.StatusError):
            await second.resource_store("", "v1", "services").get("kube-system", "kube-dns")
    finally:
        await second.stop()
