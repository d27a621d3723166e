"""The credentials a pod's `imagePullSecrets` give for one image (the kubelet's docker keyring).

The kubelet reads each Secret the pod names (`MakeDockerKeyring`,
`pkg/credentialprovider/secrets`): a `kubernetes.io/dockerconfigjson` Secret's
`.dockerconfigjson` (`{"auths": {...}}`) or a `kubernetes.io/dockercfg` Secret's `.dockercfg`
(the `auths` map itself); Secrets of other types, missing ones and empty keys are passed over. Each
entry is keyed by where it applies (`keyring.go` `Add`): `registry.example.com`,
`https://index.docker.io/v1/` or `quay.io/team`, a scheme dropped and a `/v1/` or `/v2/` prefix
of the path ignored. An image's repository (`docker.io/library/nginx`) takes the entries whose
key matches it (`URLsMatch`: the same number of host labels, each a glob, the same port, and the
key's path a prefix of the repository's), the most specific first (the keys sorted in reverse);
a Docker Hub image with none falls back to an entry for `index.docker.io`.

The pull then tries each credential in turn (`ImagePuller.ensure`). Credentials the node itself
has (kubelite's registries config, a docker config.json) are the runtime's business.

Each credential keeps where it came from (the Secret's uid, namespace and name) and a hash of its
content, as `TrackedAuthConfig` does: KubeletEnsureSecretPulledImages (beta, on in 1.37) records
which Secret pulled an image, and lets another pod use the cached image only if it presents the
same Secret or one with the same credentials (`image_pull_manager`).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import sha256
from urllib.parse import urlsplit

from kubelite.api.types import Obj
from kubelite.kubelet.envvars import ObjectLookup, get_secret
from kubelite.runtime import errors as runtime_errors
from kubelite.runtime.cri import AuthConfig
from kubelite.runtime.images import reference

log = logging.getLogger(__name__)

# v1.SecretTypeDockerConfigJson / v1.SecretTypeDockercfg and their keys.
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKERCFG_KEY = ".dockercfg"
# keyring.go: Docker Hub's own key, for images that name no registry.
DEFAULT_REGISTRY_HOST = "index.docker.io"


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where a credential came from: its Secret's coordinates (SecretCoordinates)."""

    uid: str
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class PodCredential:
    """A credential of the pod's pull secrets, with its Secret and the hash of its content
    (TrackedAuthConfig)."""

    auth: AuthConfig
    secret: SecretRef | None
    hash: str


def go_json(value: object) -> str:
    """json.Marshal's text: compact, UTF-8, with `<`, `>`, `&`, U+2028 and U+2029 escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def credential_hash(auth: AuthConfig, email: str = "") -> str:
    """hashAuthConfig: the SHA-256 of credentialprovider.AuthConfig as json.Marshal writes it
    (its fields in order, empty ones left out). The keyring fills username, password and email
    from a docker config entry; kubelite's tokens go where Go's struct has them."""
    fields = (
        ("username", auth.username),
        ("password", auth.password),
        ("email", email),
        ("identitytoken", auth.identity_token),
        ("registrytoken", auth.registry_token),
    )
    return sha256(go_json({k: v for k, v in fields if v}).encode()).hexdigest()


def _entry_auth(entry: Obj) -> AuthConfig:
    """A DockerConfigEntry: `auth` (base64 `user:password`) stands for a missing user and
    password, as its UnmarshalJSON decodes it."""
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    raw = entry.get("auth") or ""
    if raw and not username:
        try:
            decoded = base64.b64decode(raw, validate=False).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        username, _, password = decoded.partition(":")
    return AuthConfig(
        username=username,
        password=password,
        identity_token=str(entry.get("identitytoken") or ""),
        registry_token=str(entry.get("registrytoken") or ""),
    )


def _key(location: str) -> str:
    """keyring.go Add: the schemeless host, plus the path unless it is only `/`, `/v1/...`
    and `/v2/...` losing their prefix."""
    parsed = urlsplit(location if "://" in location else f"https://{location}")
    path = parsed.path
    if path.startswith(("/v1/", "/v2/")):
        path = path[3:]
    return parsed.netloc + path if path and path != "/" else parsed.netloc


def _split(schemeless: str) -> tuple[list[str], str, str]:
    """Host labels, port and path of `host[:port][/path]` (splitURL)."""
    host, slash, path = schemeless.partition("/")
    name, _, port = host.partition(":")
    return name.split("."), port, slash + path


def urls_match(key: str, repository: str) -> bool:
    """URLsMatch: as many host labels, each matching the key's glob; the same port; the key's
    path a prefix of the repository's."""
    key_labels, key_port, key_path = _split(key)
    labels, port, path = _split(repository)
    if key_port != port or len(key_labels) != len(labels) or not path.startswith(key_path):
        return False
    return all(
        fnmatch.fnmatchcase(label, glob) for glob, label in zip(key_labels, labels, strict=True)
    )


def _default_registry_match(repository: str) -> bool:
    """isDefaultRegistryMatch: the image is pulled from Docker Hub."""
    first, slash, _ = repository.partition("/")
    if not first:
        return False
    if not slash or first in ("docker.io", DEFAULT_REGISTRY_HOST):
        return True
    return not any(c in first for c in ".:")


class Keyring:
    """BasicDockerKeyring: credentials by the place they apply to."""

    def __init__(self) -> None:
        self._creds: dict[str, list[PodCredential]] = {}

    def add(self, auths: Obj, source: SecretRef | None = None) -> None:
        for location, entry in auths.items():
            if isinstance(entry, dict):
                auth = _entry_auth(entry)
                tracked = PodCredential(
                    auth, source, credential_hash(auth, str(entry.get("email") or ""))
                )
                self._creds.setdefault(_key(location), []).append(tracked)

    def lookup(self, repository: str) -> list[AuthConfig]:
        """The credentials for `repository` (`docker.io/library/nginx`), most specific first."""
        return [c.auth for c in self.lookup_tracked(repository)]

    def lookup_tracked(self, repository: str) -> list[PodCredential]:
        """`lookup` with each credential's Secret and hash."""
        found: list[PodCredential] = []
        for key in sorted(self._creds, reverse=True):
            if urls_match(key, repository):
                found.extend(self._creds[key])
        if not found and _default_registry_match(repository):
            found = list(self._creds.get(DEFAULT_REGISTRY_HOST, ()))
        return found


def _auths_of(secret: Obj) -> Obj | None:
    data = secret.get("data") or {}
    kind = secret.get("type")
    for wanted, key in ((DOCKER_CONFIG_JSON, DOCKER_CONFIG_JSON_KEY), (DOCKERCFG, DOCKERCFG_KEY)):
        if kind != wanted or not data.get(key):
            continue
        try:
            parsed = json.loads(base64.b64decode(data[key]))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(parsed, dict):
            return None
        auths = parsed.get("auths") if key == DOCKER_CONFIG_JSON_KEY else parsed
        return auths if isinstance(auths, dict) else None
    return None


def keyring_of(secrets: Iterable[Obj]) -> Keyring:
    keyring = Keyring()
    for secret in secrets:
        auths = _auths_of(secret)
        if auths is not None:
            md = secret.get("metadata") or {}
            source = SecretRef(
                str(md.get("uid") or ""), str(md.get("namespace") or ""), str(md.get("name") or "")
            )
            keyring.add(auths, source)
    return keyring


async def pull_credentials(pod: Obj, lookup: ObjectLookup, image: str) -> list[AuthConfig]:
    """The credentials the pod's imagePullSecrets hold for `image`, in the order to try them;
    none for an image no Secret covers (or a reference that does not parse: the pull says so)."""
    return [c.auth for c in await tracked_pull_credentials(pod, lookup, image)]


async def tracked_pull_credentials(
    pod: Obj, lookup: ObjectLookup, image: str
) -> list[PodCredential]:
    """`pull_credentials` with each one's Secret and hash, for the pull records."""
    return await PodPullSecrets(pod, lookup).credentials(image)


class PodPullSecrets:
    """A pod's pull secrets, read when first needed and then kept: the kubelet reads them once
    per sync (getPullSecretsForPod in SyncPod) for all the images it pulls."""

    def __init__(self, pod: Obj, lookup: ObjectLookup) -> None:
        self.pod = pod
        self.lookup = lookup
        self._keyring: Keyring | None = None

    async def credentials(self, image: str) -> list[PodCredential]:
        """The tracked credentials for `image`, in the order to try them (see
        `tracked_pull_credentials`)."""
        if not (self.pod.get("spec") or {}).get("imagePullSecrets"):
            return []
        try:
            repository = reference.parse(image).name
        except runtime_errors.InvalidImageReference:
            return []
        if self._keyring is None:
            self._keyring = keyring_of(await self._read())
        return self._keyring.lookup_tracked(repository)

    async def _read(self) -> list[Obj]:
        refs = (self.pod.get("spec") or {}).get("imagePullSecrets") or ()
        metadata = self.pod.get("metadata") or {}
        namespace = metadata.get("namespace") or "default"
        secrets = []
        for ref in refs:
            name = (ref or {}).get("name") or ""
            try:
                secret = await get_secret(self.lookup, namespace, name) if name else None
            except Exception as e:
                # getPullSecretsForPod: a Secret that cannot be had is logged, the pull goes on.
                log.warning(
                    "pod %s/%s: pull secret %r: %s", namespace, metadata.get("name"), name, e
                )
                continue
            if secret is None:
                log.warning(
                    'pod %s/%s: pull secret "%s" not found', namespace, metadata.get("name"), name
                )
                continue
            secrets.append(secret)
        return secrets
