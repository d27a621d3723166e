"""A real etcd (Debian's /usr/bin/etcd) on loopback, for unit, integration and e2e tests.

    from tests.etcd_server import EtcdServer

    server = EtcdServer.start(tmp_path)            # plain http://127.0.0.1:<free port>
    server = EtcdServer.start(tmp_path, tls=True)  # https, client certificates required
    server.endpoint                                # "http(s)://127.0.0.1:<port>"
    server.ca_file, server.cert_file, server.key_file   # the client's TLS files (tls=True)
    server.etcdctl("get", "--prefix", "/registry/pods")  # etcdctl against it, its stdout
    server.stop()      # SIGTERM, and wait
    server.kill()      # SIGKILL
    server.restart()   # again on the same ports and data: what a store saw before is there

Pytest fixtures: `etcd_server` and `etcd_server_factory` (which takes `tls=`). A conftest brings
them in with `from tests.etcd_server import etcd_server, etcd_server_factory  # noqa: F401`;
tests/unit/storage/conftest.py does.

Each server has a data directory under the directory given and ports the kernel picked, so
servers of tests running side by side never meet; a start whose port was taken meanwhile is
tried again on other ports.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ETCD = "/usr/bin/etcd"
ETCDCTL = "/usr/bin/etcdctl"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _write_cert(
    directory: Path,
    name: str,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    server: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                False,
            )
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), False)
    cert = builder.sign(issuer[1] if issuer else key, hashes.SHA256())
    (directory / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@dataclass
class EtcdServer:
    """One etcd member on loopback; `start` makes and starts one."""

    directory: Path
    tls: bool = False
    client_port: int = 0
    peer_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.directory / "etcd.log"

    @classmethod
    def start(cls, directory: Path, *, tls: bool = False) -> EtcdServer:
        """Start etcd with its data, certificates and log under `directory/etcd-<n>`."""
        directory.mkdir(parents=True, exist_ok=True)
        n = 0
        while (directory / f"etcd-{n}").exists():
            n += 1
        home = directory / f"etcd-{n}"
        home.mkdir()
        server = cls(home, tls)
        if tls:
            ca = _write_cert(home, "ca", issuer=None)
            _write_cert(home, "server", issuer=ca, server=True)
            _write_cert(home, "client", issuer=ca)
        for attempt in range(5):
            server.client_port, server.peer_port = _free_port(), _free_port()
            try:
                server._launch()
                return server
            except RuntimeError:
                server._reap()
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def ca_file(self) -> Path | None:
        return self.directory / "ca.crt" if self.tls else None

    @property
    def cert_file(self) -> Path | None:
        return self.directory / "client.crt" if self.tls else None

    @property
    def key_file(self) -> Path | None:
        return self.directory / "client.key" if self.tls else None

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def _launch(self) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        argv = [
            ETCD,
            "--name",
            "default",
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            self.endpoint,
            "--advertise-client-urls",
            self.endpoint,
            "--listen-peer-urls",
            peer,
            "--initial-advertise-peer-urls",
            peer,
            "--initial-cluster",
            f"default={peer}",
            "--log-level",
            "warn",
            "--logger",
            "zap",
        ]
        if self.tls:
            argv += [
                "--cert-file",
                str(self.directory / "server.crt"),
                "--key-file",
                str(self.directory / "server.key"),
                "--trusted-ca-file",
                str(self.directory / "ca.crt"),
                "--client-cert-auth",
            ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited ({self.process.returncode}): see {self.log_path}")
            if self.healthy():
                return
            time.sleep(0.05)
        raise RuntimeError(f"etcd did not answer in {START_TIMEOUT:.0f}s: see {self.log_path}")

    def healthy(self) -> bool:
        """Whether etcd answers its /health endpoint now."""
        context = None
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        try:
            with urllib.request.urlopen(f"{self.endpoint}/health", timeout=1, context=context):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def _reap(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if etcd is still there after STOP_TIMEOUT."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no chance to answer anything more."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        """Start again (after stop or kill) on the same ports and data directory."""
        self.stop()
        self._launch()

    def etcdctl(self, *args: str, check: bool = True) -> str:
        """Run etcdctl (API v3) against this server; its stdout."""
        argv = [ETCDCTL, "--endpoints", self.endpoint, "--command-timeout", "10s"]
        if self.tls:
            argv += [
                "--cacert",
                str(self.ca_file),
                "--cert",
                str(self.cert_file),
                "--key",
                str(self.key_file),
            ]
        result = subprocess.run(
            [*argv, *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
        )
        if check and result.returncode != 0:
            raise AssertionError(f"etcdctl {' '.join(args)} failed: {result.stderr}")
        return result.stdout


@pytest.fixture
def etcd_server_factory(tmp_path: Path) -> Iterator[Callable[..., EtcdServer]]:
    """Start etcd servers (`factory(tls=False)`); all are stopped when the test ends."""
    started: list[EtcdServer] = []

    def factory(*, tls: bool = False) -> EtcdServer:
        server = EtcdServer.start(tmp_path / "etcd", tls=tls)
        started.append(server)
        return server

    try:
        yield factory
    finally:
        for server in started:
            server.kill()


@pytest.fixture
def etcd_server(etcd_server_factory: Callable[..., EtcdServer]) -> EtcdServer:
    """A plain-http etcd of the test's own."""
    return etcd_server_factory()
