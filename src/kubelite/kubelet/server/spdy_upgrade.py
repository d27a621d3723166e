"""Taking over an aiohttp connection for SPDY: the `Upgrade: SPDY/3.1` handshake.

kubectl asks for SPDY with `Connection: Upgrade`, `Upgrade: SPDY/3.1` and one
`X-Stream-Protocol-Version` header per protocol it speaks, best first (k8s.io/apimachinery
`httpstream.Handshake`). The server answers 101 with the one it picked, and from then on the
connection carries SPDY frames. aiohttp only knows WebSocket upgrades, so the connection is taken
over the way its WebSocket response does it: a 101 with no body, then a parser of our own
installed on the protocol, which receives every byte that follows (kubectl sends none before it
has read the 101, so nothing is lost in between).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import hdrs, web
from multidict import CIMultiDict

from kubelite.kubelet.server import spdy

# The header that carries the stream protocols on both the request and the 101.
PROTOCOL_HEADER = "X-Stream-Protocol-Version"
# The header a refusal lists the server's protocols in.
ACCEPTED_HEADER = "X-Accepted-Stream-Protocol-Versions"


def is_spdy_upgrade(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower().startswith("spdy/")


def offered_protocols(request: web.Request) -> list[str]:
    """The client's protocols in its order (repeated headers or comma-separated values)."""
    found: list[str] = []
    for value in request.headers.getall(PROTOCOL_HEADER, []):
        found.extend(p.strip() for p in value.split(",") if p.strip())
    return found


def negotiate(request: web.Request, supported: tuple[str, ...]) -> str | None:
    """The client's first protocol that is supported; "" if it offered none (allowed, as
    `httpstream.Handshake` allows it); None when nothing matches."""
    offered = offered_protocols(request)
    if not offered:
        return ""
    return next((p for p in offered if p in supported), None)


def refusal(request: web.Request, supported: tuple[str, ...]) -> web.Response:
    """Kubernetes' answer when no protocol matches (403, as httpstream.Handshake gives)."""
    offered = offered_protocols(request)
    accepted = CIMultiDict((ACCEPTED_HEADER, p) for p in supported)
    return web.Response(
        status=403,
        headers=accepted,
        text=(
            "unable to upgrade: unable to negotiate protocol: client supports "
            f"[{' '.join(offered)}], server accepts [{' '.join(supported)}]"
        ),
        content_type="text/plain",
    )


class _Feeder:
    """What aiohttp's protocol calls with the bytes after the 101 (its payload parser seam)."""

    def __init__(self, session: spdy.Session) -> None:
        self._session = session

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._session.feed(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self._session.feed_eof()


async def accept(request: web.Request, protocol: str) -> tuple[web.StreamResponse, spdy.Session]:
    """Answer 101 and return the SPDY session now running on the connection."""
    headers: dict[str, str] = {hdrs.CONNECTION: "Upgrade", hdrs.UPGRADE: spdy.UPGRADE}
    if protocol:
        headers[PROTOCOL_HEADER] = protocol
    response = web.StreamResponse(status=101, headers=headers)
    response.force_close()
    await response.prepare(request)
    transport = request.transport
    protocol_obj: Any = request.protocol
    if transport is None:
        raise ConnectionResetError("connection lost before the upgrade")

    async def send(data: bytes) -> None:
        if transport.is_closing():
            raise ConnectionResetError("connection closed")
        transport.write(data)
        await protocol_obj._drain_helper()

    session = spdy.Session(
        send,
        server=True,
        pause_reading=transport.pause_reading,
        resume_reading=transport.resume_reading,
    )
    protocol_obj.set_parser(_Feeder(session))
    protocol_obj.keep_alive(False)
    return response, session


async def finish(request: web.Request, session: spdy.Session) -> None:
    """End the session (GOAWAY) and the connection."""
    with contextlib.suppress(Exception):
        await session.close()
    transport = request.transport
    if transport is not None and not transport.is_closing():
        # Let the last frames leave before the TLS connection closes.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(request.protocol._drain_helper(), 5.0)
        transport.close()
