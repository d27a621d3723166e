"""Node IPAM: the CIDR set as a table, and the controller against the real API server (nodes
made through the API as a kubelet registers them). Each test uses a range of its own inside
10.200.0.0/16, so that what one leaves in flight cannot be mistaken for another's."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from testcluster import TestCluster, wait_for

from kubelite.api import meta
from kubelite.api.resources import EVENTS, NODES
from kubelite.client.errors import APIInvalidError
from kubelite.client.informers import SharedInformerFactory
from kubelite.controllers.cidrset import CIDRSet, CIDRSetError, NoCIDRsRemainingError
from kubelite.controllers.nodeipam import NodeIpamConfig, NodeIpamController, pod_cidrs

Obj = dict[str, Any]

_ranges = itertools.count(1)


def net(cidr: str) -> Any:
    return ipaddress.ip_network(cidr)


# --- the CIDR set ------------------------------------------------------------------------------


def test_blocks_are_given_in_order_from_the_start_of_the_range() -> None:
    cidrs = CIDRSet(net("10.42.0.0/16"), 24)
    assert [str(cidrs.allocate_next()) for _ in range(3)] == [
        "10.42.0.0/24",
        "10.42.1.0/24",
        "10.42.2.0/24",
    ]
    assert cidrs.max_cidrs == 256


def test_a_released_block_is_given_again_only_after_the_others() -> None:
    cidrs = CIDRSet(net("10.42.0.0/22"), 24)
    first = cidrs.allocate_next()
    cidrs.allocate_next()
    cidrs.release(first)
    # The next candidate follows the last block given; the search wraps around.
    assert [str(cidrs.allocate_next()) for _ in range(3)] == [
        "10.42.2.0/24",
        "10.42.3.0/24",
        "10.42.0.0/24",
    ]
    with pytest.raises(NoCIDRsRemainingError, match="no remaining CIDRs left to allocate"):
        cidrs.allocate_next()


def test_occupied_blocks_are_skipped_and_a_larger_cidr_occupies_every_block_it_covers() -> None:
    cidrs = CIDRSet(net("10.42.0.0/16"), 24)
    cidrs.occupy(net("10.42.0.0/23"))
    cidrs.occupy(net("10.42.3.0/24"))
    assert cidrs.used_count == 3
    assert [str(cidrs.allocate_next()) for _ in range(2)] == ["10.42.2.0/24", "10.42.4.0/24"]


@pytest.mark.parametrize("cidr", ["10.43.0.0/24", "192.168.0.0/24", "fd00::/64"])
def test_a_cidr_outside_the_range_cannot_be_occupied(cidr: str) -> None:
    outside = re.escape("is out the range of cluster cidr 10.42.0.0/16")
    with pytest.raises(CIDRSetError, match=outside):
        CIDRSet(net("10.42.0.0/16"), 24).occupy(net(cidr))


@pytest.mark.parametrize(
    ("cluster", "mask", "problem"),
    [
        ("10.42.0.0/16", 8, "smaller than the cluster CIDR's"),
        ("10.42.0.0/16", 33, "longer than an IPv4 address"),
        ("fd00::/48", 65, "the node CIDR size is too big"),
    ],
)
def test_sets_that_cannot_be_made(cluster: str, mask: int, problem: str) -> None:
    with pytest.raises(CIDRSetError, match=problem):
        CIDRSet(net(cluster), mask)


def test_ipv6_blocks() -> None:
    cidrs = NodeIpamConfig("fd00:42::/56").cidr_set()
    assert [str(cidrs.allocate_next()) for _ in range(2)] == ["fd00:42::/64", "fd00:42:0:1::/64"]


# --- the controller ----------------------------------------------------------------------------


@pytest.fixture
def cluster_cidr() -> str:
    """A /20 of 10.200.0.0/16 no other test of this module uses."""
    return f"10.200.{next(_ranges) * 16}.0/20"


def block(cluster_cidr: str, index: int, mask: int = 24) -> str:
    base = int(net(cluster_cidr).network_address)
    return str(ipaddress.ip_network((base + (index << (32 - mask)), mask)))


async def make_node(kube: TestCluster, name: str, pod_cidr: str = "") -> Obj:
    """A Node as a kubelet registers it: with its --pod-cidr, or with none."""
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    return await kube.create(
        NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec}
    )


@contextlib.asynccontextmanager
async def running(kube: TestCluster, config: NodeIpamConfig) -> AsyncIterator[NodeIpamController]:
    informers = SharedInformerFactory(kube.client)
    controller = NodeIpamController(kube.client, informers, config)
    task = asyncio.create_task(controller.run())
    try:
        yield controller
        assert not task.done(), "the controller stopped"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await informers.stop()


async def cidr_of(kube: TestCluster, name: str) -> list[str]:
    return pod_cidrs(await kube.client.get(NODES, name))


async def until_cidr(kube: TestCluster, name: str) -> list[str]:
    async def given() -> bool:
        return bool(await cidr_of(kube, name))

    await wait_for(given, what=f"a pod CIDR for node {name}")
    return await cidr_of(kube, name)


def names(prefix: str) -> Callable[[int], str]:
    return lambda i: f"{prefix}-{i}"


async def test_nodes_without_a_cidr_get_the_next_blocks_as_podcidr_and_podcidrs(
    kube: TestCluster, cluster_cidr: str
) -> None:
    node = names(f"ipam-order-{kube.namespace}")
    async with running(kube, NodeIpamConfig(cluster_cidr, 24)):
        given = []
        for i in range(3):
            await make_node(kube, node(i))
            given.append(await until_cidr(kube, node(i)))
        stored = await kube.client.get(NODES, node(0))
    assert given == [[block(cluster_cidr, i)] for i in range(3)]
    assert stored["spec"]["podCIDR"] == block(cluster_cidr, 0)


async def test_cidrs_nodes_already_have_are_occupied_at_start_and_kept(
    kube: TestCluster, cluster_cidr: str
) -> None:
    node = names(f"ipam-start-{kube.namespace}")
    # One the controller gave before it restarted, one a kubelet's own --pod-cidr.
    await make_node(kube, node(0), block(cluster_cidr, 0))
    await make_node(kube, node(1), block(cluster_cidr, 2))
    async with running(kube, NodeIpamConfig(cluster_cidr, 24)) as controller:
        await make_node(kube, node(2))
        assert await until_cidr(kube, node(2)) == [block(cluster_cidr, 1)]
        await make_node(kube, node(3))
        assert await until_cidr(kube, node(3)) == [block(cluster_cidr, 3)]
        assert controller.cidrs.used_count == 4
    assert await cidr_of(kube, node(0)) == [block(cluster_cidr, 0)]
    assert await cidr_of(kube, node(1)) == [block(cluster_cidr, 2)]


async def test_a_full_range_records_cidr_not_available_and_a_deleted_node_frees_its_block(
    kube: TestCluster, cluster_cidr: str
) -> None:
    node = names(f"ipam-full-{kube.namespace}")
    two_blocks = NodeIpamConfig(block(cluster_cidr, 0, 23), 24)
    async with running(kube, two_blocks):
        for i in range(2):
            await make_node(kube, node(i))
            await until_cidr(kube, node(i))
        waiting = await make_node(kube, node(2))

        async def warned() -> list[Obj]:
            listed = await kube.client.list(
                EVENTS,
                namespace="default",
                field_selector=f"involvedObject.name={node(2)},reason=CIDRNotAvailable",
            )
            return list(listed["items"])

        await wait_for(warned, what="a CIDRNotAvailable event")
        (event,) = await warned()
        assert await cidr_of(kube, node(2)) == []
        freed = await cidr_of(kube, node(0))
        await kube.client.delete(NODES, node(0))
        assert await until_cidr(kube, node(2)) == freed
    assert (event["type"], event["message"], event["source"]["component"]) == (
        "Warning",
        f"Node {node(2)} status is now: CIDRNotAvailable",
        "cidrAllocator",
    )
    assert event["involvedObject"]["kind"] == "Node"
    assert event["involvedObject"]["uid"] == waiting["metadata"]["uid"]


async def test_a_cidr_outside_the_range_is_reported_and_the_others_still_get_theirs(
    kube: TestCluster, cluster_cidr: str, caplog: pytest.LogCaptureFixture
) -> None:
    node = names(f"ipam-outside-{kube.namespace}")
    await make_node(kube, node(0), "192.168.77.0/24")
    with caplog.at_level(logging.ERROR, logger="kubelite.controllers.nodeipam"):
        async with running(kube, NodeIpamConfig(cluster_cidr, 24)):
            await make_node(kube, node(1))
            assert await until_cidr(kube, node(1)) == [block(cluster_cidr, 0)]
    assert (
        f"failed to mark cidr[192.168.77.0/24] at idx [0] as occupied for node: {node(0)}: "
        f"cidr 192.168.77.0/24 is out the range of cluster cidr {cluster_cidr}"
    ) in caplog.text
    assert caplog.text.count("failed to mark cidr") == 1


async def test_the_given_cidr_can_never_be_changed(kube: TestCluster, cluster_cidr: str) -> None:
    node = f"ipam-immutable-{kube.namespace}"
    async with running(kube, NodeIpamConfig(cluster_cidr, 24)):
        await make_node(kube, node)
        (given,) = await until_cidr(kube, node)
    other = block(cluster_cidr, 5)
    with pytest.raises(APIInvalidError) as refused:
        await kube.client.patch(NODES, node, {"spec": {"podCIDR": other, "podCIDRs": [other]}})
    assert (
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
        in refused.value.message
    )
    assert meta.get_path(await kube.client.get(NODES, node), "spec", "podCIDR") == given
