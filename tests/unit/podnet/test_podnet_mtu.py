"""The pods' MTU by backend and lower device: flannel's FLANNEL_MTU (vxlan: the external
interface's MTU less 50, whether or not DirectRouting spares a route the VTEP)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.podnet import iproute, mtu
from kubelite.podnet.mtu import LowerDevice
from kubelite.podnet.plan import Backend

ETH0 = LowerDevice("eth0", 1500)
JUMBO = LowerDevice("eth1", 9000)
LO = LowerDevice("lo", 65536, loopback=True)


@pytest.mark.parametrize(
    ("backend", "lower", "expected"),
    [
        # vxlan: every route may go through the VTEP.
        (Backend.VXLAN, ETH0, 1450),
        (Backend.VXLAN, JUMBO, 8950),
        # kubelite's host-gw falls back to VXLAN for nodes on other subnets, as flannel's
        # vxlan with DirectRouting: the VXLAN MTU even while every peer is directly routed.
        (Backend.HOST_GW, ETH0, 1450),
        (Backend.HOST_GW, JUMBO, 8950),
        # none: the pod network is the operator's; the plugin's default stays.
        (Backend.NONE, ETH0, None),
        # no interface holds the public IP, or it is loopback: the plugin's default.
        (Backend.VXLAN, None, None),
        (Backend.HOST_GW, LO, None),
    ],
)
def test_pod_mtu(backend: Backend, lower: LowerDevice | None, expected: int | None) -> None:
    assert mtu.pod_mtu(backend, lower) == expected


def links(monkeypatch: pytest.MonkeyPatch, found: dict[str, Any] | None) -> list[str]:
    """`iproute.device_of` answering `found` (None: no interface has the address); the
    addresses asked for come back."""
    asked: list[str] = []

    async def device_of(address: str) -> dict[str, Any]:
        asked.append(address)
        if found is None:
            raise iproute.IpError(f"no interface has the address {address}")
        return found

    monkeypatch.setattr(iproute, "device_of", device_of)
    return asked


async def test_for_node_reads_the_mtu_of_the_interface_holding_the_public_ip(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = links(monkeypatch, {"ifname": "eth0", "mtu": 1400, "link_type": "ether"})
    assert await mtu.for_node(Backend.VXLAN, "172.31.0.10") == 1350
    assert asked == ["172.31.0.10"]


async def test_for_node_on_loopback_keeps_the_plugins_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    links(monkeypatch, {"ifname": "lo", "mtu": 65536, "link_type": "loopback"})
    assert await mtu.for_node(Backend.HOST_GW, "127.0.0.1") is None


async def test_for_node_without_the_address_on_any_interface_keeps_the_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    links(monkeypatch, None)
    assert await mtu.for_node(Backend.VXLAN, "192.0.2.7") is None
    assert "192.0.2.7" in caplog.text


async def test_for_node_with_backend_none_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = links(monkeypatch, {"ifname": "eth0", "mtu": 1500})
    assert await mtu.for_node(Backend.NONE, "172.31.0.10") is None
    assert asked == []
