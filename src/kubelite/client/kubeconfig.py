"""Loading a kubeconfig the way kubectl does (client-go's `clientcmd` loading rules).

Where the configuration comes from, first match wins:

1. an explicit path (`--kubeconfig`), which must exist;
2. `KUBECONFIG`, a list of paths joined with `os.pathsep`; missing files are skipped and the
   others merged: for clusters, users and contexts the first file that defines a name wins, and
   the first non-empty `current-context` wins;
3. `~/.kube/config`;
4. `/etc/kubelite/kubelite.yaml`, where `kubelite server` writes the admin kubeconfig, but only
   when none of the above exists, so a machine's own kubectl setup always takes precedence.

A context (`--context`, else `current-context`) picks a cluster, a user and a namespace. The
result is a `ClientConfig` that holds everything needed to connect, certificate and key bytes
included, so no file is read again after loading. Relative paths in a kubeconfig are relative
to the file that names them, as in clientcmd.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubelite.api.wellknown import ADMIN_KUBECONFIG

RECOMMENDED_HOME_FILE = Path("~/.kube/config")
KUBELITE_FALLBACK_FILE = ADMIN_KUBECONFIG
DEFAULT_NAMESPACE = "default"


class ConfigError(Exception):
    """The kubeconfig is missing, unreadable, or names something it does not define."""


@dataclass(frozen=True)
class ClientConfig:
    """Where the API server is and how to authenticate to it."""

    server: str
    namespace: str = DEFAULT_NAMESPACE
    context: str = ""
    certificate_authority_data: bytes | None = None
    client_certificate_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings for an `https` server, or None for plain `http`."""
        if not self.server.startswith("https://"):
            return None
        # Verifies certificates and host names; which CAs it trusts is set below.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure_skip_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.certificate_authority_data:
            # Like client-go, trust the cluster's CA only, not the system's as well.
            context.load_verify_locations(cadata=self.certificate_authority_data.decode())
        else:
            context.load_default_certs()
        if self.client_certificate_data and self.client_key_data:
            _load_cert_chain(context, self.client_certificate_data, self.client_key_data)
        return context


def _load_cert_chain(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # The ssl module only loads certificates from files; keep them on disk for as short a time
    # as possible, in a directory only this user can read.
    with tempfile.TemporaryDirectory(prefix="kubelite-tls-") as tmp:
        cert_path = Path(tmp) / "client.crt"
        key_path = Path(tmp) / "client.key"
        for path, data in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        context.load_cert_chain(str(cert_path), str(key_path))


def kubeconfig_paths(explicit: str | None = None) -> list[Path]:
    """The files to merge, in precedence order, before the kubelite fallback."""
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        paths: list[Path] = []
        for entry in env.split(os.pathsep):
            if entry and Path(entry).expanduser() not in paths:
                paths.append(Path(entry).expanduser())
        return paths
    return [RECOMMENDED_HOME_FILE.expanduser()]


@dataclass
class _Named:
    """One entry of `clusters`, `users` or `contexts`, with the file it came from."""

    body: dict[str, Any]
    source: Path


@dataclass
class _Merged:
    clusters: dict[str, _Named]
    users: dict[str, _Named]
    contexts: dict[str, _Named]
    current_context: str


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read kubeconfig {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f'error loading config file "{path}": {e}') from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f'error loading config file "{path}": not a kubeconfig')
    return data


def _merge(files: list[Path]) -> _Merged:
    merged = _Merged({}, {}, {}, "")
    for path in files:
        data = _read(path)
        for key, target in (
            ("clusters", merged.clusters),
            ("users", merged.users),
            ("contexts", merged.contexts),
        ):
            for entry in data.get(key) or ():
                if not isinstance(entry, dict) or not entry.get("name"):
                    continue
                inner = key[:-1]  # "clusters" -> "cluster"
                body = entry.get(inner) or {}
                target.setdefault(entry["name"], _Named(body, path))
        if not merged.current_context and data.get("current-context"):
            merged.current_context = str(data["current-context"])
    return merged


def _files_to_load(explicit: str | None) -> list[Path]:
    paths = kubeconfig_paths(explicit)
    if explicit:
        if not paths[0].exists():
            raise ConfigError(f"stat {explicit}: no such file or directory")
        return paths
    existing = [p for p in paths if p.exists()]
    if not existing and KUBELITE_FALLBACK_FILE.exists():
        return [KUBELITE_FALLBACK_FILE]
    return existing


def _data_or_file(body: dict[str, Any], key: str, source: Path) -> bytes | None:
    """`<key>-data` (base64) wins over `<key>` (a path relative to the kubeconfig)."""
    data = body.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ConfigError(f"{key}-data in {source} is not valid base64") from e
    path = body.get(key)
    if path:
        full = (source.parent / Path(path).expanduser()).resolve()
        try:
            return full.read_bytes()
        except OSError as e:
            raise ConfigError(f"unable to read {key} {full}: {e.strerror}") from e
    return None


def _token(user: dict[str, Any], source: Path) -> str | None:
    if user.get("token"):
        return str(user["token"])
    token_file = user.get("tokenFile")
    if token_file:
        full = source.parent / Path(token_file).expanduser()
        try:
            return full.read_text().strip()
        except OSError as e:
            raise ConfigError(f"unable to read tokenFile {full}: {e.strerror}") from e
    return None


def load_config(*, kubeconfig: str | None = None, context: str | None = None) -> ClientConfig:
    """The configuration kubectl would use with `--kubeconfig` and `--context`."""
    files = _files_to_load(kubeconfig)
    merged = _merge(files)
    context_name = context or merged.current_context
    if not context_name:
        if not files:
            raise ConfigError(
                "no configuration has been provided: set KUBECONFIG, pass --kubeconfig, "
                "or start `kubelite server`"
            )
        raise ConfigError("current-context is not set in the kubeconfig")
    ctx = merged.contexts.get(context_name)
    if ctx is None:
        raise ConfigError(f"context was not found for specified context: {context_name}")
    cluster_name = ctx.body.get("cluster", "")
    cluster = merged.clusters.get(cluster_name)
    if cluster is None:
        raise ConfigError(f'cluster "{cluster_name}" of context "{context_name}" is not defined')
    server = str(cluster.body.get("server") or "")
    if not server:
        raise ConfigError(f'cluster "{cluster_name}" has no server defined')
    user_name = ctx.body.get("user", "")
    user = merged.users.get(user_name) or _Named({}, cluster.source)
    return ClientConfig(
        server=server.rstrip("/"),
        namespace=str(ctx.body.get("namespace") or DEFAULT_NAMESPACE),
        context=context_name,
        certificate_authority_data=_data_or_file(
            cluster.body, "certificate-authority", cluster.source
        ),
        client_certificate_data=_data_or_file(user.body, "client-certificate", user.source),
        client_key_data=_data_or_file(user.body, "client-key", user.source),
        token=_token(user.body, user.source),
        insecure_skip_tls_verify=bool(cluster.body.get("insecure-skip-tls-verify")),
        tls_server_name=cluster.body.get("tls-server-name") or None,
    )
