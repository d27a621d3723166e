"""The kubelet's Node against a real API server: registration, the lease, status reports."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cluster import Cluster

from kubelite.client.api import APIClient
from kubelite.client.kubeconfig import load_config
from kubelite.kubelet.node import heartbeat, status
from kubelite.kubelet.node.heartbeat import LEASES, NODE_LEASE_NAMESPACE, NODES, NodeHeartbeat


def _config(name: str) -> status.NodeConfig:
    return status.NodeConfig(
        name=name,
        internal_ip="192.0.2.10",
        kubelet_version="v1.33.0+kubelite",
        runtime_version="0.1.0",
        pod_cidr="10.42.0.0/24",
    )


def _run(cluster: Cluster, scenario):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as client:
            return await scenario(client)

    return asyncio.run(main())


def test_a_kubelet_registers_its_node_and_a_lease_the_node_owns(
    cluster: Cluster, tmp_path: Path
) -> None:
    async def scenario(client: APIClient) -> tuple[dict, dict, dict]:
        beat = NodeHeartbeat(client, _config("kubelet-reg"), tmp_path)
        await beat.register()
        await beat.renew_lease()
        first = await client.get(LEASES, "kubelet-reg", namespace=NODE_LEASE_NAMESPACE)
        await asyncio.sleep(0.01)
        await beat.renew_lease()
        second = await client.get(LEASES, "kubelet-reg", namespace=NODE_LEASE_NAMESPACE)
        node = await client.get(NODES, "kubelet-reg")
        return node, first, second

    node, first, second = _run(cluster, scenario)
    assert [c["type"] for c in node["status"]["conditions"]] == [
        "MemoryPressure",
        "DiskPressure",
        "PIDPressure",
        "Ready",
    ]
    assert node["status"]["conditions"][-1]["status"] == "True"
    assert node["spec"]["podCIDR"] == "10.42.0.0/24"
    assert first["spec"]["holderIdentity"] == "kubelet-reg"
    assert first["spec"]["leaseDurationSeconds"] == heartbeat.LEASE_DURATION_SECONDS
    assert first["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "kubelet-reg", "uid": node["metadata"]["uid"]}
    ]
    assert second["spec"]["renewTime"] > first["spec"]["renewTime"]
    # kubectl shows the node Ready, as any node.
    listed = cluster.kubectl("get", "node", "kubelet-reg").stdout
    assert "Ready" in listed and "NotReady" not in listed


def test_a_restarted_kubelet_keeps_its_node_and_lease(cluster: Cluster, tmp_path: Path) -> None:
    async def scenario(client: APIClient) -> tuple[str, str, str, str]:
        first = NodeHeartbeat(client, _config("kubelet-again"), tmp_path)
        await first.register()
        await first.renew_lease()
        again = NodeHeartbeat(client, _config("kubelet-again"), tmp_path)
        await again.register()
        await again.renew_lease()  # finds the lease the first one made
        lease = await client.get(LEASES, "kubelet-again", namespace=NODE_LEASE_NAMESPACE)
        return first.uid, again.uid, first.lease_version, lease["metadata"]["resourceVersion"]

    uid_before, uid_after, version_before, version_after = _run(cluster, scenario)
    assert uid_before == uid_after
    assert version_after != version_before


def test_status_is_written_when_it_changes_and_not_on_every_look(
    cluster: Cluster, tmp_path: Path
) -> None:
    problem = {"now": ""}

    async def scenario(client: APIClient) -> tuple[bool, bool, dict]:
        beat = NodeHeartbeat(
            client, _config("kubelet-status"), tmp_path, runtime_problem=lambda: problem["now"]
        )
        await beat.register()
        quiet = await beat.sync_status()
        problem["now"] = "container runtime is down"
        reported = await beat.sync_status()
        return quiet, reported, await client.get(NODES, "kubelet-status")

    quiet, reported, node = _run(cluster, scenario)
    assert not quiet and reported
    ready = node["status"]["conditions"][-1]
    assert (ready["type"], ready["status"], ready["reason"], ready["message"]) == (
        "Ready",
        "False",
        "KubeletNotReady",
        "container runtime is down",
    )
    assert "NotReady" in cluster.kubectl("get", "node", "kubelet-status").stdout
