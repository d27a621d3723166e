"""Pod-to-pod traffic between nodes keeps its source address.

The bridge CNI plugin's `ipMasq` (runtime/sandbox/cni.py) puts each pod's traffic to anything
outside the node's own podCIDR through MASQUERADE, in a per-sandbox chain jumped to from nat
POSTROUTING; a pod on another node would then see this node's address, not the pod's. flannel
answers with a RETURN for cluster-to-cluster traffic ahead of the masquerade rule in its own
chain; here the masquerade rules are the CNI's, in POSTROUTING after the agent's jump, so the
agent's chain ACCEPTs traffic from this node's podCIDR to every other node's (a RETURN would
only go back to POSTROUTING and on to the CNI's rules; ACCEPT ends the nat table's traversal:
no NAT). It uses the same
`iptables` the plugin does (the nftables backend on Debian 12), since an nftables `accept` in
another table would not stop the plugin's masquerade.
"""

from __future__ import annotations

import asyncio

CHAIN = "KUBELITE-PODNET"
_COMMENT = "kubelite pod network: pods keep their addresses between nodes"


async def _iptables(*args: str, stdin: str | None = None, check: bool = True) -> int:
    argv = ["iptables-restore", "--noflush"] if stdin is not None else ["iptables", "-w", *args]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {err.decode().strip()}")
    return proc.returncode or 0


def rules(own_cidr: str, others: list[str]) -> str:
    """The chain as iptables-restore input: declaring it under --noflush empties it first, so
    the whole chain is replaced in one transaction."""
    lines = ["*nat", f":{CHAIN} - [0:0]"]
    lines += [f"-A {CHAIN} -s {own_cidr} -d {cidr} -j ACCEPT" for cidr in sorted(others)]
    return "\n".join([*lines, "COMMIT", ""])


async def ensure(own_cidr: str, others: list[str]) -> None:
    """Replace the chain's rules, and jump to it first in POSTROUTING if not already."""
    await _iptables(stdin=rules(own_cidr, others))
    jump = ["POSTROUTING", "-m", "comment", "--comment", _COMMENT, "-j", CHAIN]
    if await _iptables("-t", "nat", "-C", *jump, check=False) != 0:
        await _iptables("-t", "nat", "-I", jump[0], "1", *jump[1:])


async def remove() -> None:
    """Remove the jump and the chain (gone already is fine)."""
    jump = ["POSTROUTING", "-m", "comment", "--comment", _COMMENT, "-j", CHAIN]
    while await _iptables("-t", "nat", "-D", *jump, check=False) == 0:
        pass
    await _iptables("-t", "nat", "-F", CHAIN, check=False)
    await _iptables("-t", "nat", "-X", CHAIN, check=False)
