"""Encryption at rest in the API server: which file, which resources, reloads, re-encryption.

Two ways in, as in Kubernetes and k3s:

- `--encryption-provider-config FILE` (kube-apiserver's flag): an EncryptionConfiguration the
  user writes. It is read at start (a bad one stops the server with kube-apiserver's error), and
  read again when it changes with `--encryption-provider-config-automatic-reload`.
- `--secrets-encryption` (k3s' flag): kubelite keeps `<data-dir>/cred/encryption-config.json`
  itself, as k3s keeps `server/cred/encryption-config.json`: made at the first start with one
  random 32-byte aescbc key named `aescbc-key` (then identity, to read what was stored before),
  reused afterwards, reloaded when `kubelite secrets-encrypt` rotates its keys.

Reloading (kube-apiserver's automatic reload polls the file's hash every minute): here a
`stat` of the file every RELOAD_INTERVAL, and a read when it changed; a file that does not
load is logged and the configuration in force is kept, as kube-apiserver keeps it.

Re-encryption: after every start and every change of the file, the server writes again every
stored value of a covered resource that the first provider and key did not write (Kubernetes
leaves that to the user, `kubectl get secrets -A -o json | kubectl replace -f -`; k3s' re-encrypt
controller does it after `secrets-encrypt rotate-keys`). Touching the file asks for a pass.

The server says what it did in `<data-dir>/cred/encryption-state.json`: the file and content
hash it has loaded, the last error, the stage (k3s' names: `reencrypt_active`,
`reencrypt_finished`) and what the last pass found per resource. `kubelite secrets-encrypt`
reads it; nothing else does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.api.kinds import REGISTRY

# Re-exported: the commands that start a server report it.
from kubelite.storage.encryption.config import EncryptionConfigError as EncryptionConfigError
from kubelite.storage.encryption.config import (
    EncryptionConfiguration,
    content_hash,
    group_resource_string,
    parse,
    parse_group_resource,
)
from kubelite.storage.encryption.config import load as load_config
from kubelite.storage.encryption.store import Census, EncryptingStore, KeyTransformers
from kubelite.storage.encryption.transformers import (
    PrefixTransformers,
    group_resource_transformers,
    transformer_for,
)
from kubelite.storage.interface import Store

log = logging.getLogger(__name__)

# Where k3s keeps its credentials and the encryption configuration (under its server dir).
CRED_DIR = "cred"
CONFIG_FILE = "encryption-config.json"
STATE_FILE = "encryption-state.json"
# k3s' first key (pkg/daemons/control/deps: "aescbc-key") and its size (secrets-encrypt.go:
# aescbcKeySize); rotated keys are named `aescbckey-<RFC 3339 time>` (AppendNewEncryptionKey).
INITIAL_KEY_NAME = "aescbc-key"
ROTATED_KEY_PREFIX = "aescbckey-"
AESCBC_KEY_SIZE = 32
# How often the server looks at the file's metadata for a change.
RELOAD_INTERVAL = 1.0
# k3s' stage names (pkg/secretsencrypt/config.go).
STAGE_ACTIVE = "reencrypt_active"
STAGE_FINISHED = "reencrypt_finished"


def managed_config_path(data_dir: Path) -> Path:
    return data_dir / CRED_DIR / CONFIG_FILE


def state_path(data_dir: Path) -> Path:
    return data_dir / CRED_DIR / STATE_FILE


def new_key() -> str:
    """A random aescbc key, base64 as the file holds it."""
    return base64.b64encode(os.urandom(AESCBC_KEY_SIZE)).decode()


def managed_document(keys: list[dict[str, str]], *, enabled: bool = True) -> dict[str, Any]:
    """The file k3s writes (secretsencrypt.WriteEncryptionConfig): Secrets only, aescbc with
    the keys in order then identity, or identity first when encryption is off."""
    aescbc = {"aescbc": {"keys": keys}}
    identity: dict[str, Any] = {"identity": {}}
    return {
        "kind": "EncryptionConfiguration",
        "apiVersion": "apiserver.config.k8s.io/v1",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [aescbc, identity] if enabled else [identity, aescbc],
            }
        ],
    }


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` at once with `data`, readable by its owner only (it holds keys)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def ensure_managed_config(data_dir: Path) -> Path:
    """`--secrets-encryption`'s file: made with one fresh key the first time, kept after."""
    path = managed_config_path(data_dir)
    if not path.exists():
        document = managed_document([{"name": INITIAL_KEY_NAME, "secret": new_key()}])
        write_private(path, json.dumps(document).encode())
        log.info("secrets encryption: new key %s in %s", INITIAL_KEY_NAME, path)
    return path


def rotate_keys(document: dict[str, Any], now: datetime.datetime) -> str:
    """Put a new aescbc key first in the Secrets' aescbc provider, the old ones after it for
    reading (k3s' addAndRotateKeys); returns its name. ValueError when the file is not one
    whose Secrets are written by aescbc."""
    for entry in document.get("resources") or []:
        if "secrets" not in (entry.get("resources") or []):
            continue
        providers = entry.get("providers") or []
        if not providers or "aescbc" not in providers[0]:
            raise ValueError(
                "rotate-keys needs aescbc as the first provider of secrets "
                f"(found {', '.join(providers[0]) if providers else 'none'})"
            )
        name = ROTATED_KEY_PREFIX + now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        keys = providers[0]["aescbc"].setdefault("keys", [])
        if any(key.get("name") == name for key in keys):
            raise ValueError(f"a key named {name} exists already: try again in a second")
        keys.insert(0, {"name": name, "secret": new_key()})
        return name
    raise ValueError("the configuration does not cover secrets")


# --- the configuration, resolved against the served resources --------------------------------


def _storage_owners() -> dict[str, tuple[str, str]]:
    """Each storage prefix and the group-resource whose rules apply to it (events.k8s.io
    Events are stored, and encrypted, as core events, as in Kubernetes)."""
    owners: dict[str, tuple[str, str]] = {}
    for resource in REGISTRY.resources:
        if not resource.storage_plural:
            owners.setdefault(resource.key_prefix(), (resource.group, resource.plural))
    return owners


def key_transformers(config: EncryptionConfiguration) -> KeyTransformers:
    """Which storage prefixes the configuration covers, with their chains."""
    chains = group_resource_transformers(config)
    by_prefix: dict[str, PrefixTransformers] = {}
    for prefix, (group, resource) in _storage_owners().items():
        chain = transformer_for(chains, group, resource)
        if chain is not None:
            by_prefix[prefix] = chain
    return KeyTransformers(by_prefix)


def resource_name(prefix: str) -> str:
    """`/registry/deployments/` -> `deployments.apps`, for the state file and the CLI."""
    group, resource = _storage_owners().get(prefix, ("", prefix.strip("/").split("/")[-1]))
    return group_resource_string(group, resource)


Signature = tuple[int, int, int, int]


def signature(path: Path) -> Signature | None:
    """What changes whenever the file does (or is touched): inode, size, mtime and ctime."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class Loaded:
    """A configuration read from its file: what it says, as transformers by key prefix."""

    config: EncryptionConfiguration
    hash: str
    transformers: KeyTransformers
    signature: Signature | None


def load(path: Path) -> Loaded:
    """Read, validate and build; EncryptionConfigError with kube-apiserver's words otherwise."""
    before = signature(path)
    config, digest = load_config(path)
    return Loaded(config, digest, key_transformers(config), before)


# Names of the key types as `kubelite secrets-encrypt status` prints them (k3s: AES-CBC).
KEY_TYPES = {"aescbc": "AES-CBC", "aesgcm": "AES-GCM", "secretbox": "XSalsa20-Poly1305"}


@dataclass(frozen=True)
class KeyStatus:
    """One key of the providers that apply to Secrets, for `secrets-encrypt status`."""

    active: bool
    type: str
    name: str


def secrets_keys(config: EncryptionConfiguration) -> tuple[bool, list[KeyStatus]]:
    """Whether Secrets are written encrypted, and their keys in the order they are tried
    (the first key of the first provider is the one writes use). The rule that applies is
    the first of `secrets`, `*.` and `*.*` present, as transformerFromOverrides picks it."""
    providers = []
    for rule in (("", "secrets"), ("", "*"), ("*", "*")):
        providers = [
            provider
            for entry in config.resources
            if rule in {parse_group_resource(name) for name in entry.resources}
            for provider in entry.providers
        ]
        if providers:
            break
    keys = [KeyStatus(False, KEY_TYPES[p.kind], key.name) for p in providers for key in p.keys]
    enabled = bool(providers) and providers[0].kind != "identity"
    if enabled and keys:
        keys[0] = KeyStatus(True, keys[0].type, keys[0].name)
    return enabled, keys


# --- the running server's side -----------------------------------------------------------------


class EncryptionController:
    """Keeps an EncryptingStore's transformers in step with the file and its values
    re-encrypted, and says so in the state file. `run` is a task of the API server's."""

    def __init__(
        self, inner: Store, path: Path, data_dir: Path, loaded: Loaded, *, reload: bool
    ) -> None:
        self.store = EncryptingStore(inner, loaded.transformers)
        self.path = path
        self.reload = reload
        self.loaded = loaded
        self._state_path = state_path(data_dir)
        self._state: dict[str, Any] = {
            "pid": os.getpid(),
            "configFile": str(path.resolve()),
            "automaticReload": reload,
            "configHash": loaded.hash,
            "configSignature": list(loaded.signature or ()),
            "stage": STAGE_ACTIVE,
            "error": "",
            "errorSignature": [],
            "resources": {},
        }
        self._seen = loaded.signature

    async def run(self) -> None:
        await self._reencrypt()
        if not self.reload:
            return
        while True:
            await asyncio.sleep(RELOAD_INTERVAL)
            now = signature(self.path)
            if now is None or now == self._seen:
                continue
            self._seen = now
            if self._reload(now):
                await self._reencrypt()

    def _reload(self, now: Signature) -> bool:
        """Load the changed file; True when its configuration is in force now."""
        try:
            data = self.path.read_bytes()
            digest = content_hash(data)
            if digest != self.loaded.hash:
                config = parse(data, self.path)
                self.loaded = Loaded(config, digest, key_transformers(config), now)
                self.store.transformers = self.loaded.transformers
                log.info("encryption configuration reloaded from %s", self.path)
        except (OSError, EncryptionConfigError) as exc:
            message = f"error while parsing file: {exc}"
            log.error(
                "encryption configuration %s not reloaded, the one in force stays: %s",
                self.path,
                message,
            )
            self._write_state(error=message, errorSignature=list(now))
            return False
        # Stage and signature together: a reader waiting for this file must not take the
        # previous pass's end for this one's.
        self._write_state(
            configHash=digest, configSignature=list(now), error="", stage=STAGE_ACTIVE
        )
        return True

    async def _reencrypt(self) -> None:
        self._write_state(stage=STAGE_ACTIVE)
        censuses = await self.store.reencrypt()
        rewritten = sum(c.rewritten for c in censuses.values())
        if rewritten:
            log.info("re-encrypted %d stored values with the first provider", rewritten)
        self._write_state(stage=STAGE_FINISHED, resources=_report(censuses))

    def _write_state(self, **changes: Any) -> None:
        self._state.update(changes)
        self._state["time"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        try:
            write_private(self._state_path, json.dumps(self._state, indent=1).encode())
        except OSError as exc:
            log.warning("cannot write %s: %s", self._state_path, exc)


def _report(censuses: dict[str, Census]) -> dict[str, Any]:
    return {
        resource_name(prefix): {
            "total": c.total,
            "rewritten": c.rewritten,
            "failed": c.failed,
            "failedKeys": c.failed_keys,
        }
        for prefix, c in censuses.items()
    }


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The running (or last) server's state file, if there is one."""
    with contextlib.suppress(OSError, ValueError):
        state = json.loads(state_path(data_dir).read_bytes())
        if isinstance(state, dict):
            return state
    return None
