"""The agent's side of joining a cluster with a node token (see apiserver/node_join.py).

The cluster's CA is fetched without verification and kept only if its hash is the token's;
everything after is verified against it. The agent then asks the server for its kubelet
serving certificate, and keeps CA, certificate and key under `<data-dir>/agent`, and for the
client certificates its kubelet and its service proxy talk to the API server with.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from kubelite.apiserver.node_join import SERVING_CERT_PATH, fetch_pinned_ca, parse
from kubelite.client.kubeconfig import ClientConfig, ConfigError

TIMEOUT = aiohttp.ClientTimeout(total=30)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.chmod(mode)
    tmp.replace(path)


async def join(
    server: str, token_text: str, directory: Path, flags: Any
) -> tuple[ClientConfig, ClientConfig, tuple[Path, Path, Path]]:
    """Client configs for `server` (the kubelet's, the service proxy's), and the kubelet's
    serving (cert, key, client CA) paths."""
    try:
        token = parse(token_text)
    except ValueError as e:
        raise ConfigError(f"--token: {e}") from e
    server = server.rstrip("/")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        try:
            ca = await fetch_pinned_ca(session, server, token, "node token")
        except ValueError as e:
            raise ConfigError(str(e)) from None
        verified = ssl.create_default_context(cadata=ca.decode())
        headers = {"Authorization": f"Bearer {token.secret}"}
        body = orjson.dumps({"nodeName": flags.node_name, "ips": [flags.node_ip, "127.0.0.1"]})
        async with session.post(
            server + SERVING_CERT_PATH, data=body, headers=headers, ssl=verified
        ) as response:
            if response.status != 200:
                raise ConfigError(
                    f"asking {server} for a kubelet certificate: {response.status} "
                    f"{(await response.text())[:200]}"
                )
            issued = orjson.loads(await response.read())
    ca_path, cert_path, key_path = (
        directory / "ca.crt",
        directory / "kubelet.crt",
        directory / "kubelet.key",
    )
    _write(ca_path, ca, 0o644)
    _write(key_path, issued["key"].encode(), 0o600)
    _write(cert_path, issued["cert"].encode(), 0o644)
    kubelet = ClientConfig(
        server=server,
        certificate_authority_data=ca,
        client_certificate_data=issued["clientCert"].encode(),
        client_key_data=issued["clientKey"].encode(),
    )
    proxy = ClientConfig(
        server=server,
        certificate_authority_data=ca,
        client_certificate_data=issued["proxyCert"].encode(),
        client_key_data=issued["proxyKey"].encode(),
    )
    return kubelet, proxy, (cert_path, key_path, ca_path)
