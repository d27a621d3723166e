"""The tcpSocket probe: healthy when a TCP connection opens within the timeout.

Kubernetes' DoTCPProbe (pkg/probe/tcp/tcp.go): connect, then close at once. The socket is closed
with SO_LINGER 0, as Kubernetes' ProbeDialer does, so that frequent probes do not leave
connections in TIME_WAIT on the node. Failures read as Go's dial errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from kubelite.kubelet.prober.gotext import dial_error
from kubelite.kubelet.prober.outcome import Outcome, ProbeResult

# struct linger {int l_onoff; int l_linger;}: on, 0 s, so close() resets instead of lingering.
_LINGER_RESET = struct.pack("ii", 1, 0)


async def tcp_probe(host: str, port: int, timeout: float) -> Outcome:
    """One tcpSocket probe attempt."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError) as e:
        return Outcome(ProbeResult.FAILURE, dial_error(host, port, e))
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Outcome(ProbeResult.SUCCESS)
