"""Value transformers: the bytes kube-apiserver writes to etcd for each provider, and back.

Each follows its Go counterpart in `apiserver/pkg/storage/value/`, byte for byte:

    aescbc     k8s:enc:aescbc:v1:<key name>:<16-byte IV><AES-CBC of the value, PKCS#7-padded>
    aesgcm     k8s:enc:aesgcm:v1:<key name>:<12-byte nonce><AES-GCM sealed value and tag>
               (the etcd key is the additional authenticated data: a value copied under
               another key does not open)
    secretbox  k8s:enc:secretbox:v1:<key name>:<24-byte nonce><Poly1305 tag><XSalsa20 of it>
    identity   the value as it is

A provider's keys and the providers of a resource are chained as `value.NewPrefixTransformers`
chains them: a read takes the first transformer whose prefix the value starts with (and tries
the next one whose prefix also matches if that fails: two aescbc providers share a prefix),
marking the result *stale* when that was not the first one, which is how a rotation finds the
values to write again; a write always uses the first.

IVs and nonces are random per write (os.urandom; `random` can be given for tests that need
known bytes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from kubelite.api import errors
from kubelite.storage.encryption.config import (
    EncryptionConfigError,
    EncryptionConfiguration,
    Provider,
    group_resource_string,
    parse_group_resource,
)

# The prefix every encrypted value starts with (reserved: JSON starts with `{`, protobuf with
# `k8s\x00`), and each provider's (encryptionconfig/config.go).
ENCRYPTED_PREFIX = b"k8s:enc:"
AESCBC_PREFIX = b"k8s:enc:aescbc:v1:"
AESGCM_PREFIX = b"k8s:enc:aesgcm:v1:"
SECRETBOX_PREFIX = b"k8s:enc:secretbox:v1:"

_AES_BLOCK = 16
_GCM_NONCE = 12
_SECRETBOX_NONCE = 24
_SECRETBOX_OVERHEAD = 16

Random = Callable[[int], bytes]


class TransformFailure(Exception):
    """A value could not be transformed; the text is the Go transformer's error."""


class Transformer(Protocol):
    """value.Transformer: `context` is the storage key, for providers that authenticate it."""

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        """The value and whether it is stale (not written by the first transformer)."""
        ...

    def to_storage(self, data: bytes, context: bytes) -> bytes: ...


class IdentityTransformer:
    """identity.NewEncryptCheckTransformer: values as they are, but never encrypted ones."""

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if data.startswith(ENCRYPTED_PREFIX):
            raise TransformFailure("identity transformer tried to read encrypted data")
        return data, False

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        return data


IDENTITY = IdentityTransformer()


class AESCBCTransformer:
    """aes.NewCBCTransformer: a random IV, then the PKCS#7-padded value in CBC mode; no
    authentication, so a wrong key shows up as bad padding (or, rarely, as garbage)."""

    def __init__(self, key: bytes, random: Random = os.urandom) -> None:
        self._algorithm = algorithms.AES(key)
        self._random = random

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < _AES_BLOCK:
            raise TransformFailure("the stored data was shorter than the required size")
        iv, body = data[:_AES_BLOCK], data[_AES_BLOCK:]
        if len(body) % _AES_BLOCK:
            raise TransformFailure("the stored data is not a multiple of the block size")
        decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
        result = decryptor.update(body) + decryptor.finalize()
        padding = result[-1] if result else 0
        if padding == 0 or padding > len(result):
            raise TransformFailure("invalid PKCS7 data (empty or not padded)")
        if result[-padding:] != bytes([padding]) * padding:
            raise TransformFailure("invalid padding on input")
        return result[:-padding], False

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        padding = _AES_BLOCK - len(data) % _AES_BLOCK
        iv = self._random(_AES_BLOCK)
        encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
        return iv + encryptor.update(data + bytes([padding]) * padding) + encryptor.finalize()


class AESGCMTransformer:
    """aes.NewGCMTransformer: a random 96-bit nonce, the sealed value, the storage key as
    additional authenticated data."""

    def __init__(self, key: bytes, random: Random = os.urandom) -> None:
        self._aead = AESGCM(key)
        self._random = random

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < _GCM_NONCE:
            raise TransformFailure("the stored data was shorter than the required size")
        try:
            return self._aead.decrypt(data[:_GCM_NONCE], data[_GCM_NONCE:], context), False
        except InvalidTag:
            raise TransformFailure("cipher: message authentication failed") from None

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        nonce = self._random(_GCM_NONCE)
        return nonce + self._aead.encrypt(nonce, data, context)


class SecretboxTransformer:
    """secretbox.NewSecretboxTransformer: XSalsa20-Poly1305 with a random 24-byte nonce in
    front (NaCl's combined form: the tag, then the ciphertext). The key is not authenticated,
    as in Kubernetes."""

    def __init__(self, key: bytes, random: Random = os.urandom) -> None:
        self._box = SecretBox(key)
        self._random = random

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        if len(data) < _SECRETBOX_OVERHEAD + _SECRETBOX_NONCE:
            raise TransformFailure("the stored data was shorter than the required size")
        try:
            return self._box.decrypt(data[_SECRETBOX_NONCE:], data[:_SECRETBOX_NONCE]), False
        except CryptoError:
            # Go's secretbox transformer says this for any failure to open.
            raise TransformFailure("output array was not large enough for encryption") from None

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        nonce = self._random(_SECRETBOX_NONCE)
        return bytes(self._box.encrypt(data, nonce))


class PrefixTransformers:
    """value.NewPrefixTransformers: the first transformer whose prefix the value starts with
    reads it (the prefix stripped), the first of all writes (its prefix put in front)."""

    def __init__(self, transformers: Sequence[tuple[bytes, Transformer]], no_match: str) -> None:
        self.transformers = tuple(transformers)
        self._no_match = no_match

    @property
    def write_prefix(self) -> bytes:
        """The bytes every value this writes starts with (nested prefixes included)."""
        prefix, first = self.transformers[0]
        if isinstance(first, PrefixTransformers):
            return prefix + first.write_prefix
        return prefix

    def from_storage(self, data: bytes, context: bytes) -> tuple[bytes, bool]:
        failures: list[str] = []
        for i, (prefix, transformer) in enumerate(self.transformers):
            if not data.startswith(prefix):
                continue
            try:
                result, stale = transformer.from_storage(data[len(prefix) :], context)
            except TransformFailure as exc:
                # An identity provider before an encrypting one (to migrate away from
                # encryption) must let the encrypting one read what is encrypted; two
                # providers of one kind share a prefix, so a failure tries the next one too.
                if prefix:
                    failures.append(str(exc))
                continue
            return result, stale or i != 0
        if failures:
            raise TransformFailure(errors.aggregate(failures))
        raise TransformFailure(self._no_match)

    def to_storage(self, data: bytes, context: bytes) -> bytes:
        prefix, transformer = self.transformers[0]
        return prefix + transformer.to_storage(data, context)


def _keyed(
    provider_prefix: bytes,
    keys: Sequence[tuple[str, bytes]],
    make: Callable[[bytes], Transformer],
    no_match: str,
) -> tuple[bytes, Transformer]:
    chain = PrefixTransformers(
        [(name.encode() + b":", make(secret)) for name, secret in keys], no_match
    )
    return provider_prefix, chain


def provider_transformer(provider: Provider) -> tuple[bytes, Transformer]:
    """One provider as a (prefix, transformer) of a resource's chain
    (prefixTransformersAndProbes)."""
    if provider.aesgcm is not None:
        keys = [(k.name, k.material()) for k in provider.aesgcm]
        return _keyed(
            AESGCM_PREFIX,
            keys,
            AESGCMTransformer,
            "no matching key was found for the provided AES transformer",
        )
    if provider.aescbc is not None:
        keys = [(k.name, k.material()) for k in provider.aescbc]
        return _keyed(
            AESCBC_PREFIX,
            keys,
            AESCBCTransformer,
            "no matching key was found for the provided AES transformer",
        )
    if provider.secretbox is not None:
        keys = [(k.name, k.material()) for k in provider.secretbox]
        return _keyed(
            SECRETBOX_PREFIX,
            keys,
            SecretboxTransformer,
            "no matching key was found for the provided Secretbox transformer",
        )
    if provider.identity:
        return b"", IDENTITY
    if provider.kms is not None:
        name = str(provider.kms.get("name", ""))
        # kubelite runs no KMS plugins: refused as kube-apiserver refuses a plugin it cannot
        # configure, at start.
        raise EncryptionConfigError(
            f"error while building transformers: could not configure KMS plugin {name!r}, "
            "kubelite has no KMS support (use aescbc, aesgcm or secretbox)"
        )
    raise EncryptionConfigError(
        "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, "
        "Secretbox, Identity"
    )


def group_resource_transformers(
    config: EncryptionConfiguration,
) -> dict[tuple[str, str], PrefixTransformers]:
    """(group, resource) -> its chain of providers, `*` standing for any
    (getTransformerOverridesAndKMSPluginProbes), refusing a rule an earlier wildcard masks."""
    chains: dict[tuple[str, str], list[tuple[bytes, Transformer]]] = {}
    for entry in config.resources:
        chain = [provider_transformer(p) for p in entry.providers]
        for name in entry.resources:
            group, resource = parse_group_resource(name)
            for masking in ((group, "*"), ("*", "*")):
                if masking in chains:
                    raise EncryptionConfigError(
                        "error while building transformers: resource "
                        f'"{group_resource_string(group, resource)}" is masked by earlier rule '
                        f'"{group_resource_string(*masking)}"'
                    )
            chains.setdefault((group, resource), []).extend(chain)
    return {
        gr: PrefixTransformers(chain, "no matching prefix found") for gr, chain in chains.items()
    }


def transformer_for(
    chains: dict[tuple[str, str], PrefixTransformers], group: str, resource: str
) -> PrefixTransformers | None:
    """transformerFromOverrides: the resource's own rule, else its group's `*`, else `*.*`;
    None where no rule applies (identity, which refuses encrypted values)."""
    return chains.get((group, resource)) or chains.get((group, "*")) or chains.get(("*", "*"))
