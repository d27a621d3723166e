"""The proxy fed by a real API server: Services and EndpointSlices created with the API reach
the node's table through the informers, and a new Service answers within a second.

The proxier runs in this process (`run_proxy`, as `kubelite proxy` and the agent run it) and
programs a node namespace of its own (`proxy_netns.NetnsNode`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from proxy_netns import NetnsNode
from tests.integration.cluster import Cluster

from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import load_config
from kubelite.proxy.conntrack import Conntrack
from kubelite.proxy.nft import Nft
from kubelite.proxy.proxier import Proxier
from kubelite.proxy.rules import ProxyConfig
from kubelite.proxy.runner import ENDPOINT_SLICES, SERVICES, run_proxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None,
        reason="needs root and nft to build network namespaces and program them",
    ),
]

CLUSTER_IP = "10.43.77.7"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "data", tmp_path / "cache", extra_args=["--disable-scheduler"])
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
async def net() -> AsyncIterator[NetnsNode]:
    node = NetnsNode()
    try:
        node.setup()
        node.add_pod("pod-a")
        yield node
    finally:
        node.close()


async def test_a_service_created_through_the_api_answers_within_a_second(
    cluster: Cluster, net: NetnsNode
) -> None:
    async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as client:
        served = {r.plural for r in await client.api_resources() if r.group == "discovery.k8s.io"}
        if "endpointslices" not in served:
            pytest.skip("this API server does not serve discovery.k8s.io/v1 endpointslices yet")
        proxier = Proxier(
            ProxyConfig(node_name="node-e2e", cluster_cidrs=(net.cluster_cidr,)),
            nft=Nft(net.nft_command()),
            conntrack=Conntrack(net.conntrack_command()),
        )
        task = asyncio.create_task(run_proxy(client, proxier))
        try:
            await proxier.wait_for_sync(30)
            # A node that has been running a while: its syncs are not held back by the rate
            # limit (the first sync used one of its burst of two).
            async with asyncio.timeout(5):
                while proxier.available_syncs() < 2:
                    await asyncio.sleep(0.05)
            start = time.monotonic()
            await client.create(
                SERVICES,
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "web", "namespace": "default"},
                    "spec": {
                        "clusterIP": CLUSTER_IP,
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                    },
                },
            )
            await client.create(
                ENDPOINT_SLICES,
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": "web-manual",
                        "namespace": "default",
                        "labels": {
                            "kubernetes.io/service-name": "web",
                            # Not the EndpointSlice controller's: it leaves this slice alone.
                            "endpointslice.kubernetes.io/managed-by": "e2e.kubelite.io",
                        },
                    },
                    "addressType": "IPv4",
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [
                        {"addresses": [net.pods["pod-a"]], "conditions": {"ready": True}}
                    ],
                },
            )
            # In a thread: the informers and the proxier run on this loop meanwhile.
            while await asyncio.to_thread(net.request, net.client, CLUSTER_IP, 80) != ["pod-a"]:
                assert time.monotonic() - start < 5, "the ClusterIP never answered"
            assert time.monotonic() - start < 1.0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
