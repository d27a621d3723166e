"""Registry credentials: where they come from and how a registry asks for them.

A registry that wants credentials answers 401 with a `WWW-Authenticate` challenge (RFC 7235):
`Basic realm="..."`, or `Bearer realm="https://auth.example/token",service="...",scope="..."`,
the Docker token protocol (distribution's docs/spec/auth/token.md), where the client fetches a
token from the realm, with basic credentials when it has some and anonymously otherwise.

Credentials for a host are looked up in this order, the same a kubelet with containerd follows:
those given with the pull (the pod's imagePullSecrets), kubelite's registries config
(`configs."host".auth`, as in k3s' registries.yaml), then `~/.docker/config.json` (`auths`,
either `auth` as base64 `user:password` or `username`/`password`). Credential helpers
(`credsStore`, `credHelpers`) are not run.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubelite.runtime.cri import AuthConfig

log = logging.getLogger(__name__)

# docker/cli config/configfile: the key Docker Hub's credentials are stored under.
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a pull authenticates with: a user and password, an identity token for the token realm,
    or a registry token sent as is; false when empty."""

    username: str = ""
    password: str = ""
    identity_token: str = ""  # an OAuth refresh token, sent to the token realm
    registry_token: str = ""  # a bearer token, sent to the registry as is

    def __bool__(self) -> bool:
        return bool(self.username or self.identity_token or self.registry_token)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def _decode_auth(auth: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(auth, validate=False).decode()
    except (binascii.Error, UnicodeDecodeError) as e:
        raise ValueError(f"invalid auth field: {e}") from e
    username, sep, password = text.partition(":")
    if not sep:
        raise ValueError("invalid auth field: no ':' between user name and password")
    return username, password


def credentials_from_fields(fields: dict[str, Any]) -> Credentials:
    """Credentials from a docker config `auths` entry or a registries config `auth` block."""
    username = fields.get("username") or ""
    password = fields.get("password") or ""
    if fields.get("auth") and not username:
        username, password = _decode_auth(fields["auth"])
    return Credentials(
        username=username,
        password=password,
        identity_token=fields.get("identitytoken") or fields.get("identity_token") or "",
        registry_token=fields.get("registrytoken") or fields.get("registry_token") or "",
    )


def credentials_from_cri(auth: AuthConfig) -> Credentials:
    return credentials_from_fields(
        {
            "username": auth.username,
            "password": auth.password,
            "auth": auth.auth,
            "identity_token": auth.identity_token,
            "registry_token": auth.registry_token,
        }
    )


def _config_key_host(key: str) -> str:
    """`https://host:5000/v1/` -> `host:5000`; a bare `host:5000` stays as it is."""
    if "://" in key:
        return urlsplit(key).netloc
    return key.split("/", 1)[0]


class DockerConfig:
    """The `auths` of a docker config.json, read once."""

    def __init__(self, path: Path | None) -> None:
        self._auths: dict[str, Credentials] = {}
        if path is None or not path.is_file():
            return
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            log.warning("ignoring docker config %s: %s", path, e)
            return
        for key, fields in (data.get("auths") or {}).items():
            try:
                creds = credentials_from_fields(fields or {})
            except ValueError as e:
                log.warning("ignoring docker config %s entry %s: %s", path, key, e)
                continue
            if creds:
                self._auths[_config_key_host(key)] = creds

    def lookup(self, host: str) -> Credentials | None:
        candidates = DOCKER_HUB_HOSTS if host in DOCKER_HUB_HOSTS else (host,)
        for candidate in candidates:
            if candidate in self._auths:
                return self._auths[candidate]
        return None


# RFC 7235 section 2.1: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ].
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_CHALLENGE_PART = re.compile(
    rf"\s*(?:(?P<key>{_TOKEN})\s*=\s*(?P<value>{_QUOTED}|{_TOKEN})|(?P<scheme>{_TOKEN}))\s*,?"
)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a WWW-Authenticate header: how the registry asks to be authenticated."""

    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str]


def parse_www_authenticate(header: str) -> list[Challenge]:
    """The challenges of a WWW-Authenticate header, in order.

    >>> parse_www_authenticate('Bearer realm="https://a/token",service="reg"')
    [Challenge(scheme='bearer', params={'realm': 'https://a/token', 'service': 'reg'})]
    """
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        match = _CHALLENGE_PART.match(header, pos)
        if match is None or match.end() == pos:
            break
        pos = match.end()
        if match["scheme"]:
            challenges.append(Challenge(match["scheme"].lower(), {}))
        elif challenges:
            value = match["value"]
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            challenges[-1].params[match["key"].lower()] = value
    return challenges
