"""Node IPAM in a real `kubelite server`: Nodes registered without a pod CIDR (as a kubelet
without --pod-cidr registers) get distinct /24s of 10.42.0.0/16 from the control plane, a
deleted Node's block goes to the next, and after a restart the Nodes keep theirs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster, wait_for

CLUSTER_CIDR = ipaddress.ip_network("10.42.0.0/16")


def register(cluster: Cluster, name: str, pod_cidr: str = "") -> None:
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    status, body, _ = cluster.request(
        "POST",
        "/api/v1/nodes",
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec},
    )
    assert status == 201, body


def spec_of(cluster: Cluster, name: str) -> dict[str, Any]:
    status, body, _ = cluster.request("GET", f"/api/v1/nodes/{name}")
    assert status == 200, body
    spec: dict[str, Any] = body.get("spec") or {}
    return spec


def pod_cidr(cluster: Cluster, name: str) -> str:
    cidr: str = wait_for(
        f"a pod CIDR for node {name}", lambda: spec_of(cluster, name).get("podCIDR"), 15
    )
    return cidr


@pytest.fixture
def ipam_cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "data", tmp_path / "cache", extra_args=["--disable-scheduler"])
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_nodes_get_distinct_blocks_in_order(
    ipam_cluster: Cluster,
) -> None:
    names = [f"ipam-{i}" for i in range(4)]
    for name in names:
        register(ipam_cluster, name)
    given = {name: pod_cidr(ipam_cluster, name) for name in names}
    assert sorted(given.values(), key=ipaddress.ip_network) == [f"10.42.{i}.0/24" for i in range(4)]
    for name, cidr in given.items():
        assert spec_of(ipam_cluster, name)["podCIDRs"] == [cidr]
        assert ipaddress.ip_network(cidr).subnet_of(CLUSTER_CIDR)
    # kubectl shows what the allocator wrote.
    shown = ipam_cluster.kubectl(
        "get", "node", names[0], "-o", "jsonpath={.spec.podCIDR} {.spec.podCIDRs[0]}"
    ).stdout
    assert shown == f"{given[names[0]]} {given[names[0]]}"

    # A deleted node's block is not handed straight back: the next goes on from the last one
    # given (the range allocator's nextCandidate); the freed one comes back once the range is
    # full (the next test).
    ipam_cluster.kubectl("delete", "node", names[1])
    register(ipam_cluster, "ipam-next")
    assert pod_cidr(ipam_cluster, "ipam-next") == "10.42.4.0/24"


def test_a_full_range_leaves_the_node_waiting_until_a_node_is_deleted(tmp_path: Path) -> None:
    c = Cluster(
        tmp_path / "data",
        tmp_path / "cache",
        extra_args=["--disable-scheduler", "--cluster-cidr", "10.42.0.0/23"],
    )
    c.start()
    try:
        register(c, "small-0")
        register(c, "small-1")
        first = pod_cidr(c, "small-0")
        pod_cidr(c, "small-1")
        register(c, "small-2")
        events = wait_for(
            "a CIDRNotAvailable event",
            lambda: (
                c.kubectl(
                    "get",
                    "events",
                    "-n",
                    "default",
                    "--field-selector",
                    "reason=CIDRNotAvailable,involvedObject.name=small-2",
                    "-o",
                    "jsonpath={.items[*].message}",
                ).stdout
            ),
        )
        assert "Node small-2 status is now: CIDRNotAvailable" in events
        assert "podCIDR" not in spec_of(c, "small-2")
        c.kubectl("delete", "node", "small-0")
        assert pod_cidr(c, "small-2") == first
    finally:
        c.stop()


def test_after_a_restart_nodes_keep_their_blocks_and_new_ones_get_free_ones(
    ipam_cluster: Cluster,
) -> None:
    register(ipam_cluster, "keep-0")
    register(ipam_cluster, "keep-1", "10.42.1.0/24")  # a node's own --pod-cidr
    kept = pod_cidr(ipam_cluster, "keep-0")
    assert kept == "10.42.0.0/24"
    ipam_cluster.stop()
    ipam_cluster.start()
    register(ipam_cluster, "keep-2")
    assert pod_cidr(ipam_cluster, "keep-2") == "10.42.2.0/24"
    assert spec_of(ipam_cluster, "keep-0")["podCIDR"] == kept
    assert spec_of(ipam_cluster, "keep-1")["podCIDR"] == "10.42.1.0/24"
