"""Clearing stale UDP conntrack entries, with the `conntrack` tool (Debian `conntrack`).

UDP has no connection to close: a client that keeps sending from the same port keeps its
conntrack entry, and with it the NAT to an endpoint that may be gone, or the "no endpoint"
verdict of a Service that has endpoints now. kube-proxy's CleanStaleEntries deletes, after a
sync, the UDP entries DNATed to an endpoint that left a service port, and the entries to a
service port's addresses that had no endpoint and now has one. TCP needs nothing: a gone
endpoint resets or times out, and the client reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Flow:
    """A filter for `conntrack -D`: UDP to ip:port (orig), optionally DNATed to `endpoint`."""

    ip: str
    port: int
    endpoint: str = ""
    node_port: bool = False


class Conntrack:
    """Clears stale UDP conntrack entries when endpoints change, so that flows stop going to a pod
    that is gone; a no-op where the tool is missing."""

    def __init__(self, command: Sequence[str] = ("conntrack",)) -> None:
        self.command = list(command)
        # The tool is the command's last word (`ip netns exec NS conntrack` in tests).
        self.available = shutil.which(self.command[-1]) is not None

    def _argv(self, flow: Flow) -> list[str]:
        argv = [*self.command, "-D", "-p", "udp"]
        if not flow.node_port:
            argv += ["--orig-dst", flow.ip]
        argv += ["--orig-port-dst", str(flow.port)]
        if flow.endpoint:
            argv += ["--reply-src", flow.endpoint]
        return argv

    async def clear(self, flows: Sequence[Flow]) -> None:
        """Delete the matching entries; none matching is no error."""
        if not flows:
            return
        if not self.available:
            log.warning("conntrack is not installed: %d stale UDP flows are left", len(flows))
            return
        for flow in flows:
            proc = await asyncio.create_subprocess_exec(
                *self._argv(flow), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            _, err = await proc.communicate()
            # Exit 1 with "0 flow entries have been deleted" is the usual, harmless answer.
            if proc.returncode not in (0, 1):
                log.warning("conntrack %s: %s", flow, err.decode(errors="replace").strip())
