"""The kubelet's status manager against a real API server: newest status wins, uid guards."""

from __future__ import annotations

import asyncio

from cluster import Cluster

from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import load_config
from kubelite.kubelet.status_manager import PODS, StatusManager


def _pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]},
    }


def _run(cluster: Cluster, scenario):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as client:
            return await scenario(client)

    return asyncio.run(main())


def test_only_the_newest_status_is_written_and_unchanged_ones_cost_nothing(
    cluster: Cluster, namespace: str
) -> None:
    async def scenario(client: APIClient) -> tuple[dict, int, int]:
        pod = await client.create(PODS, _pod("reported"), namespace=namespace)
        manager = StatusManager(client)
        for phase in ("Pending", "Running"):
            manager.set_status(pod, {"phase": phase, "podIP": "10.42.0.7"})
        await manager.flush()
        first = manager.writes
        manager.set_status(pod, {"phase": "Running", "podIP": "10.42.0.7"})
        await manager.flush()
        stored = await client.get(PODS, "reported", namespace=namespace)
        return stored, first, manager.writes

    stored, first, after = _run(cluster, scenario)
    assert stored["status"]["phase"] == "Running" and stored["status"]["podIP"] == "10.42.0.7"
    assert first == 1 and after == 1


def test_a_status_for_an_older_pod_of_the_same_name_is_not_written(
    cluster: Cluster, namespace: str
) -> None:
    async def scenario(client: APIClient) -> dict:
        old = await client.create(PODS, _pod("again"), namespace=namespace)
        await client.delete(PODS, "again", namespace=namespace, grace_period_seconds=0)
        await client.create(PODS, _pod("again"), namespace=namespace)
        manager = StatusManager(client)
        manager.set_status(old, {"phase": "Failed"})
        await manager.flush()
        return await client.get(PODS, "again", namespace=namespace)

    assert _run(cluster, scenario)["status"]["phase"] == "Pending"
