"""The EncryptionConfiguration file: decoding, validation and the errors kube-apiserver gives.

kube-apiserver reads `--encryption-provider-config` with a strict decoder of one kind only,
`apiserver.config.k8s.io/v1` `EncryptionConfiguration` (the `v1` `EncryptionConfig` of 1.7 to
1.12 is not registered any more in 1.33's scheme, so it fails like any unknown kind), then
validates it (`apiserver/pkg/apis/apiserver/validation/validation_encryption.go`) and builds its
transformers (`apiserver/pkg/server/options/encryptionconfig/config.go`). The messages here are
that code's: a bad key reads

    error while parsing file: resources[0].providers[0].aescbc.keys[0].secret: Invalid value:
    "REDACTED": secret is not of the expected length, got 8, expected one of [16 24 32]

Decoding is to plain frozen dataclasses; the keys stay base64 text until the transformers are
built (`transformers.py`), so nothing here holds raw key bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubelite.api import errors
from kubelite.api.goformat import go_quote, json_type

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"

# The key sizes each provider takes (validation_encryption.go: aesKeySizes, secretBoxKeySizes).
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZES = (32,)

# The providers in the order of Go's internal ProviderConfiguration struct, which is how
# `%#v` prints one (apiserver/pkg/apis/apiserver/types_encryption.go).
_PROVIDER_FIELDS = (
    ("aesgcm", "AESGCM", "AESConfiguration"),
    ("aescbc", "AESCBC", "AESConfiguration"),
    ("secretbox", "Secretbox", "SecretboxConfiguration"),
    ("identity", "Identity", "IdentityConfiguration"),
    ("kms", "KMS", "KMSConfiguration"),
)
PROVIDER_NAMES = tuple(name for name, _, _ in _PROVIDER_FIELDS)

# validation_encryption.go's messages.
_MORE_THAN_ONE = (
    "more than one provider specified in a single element, should split into different list "
    "elements"
)
_NO_PROVIDER = (
    "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, "
    "Identity"
)
_EVENTS_GROUP = (
    "'*.events.k8s.io' objects are stored using the 'events' API group in etcd. Use 'events' "
    "instead in the config file"
)
_EXTENSIONS_GROUP = "'extensions' group has been removed and cannot be used for encryption"
_STAR_RESOURCE = (
    "use '*.' to encrypt all the resources from core API group or *.* to encrypt all resources"
)
_OVERLAP = (
    "using overlapping resources such as 'secrets' and '*.' in the same resource list is not "
    "allowed as they will be masked"
)
_NON_REST = "resources which do not have REST API/s cannot be encrypted"
_CAPITALS = "resource name should not contain capital letters"
_ACROSS_GROUPS = "encrypting the same resource across groups is not supported"
_DUPLICATE = "the same resource cannot be specified multiple times"


class EncryptionConfigError(ValueError):
    """A configuration kube-apiserver would refuse to start with (or to reload)."""


@dataclass(frozen=True, slots=True)
class Key:
    """A named key; `secret` is the base64 text of the file."""

    name: str
    secret: str

    def material(self) -> bytes:
        """The key's bytes (only called on validated keys)."""
        return _b64decode(self.secret)


@dataclass(frozen=True, slots=True)
class Provider:
    """One element of `providers`: exactly one field is set once validated. `keys` is None
    when the provider has no keys list at all (identity, kms)."""

    aesgcm: tuple[Key, ...] | None = None
    aescbc: tuple[Key, ...] | None = None
    secretbox: tuple[Key, ...] | None = None
    identity: bool = False
    kms: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """The name of the (first) provider set, or "" for none."""
        for name in PROVIDER_NAMES:
            value = getattr(self, name)
            if value is not None and value is not False:
                return name
        return ""

    @property
    def keys(self) -> tuple[Key, ...]:
        return self.aesgcm or self.aescbc or self.secretbox or ()


@dataclass(frozen=True, slots=True)
class ResourceConfiguration:
    resources: tuple[str, ...]
    providers: tuple[Provider, ...]


@dataclass(frozen=True, slots=True)
class EncryptionConfiguration:
    resources: tuple[ResourceConfiguration, ...]


def parse_group_resource(text: str) -> tuple[str, str]:
    """schema.ParseGroupResource: `deployments.apps` -> ("apps", "deployments"), split at the
    first dot; `secrets` -> ("", "secrets"); `*.` -> ("", "*")."""
    resource, dot, group = text.partition(".")
    return (group, resource) if dot else ("", text)


def group_resource_string(group: str, resource: str) -> str:
    """How an error names a rule (config.go's grYAMLString): `*.` for all of the core group."""
    if group == "" and resource == "*":
        return "*."
    return f"{resource}.{group}" if group else resource


# --- decoding --------------------------------------------------------------------------------


class _Decoder:
    """Go's strict JSON decoding into the v1 types: unknown fields are collected (the
    `strict decoding error`), a value of the wrong JSON type fails at once."""

    def __init__(self) -> None:
        self.unknown: list[str] = []

    def type_error(self, value: Any, where: str, go_type: str) -> EncryptionConfigError:
        kind = json_type(value)
        return EncryptionConfigError(
            f"json: cannot unmarshal {kind} into Go struct field {where} of type {go_type}"
        )

    def fields(
        self, value: Any, path: str, known: tuple[str, ...], where: str, go_type: str
    ) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.type_error(value, where, go_type)
        for name in value:
            if name not in known:
                self.unknown.append(f"{path}.{name}" if path else str(name))
        return value

    def items(self, value: Any, where: str, go_type: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.type_error(value, where, go_type)
        return value

    def string(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.type_error(value, where, "string")
        return value

    def keys(self, value: Any, path: str, where: str) -> tuple[Key, ...]:
        keys = []
        for i, item in enumerate(self.items(value, f"{where}.keys", "[]v1.Key")):
            fields = self.fields(item, f"{path}.keys[{i}]", ("name", "secret"), where, "v1.Key")
            keys.append(
                Key(
                    self.string(fields.get("name"), f"{where}.keys.name"),
                    self.string(fields.get("secret"), f"{where}.keys.secret"),
                )
            )
        return tuple(keys)

    def provider(self, value: Any, path: str) -> Provider:
        where = "EncryptionConfiguration.resources.providers"
        fields = self.fields(value, path, PROVIDER_NAMES, where, "v1.ProviderConfiguration")
        found: dict[str, Any] = {}
        for name, go_type in (
            ("aesgcm", "v1.AESConfiguration"),
            ("aescbc", "v1.AESConfiguration"),
            ("secretbox", "v1.SecretboxConfiguration"),
        ):
            if fields.get(name) is not None:
                config = self.fields(
                    fields[name], f"{path}.{name}", ("keys",), f"{where}.{name}", go_type
                )
                found[name] = self.keys(config.get("keys"), f"{path}.{name}", f"{where}.{name}")
        if fields.get("identity") is not None:
            self.fields(fields["identity"], f"{path}.identity", (), f"{where}.identity", "")
            found["identity"] = True
        if fields.get("kms") is not None:
            kms = fields["kms"]
            if not isinstance(kms, dict):
                raise self.type_error(kms, f"{where}.kms", "v1.KMSConfiguration")
            found["kms"] = dict(kms)
        return Provider(**found)

    def configuration(self, document: Any) -> EncryptionConfiguration:
        top = self.fields(
            document, "", ("kind", "apiVersion", "resources"), "EncryptionConfiguration", ""
        )
        resources = []
        entries = self.items(
            top.get("resources"),
            "EncryptionConfiguration.resources",
            "[]v1.ResourceConfiguration",
        )
        for i, entry in enumerate(entries):
            path = f"resources[{i}]"
            where = "EncryptionConfiguration.resources"
            fields = self.fields(
                entry, path, ("resources", "providers"), where, "v1.ResourceConfiguration"
            )
            names = tuple(
                self.string(name, f"{where}.resources")
                for name in self.items(fields.get("resources"), f"{where}.resources", "[]string")
            )
            providers = tuple(
                self.provider(p, f"{path}.providers[{j}]")
                for j, p in enumerate(
                    self.items(
                        fields.get("providers"),
                        f"{where}.providers",
                        "[]v1.ProviderConfiguration",
                    )
                )
            )
            resources.append(ResourceConfiguration(names, providers))
        return EncryptionConfiguration(tuple(resources))


def decode(data: bytes) -> EncryptionConfiguration:
    """The file's bytes (YAML or JSON, as the universal decoder takes) as a configuration,
    without validating it; EncryptionConfigError says what decoding refused."""
    try:
        document = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise EncryptionConfigError(f"error converting YAML to JSON: yaml: {exc}") from None
    if not isinstance(document, dict):
        raise EncryptionConfigError(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{json_type(document)} into Go value of type struct "
            '{ APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
            '"json:\\"kind,omitempty\\"" }'
        )
    kind = document.get("kind") or ""
    api_version = document.get("apiVersion") or ""
    if not kind:
        # Kubernetes quotes the whole document after this; it holds the keys, so not here.
        raise EncryptionConfigError("Object 'Kind' is missing")
    if (api_version, kind) != (API_VERSION, KIND):
        group, _, version = str(api_version).rpartition("/")
        registered = f"{group}/{version}" if group else str(version)
        raise EncryptionConfigError(
            f"no kind {go_quote(str(kind))} is registered for version {go_quote(registered)} in "
            'scheme "k8s.io/apiserver/pkg/server/options/encryptionconfig/config.go"'
        )
    decoder = _Decoder()
    config = decoder.configuration(document)
    if decoder.unknown:
        raise EncryptionConfigError(
            "strict decoding error: "
            + ", ".join(f"unknown field {go_quote(name)}" for name in decoder.unknown)
        )
    return config


# --- validation (validation_encryption.go) ---------------------------------------------------


class _ProviderValue(errors.GoPrinted):
    """A provider as `%#v` prints Go's internal ProviderConfiguration: its pointers, nil or
    not (Go prints the addresses of those set; they carry no meaning, so they are left out)."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def __str__(self) -> str:
        parts = []
        for name, go_name, go_type in _PROVIDER_FIELDS:
            value = getattr(self.provider, name)
            state = "nil" if value is None or value is False else "..."
            parts.append(f"{go_name}:(*apiserver.{go_type})({state})")
        return "apiserver.ProviderConfiguration{" + ", ".join(parts) + "}"


def validate(config: EncryptionConfiguration) -> list[errors.FieldError]:
    """ValidateEncryptionConfiguration (reload or not: that only matters to KMS names)."""
    root = "resources"
    if not config.resources:
        return [errors.required(root, f"at least one {root} is required")]
    problems: list[errors.FieldError] = []
    for i, entry in enumerate(config.resources):
        r = f"{root}[{i}].resources"
        p = f"{root}[{i}].providers"
        if not entry.resources:
            problems.append(errors.required(r, f"at least one {r} is required"))
        problems += _validate_overlap(entry.resources, r)
        problems += _validate_names(entry.resources, r)
        if not entry.providers:
            problems.append(errors.required(p, f"at least one {p} is required"))
        for j, provider in enumerate(entry.providers):
            path = f"{p}[{j}]"
            problems += _validate_single_provider(provider, path)
            if provider.kms is not None:
                continue
            if provider.aesgcm is not None:
                problems += _validate_keys(provider.aesgcm, f"{path}.aesgcm.keys", AES_KEY_SIZES)
            elif provider.aescbc is not None:
                problems += _validate_keys(provider.aescbc, f"{path}.aescbc.keys", AES_KEY_SIZES)
            elif provider.secretbox is not None:
                problems += _validate_keys(
                    provider.secretbox, f"{path}.secretbox.keys", SECRETBOX_KEY_SIZES
                )
    return problems


def _validate_overlap(resources: tuple[str, ...], path: str) -> list[errors.FieldError]:
    if len(resources) < 2:
        return []
    parsed = [parse_group_resource(r) for r in resources]
    has_overlap = has_duplicate = False
    for i, r1 in enumerate(parsed):
        for j, r2 in enumerate(parsed):
            if i == j:
                continue
            if r1 == r2 and not has_duplicate:
                has_duplicate = True
                continue
            if has_overlap:
                continue
            if r1 == ("*", "*"):
                has_overlap = True
                continue
            if r1[0] != r2[0]:
                continue
            if r1[1] == "*" or r2[1] == "*":
                has_overlap = True
    value = errors.GoStrings(tuple(resources))
    problems = []
    if has_duplicate:
        problems.append(errors.invalid(path, value, _DUPLICATE))
    if has_overlap:
        problems.append(errors.invalid(path, value, _OVERLAP))
    return problems


def _validate_names(resources: tuple[str, ...], path: str) -> list[errors.FieldError]:
    problems = []
    for j, name in enumerate(resources):
        at = f"{path}[{j}]"
        group, resource = parse_group_resource(name)
        if name.lower() != name:
            detail = _CAPITALS
        elif name == "*":
            detail = _STAR_RESOURCE
        elif name in ("apiserveripinfo", "serviceipallocations", "servicenodeportallocations"):
            detail = _NON_REST
        elif group == "events.k8s.io":
            detail = _EVENTS_GROUP
        elif group == "extensions":
            detail = _EXTENSIONS_GROUP
        elif group == "*" and resource != "*":
            detail = _ACROSS_GROUPS
        else:
            continue
        problems.append(errors.invalid(at, name, detail))
    return problems


def _validate_single_provider(provider: Provider, path: str) -> list[errors.FieldError]:
    found = sum(
        1
        for name in PROVIDER_NAMES
        if getattr(provider, name) is not None and getattr(provider, name) is not False
    )
    if found == 0:
        return [errors.invalid(path, _ProviderValue(provider), _NO_PROVIDER)]
    if found > 1:
        return [errors.invalid(path, _ProviderValue(provider), _MORE_THAN_ONE)]
    return []


def _validate_keys(
    keys: tuple[Key, ...], path: str, sizes: tuple[int, ...]
) -> list[errors.FieldError]:
    if not keys:
        return [errors.required(path, "at least one keys is required")]
    problems = []
    for i, key in enumerate(keys):
        at = f"{path}[{i}]"
        if not key.name:
            problems.append(errors.required(f"{at}.name", "name is a mandatory field for a key"))
        if not key.secret:
            problems.append(
                errors.required(f"{at}.secret", "secret is a mandatory field for a key")
            )
            continue
        try:
            secret = _b64decode(key.secret)
        except ValueError:
            problems.append(
                errors.invalid(f"{at}.secret", "REDACTED", "secrets must be base64 encoded")
            )
            continue
        if len(secret) not in sizes:
            expected = "[" + " ".join(str(s) for s in sizes) + "]"
            problems.append(
                errors.invalid(
                    f"{at}.secret",
                    "REDACTED",
                    f"secret is not of the expected length, got {len(secret)}, "
                    f"expected one of {expected}",
                )
            )
    return problems


def _b64decode(text: str) -> bytes:
    """base64.StdEncoding.DecodeString: padded standard alphabet; Go skips CR and LF."""
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc)) from None


# --- loading ---------------------------------------------------------------------------------


def content_hash(data: bytes) -> str:
    """What tells one file's content from another's without keeping the keys in memory
    (config.go's computeEncryptionConfigHash, a sha256 of the bytes)."""
    return hashlib.sha256(data).hexdigest()


def parse(data: bytes, path: str | os.PathLike[str] = "") -> EncryptionConfiguration:
    """Decode and validate; the error reads as kube-apiserver's at start, after its
    `error while parsing file: ` (which `load` adds)."""
    if not data:
        raise EncryptionConfigError(
            f"encryption provider configuration file {go_quote(str(path))} is empty"
        )
    try:
        config = decode(data)
    except EncryptionConfigError as exc:
        raise EncryptionConfigError(
            f"error decoding encryption provider configuration file {go_quote(str(path))}: {exc}"
        ) from None
    problems = validate(config)
    if problems:
        raise EncryptionConfigError(errors.aggregate(problems))
    return config


def load(path: str | os.PathLike[str]) -> tuple[EncryptionConfiguration, str]:
    """The configuration in a file and the hash of its content (loadConfig)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise EncryptionConfigError(
            "error while parsing file: error while loading file: error reading encryption "
            f"provider configuration file {go_quote(str(path))}: open {path}: {reason}"
        ) from None
    if not data:
        raise EncryptionConfigError(
            "error while parsing file: error while loading file: encryption provider "
            f"configuration file {go_quote(str(path))} is empty"
        )
    try:
        return parse(data, path), content_hash(data)
    except EncryptionConfigError as exc:
        raise EncryptionConfigError(f"error while parsing file: {exc}") from None
