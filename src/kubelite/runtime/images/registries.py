"""kubelite's registries config: mirrors, credentials and TLS per registry, and the endpoints
a pull tries in order.

The file has the shape of k3s' `/etc/rancher/k3s/registries.yaml`, so one written for k3s works:

    mirrors:
      docker.io:
        endpoint: ["https://mirror.example:5000", "http://10.0.0.5:5000"]
      "*":                                   # every registry
        endpoint: ["https://cache.example"]
    configs:
      "mirror.example:5000":
        auth: {username: me, password: secret}      # or auth: <base64 user:password>
        tls: {insecure_skip_verify: true, ca_file: /etc/ssl/ca.pem}

A pull tries each mirror endpoint, then the registry itself (as k3s does unless told otherwise).
An endpoint's scheme says whether it speaks plain HTTP; the registry itself is reached over
HTTPS, except loopback hosts, which are plain HTTP as Docker treats them; list a registry as its
own mirror with `http://` to use plain HTTP elsewhere. Docker Hub's API host is
registry-1.docker.io.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from kubelite.api.wellknown import REGISTRIES_CONFIG
from kubelite.runtime.images.auth import (
    DOCKER_HUB_HOSTS,
    Credentials,
    credentials_from_fields,
)
from kubelite.runtime.images.reference import DEFAULT_DOMAIN

log = logging.getLogger(__name__)

DEFAULT_REGISTRIES_CONFIG = REGISTRIES_CONFIG
# distribution/reference: Docker Hub's API endpoint, behind the docker.io name.
DOCKER_HUB_ENDPOINT = "https://registry-1.docker.io"
# The OCI distribution spec's API root.
API_ROOT = "/v2"
WILDCARD = "*"


class RegistriesConfigError(ValueError):
    """The registries config file does not parse."""


@dataclass(frozen=True, slots=True)
class HostConfig:
    """`configs."host"`: how to talk to one registry host."""

    credentials: Credentials | None = None
    insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One place to pull a repository from: scheme, host and the API root path."""

    scheme: str  # "https" or "http"
    host: str  # "host:port"
    api_root: str = API_ROOT
    is_mirror: bool = False

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}{self.api_root}"


@dataclass(slots=True)
class RegistriesConfig:
    """The registries file (k3s' registries.yaml shape) as loaded: mirrors per registry, and auth
    and TLS per host."""

    mirrors: dict[str, list[str]] = field(default_factory=dict)
    configs: dict[str, HostConfig] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> RegistriesConfig:
        """Read the file at `path`; a missing file is an empty config."""
        if path is None or not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise RegistriesConfigError(f"cannot read registries config {path}: {e}") from e
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "registries config") -> RegistriesConfig:
        if not isinstance(data, dict):
            raise RegistriesConfigError(f"{source}: expected a mapping")
        mirrors: dict[str, list[str]] = {}
        for host, mirror in (data.get("mirrors") or {}).items():
            endpoints = (mirror or {}).get("endpoint") or []
            if not isinstance(endpoints, list):
                raise RegistriesConfigError(f"{source}: mirrors.{host}.endpoint must be a list")
            mirrors[str(host)] = [str(e) for e in endpoints]
        configs: dict[str, HostConfig] = {}
        for host, config in (data.get("configs") or {}).items():
            config = config or {}
            auth = config.get("auth")
            tls = config.get("tls") or {}
            try:
                creds = credentials_from_fields(auth) if auth else None
            except ValueError as e:
                raise RegistriesConfigError(f"{source}: configs.{host}.auth: {e}") from e
            configs[_host_of(str(host))] = HostConfig(
                credentials=creds,
                insecure_skip_verify=bool(tls.get("insecure_skip_verify", False)),
                ca_file=tls.get("ca_file", ""),
                cert_file=tls.get("cert_file", ""),
                key_file=tls.get("key_file", ""),
            )
        return cls(mirrors=mirrors, configs=configs)

    def host_config(self, host: str) -> HostConfig:
        # Docker Hub answers as registry-1.docker.io, but people write its config as docker.io.
        names = DOCKER_HUB_HOSTS if host in DOCKER_HUB_HOSTS else (host,)
        for name in (*names, WILDCARD):
            if name in self.configs:
                return self.configs[name]
        return HostConfig()

    def endpoints(self, registry: str) -> list[Endpoint]:
        """Where to pull `registry`'s repositories from, in the order to try them."""
        found: list[Endpoint] = []
        default = default_endpoint(registry)
        for url in self.mirrors.get(registry) or self.mirrors.get(WILDCARD) or []:
            endpoint = _parse_endpoint(url)
            if endpoint is not None and endpoint.host == default.host:
                # The registry listed as its own mirror: itself, reached as the entry says.
                endpoint = replace(endpoint, is_mirror=False)
            if endpoint is not None and endpoint not in found:
                found.append(endpoint)
        if not any(e.host == default.host for e in found):
            found.append(default)
        return found

    def registry_endpoint(self, registry: str) -> Endpoint:
        """The registry itself, never a mirror (where pushes go): its own entry among the
        mirrors if it is listed there (for plain HTTP or an API path), else the default."""
        default = default_endpoint(registry)
        return next((e for e in self.endpoints(registry) if e.host == default.host), default)


def _host_of(text: str) -> str:
    return urlsplit(text).netloc if "://" in text else text.rstrip("/")


def _parse_endpoint(url: str) -> Endpoint | None:
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        log.warning("ignoring mirror endpoint %r: not an http(s) URL", url)
        return None
    # k3s: an endpoint with a path uses it in place of /v2.
    root = parts.path.rstrip("/") or API_ROOT
    return Endpoint(parts.scheme, parts.netloc, root, is_mirror=True)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_endpoint(registry: str) -> Endpoint:
    if registry == DEFAULT_DOMAIN:
        scheme, _, host = DOCKER_HUB_ENDPOINT.partition("://")
        return Endpoint(scheme, host)
    return Endpoint("http" if is_loopback(registry) else "https", registry)


def ssl_context(config: HostConfig) -> ssl.SSLContext | bool:
    """The TLS settings for one host: aiohttp's `ssl=` argument."""
    if not (config.insecure_skip_verify or config.ca_file or config.cert_file):
        return True
    context = ssl.create_default_context(cafile=config.ca_file or None)
    if config.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file or None)
    return context
