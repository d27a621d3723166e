"""ConfigMaps and Secrets: keys, sizes, immutability, secret types and stringData."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from kubelite.api.strategies.core import ConfigMapStrategy, SecretStrategy

Obj = dict[str, Any]
CONFIG_MAPS = ConfigMapStrategy()
SECRETS = SecretStrategy()

KEY_ERROR = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config_map(**body: Any) -> Obj:
    return {"metadata": {"name": "settings", "namespace": "default"}, **body}


def secret(**body: Any) -> Obj:
    obj = {"metadata": {"name": "creds", "namespace": "default"}, **body}
    SECRETS.default(obj)
    return obj


def stored(obj: Obj) -> Obj:
    obj["metadata"].update(uid="c-1", resourceVersion="2", creationTimestamp="2025-06-01T12:00:00Z")
    return obj


def messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("app.properties", []),
        ("KEY_NAME-1", []),
        ("a/b", [f'data[a/b]: Invalid value: "a/b": {KEY_ERROR}']),
        ("..hidden", ["data[..hidden]: Invalid value: \"..hidden\": must not start with '..'"]),
        (".", ["data[.]: Invalid value: \".\": must not be '.'"]),
    ],
)
def test_config_map_keys(key: str, expected: list[str]) -> None:
    assert messages(CONFIG_MAPS.validate(config_map(data={key: "v"}))) == expected


def test_a_key_may_not_be_in_both_data_and_binary_data() -> None:
    cm = config_map(data={"a": "1"}, binaryData={"a": b64("1")})
    assert messages(CONFIG_MAPS.validate(cm)) == [
        'data[a]: Invalid value: "a": duplicate of key present in binaryData'
    ]


def test_config_map_over_one_mebibyte_is_too_long() -> None:
    cm = config_map(data={"a": "x" * (1024 * 1024), "b": "y"})
    assert messages(CONFIG_MAPS.validate(cm)) == ["Too long: must have at most 1048576 bytes"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"data": {"a": "2"}}, ["data: Forbidden: field is immutable when `immutable` is set"]),
        (
            {"immutable": False},
            ["immutable: Forbidden: field is immutable when `immutable` is set"],
        ),
        ({"metadata": {"labels": {"x": "y"}}}, []),
    ],
)
def test_immutable_config_map(change: dict[str, Any], expected: list[str]) -> None:
    old = stored(config_map(data={"a": "1"}, immutable=True))
    new = copy.deepcopy(old)
    for key, value in change.items():
        if key == "metadata":
            new["metadata"].update(value)
        else:
            new[key] = value
    assert messages(CONFIG_MAPS.validate_update(new, old)) == expected


def test_mutable_config_map_may_change_its_data() -> None:
    old = stored(config_map(data={"a": "1"}))
    new = copy.deepcopy(old)
    new["data"] = {"a": "2"}
    assert CONFIG_MAPS.validate_update(new, old) == []


def test_secret_type_defaults_to_opaque_and_string_data_folds_into_data() -> None:
    s = secret(data={"user": b64("old")}, stringData={"user": "admin", "pass": "pw"})
    assert s["type"] == "Opaque"
    assert "stringData" not in s
    assert s["data"] == {"user": b64("admin"), "pass": b64("pw")}
    assert SECRETS.validate(s) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}},
            ["data[tls.key]: Required value"],
        ),
        (
            {"type": "kubernetes.io/basic-auth"},
            ["data[username]: Required value", "data[password]: Required value"],
        ),
        (
            {"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": ""}},
            ["data[ssh-privatekey]: Required value"],
        ),
        (
            {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": b64("[]")}},
            [
                'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": json: '
                "cannot unmarshal array into Go value of type map[string]interface {}"
            ],
        ),
        (
            {"type": "kubernetes.io/service-account-token"},
            ["metadata.annotations[kubernetes.io/service-account.name]: Required value"],
        ),
        ({"type": "example.com/custom", "data": {"anything": b64("x")}}, []),
    ],
)
def test_secret_types_require_their_keys(body: dict[str, Any], expected: list[str]) -> None:
    assert messages(SECRETS.validate(secret(**body))) == expected


def test_secret_over_one_mebibyte_of_decoded_data_is_too_long() -> None:
    s = secret(data={"a": b64("x" * (1024 * 1024 + 1))})
    assert messages(SECRETS.validate(s)) == ["data: Too long: must have at most 1048576 bytes"]


def test_secret_type_is_immutable() -> None:
    old = stored(secret())
    new = copy.deepcopy(old)
    new["type"] = "example.com/other"
    assert messages(SECRETS.validate_update(new, old)) == [
        'type: Invalid value: "example.com/other": field is immutable'
    ]


def test_immutable_secret_keeps_its_data() -> None:
    old = stored(secret(data={"a": b64("1")}, immutable=True))
    new = copy.deepcopy(old)
    new["data"] = {"a": b64("2")}
    assert messages(SECRETS.validate_update(new, old)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]


def test_secrets_select_by_type() -> None:
    assert SECRETS.selectable_fields(secret()) == {"type": "Opaque"}
