"""The control plane's own HTTPS endpoint: `/metrics`, `/healthz`, `/livez`, `/readyz`.

kube-controller-manager serves these on port 10257 over HTTPS, with a self-signed certificate
when it is given none; `kubelite control-plane` does the same, on loopback by default. The
metrics are the work queues' (`workqueue_depth`, `workqueue_adds_total`, ...) and the
process's. As kube-controller-manager, it asks the API server who each caller is and whether
it may read `/metrics` (`delegated_auth`); the health paths are open to anyone. A port already
taken is reported and skipped: the controllers matter more than their metrics.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from kubelite.cli.cluster.delegated_auth import DelegatedAuth

log = logging.getLogger(__name__)


def _self_signed(host: str, client_ca: bytes | None) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for `host` (and localhost),
    asking callers for a certificate of `client_ca` (none required)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@kubelite-control-plane")])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        alt.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        alt.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory(prefix="kubelite-cp-tls-") as tmp:
        cert_path, key_path = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(cert_path, key_path)
    if client_ca:
        context.load_verify_locations(cadata=client_ca.decode())
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


async def serve(
    host: str,
    port: int,
    registry: CollectorRegistry,
    auth: DelegatedAuth | None = None,
    client_ca: bytes | None = None,
    checks: Mapping[str, Callable[[], str | None]] | None = None,
) -> web.AppRunner | None:
    """Start serving; None when `port` is 0 (disabled) or cannot be bound. Without `auth`
    anyone who reaches the port reads the metrics. `checks` are /healthz's named checks
    besides `ping` (kube-scheduler's `leaderElection`), each answering why it fails or None."""
    if port == 0:
        return None

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def healthz(request: web.Request) -> web.Response:
        # apiserver's healthz handler: "ok", or each check's line and a 500 when one fails
        # (the reason only in the log; `?verbose` lists the lines either way).
        lines, failed = ["[+]ping ok"], False
        for name, check in (checks or {}).items():
            problem = check()
            if problem:
                log.warning("healthz check %s failed: %s", name, problem)
                lines.append(f"[-]{name} failed: reason withheld")
                failed = True
            else:
                lines.append(f"[+]{name} ok")
        if failed:
            return web.Response(status=500, text="\n".join([*lines, "healthz check failed"]))
        if "verbose" in request.query:
            return web.Response(text="\n".join([*lines, "healthz check passed"]))
        return web.Response(text="ok")

    app = web.Application(middlewares=[auth.middleware] if auth is not None else [])
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    for path in ("/livez", "/readyz"):
        app.router.add_get(path, ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=_self_signed(host, client_ca))
    try:
        await site.start()
    except OSError as e:
        log.error("control plane: cannot serve /metrics on %s:%d: %s", host, port, e)
        await runner.cleanup()
        return None
    log.info("control plane: serving /metrics and /healthz on https://%s:%d", host, port)
    return runner
