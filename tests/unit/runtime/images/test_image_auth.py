"""Registry credentials: WWW-Authenticate parsing, docker config.json, registries.yaml."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kubelite.runtime.cri import AuthConfig
from kubelite.runtime.images.auth import (
    Challenge,
    Credentials,
    DockerConfig,
    credentials_from_cri,
    parse_www_authenticate,
)
from kubelite.runtime.images.registries import (
    Endpoint,
    RegistriesConfig,
    RegistriesConfigError,
)


@pytest.mark.parametrize(
    ("header", "challenges"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/nginx:pull",
                    },
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        ("Basic realm=simple", [Challenge("basic", {"realm": "simple"})]),
        (
            'Basic realm="a", Bearer realm="https://t/x", error="insufficient_scope"',
            [
                Challenge("basic", {"realm": "a"}),
                Challenge("bearer", {"realm": "https://t/x", "error": "insufficient_scope"}),
            ],
        ),
        ('Bearer realm="with \\"quote\\""', [Challenge("bearer", {"realm": 'with "quote"'})]),
        ('BEARER REALM="x"', [Challenge("bearer", {"realm": "x"})]),
        ("", []),
    ],
)
def test_parse_www_authenticate(header: str, challenges: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == challenges


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_docker_config_auths(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": _b64("hub:pw")},
                    "localhost:5000": {"username": "local", "password": "pw2"},
                    "https://quay.io": {"auth": _b64("q:p:with:colons")},
                    "broken.example": {"auth": "bm9jb2xvbg=="},
                }
            }
        )
    )
    config = DockerConfig(path)
    assert config.lookup("docker.io") == Credentials("hub", "pw")
    assert config.lookup("registry-1.docker.io") == Credentials("hub", "pw")
    assert config.lookup("localhost:5000") == Credentials("local", "pw2")
    assert config.lookup("quay.io") == Credentials("q", "p:with:colons")
    assert config.lookup("broken.example") is None
    assert config.lookup("other.example") is None
    assert DockerConfig(tmp_path / "missing.json").lookup("docker.io") is None


def test_cri_auth_config_with_base64_auth() -> None:
    creds = credentials_from_cri(AuthConfig(auth=_b64("u:p")))
    assert (creds.username, creds.password) == ("u", "p")
    assert credentials_from_cri(AuthConfig(username="a", password="b")).basic_header() == (
        "Basic " + _b64("a:b")
    )


def test_registries_config_mirrors_and_configs(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    other_auth = _b64("x:y")
    path.write_text(
        f"""
mirrors:
  docker.io:
    endpoint:
      - "https://mirror.example:5000"
      - "http://10.0.0.5:5000/prefix/v2"
  "*":
    endpoint: ["cache.example"]
configs:
  "mirror.example:5000":
    auth: {{username: me, password: secret}}
    tls: {{insecure_skip_verify: true}}
  "https://other.example":
    auth: {{auth: "{other_auth}"}}
"""
    )
    config = RegistriesConfig.load(path)
    assert config.endpoints("docker.io") == [
        Endpoint("https", "mirror.example:5000", "/v2", is_mirror=True),
        Endpoint("http", "10.0.0.5:5000", "/prefix/v2", is_mirror=True),
        Endpoint("https", "registry-1.docker.io"),
    ]
    assert config.endpoints("quay.io") == [
        Endpoint("https", "cache.example", "/v2", is_mirror=True),
        Endpoint("https", "quay.io"),
    ]
    mirror = config.host_config("mirror.example:5000")
    assert mirror.credentials == Credentials("me", "secret")
    assert mirror.insecure_skip_verify
    assert config.host_config("other.example").credentials == Credentials("x", "y")
    assert config.host_config("nowhere.example").credentials is None
    hub = RegistriesConfig.from_dict({"configs": {"docker.io": {"auth": {"username": "h"}}}})
    assert hub.host_config("registry-1.docker.io").credentials == Credentials("h")


@pytest.mark.parametrize(
    ("registry", "scheme"),
    [
        ("localhost:5000", "http"),
        ("127.0.0.1:5000", "http"),
        ("[::1]:5000", "http"),
        ("registry.example", "https"),
        ("10.1.1.1:5000", "https"),
    ],
)
def test_loopback_registries_are_plain_http(registry: str, scheme: str) -> None:
    assert RegistriesConfig().endpoints(registry) == [Endpoint(scheme, registry)]


def test_a_registry_listed_as_its_own_mirror_is_itself() -> None:
    config = RegistriesConfig.from_dict(
        {"mirrors": {"reg.example:5000": {"endpoint": ["http://reg.example:5000"]}}}
    )
    own = Endpoint("http", "reg.example:5000")
    assert config.endpoints("reg.example:5000") == [own]
    assert config.registry_endpoint("reg.example:5000") == own
    assert RegistriesConfig().registry_endpoint("quay.io") == Endpoint("https", "quay.io")


def test_missing_registries_config_is_empty_and_bad_one_is_an_error(tmp_path: Path) -> None:
    assert RegistriesConfig.load(tmp_path / "none.yaml").mirrors == {}
    bad = tmp_path / "bad.yaml"
    bad.write_text("mirrors:\n  docker.io:\n    endpoint: https://x\n")
    with pytest.raises(RegistriesConfigError, match="must be a list"):
        RegistriesConfig.load(bad)
