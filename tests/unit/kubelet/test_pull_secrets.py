"""The credentials a pod's imagePullSecrets give for an image (the kubelet's docker keyring)."""

from __future__ import annotations

import base64
import json

import pytest

from kubelite.kubelet.pull_secrets import keyring_of, pull_credentials, urls_match
from kubelite.runtime.cri import AuthConfig


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_json(auths: dict) -> dict:
    return {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))},
    }


def dockercfg(auths: dict) -> dict:
    return {"type": "kubernetes.io/dockercfg", "data": {".dockercfg": b64(json.dumps(auths))}}


class Lookup:
    def __init__(self, secrets: dict[str, dict]) -> None:
        self.secrets = secrets
        self.asked: list[tuple[str, str]] = []

    async def config_map(self, namespace: str, name: str) -> dict | None:
        return None

    async def secret(self, namespace: str, name: str) -> dict | None:
        self.asked.append((namespace, name))
        return self.secrets.get(name)


def pod(*secrets: str) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "team"},
        "spec": {"imagePullSecrets": [{"name": s} for s in secrets]},
    }


@pytest.mark.parametrize(
    ("key", "repository", "matches"),
    [
        ("registry.example.com", "registry.example.com/app/web", True),
        ("registry.example.com:5000", "registry.example.com/app", False),
        ("registry.example.com:5000", "registry.example.com:5000/app", True),
        ("*.example.com", "registry.example.com/app", True),
        ("*.example.com", "a.b.example.com/app", False),
        ("quay.io/team", "quay.io/team/app", True),
        ("quay.io/team", "quay.io/other/app", False),
        ("example.com", "registry.example.com/app", False),
    ],
)
def test_keys_match_as_urls_match(key: str, repository: str, matches: bool) -> None:
    assert urls_match(key, repository) is matches


def test_the_most_specific_key_comes_first_and_auth_is_decoded() -> None:
    keyring = keyring_of(
        [
            config_json({"https://quay.io/v1/": {"auth": b64("any:one")}}),
            config_json({"quay.io/team": {"username": "team", "password": "two"}}),
        ]
    )
    assert keyring.lookup("quay.io/team/app") == [
        AuthConfig(username="team", password="two"),
        AuthConfig(username="any", password="one"),
    ]
    assert keyring.lookup("quay.io/other/app") == [AuthConfig(username="any", password="one")]
    assert keyring.lookup("ghcr.io/team/app") == []


def test_docker_hub_images_fall_back_to_index_docker_io() -> None:
    keyring = keyring_of([dockercfg({"https://index.docker.io/v1/": {"auth": b64("hub:pw")}})])
    assert keyring.lookup("docker.io/library/nginx") == [AuthConfig(username="hub", password="pw")]
    assert keyring.lookup("registry.example.com/library/nginx") == []


def test_secrets_of_other_types_or_broken_are_passed_over() -> None:
    keyring = keyring_of(
        [
            {"type": "Opaque", "data": {".dockerconfigjson": b64('{"auths": {"a.io": {}}}')}},
            {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "!!"}},
            {"type": "kubernetes.io/dockerconfigjson", "data": {}},
        ]
    )
    assert keyring.lookup("a.io/x") == []


async def test_a_pod_gets_the_credentials_of_its_secrets_for_the_image_and_missing_ones_skip() -> (
    None
):
    lookup = Lookup(
        {
            "regcred": config_json(
                {"registry.example.com": {"username": "u", "password": "p", "auth": ""}}
            )
        }
    )
    found = await pull_credentials(
        pod("gone", "regcred"), lookup, "registry.example.com/app/model:1"
    )
    assert found == [AuthConfig(username="u", password="p")]
    assert lookup.asked == [("team", "gone"), ("team", "regcred")]
    assert await pull_credentials(pod("regcred"), lookup, "nginx:1.27") == []
    assert await pull_credentials(pod(), lookup, "registry.example.com/app") == []
