"""The proxier's bookkeeping: when it syncs, what each sync writes, and how it retries.

nft is replaced by a recorder (the kernel's side is the e2e tests' business)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubelite.proxy.conntrack import Conntrack, Flow
from kubelite.proxy.nft import Nft, NftError
from kubelite.proxy.proxier import Proxier
from kubelite.proxy.rules import ProxyConfig

Obj = dict[str, Any]


class RecordingNft(Nft):
    def __init__(self) -> None:
        super().__init__(["true"])
        self.files: list[str] = []
        self.refuse = False

    async def apply(self, text: str, *, check: bool = False) -> None:
        if self.refuse:
            raise NftError("Error: refused", [text.splitlines()[0]])
        self.files.append(text)


class RecordingConntrack(Conntrack):
    def __init__(self) -> None:
        super().__init__(["true"])
        self.flows: list[Flow] = []

    async def clear(self, flows: Any) -> None:
        self.flows += flows


def service(name: str, ip: str, protocol: str = "TCP") -> Obj:
    return {
        "metadata": {"namespace": "ns", "name": name},
        "spec": {"clusterIP": ip, "ports": [{"name": "p", "port": 53, "protocol": protocol}]},
    }


def endpoint_slice(name: str, *ips: str, protocol: str = "TCP") -> Obj:
    return {
        "metadata": {
            "namespace": "ns",
            "name": f"{name}-x",
            "labels": {"kubernetes.io/service-name": name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "p", "port": 5353, "protocol": protocol}],
        "endpoints": [{"addresses": [ip]} for ip in ips],
    }


def make() -> tuple[Proxier, RecordingNft, RecordingConntrack]:
    nft, conntrack = RecordingNft(), RecordingConntrack()
    proxier = Proxier(ProxyConfig(table="t"), nft=nft, conntrack=conntrack, min_sync_period=0.2)
    return proxier, nft, conntrack


async def test_nothing_is_written_before_services_and_slices_are_listed() -> None:
    proxier, nft, _ = make()
    proxier.on_service("ADDED", service("a", "10.43.0.1"))
    await proxier.sync()
    assert nft.files == []
    proxier.set_initialized()
    await proxier.sync()
    [first] = nft.files
    assert first.startswith("add table inet t\ndelete table inet t\n")
    assert "10.43.0.1 . tcp . 53 : goto reject-chain" in first


async def test_later_syncs_write_only_the_changed_service() -> None:
    proxier, nft, _ = make()
    proxier.on_service("ADDED", service("a", "10.43.0.1"))
    proxier.on_service("ADDED", service("b", "10.43.0.2"))
    proxier.set_initialized()
    await proxier.sync()
    proxier.on_endpoint_slice("ADDED", endpoint_slice("b", "10.42.0.9"))
    await proxier.sync()
    second = nft.files[1]
    assert "delete table" not in second
    assert "10.43.0.2" in second and "10.43.0.1" not in second
    assert "dnat ip to 10.42.0.9:5353" in second


async def test_a_slice_relabelled_to_another_service_moves_with_its_label() -> None:
    proxier, nft, _ = make()
    proxier.on_service("ADDED", service("a", "10.43.0.1"))
    proxier.on_service("ADDED", service("b", "10.43.0.2"))
    proxier.on_endpoint_slice("ADDED", endpoint_slice("a", "10.42.0.9"))
    proxier.set_initialized()
    await proxier.sync()
    moved = endpoint_slice("a", "10.42.0.9")
    moved["metadata"]["labels"]["kubernetes.io/service-name"] = "b"
    proxier.on_endpoint_slice("MODIFIED", moved)
    await proxier.sync()
    assert "10.43.0.1 . tcp . 53 : goto reject-chain" in nft.files[1]
    assert "10.43.0.2 . tcp . 53 : goto service-" in nft.files[1]


async def test_a_refused_sync_keeps_its_changes_for_the_retry() -> None:
    proxier, nft, _ = make()
    proxier.set_initialized()
    await proxier.sync()
    nft.refuse = True
    proxier.on_service("ADDED", service("a", "10.43.0.1"))
    with pytest.raises(NftError):
        await proxier.sync()
    assert proxier.applied == {}
    nft.refuse = False
    await proxier.sync()
    assert "10.43.0.1" in nft.files[-1]
    assert "ns/a" in proxier.applied


async def test_the_loop_collapses_a_burst_of_changes() -> None:
    proxier, nft, _ = make()
    task = asyncio.create_task(proxier.run())
    try:
        proxier.set_initialized()
        await proxier.wait_for_sync(2)
        for i in range(20):
            proxier.on_service("ADDED", service(f"s{i}", f"10.43.0.{i + 1}"))
            await asyncio.sleep(0.01)
        async with asyncio.timeout(3):
            while any(f"ns/s{i}" not in proxier.applied for i in range(20)):
                await asyncio.sleep(0.02)
        # 20 changes over 0.2 s: the first sync at once, then at most one per 0.2 s
        # (a burst of 2), not one per change.
        assert len(nft.files) <= 5
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_loop_retries_a_refused_sync_as_a_full_one() -> None:
    proxier, nft, _ = make()
    nft.refuse = True
    task = asyncio.create_task(proxier.run())
    try:
        proxier.on_service("ADDED", service("a", "10.43.0.1"))
        proxier.set_initialized()
        await asyncio.sleep(0.1)
        assert nft.files == []
        nft.refuse = False
        async with asyncio.timeout(5):
            while not nft.files:
                await asyncio.sleep(0.05)
        assert nft.files[0].startswith("add table inet t\ndelete table inet t\n")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_udp_flows_to_a_gone_endpoint_and_to_a_port_that_gained_one_are_cleared() -> None:
    proxier, _, conntrack = make()
    proxier.on_service("ADDED", service("dns", "10.43.0.10", "UDP"))
    proxier.set_initialized()
    await proxier.sync()
    proxier.on_endpoint_slice("ADDED", endpoint_slice("dns", "10.42.0.5", protocol="UDP"))
    await proxier.sync()
    # It rejected until now: entries of that verdict would keep rejecting.
    assert conntrack.flows == [Flow("10.43.0.10", 53)]
    conntrack.flows.clear()
    proxier.on_endpoint_slice("MODIFIED", endpoint_slice("dns", "10.42.0.6", protocol="UDP"))
    await proxier.sync()
    assert conntrack.flows == [Flow("10.43.0.10", 53, "10.42.0.5")]


async def test_a_hairpin_element_stays_while_any_service_has_the_endpoint() -> None:
    proxier, nft, _ = make()
    proxier.set_initialized()
    await proxier.sync()
    proxier.on_service("ADDED", service("a", "10.43.0.1"))
    proxier.on_service("ADDED", service("b", "10.43.0.2"))
    proxier.on_endpoint_slice("ADDED", endpoint_slice("a", "10.42.0.9"))
    proxier.on_endpoint_slice("ADDED", endpoint_slice("b", "10.42.0.9"))
    await proxier.sync()
    assert nft.files[-1].count("add element inet t hairpin { 10.42.0.9 . 10.42.0.9 }") == 1
    proxier.on_service("DELETED", service("a", "10.43.0.1"))
    await proxier.sync()
    assert "hairpin" not in nft.files[-1]
    proxier.on_service("DELETED", service("b", "10.43.0.2"))
    await proxier.sync()
    assert "delete element inet t hairpin { 10.42.0.9 . 10.42.0.9 }" in nft.files[-1]


async def test_the_table_is_rebuilt_now_and_then_even_with_nothing_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import kubelite.proxy.proxier as proxier_module

    monkeypatch.setattr(proxier_module, "FULL_SYNC_PERIOD", 0.2)
    proxier, nft, _ = make()
    proxier.on_service("ADDED", service("a", "10.43.0.1"))
    task = asyncio.create_task(proxier.run())
    try:
        proxier.set_initialized()
        async with asyncio.timeout(5):
            while len(nft.files) < 3:
                await asyncio.sleep(0.05)
        assert all(f.startswith("add table inet t\ndelete table inet t\n") for f in nft.files)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_address_two_services_want_goes_to_the_older_then_to_the_other() -> None:
    proxier, nft, _ = make()
    proxier.set_initialized()
    await proxier.sync()
    first, second = service("a", "10.43.0.1"), service("b", "10.43.0.2")
    first["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    second["metadata"]["creationTimestamp"] = "2026-02-01T00:00:00Z"
    for svc in (first, second):
        svc["spec"]["externalIPs"] = ["192.0.2.7"]
        proxier.on_service("ADDED", svc)
        proxier.on_endpoint_slice("ADDED", endpoint_slice(svc["metadata"]["name"], "10.42.0.9"))
    await proxier.sync()
    # nft would refuse the second element with the same key: the older Service has it.
    assert nft.files[-1].count("192.0.2.7 . tcp . 53 :") == 1
    assert "192.0.2.7 . tcp . 53 : goto external-" in nft.files[-1]
    assert "ns/a/tcp/p, " in nft.files[-1].split("192.0.2.7 . tcp . 53 : goto external-")[1][:40]
    proxier.on_service("DELETED", first)
    await proxier.sync()
    last = nft.files[-1]
    assert (
        "delete element inet t service-ips { 10.43.0.1 . tcp . 53, 192.0.2.7 . tcp . 53 }" in last
    )
    added = last.split("add element inet t service-ips {")[1]
    assert "192.0.2.7 . tcp . 53 : goto external-" in added and "ns/b/tcp/p" in added
    # The endpoint both had stays in the hairpin set.
    assert "hairpin" not in last


async def test_node_ports_answer_on_the_nodes_addresses_when_none_were_given() -> None:
    proxier, nft, _ = make()
    proxier.set_initialized()
    await proxier.sync()
    node = {
        "metadata": {"name": "n1"},
        "status": {
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "192.168.7.4"},
                {"type": "InternalIP", "address": "fd00::4"},
            ]
        },
    }
    proxier.on_node("ADDED", node)
    await proxier.sync()
    assert "add element inet t nodeport-ips { 192.168.7.4 }" in nft.files[-1]
    assert nft.files[-1].startswith("add table inet t\ndelete table inet t\n")
    syncs = len(nft.files)
    proxier.on_node("MODIFIED", node)  # nothing changed: no sync due
    await proxier.sync()
    assert len(nft.files) == syncs


def test_a_node_without_bridge_netfilter_is_warned_about(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from kubelite.proxy.runner import check_bridge_netfilter

    sysctl = tmp_path / "bridge-nf-call-iptables"
    sysctl.write_text("1\n")
    assert check_bridge_netfilter(sysctl)
    sysctl.write_text("0\n")
    assert not check_bridge_netfilter(sysctl)
    assert not check_bridge_netfilter(tmp_path / "missing")
    assert "missing br_netfilter" in caplog.text
