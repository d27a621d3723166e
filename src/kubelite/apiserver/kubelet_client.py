"""The API server's HTTPS client to kubelets: how pods/log, exec, attach and portforward
reach the pod's node.

It holds the client certificate the cluster CA issued to the API server
(`apiserver-kubelet-client`) and verifies the kubelet's serving certificate against that CA.
One session serves every proxied request; closing it ends the streams still open, which a
shutdown does.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

import aiohttp

from kubelite.apiserver import certs

# How long opening a connection to a kubelet may take; streams themselves have no time limit.
CONNECT_TIMEOUT = 10.0


@dataclass
class KubeletClient:
    """The API server's HTTPS client to kubelets, with its client certificate."""

    context: ssl.SSLContext
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    @classmethod
    def from_pki(cls, pki: certs.Pki) -> KubeletClient:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca_cert))
        context.load_cert_chain(pki.kubelet_client_cert, pki.kubelet_client_key)
        return cls(context)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
                connector=aiohttp.TCPConnector(ssl=self.context),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
