"""The kubelet's records of image pulls, kept across restarts (KubeletEnsureSecretPulledImages).

Kubernetes keeps them as files under the kubelet's root directory
(`pkg/kubelet/images/pullmanager/fs_pullrecords.go`), and so does kubelite, in the same place and
format, so that what a restarted kubelet finds is what 1.37 would:

- `<root>/image_manager/pulling/sha256-<hex>`: an ImagePullIntent, written before a pull starts
  and removed once it ended (`<hex>` is the SHA-256 of the image as the container names it). One
  left behind says the kubelet was pulling that image when it stopped;
- `<root>/image_manager/pulled/sha256-<hex>`: an ImagePulledRecord for an image the kubelet
  pulled (`<hex>` of its image id), with the credentials that pulled it, per image name without
  tag or digest: the Secrets (uid, namespace, name and a hash of the credentials) or
  `nodePodsAccessible` when none were needed.

Both are `kubelet.config.k8s.io/v1beta1` objects in JSON, written whole to a `.tmp` file then
renamed (mode 0600, directories 0700). Files that do not decode are skipped as Kubernetes skips
them; a record that names another image id than its file is treated as missing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

API_VERSION = "kubelet.config.k8s.io/v1beta1"
# What the alpha (1.33-1.34) wrote; still read.
API_VERSIONS = (API_VERSION, "kubelet.config.k8s.io/v1alpha1")
PULL_INTENT = "ImagePullIntent"
PULLED_RECORD = "ImagePulledRecord"
CACHE_PREFIX = "sha256-"
TMP_SUFFIX = ".tmp"
# How many image ids FilePullRecords keeps in memory before it starts over.
PULLED_CACHE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class SecretCredential:
    """ImagePullSecret: a Secret's coordinates and the hash of the credentials it held."""

    uid: str
    namespace: str
    name: str
    credential_hash: str

    @property
    def coordinates(self) -> tuple[str, str, str]:
        return (self.uid, self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class PullCredentials:
    """ImagePullCredentials: who could pull an image. `node_pods_accessible` (no credentials
    were needed, or the node's own) excludes secrets."""

    secrets: tuple[SecretCredential, ...] = ()
    node_pods_accessible: bool = False


@dataclass
class PulledRecord:
    """ImagePulledRecord: an image id the kubelet pulled, and by image name (no tag or digest)
    the credentials that pulled it. A record without a name's entry forces verification."""

    image_ref: str
    last_updated: str  # RFC 3339, seconds
    credentials: dict[str, PullCredentials] = field(default_factory=dict)


def cache_filename(key: str) -> str:
    return CACHE_PREFIX + sha256(key.encode()).hexdigest()


def _encode_credentials(creds: PullCredentials) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if creds.secrets:
        out["kubernetesSecrets"] = [
            {
                "uid": s.uid,
                "namespace": s.namespace,
                "name": s.name,
                "credentialHash": s.credential_hash,
            }
            for s in creds.secrets
        ]
    if creds.node_pods_accessible:
        out["nodePodsAccessible"] = True
    return out


def _decode_credentials(raw: Any) -> PullCredentials:
    if not isinstance(raw, dict):
        raise ValueError("credentials are not an object")
    # The alpha's field name, then the beta's.
    secrets = raw.get("kubernetesSecrets") or raw.get("kubernetesSecretCoordinates") or []
    return PullCredentials(
        secrets=tuple(
            SecretCredential(
                str(s.get("uid") or ""),
                str(s.get("namespace") or ""),
                str(s.get("name") or ""),
                str(s.get("credentialHash") or ""),
            )
            for s in secrets
        ),
        node_pods_accessible=bool(raw.get("nodePodsAccessible")),
    )


def encode_intent(image: str) -> bytes:
    return json.dumps(
        {"kind": PULL_INTENT, "apiVersion": API_VERSION, "image": image}, separators=(",", ":")
    ).encode()


def encode_pulled(record: PulledRecord) -> bytes:
    body: dict[str, Any] = {
        "kind": PULLED_RECORD,
        "apiVersion": API_VERSION,
        "lastUpdatedTime": record.last_updated,
        "imageRef": record.image_ref,
    }
    if record.credentials:
        body["credentialMapping"] = {
            name: _encode_credentials(creds) for name, creds in sorted(record.credentials.items())
        }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _decode(raw: bytes, kind: str) -> dict[str, Any]:
    obj = json.loads(raw)
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        raise ValueError(f"not an {kind}")
    if obj.get("apiVersion") not in API_VERSIONS:
        raise ValueError(f"unknown apiVersion {obj.get('apiVersion')!r}")
    return obj


def decode_intent(raw: bytes) -> str:
    return str(_decode(raw, PULL_INTENT).get("image") or "")


def decode_pulled(raw: bytes) -> PulledRecord:
    obj = _decode(raw, PULLED_RECORD)
    mapping = obj.get("credentialMapping") or {}
    if not isinstance(mapping, dict):
        raise ValueError("credentialMapping is not an object")
    return PulledRecord(
        image_ref=str(obj.get("imageRef") or ""),
        last_updated=str(obj.get("lastUpdatedTime") or ""),
        credentials={str(k): _decode_credentials(v) for k, v in mapping.items()},
    )


class PullRecords(Protocol):
    """PullRecordsAccessor: where intents and pulled records are kept."""

    def write_intent(self, image: str) -> None: ...
    def intent_exists(self, image: str) -> bool: ...
    def list_intents(self) -> list[str]: ...
    def delete_intent(self, image: str) -> None: ...
    def get_pulled(self, image_ref: str) -> PulledRecord | None: ...
    def list_pulled(self) -> list[PulledRecord]: ...
    def write_pulled(self, record: PulledRecord) -> None: ...
    def delete_pulled(self, image_ref: str) -> None: ...


class FilePullRecords:
    """The records under `<root>/image_manager`, as fs_pullrecords.go keeps them. The pulled
    records this object read or wrote are kept in memory too (as the kubelet's
    cachedPullRecordsAccessor does), so that checking an image on every container start does
    not read its file again: the kubelet is the only writer of its records."""

    def __init__(self, root_dir: Path) -> None:
        self.pulling = Path(root_dir) / "image_manager" / "pulling"
        self.pulled = Path(root_dir) / "image_manager" / "pulled"
        # image id -> its record, or None when it has none (as last read or written here).
        self._pulled_cache: dict[str, PulledRecord | None] = {}
        for directory in (self.pulling, self.pulled):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    @staticmethod
    def _write(directory: Path, name: str, content: bytes) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = directory / name
        tmp = directory / (name + TMP_SUFFIX)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(tmp, target)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    @staticmethod
    def _files(directory: Path) -> list[Path]:
        try:
            entries = sorted(directory.iterdir())
        except FileNotFoundError:
            return []
        return [
            p
            for p in entries
            if p.is_file() and p.name.startswith(CACHE_PREFIX) and not p.name.endswith(TMP_SUFFIX)
        ]

    def write_intent(self, image: str) -> None:
        self._write(self.pulling, cache_filename(image), encode_intent(image))

    def intent_exists(self, image: str) -> bool:
        try:
            raw = (self.pulling / cache_filename(image)).read_bytes()
        except FileNotFoundError:
            return False
        return decode_intent(raw) == image

    def list_intents(self) -> list[str]:
        intents = []
        for path in self._files(self.pulling):
            try:
                intents.append(decode_intent(path.read_bytes()))
            except (OSError, ValueError) as e:
                log.warning("image pull intent %s cannot be read: %s", path, e)
        return intents

    def delete_intent(self, image: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.pulling / cache_filename(image)).unlink()

    def get_pulled(self, image_ref: str) -> PulledRecord | None:
        if image_ref in self._pulled_cache:
            return self._pulled_cache[image_ref]
        try:
            raw = (self.pulled / cache_filename(image_ref)).read_bytes()
        except FileNotFoundError:
            record = None
        else:
            decoded = decode_pulled(raw)
            record = decoded if decoded.image_ref == image_ref else None
        if len(self._pulled_cache) >= PULLED_CACHE_LIMIT:
            self._pulled_cache.clear()
        self._pulled_cache[image_ref] = record
        return record

    def list_pulled(self) -> list[PulledRecord]:
        records = []
        for path in self._files(self.pulled):
            try:
                records.append(decode_pulled(path.read_bytes()))
            except (OSError, ValueError) as e:
                log.warning("image pulled record %s cannot be read: %s", path, e)
        return records

    def write_pulled(self, record: PulledRecord) -> None:
        self._pulled_cache.pop(record.image_ref, None)
        self._write(self.pulled, cache_filename(record.image_ref), encode_pulled(record))
        self._pulled_cache[record.image_ref] = record

    def delete_pulled(self, image_ref: str) -> None:
        self._pulled_cache.pop(image_ref, None)
        with contextlib.suppress(FileNotFoundError):
            (self.pulled / cache_filename(image_ref)).unlink()


class MemoryPullRecords:
    """The same records in memory (mem_pullrecords.go): for a kubelet without a root dir."""

    def __init__(self) -> None:
        self.intents: set[str] = set()
        self.pulled: dict[str, PulledRecord] = {}

    def write_intent(self, image: str) -> None:
        self.intents.add(image)

    def intent_exists(self, image: str) -> bool:
        return image in self.intents

    def list_intents(self) -> list[str]:
        return sorted(self.intents)

    def delete_intent(self, image: str) -> None:
        self.intents.discard(image)

    def get_pulled(self, image_ref: str) -> PulledRecord | None:
        return self.pulled.get(image_ref)

    def list_pulled(self) -> list[PulledRecord]:
        return list(self.pulled.values())

    def write_pulled(self, record: PulledRecord) -> None:
        self.pulled[record.image_ref] = record

    def delete_pulled(self, image_ref: str) -> None:
        self.pulled.pop(image_ref, None)
