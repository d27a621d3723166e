"""EncryptionConfiguration decoding and validation, with kube-apiserver's messages
(`validation_encryption.go`, `encryptionconfig/config.go`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from kubelite.storage.encryption.config import EncryptionConfigError, load, parse
from kubelite.storage.encryption.transformers import group_resource_transformers

KEY16 = base64.b64encode(b"k" * 16).decode()
KEY32 = base64.b64encode(b"k" * 32).decode()


def document(*entries: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": list(entries),
        }
    ).encode()


def entry(resources: list[str], *providers: dict[str, Any]) -> dict[str, Any]:
    return {"resources": resources, "providers": list(providers)}


def aescbc(*keys: tuple[str, str]) -> dict[str, Any]:
    return {"aescbc": {"keys": [{"name": n, "secret": s} for n, s in keys]}}


def error_of(data: bytes) -> str:
    with pytest.raises(EncryptionConfigError) as info:
        parse(data, "/etc/enc.yaml")
    return str(info.value)


def test_a_k3s_style_file_parses() -> None:
    config = parse(document(entry(["secrets"], aescbc(("aescbc-key", KEY32)), {"identity": {}})))
    (resources,) = config.resources
    assert resources.resources == ("secrets",)
    assert [p.kind for p in resources.providers] == ["aescbc", "identity"]
    assert resources.providers[0].keys[0].material() == b"k" * 32


def test_yaml_is_read_as_kubernetes_reads_it() -> None:
    config = parse(
        f"""
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, configmaps]
    providers:
      - secretbox:
          keys: [{{name: k1, secret: {KEY32}}}]
      - aesgcm:
          keys: [{{name: k2, secret: {KEY16}}}]
""".encode()
    )
    assert [p.kind for p in config.resources[0].providers] == ["secretbox", "aesgcm"]


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        (
            [aescbc(("k", base64.b64encode(b"12345678").decode()))],
            'resources[0].providers[0].aescbc.keys[0].secret: Invalid value: "REDACTED": '
            "secret is not of the expected length, got 8, expected one of [16 24 32]",
        ),
        (
            [{"secretbox": {"keys": [{"name": "k", "secret": KEY16}]}}],
            'resources[0].providers[0].secretbox.keys[0].secret: Invalid value: "REDACTED": '
            "secret is not of the expected length, got 16, expected one of [32]",
        ),
        (
            [aescbc(("k", "not base64!"))],
            'resources[0].providers[0].aescbc.keys[0].secret: Invalid value: "REDACTED": '
            "secrets must be base64 encoded",
        ),
        (
            [aescbc(("", KEY32))],
            "resources[0].providers[0].aescbc.keys[0].name: Required value: "
            "name is a mandatory field for a key",
        ),
        (
            [aescbc(("k", ""))],
            "resources[0].providers[0].aescbc.keys[0].secret: Required value: "
            "secret is a mandatory field for a key",
        ),
        (
            [{"aesgcm": {"keys": []}}],
            "resources[0].providers[0].aesgcm.keys: Required value: at least one keys is required",
        ),
        (
            [],
            "resources[0].providers: Required value: at least one resources[0].providers is "
            "required",
        ),
    ],
)
def test_bad_keys_and_providers_name_the_field(
    providers: list[dict[str, Any]], message: str
) -> None:
    assert error_of(document(entry(["secrets"], *providers))) == message


def test_no_resources_at_all() -> None:
    assert error_of(document()) == "resources: Required value: at least one resources is required"


def test_a_provider_with_two_kinds_is_refused() -> None:
    both = {**aescbc(("k", KEY32)), "identity": {}}
    message = error_of(document(entry(["secrets"], both)))
    assert message.startswith("resources[0].providers[0]: Invalid value: apiserver.Provider")
    assert message.endswith(
        ": more than one provider specified in a single element, should split into different "
        "list elements"
    )


def test_an_empty_provider_is_refused() -> None:
    message = error_of(document(entry(["secrets"], {})))
    assert message == (
        "resources[0].providers[0]: Invalid value: apiserver.ProviderConfiguration{"
        "AESGCM:(*apiserver.AESConfiguration)(nil), AESCBC:(*apiserver.AESConfiguration)(nil), "
        "Secretbox:(*apiserver.SecretboxConfiguration)(nil), "
        "Identity:(*apiserver.IdentityConfiguration)(nil), "
        "KMS:(*apiserver.KMSConfiguration)(nil)}: provider does not contain any of the expected "
        "providers: KMS, AESGCM, AESCBC, Secretbox, Identity"
    )


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            ["Secrets"],
            'resources[0].resources[0]: Invalid value: "Secrets": resource name should not '
            "contain capital letters",
        ),
        (
            ["*"],
            "resources[0].resources[0]: Invalid value: \"*\": use '*.' to encrypt all the "
            "resources from core API group or *.* to encrypt all resources",
        ),
        (
            ["events.events.k8s.io"],
            'resources[0].resources[0]: Invalid value: "events.events.k8s.io": '
            "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use "
            "'events' instead in the config file",
        ),
        (
            ["secrets.*"],
            'resources[0].resources[0]: Invalid value: "secrets.*": encrypting the same '
            "resource across groups is not supported",
        ),
        (
            ["serviceipallocations"],
            'resources[0].resources[0]: Invalid value: "serviceipallocations": resources which '
            "do not have REST API/s cannot be encrypted",
        ),
        (
            ["secrets", "*."],
            'resources[0].resources: Invalid value: []string{"secrets", "*."}: using '
            "overlapping resources such as 'secrets' and '*.' in the same resource list is not "
            "allowed as they will be masked",
        ),
        (
            ["secrets", "secrets"],
            'resources[0].resources: Invalid value: []string{"secrets", "secrets"}: the same '
            "resource cannot be specified multiple times",
        ),
    ],
)
def test_resource_names_follow_kubernetes_rules(resources: list[str], message: str) -> None:
    assert error_of(document(entry(resources, {"identity": {}}))) == message


def test_several_problems_are_one_aggregate() -> None:
    message = error_of(document(entry([], aescbc(("k", "")))))
    assert message == (
        "[resources[0].resources: Required value: at least one resources[0].resources is "
        "required, resources[0].providers[0].aescbc.keys[0].secret: Required value: secret is "
        "a mandatory field for a key]"
    )


def test_the_old_encryptionconfig_kind_is_not_registered() -> None:
    legacy = b"kind: EncryptionConfig\napiVersion: v1\nresources: []\n"
    assert error_of(legacy).startswith(
        'error decoding encryption provider configuration file "/etc/enc.yaml": '
        'no kind "EncryptionConfig" is registered for version "v1"'
    )


def test_unknown_fields_are_a_strict_decoding_error() -> None:
    data = document(entry(["secrets"], {"aescbc": {"keys": [], "kyes": []}}))
    assert error_of(data) == (
        'error decoding encryption provider configuration file "/etc/enc.yaml": strict '
        'decoding error: unknown field "resources[0].providers[0].aescbc.kyes"'
    )


def test_a_later_rule_masked_by_a_wildcard_is_refused() -> None:
    config = parse(document(entry(["*."], {"identity": {}}), entry(["secrets"], {"identity": {}})))
    with pytest.raises(EncryptionConfigError) as info:
        group_resource_transformers(config)
    assert str(info.value) == (
        'error while building transformers: resource "secrets" is masked by earlier rule "*."'
    )


def test_load_says_which_file_is_missing_or_empty(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(EncryptionConfigError) as info:
        load(missing)
    assert str(info.value) == (
        "error while parsing file: error while loading file: error reading encryption provider "
        f'configuration file "{missing}": open {missing}: no such file or directory'
    )
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    with pytest.raises(EncryptionConfigError) as info:
        load(empty)
    assert str(info.value).endswith(f'encryption provider configuration file "{empty}" is empty')


def test_load_prefixes_validation_errors_as_kube_apiserver(tmp_path: Path) -> None:
    path = tmp_path / "enc.json"
    path.write_bytes(document(entry(["secrets"])))
    with pytest.raises(EncryptionConfigError) as info:
        load(path)
    assert str(info.value) == (
        "error while parsing file: resources[0].providers: Required value: at least one "
        "resources[0].providers is required"
    )
