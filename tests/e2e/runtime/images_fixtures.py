"""Test helpers for the image service's e2e tests: a real Debian `docker-registry` on loopback,
and a one-binary busybox image written as an OCI archive.

Imported explicitly by tests/e2e/runtime/test_images_*.py (not a conftest, so as not to clash
with the other runtime tests' fixtures).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import socket
import ssl
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
REGISTRY_START_TIMEOUT = 15.0
USER, PASSWORD = "user", "pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Registry:
    host: str  # "127.0.0.1:<port>"
    process: subprocess.Popen[bytes]


def _wait_until_up(host: str, process: subprocess.Popen[bytes], scheme: str) -> None:
    deadline = time.monotonic() + REGISTRY_START_TIMEOUT
    unverified = ssl._create_unverified_context()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"{scheme}://{host}/v2/", timeout=1, context=unverified).close()
            return
        except urllib.error.HTTPError:
            return  # 401: up, and asking for credentials
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"docker-registry on {host} did not answer within {REGISTRY_START_TIMEOUT}s")


@contextmanager
def running_registry(
    workdir: Path, *, with_auth: bool = False, tls: tuple[Path, Path] | None = None
) -> Iterator[Registry]:
    """`docker-registry serve` on 127.0.0.1:<free port>, storage in `workdir`; stopped after.

    `tls` is (certificate, key): the registry then speaks HTTPS only.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    host = f"127.0.0.1:{free_port()}"
    auth = ""
    if with_auth:
        htpasswd = subprocess.run(
            ["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True
        ).stdout
        (workdir / "htpasswd").write_bytes(htpasswd)
        auth = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {workdir / 'htpasswd'}\n"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {host}\n  secret: {secrets.token_hex(16)}\n"
        + (f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else "")
        + auth
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "registry.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    try:
        _wait_until_up(host, process, "https" if tls else "http")
        yield Registry(host, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --- a minimal busybox image ---


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(entries: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _entry(
    name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.mtime = kind, mode, link, 1_700_000_000
    return info


def busybox_layers() -> list[bytes]:
    """Two layers: busybox with /bin/sh, /etc and /cache/old; then /etc/hello, a whiteout of
    /etc/remove-me and /cache made opaque (only /cache/new shows)."""
    bottom = _tar(
        [
            (_entry("bin", tarfile.DIRTYPE, 0o755), b""),
            (_entry("bin/busybox", mode=0o755), BUSYBOX.read_bytes()),
            (_entry("bin/sh", tarfile.SYMTYPE, 0o777, "busybox"), b""),
            (_entry("bin/cat", tarfile.LNKTYPE, 0o755, "bin/busybox"), b""),
            (_entry("etc", tarfile.DIRTYPE, 0o755), b""),
            (_entry("etc/passwd"), b"root:x:0:0:root:/root:/bin/sh\n"),
            (_entry("etc/remove-me"), b"deleted by the layer above\n"),
            (_entry("cache/old"), b"hidden by the opaque directory above\n"),
        ]
    )
    top = _tar(
        [
            (_entry("etc/hello"), b"hello from the top layer\n"),
            (_entry("etc/.wh.remove-me"), b""),
            (_entry("cache", tarfile.DIRTYPE, 0o755), b""),
            (_entry("cache/.wh..wh..opq"), b""),
            (_entry("cache/new"), b"new\n"),
        ]
    )
    return [bottom, top]


@dataclass
class BuiltArchive:
    path: Path
    image_id: str
    manifest_digest: str


def write_busybox_archive(path: Path, name: str) -> BuiltArchive:
    """An OCI archive of the busybox image, named `name` (a full reference)."""
    layers = busybox_layers()
    blobs: dict[str, bytes] = {}
    descriptors = []
    for layer in layers:
        blob = gzip.compress(layer, mtime=0)
        blobs[_sha256(blob)] = blob
        descriptors.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _sha256(blob),
                "size": len(blob),
            }
        )
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(layer) for layer in layers]},
        }
    ).encode()
    blobs[_sha256(config)] = config
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha256(config),
                "size": len(config),
            },
            "layers": descriptors,
        }
    ).encode()
    blobs[_sha256(manifest)] = manifest
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _sha256(manifest),
                "size": len(manifest),
                "annotations": {"io.containerd.image.name": name},
            }
        ],
    }
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": json.dumps(index)}
    with tarfile.open(path, "w") as tf:
        for file_name, data in files.items():
            raw = data if isinstance(data, bytes) else data.encode()
            info = tarfile.TarInfo(file_name)
            info.size = len(raw)
            tf.addfile(info, io.BytesIO(raw))
        for digest, data in blobs.items():
            info = tarfile.TarInfo("blobs/sha256/" + digest.split(":")[1])
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return BuiltArchive(path, _sha256(config), _sha256(manifest))
