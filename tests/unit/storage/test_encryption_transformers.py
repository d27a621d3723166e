"""The providers' bytes, as kube-apiserver writes them, and their chains' read rules."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_secretbox_open

from kubelite.storage.encryption.config import parse
from kubelite.storage.encryption.transformers import (
    IDENTITY,
    AESCBCTransformer,
    AESGCMTransformer,
    PrefixTransformers,
    SecretboxTransformer,
    TransformFailure,
    group_resource_transformers,
    transformer_for,
)

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
CONTEXT = b"/registry/secrets/default/s"
VALUE = b'{"kind":"Secret","data":{"k":"dg=="}}'


def fixed(byte: int) -> Callable[[int], bytes]:
    return lambda n: bytes([byte]) * n


def chain_of(providers: list[dict[str, object]]) -> PrefixTransformers:
    data = json.dumps(
        {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [{"resources": ["secrets"], "providers": providers}],
        }
    ).encode()
    chain = transformer_for(group_resource_transformers(parse(data)), "", "secrets")
    assert chain is not None
    return chain


def keys(*named: tuple[str, bytes]) -> dict[str, object]:
    return {"keys": [{"name": n, "secret": base64.b64encode(k).decode()} for n, k in named]}


@pytest.mark.parametrize(
    "make", [AESCBCTransformer, AESGCMTransformer, SecretboxTransformer], ids=lambda m: m.__name__
)
@pytest.mark.parametrize("value", [b"", b"x", b"0123456789abcdef", VALUE * 10])
def test_each_provider_round_trips(make: Callable[[bytes], object], value: bytes) -> None:
    transformer = make(KEY)
    stored = transformer.to_storage(value, CONTEXT)  # type: ignore[attr-defined]
    # The plaintext does not show through; a value of a byte or two would turn up in random
    # ciphertext by chance (one byte in 32: ~12% of runs), so only longer ones are looked for.
    assert len(value) < 8 or value not in stored
    assert transformer.from_storage(stored, CONTEXT) == (value, False)  # type: ignore[attr-defined]


def test_random_iv_makes_every_write_different() -> None:
    transformer = AESCBCTransformer(KEY)
    assert transformer.to_storage(VALUE, CONTEXT) != transformer.to_storage(VALUE, CONTEXT)


def test_aescbc_is_iv_then_pkcs7_cbc_as_cryptography_decrypts_it() -> None:
    stored = AESCBCTransformer(KEY, random=fixed(7)).to_storage(VALUE, CONTEXT)
    iv, body = stored[:16], stored[16:]
    assert iv == bytes([7]) * 16
    decryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    assert unpadder.update(padded) + unpadder.finalize() == VALUE
    # A value of whole blocks gets a whole block of padding, as Go's transformer adds.
    assert len(AESCBCTransformer(KEY).to_storage(b"a" * 16, CONTEXT)) == 16 + 32


def test_aescbc_reads_what_cryptography_encrypts() -> None:
    iv = bytes(range(16))
    padder = padding.PKCS7(128).padder()
    padded = padder.update(VALUE) + padder.finalize()
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(iv)).encryptor()
    stored = iv + encryptor.update(padded) + encryptor.finalize()
    assert AESCBCTransformer(KEY).from_storage(stored, CONTEXT) == (VALUE, False)


def test_aesgcm_is_nonce_then_sealed_with_the_key_as_associated_data() -> None:
    stored = AESGCMTransformer(KEY, random=fixed(3)).to_storage(VALUE, CONTEXT)
    assert stored[:12] == bytes([3]) * 12
    assert AESGCM(KEY).decrypt(stored[:12], stored[12:], CONTEXT) == VALUE
    with pytest.raises(TransformFailure, match=r"^cipher: message authentication failed$"):
        AESGCMTransformer(KEY).from_storage(stored, b"/registry/secrets/default/copied")


def test_secretbox_is_nonce_then_nacl_box() -> None:
    stored = SecretboxTransformer(KEY, random=fixed(9)).to_storage(VALUE, CONTEXT)
    assert stored[:24] == bytes([9]) * 24
    assert len(stored) == 24 + 16 + len(VALUE)
    assert crypto_secretbox_open(stored[24:], stored[:24], KEY) == VALUE


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (AESCBCTransformer, "^invalid (padding on input|PKCS7 data \\(empty or not padded\\))$"),
        (AESGCMTransformer, "^cipher: message authentication failed$"),
        (SecretboxTransformer, "^output array was not large enough for encryption$"),
    ],
)
def test_a_wrong_key_fails(make: Callable[[bytes], object], message: str) -> None:
    stored = make(KEY).to_storage(VALUE, CONTEXT)  # type: ignore[attr-defined]
    with pytest.raises(TransformFailure, match=message):
        make(OTHER).from_storage(stored, CONTEXT)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (AESCBCTransformer, "the stored data was shorter than the required size"),
        (AESGCMTransformer, "the stored data was shorter than the required size"),
        (SecretboxTransformer, "the stored data was shorter than the required size"),
    ],
)
def test_truncated_values_fail(make: Callable[[bytes], object], message: str) -> None:
    with pytest.raises(TransformFailure, match=f"^{message}$"):
        make(KEY).from_storage(b"short", CONTEXT)  # type: ignore[attr-defined]


def test_aescbc_refuses_a_partial_block() -> None:
    with pytest.raises(TransformFailure, match=r"^the stored data is not a multiple of the block"):
        AESCBCTransformer(KEY).from_storage(b"i" * 16 + b"x" * 17, CONTEXT)


@pytest.mark.parametrize(
    ("provider", "prefix"),
    [
        ("aescbc", b"k8s:enc:aescbc:v1:key1:"),
        ("aesgcm", b"k8s:enc:aesgcm:v1:key1:"),
        ("secretbox", b"k8s:enc:secretbox:v1:key1:"),
    ],
)
def test_values_carry_kubernetes_prefix_and_key_name(provider: str, prefix: bytes) -> None:
    chain = chain_of([{provider: keys(("key1", KEY))}])
    stored = chain.to_storage(VALUE, CONTEXT)
    assert stored.startswith(prefix)
    assert chain.write_prefix == prefix
    assert chain.from_storage(stored, CONTEXT) == (VALUE, False)


def test_the_first_provider_writes_and_the_others_read_stale() -> None:
    old = chain_of([{"aescbc": keys(("old", KEY))}])
    rotated = chain_of([{"aescbc": keys(("new", OTHER), ("old", KEY))}, {"identity": {}}])
    from_old = old.to_storage(VALUE, CONTEXT)
    assert rotated.from_storage(from_old, CONTEXT) == (VALUE, True)
    assert rotated.to_storage(VALUE, CONTEXT).startswith(b"k8s:enc:aescbc:v1:new:")
    assert rotated.from_storage(rotated.to_storage(VALUE, CONTEXT), CONTEXT) == (VALUE, False)
    # Plain values stored before encryption are read by identity, and are stale.
    assert rotated.from_storage(VALUE, CONTEXT) == (VALUE, True)


def test_identity_first_still_reads_encrypted_values_with_the_next_provider() -> None:
    encrypting = chain_of([{"secretbox": keys(("k", KEY))}])
    disabling = chain_of([{"identity": {}}, {"secretbox": keys(("k", KEY))}])
    stored = encrypting.to_storage(VALUE, CONTEXT)
    assert disabling.from_storage(stored, CONTEXT) == (VALUE, True)
    assert disabling.to_storage(VALUE, CONTEXT) == VALUE


def test_an_unknown_key_and_an_unknown_provider_fail_as_kubernetes_says() -> None:
    chain = chain_of([{"aescbc": keys(("key1", KEY))}])
    other = chain_of([{"aescbc": keys(("key2", KEY))}]).to_storage(VALUE, CONTEXT)
    with pytest.raises(TransformFailure) as info:
        chain.from_storage(other, CONTEXT)
    assert str(info.value) == "no matching key was found for the provided AES transformer"
    with pytest.raises(TransformFailure) as info:
        chain.from_storage(VALUE, CONTEXT)
    assert str(info.value) == "no matching prefix found"


def test_identity_alone_refuses_encrypted_values() -> None:
    with pytest.raises(TransformFailure, match=r"^identity transformer tried to read encrypted"):
        IDENTITY.from_storage(b"k8s:enc:aescbc:v1:k:xxxx", CONTEXT)


def test_rules_apply_by_resource_then_group_then_everything() -> None:
    data = json.dumps(
        {
            "apiVersion": "apiserver.config.k8s.io/v1",
            "kind": "EncryptionConfiguration",
            "resources": [
                {"resources": ["secrets"], "providers": [{"aescbc": keys(("a", KEY))}]},
                {"resources": ["*.apps"], "providers": [{"aesgcm": keys(("b", KEY))}]},
                {"resources": ["*.*"], "providers": [{"secretbox": keys(("c", KEY))}]},
            ],
        }
    ).encode()
    chains = group_resource_transformers(parse(data))

    def prefix(group: str, resource: str) -> bytes:
        chain = transformer_for(chains, group, resource)
        assert chain is not None
        return chain.write_prefix

    assert prefix("", "secrets") == b"k8s:enc:aescbc:v1:a:"
    assert prefix("apps", "deployments") == b"k8s:enc:aesgcm:v1:b:"
    assert prefix("", "configmaps") == b"k8s:enc:secretbox:v1:c:"
