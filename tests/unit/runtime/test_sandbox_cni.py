"""CNI plugins called per the CNI spec: env, config on stdin, prevResult chaining, DEL in
reverse, errors carried through, and undo after a failed ADD. Fake plugins are shell scripts
that record what they were given."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubelite.runtime import cri
from kubelite.runtime.errors import NetworkError
from kubelite.runtime.sandbox import cni
from kubelite.runtime.sandbox.cni import CniNetwork, NetworkOptions, conflist, pod_ip

RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "kl0"}, {"name": "eth0", "sandbox": "/ns"}],
    "ips": [{"address": "10.9.0.5/24", "interface": 1, "gateway": "10.9.0.1"}],
}


def fake_plugin(plugin_dir: Path, name: str, *, result: dict | None = None, fail: str = "") -> None:
    """A plugin that appends `<name> <CNI_COMMAND> <ifname> <stdin>` to calls.log."""
    body = f"""#!/bin/sh
conf=$(cat)
printf '%s %s %s %s\\n' {name} "$CNI_COMMAND" "$CNI_IFNAME" "$conf" >> {plugin_dir}/calls.log
"""
    if fail:
        body += f"""if [ "$CNI_COMMAND" = ADD ]; then
  echo '{{"cniVersion": "1.0.0", "code": 11, "msg": "{fail}", "details": "more"}}'; exit 1
fi
"""
    elif result is not None:
        body += f"""if [ "$CNI_COMMAND" = ADD ]; then echo '{json.dumps(result)}'; fi\n"""
    path = plugin_dir / name
    path.write_text(body)
    path.chmod(0o755)


def calls(plugin_dir: Path) -> list[tuple[str, str, str, dict]]:
    out = []
    for line in (plugin_dir / "calls.log").read_text().splitlines():
        name, command, ifname, conf = line.split(" ", 3)
        out.append((name, command, ifname, json.loads(conf)))
    return out


# What `iptables-save -t nat` prints of a pod's ipMasq rules (bridge plugin 1.1), among others.
NAT_RULES = """*nat
:POSTROUTING ACCEPT [0:0]
:CNI-0a1b [0:0]
-A POSTROUTING -s 10.9.0.5/32 -m comment --comment "name: \\"kubelite\\" id: \\"sb1\\"" -j CNI-0a1b
-A POSTROUTING -s 10.9.0.6/32 -m comment --comment "name: \\"kubelite\\" id: \\"sb2\\"" -j CNI-9f8e
-A CNI-0a1b -d 10.9.0.0/24 -m comment --comment "name: \\"kubelite\\" id: \\"sb1\\"" -j ACCEPT
COMMIT
"""


@pytest.fixture
def iptables(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The iptables commands the network runs, recorded instead of run."""
    ran: list[tuple[str, ...]] = []

    async def run(*argv: str) -> str:
        ran.append(argv)
        return NAT_RULES if argv[0] == "iptables-save" else ""

    monkeypatch.setattr(cni, "_run", run)
    return ran


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    d = tmp_path / "plugins"
    d.mkdir()
    fake_plugin(d, "loopback", result={"cniVersion": "1.0.0"})
    fake_plugin(d, "bridge", result=RESULT)
    fake_plugin(d, "portmap", result=RESULT)
    return d


def test_conflist_has_bridge_with_host_local_and_portmap(tmp_path: Path) -> None:
    options = NetworkOptions(bridge="kl9", subnet="10.9.0.0/24")
    plugins = conflist(options, tmp_path / "ipam")["plugins"]
    bridge, portmap = plugins
    assert (bridge["type"], bridge["bridge"], bridge["isGateway"], bridge["ipMasq"]) == (
        "bridge",
        "kl9",
        True,
        True,
    )
    assert bridge["ipam"]["dataDir"] == str(tmp_path / "ipam")
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.9.0.0/24"}]]
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}
    assert options.gateway == "10.9.0.1"
    # No MTU given: the bridge plugin's default (the kernel's), as before flannel's.
    assert "mtu" not in bridge


def test_conflist_gives_the_bridge_plugin_the_pod_networks_mtu(tmp_path: Path) -> None:
    options = NetworkOptions(bridge="kl9", subnet="10.9.0.0/24", mtu=1450)
    bridge = conflist(options, tmp_path / "ipam")["plugins"][0]
    assert (bridge["type"], bridge["mtu"]) == ("bridge", 1450)


async def test_add_hands_the_bridge_plugin_its_mtu(plugin_dir: Path, tmp_path: Path) -> None:
    network = CniNetwork(NetworkOptions(plugin_dir=plugin_dir, mtu=1450), tmp_path / "ipam")
    netns = tmp_path / "netns"
    netns.touch()
    await network.add("sb1", netns, [])
    confs = {name: conf for name, command, _, conf in calls(plugin_dir) if command == "ADD"}
    assert confs["bridge"]["mtu"] == 1450
    assert "mtu" not in confs["portmap"]


async def test_add_chains_prev_result_and_passes_port_mappings(
    plugin_dir: Path, tmp_path: Path
) -> None:
    network = CniNetwork(NetworkOptions(plugin_dir=plugin_dir), tmp_path / "ipam")
    netns = tmp_path / "netns"
    netns.touch()
    ports = [cri.PortMapping(container_port=80, host_port=8080), cri.PortMapping(53, 0, "UDP")]
    result = await network.add("sb1", netns, ports)
    assert pod_ip(result) == "10.9.0.5"
    (lo, bridge, portmap) = calls(plugin_dir)
    assert (lo[0], lo[1], lo[2]) == ("loopback", "ADD", "lo")
    assert (bridge[0], bridge[2]) == ("bridge", "eth0")
    assert "prevResult" not in bridge[3]
    assert portmap[3]["prevResult"] == RESULT
    assert portmap[3]["runtimeConfig"] == {
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
    }
    assert portmap[3]["name"] == "kubelite"


async def test_failed_add_carries_the_plugin_error_and_deletes_in_reverse(
    plugin_dir: Path,
    tmp_path: Path,
    iptables: list[tuple[str, ...]],
) -> None:
    fake_plugin(plugin_dir, "portmap", fail="iptables said no")
    network = CniNetwork(NetworkOptions(plugin_dir=plugin_dir), tmp_path / "ipam")
    with pytest.raises(NetworkError) as failure:
        await network.add("sb1", tmp_path, [])
    assert 'failed in plugin "portmap": iptables said no: more' in str(failure.value)
    assert [(c[0], c[1]) for c in calls(plugin_dir)] == [
        ("loopback", "ADD"),
        ("bridge", "ADD"),
        ("portmap", "ADD"),
        ("portmap", "DEL"),
        ("bridge", "DEL"),
    ]


async def test_missing_plugin_is_a_network_error(
    plugin_dir: Path, tmp_path: Path, iptables: list[tuple[str, ...]]
) -> None:
    options = NetworkOptions(plugin_dir=plugin_dir, extra_plugins=[{"type": "nope"}])
    network = CniNetwork(options, tmp_path / "ipam")
    with pytest.raises(NetworkError, match='failed to find plugin "nope"'):
        await network.add("sb1", tmp_path, [])


@pytest.mark.parametrize(
    ("netns", "passed"),
    [
        ("gone", ""),  # the namespace and its pin file are gone
        ("pin", ""),  # after a reboot: the pin file is there, with nothing mounted on it
        ("/proc/self/ns/net", "/proc/self/ns/net"),  # a live namespace is passed as it is
    ],
)
async def test_delete_passes_an_empty_netns_once_the_namespace_is_gone(
    plugin_dir: Path, tmp_path: Path, iptables: list[tuple[str, ...]], netns: str, passed: str
) -> None:
    fake_plugin(plugin_dir, "bridge", result=RESULT)
    script = plugin_dir / "bridge"
    script.write_text(script.read_text() + f'echo "netns=[$CNI_NETNS]" >> {plugin_dir}/env.log\n')
    (tmp_path / "pin").touch()
    network = CniNetwork(NetworkOptions(plugin_dir=plugin_dir), tmp_path / "ipam")
    await network.delete("sb1", tmp_path / netns, [], RESULT)
    assert (plugin_dir / "env.log").read_text() == f"netns=[{passed}]\n"
    assert os.path.exists(plugin_dir / "calls.log")


async def test_delete_without_the_netns_removes_the_pods_masquerade_rules(
    plugin_dir: Path, tmp_path: Path, iptables: list[tuple[str, ...]]
) -> None:
    # The bridge plugin undoes ipMasq only with the pod's interface at hand, in its namespace.
    network = CniNetwork(NetworkOptions(plugin_dir=plugin_dir), tmp_path / "ipam")
    await network.delete("sb1", tmp_path / "gone", [], RESULT)
    comment = 'name: "kubelite" id: "sb1"'
    assert iptables == [
        ("iptables-save", "-t", "nat"),
        ("iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", "10.9.0.5/32", "-m",
         "comment", "--comment", comment, "-j", "CNI-0a1b"),
        ("iptables", "-w", "-t", "nat", "-F", "CNI-0a1b"),
        ("iptables", "-w", "-t", "nat", "-X", "CNI-0a1b"),
    ]  # fmt: skip
    # With the namespace there, the plugin does it.
    iptables.clear()
    await network.delete("sb1", Path("/proc/self/ns/net"), [], RESULT)
    assert iptables == []


async def test_masquerade_removal_finishes_what_an_earlier_one_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The jump was deleted, the chain was not: the chain's own rules still name the sandbox.
    left = "\n".join(line for line in NAT_RULES.splitlines() if "POSTROUTING -s" not in line)
    ran: list[tuple[str, ...]] = []

    async def run(*argv: str) -> str:
        ran.append(argv)
        return left if argv[0] == "iptables-save" else ""

    monkeypatch.setattr(cni, "_run", run)
    await cni._remove_masquerade("sb1")
    assert ran[1:] == [
        ("iptables", "-w", "-t", "nat", "-F", "CNI-0a1b"),
        ("iptables", "-w", "-t", "nat", "-X", "CNI-0a1b"),
    ]


async def test_a_missing_iptables_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(NetworkError, match="iptables-save"):
        await cni._remove_masquerade("sb1")
