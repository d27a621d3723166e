"""A kubelet without --pod-cidr waits for its Node's: it returns the CIDR once node IPAM (here,
the test) sets it, and gives up with the causes named when none comes."""

from __future__ import annotations

import asyncio
import logging

import pytest
from testcluster import TestCluster

from kubelite.api.resources import NODES
from kubelite.kubelet.node.pod_cidr import PodCIDRTimeoutError, wait_for_pod_cidr


async def test_the_cidr_set_after_registration_is_returned(
    kube: TestCluster, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"waits-{kube.namespace}"
    await kube.create(NODES, {"metadata": {"name": name}})
    with caplog.at_level(logging.INFO, logger="kubelite.kubelet.node.pod_cidr"):
        waiting = asyncio.create_task(wait_for_pod_cidr(kube.client, name, timeout=10))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await kube.client.patch(
            NODES, name, {"spec": {"podCIDR": "10.42.7.0/24", "podCIDRs": ["10.42.7.0/24"]}}
        )
        assert await asyncio.wait_for(waiting, 10) == "10.42.7.0/24"
    assert f"Waiting for node {name}: CIDR not assigned yet" in caplog.text
    assert f"Node CIDR assigned for: {name} (10.42.7.0/24)" in caplog.text


async def test_no_cidr_in_time_names_the_causes(kube: TestCluster) -> None:
    name = f"never-{kube.namespace}"
    await kube.create(NODES, {"metadata": {"name": name}})
    with pytest.raises(PodCIDRTimeoutError) as gave_up:
        await wait_for_pod_cidr(kube.client, name, timeout=0.3)
    message = str(gave_up.value)
    assert message.startswith(f"node {name} got no spec.podCIDR within 0s: no node IPAM")
    for cause in ("--allocate-node-cidrs=false", "CIDRNotAvailable", "--pod-cidr"):
        assert cause in message
