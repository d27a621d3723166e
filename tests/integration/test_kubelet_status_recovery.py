"""A kubelet that is heard again after a partition sets its Node Ready at its next look: its
status is compared with the Node's as the API has it (which the node lifecycle controller set
to Unknown meanwhile), not with the kubelet's own last report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from cluster import Cluster

from kubelite.client.api import APIClient, PatchType
from kubelite.client.kubeconfig import load_config
from kubelite.kubelet.node import status
from kubelite.kubelet.node.heartbeat import NODES, NodeHeartbeat


def _config(name: str) -> status.NodeConfig:
    return status.NodeConfig(
        name=name,
        internal_ip="192.0.2.11",
        kubelet_version="v1.33.0+kubelite",
        runtime_version="0.1.0",
        pod_cidr="10.42.1.0/24",
    )


def test_a_ready_condition_set_to_unknown_is_reported_ready_at_the_next_look(
    cluster: Cluster, tmp_path: Path
) -> None:
    async def scenario(client: APIClient) -> tuple[bool, bool, dict[str, Any]]:
        beat = NodeHeartbeat(client, _config("kubelet-heard-again"), tmp_path)
        await beat.register()
        quiet = await beat.sync_status()
        # What the node lifecycle controller writes when the node's lease runs out.
        node = await client.get(NODES, "kubelet-heard-again")
        unknown = [
            {**c, "status": "Unknown", "reason": "NodeStatusUnknown",
             "message": "Kubelet stopped posting node status."}
            for c in node["status"]["conditions"]
        ]  # fmt: skip
        await client.patch(
            NODES,
            "kubelet-heard-again",
            {"status": {"conditions": unknown}},
            patch_type=PatchType.STRATEGIC,
            subresource="status",
        )
        reported = await beat.sync_status()
        return quiet, reported, await client.get(NODES, "kubelet-heard-again")

    async def main() -> tuple[bool, bool, dict[str, Any]]:
        async with APIClient(load_config(kubeconfig=str(cluster.kubeconfig))) as client:
            return await scenario(client)

    quiet, reported, node = asyncio.run(main())
    assert not quiet and reported
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    # A transition: its time is the report's, not the registration's.
    assert ready["lastTransitionTime"] == ready["lastHeartbeatTime"]
