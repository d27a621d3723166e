"""The pod network: CNI plugins called as executables, per the CNI specification.

Each plugin is run with `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`, `CNI_PATH`
in its environment and its network configuration on stdin; in a conflist, ADD runs the plugins
in order and hands each the previous one's result as `prevResult`, DEL runs them in reverse
(CNI spec 1.0, "Execution Protocol" and "Network configuration lists"). Two networks are set
up per pod, as containerd does: `loopback` on `lo`, and the pod network on `eth0`: `bridge` with
`host-local` IPAM, then `portmap` for the pod's hostPorts (a `portMappings` capability, given
in `runtimeConfig`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubelite.runtime import cri
from kubelite.runtime.errors import NetworkError
from kubelite.runtime.sandbox import namespaces

CNI_VERSION = "1.0.0"  # the newest version the Debian plugins (1.1.1) speak
CNI_PLUGIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
POD_IFNAME = "eth0"  # the interface name Kubernetes' runtimes give the pod network
NETWORK_NAME = "kubelite"
DEFAULT_BRIDGE = "kubelite0"
DEFAULT_SUBNET = "10.42.0.0/24"


@dataclass(frozen=True, slots=True)
class NetworkOptions:
    """The pod network the runtime generates its conflist from."""

    bridge: str = DEFAULT_BRIDGE
    subnet: str = DEFAULT_SUBNET
    plugin_dir: Path = CNI_PLUGIN_DIR
    # More plugins chained after portmap (e.g. `bandwidth`, `tuning`), as they would appear
    # in a conflist's "plugins".
    extra_plugins: list[dict[str, Any]] = field(default_factory=list)
    # The bridge's and the pods' veths' MTU (the bridge plugin's `mtu`, which flannel's CNI
    # plugin fills from FLANNEL_MTU); None leaves the plugin's default, the kernel's.
    mtu: int | None = None

    @property
    def gateway(self) -> str:
        """The bridge's own address: host-local's default gateway, the subnet's first host."""
        return str(next(ipaddress.ip_network(self.subnet).hosts()))


def conflist(options: NetworkOptions, ipam_dir: Path) -> dict[str, Any]:
    """The pod network's conflist."""
    bridge: dict[str, Any] = {
        "type": "bridge",
        "bridge": options.bridge,
        "isGateway": True,
        "ipMasq": True,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": options.subnet}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": str(ipam_dir),
        },
    }
    if options.mtu is not None:
        bridge["mtu"] = options.mtu
    return {
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "plugins": [
            bridge,
            {"type": "portmap", "capabilities": {"portMappings": True}},
            *options.extra_plugins,
        ],
    }


LOOPBACK_CONFIG = {"cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback"}


def _runtime_config(plugin: dict[str, Any], ports: list[cri.PortMapping]) -> dict[str, Any]:
    """The runtimeConfig a plugin asked for through its `capabilities` (CNI CONVENTIONS.md)."""
    if not plugin.get("capabilities", {}).get("portMappings"):
        return {}
    return {
        "portMappings": [
            {
                "hostPort": p.host_port,
                "containerPort": p.container_port,
                "protocol": p.protocol.lower(),
                **({"hostIP": p.host_ip} if p.host_ip else {}),
            }
            for p in ports
            if p.host_port
        ]
    }


class CniNetwork:
    """ADD and DEL of a pod's networks, from one generated conflist."""

    def __init__(self, options: NetworkOptions, ipam_dir: Path) -> None:
        self.options = options
        self.conflist = conflist(options, ipam_dir)

    async def add(
        self, sandbox_id: str, netns: Path, ports: list[cri.PortMapping]
    ) -> dict[str, Any]:
        """Attach the pod; return the pod network's CNI result. Undoes itself on failure."""
        try:
            await self._exec(LOOPBACK_CONFIG, "ADD", sandbox_id, netns, "lo")
            result: dict[str, Any] = {}
            for plugin in self.conflist["plugins"]:
                conf = self._plugin_conf(plugin, ports, result)
                result = await self._exec(conf, "ADD", sandbox_id, netns, POD_IFNAME)
        except NetworkError:
            await self.delete(sandbox_id, netns, ports, {})
            raise
        return result

    async def delete(
        self,
        sandbox_id: str,
        netns: Path | None,
        ports: list[cri.PortMapping],
        prev_result: dict[str, Any],
    ) -> None:
        """Detach the pod: its IP lease, bridge port and iptables rules go. Raises the first
        plugin error after trying every plugin, so one failure does not strand the rest."""
        # DEL must work after the namespace is gone (CNI spec), and an empty CNI_NETNS says it
        # is: the plugins then release the IP lease and host-side state and touch no namespace
        # (the bridge plugin fails with "unknown FS magic" on a pin with nothing mounted).
        gone = netns is None or not namespaces.is_namespace(netns)
        first_error: NetworkError | None = None
        for plugin in reversed(self.conflist["plugins"]):
            conf = self._plugin_conf(plugin, ports, prev_result)
            try:
                await self._exec(conf, "DEL", sandbox_id, None if gone else netns, POD_IFNAME)
            except NetworkError as e:
                first_error = first_error or e
        if gone:
            # The bridge plugin learns the pod's IPs from its interface, in the namespace, to
            # undo ipMasq; with the namespace gone it leaves the rules, so they go here.
            try:
                await _remove_masquerade(sandbox_id)
            except NetworkError as e:
                first_error = first_error or e
        if first_error is not None:
            raise first_error

    def _plugin_conf(
        self, plugin: dict[str, Any], ports: list[cri.PortMapping], prev: dict[str, Any]
    ) -> dict[str, Any]:
        conf = {"cniVersion": CNI_VERSION, "name": NETWORK_NAME, **plugin}
        runtime_config = _runtime_config(plugin, ports)
        if runtime_config:
            conf["runtimeConfig"] = runtime_config
        if prev:
            conf["prevResult"] = prev
        return conf

    async def _exec(
        self,
        conf: dict[str, Any],
        command: str,
        sandbox_id: str,
        netns: Path | None,
        ifname: str,
    ) -> dict[str, Any]:
        plugin_type = conf["type"]
        binary = self.options.plugin_dir / plugin_type
        if not os.access(binary, os.X_OK):
            if command == "DEL":
                return {}  # nothing this plugin could have set up
            raise NetworkError(
                f'CNI {command} on network "{conf["name"]}": failed to find plugin '
                f'"{plugin_type}" in path [{self.options.plugin_dir}]'
            )
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": sandbox_id,
            "CNI_NETNS": "" if netns is None else str(netns),
            "CNI_IFNAME": ifname,
            "CNI_PATH": str(self.options.plugin_dir),
        }
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await proc.communicate(json.dumps(conf).encode())
        if proc.returncode != 0:
            raise NetworkError(
                f'CNI {command} on network "{conf["name"]}" failed in plugin "{plugin_type}": '
                f"{_plugin_error(out, err)}"
            )
        if command != "ADD" or not out.strip():
            return {}
        return json.loads(out)


async def _run(*argv: str) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as e:
        raise NetworkError(f"{argv[0]}: {e}") from e
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {err.decode().strip()}")
    return out.decode()


async def _remove_masquerade(sandbox_id: str) -> None:
    """Delete the bridge plugin's ipMasq rules for one sandbox: the nat rules that name it in
    their comment (`name: "kubelite" id: "<sandbox>"`), in POSTROUTING and in the sandbox's own
    `CNI-...` chain, then that chain. Safe to run again after a partial run."""
    mark = f'id: \\"{sandbox_id}\\"'
    saved = await _run("iptables-save", "-t", "nat")
    jumps, chains = [], set()
    for rule in saved.splitlines():
        if mark not in rule:
            continue
        try:
            words = shlex.split(rule)
        except ValueError as e:
            raise NetworkError(f"iptables-save: unreadable rule {rule!r}") from e
        if words[:2] == ["-A", "POSTROUTING"]:
            jumps.append(words[1:])
        elif len(words) > 1 and words[0] == "-A" and words[1].startswith("CNI-"):
            chains.add(words[1])
    # -w: wait for the xtables lock rather than fail beside another writer (the legacy backend).
    for jump in jumps:
        await _run("iptables", "-w", "-t", "nat", "-D", *jump)
    for chain in sorted(chains):
        await _run("iptables", "-w", "-t", "nat", "-F", chain)
        await _run("iptables", "-w", "-t", "nat", "-X", chain)


def _plugin_error(stdout: bytes, stderr: bytes) -> str:
    """The error a plugin printed: a CNI error object on stdout (`msg`, `details`), else text."""
    try:
        obj = json.loads(stdout)
        message = obj.get("msg", "")
        if obj.get("details"):
            message = f"{message}: {obj['details']}"
        return message or stdout.decode()
    except ValueError:
        return (stderr or stdout).decode().strip()


def pod_ip(result: dict[str, Any]) -> str:
    """The pod's IPv4 address from a CNI result: the first address on the pod's interface."""
    interfaces = result.get("interfaces", [])
    for ip in result.get("ips", []):
        index = ip.get("interface")
        if index is None or interfaces[index].get("sandbox"):
            return ip["address"].split("/")[0]
    return ""
