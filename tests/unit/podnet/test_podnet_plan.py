"""What the route agent keeps for the other nodes, by backend and by how each is reached."""

from __future__ import annotations

import json

import pytest

from kubelite.podnet import masquerade, plan
from kubelite.podnet.plan import Backend, Fdb, Neighbour, Peer, Reach, Route

MAC = "aa:bb:cc:dd:ee:01"


def node(name: str, cidr: str, ip: str, mac: str = "") -> dict:
    annotations = {plan.BACKEND_DATA: json.dumps({"VNI": 1, "VtepMAC": mac})} if mac else {}
    return {
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"podCIDR": cidr} if cidr else {},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]},
    }


def test_peers_are_the_other_nodes_with_a_pod_cidr_and_an_address() -> None:
    nodes = [
        node("me", "10.1.1.0/24", "172.31.0.10"),
        node("b", "10.1.2.0/24", "172.31.0.11", MAC.upper()),
        node("waiting-for-ipam", "", "172.31.0.12"),
    ]
    assert plan.peers(nodes, "me") == [Peer("b", "10.1.2.0/24", "172.31.0.11", MAC)]


def test_the_public_ip_annotation_wins_over_the_internal_ip() -> None:
    b = node("b", "10.1.2.0/24", "172.31.0.11")
    b["metadata"]["annotations"][plan.PUBLIC_IP] = "192.0.2.7"
    assert plan.peers([b], "me")[0].public_ip == "192.0.2.7"


PEER = Peer("b", "10.1.2.0/24", "172.31.0.11", MAC)
VXLAN = plan.Tables(
    routes={Route("10.1.2.0/24", "10.1.2.0", vxlan=True)},
    neighbours={Neighbour("10.1.2.0", MAC)},
    fdb={Fdb(MAC, "172.31.0.11")},
)


@pytest.mark.parametrize(
    ("backend", "reach", "expected"),
    [
        (
            Backend.HOST_GW,
            Reach.CONNECTED,
            plan.Tables(routes={Route("10.1.2.0/24", "172.31.0.11")}),
        ),
        (Backend.HOST_GW, Reach.ROUTED, VXLAN),
        (Backend.VXLAN, Reach.CONNECTED, VXLAN),
        (Backend.VXLAN, Reach.ROUTED, VXLAN),
        (Backend.HOST_GW, Reach.LOCAL, plan.Tables()),
        (Backend.VXLAN, Reach.LOCAL, plan.Tables()),
        (Backend.NONE, Reach.CONNECTED, plan.Tables()),
    ],
)
def test_each_peer_gets_a_direct_route_or_flannels_vxlan_entries(
    backend: Backend, reach: Reach, expected: plan.Tables
) -> None:
    assert plan.plan(backend, {PEER.public_ip: reach}, [PEER]) == expected


def test_a_vxlan_peer_without_a_vtep_mac_gets_nothing_yet() -> None:
    peer = Peer("b", "10.1.2.0/24", "172.31.0.11")
    assert plan.plan(Backend.VXLAN, {peer.public_ip: Reach.CONNECTED}, [peer]) == plan.Tables()


def test_backend_data_is_flannels_vxlan_lease_attributes() -> None:
    published = plan.backend_annotations(Backend.VXLAN, "172.31.0.10", MAC)
    assert json.loads(published[plan.BACKEND_DATA]) == {"VNI": 1, "VtepMAC": MAC}
    assert published[plan.BACKEND_TYPE] == "vxlan"
    assert published[plan.PUBLIC_IP] == "172.31.0.10"
    assert plan.BACKEND_DATA not in plan.backend_annotations(Backend.HOST_GW, "172.31.0.10", "")


def test_pod_to_pod_traffic_is_accepted_before_the_cni_masquerade() -> None:
    text = masquerade.rules("10.1.1.0/24", ["10.1.3.0/24", "10.1.2.0/24"])
    assert text.splitlines() == [
        "*nat",
        ":KUBELITE-PODNET - [0:0]",
        "-A KUBELITE-PODNET -s 10.1.1.0/24 -d 10.1.2.0/24 -j ACCEPT",
        "-A KUBELITE-PODNET -s 10.1.1.0/24 -d 10.1.3.0/24 -j ACCEPT",
        "COMMIT",
    ]
