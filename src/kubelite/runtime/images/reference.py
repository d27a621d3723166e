"""Image references: parsing and the Docker normalization every Kubernetes runtime applies.

A pod may name `nginx`, `user/app:1`, `host:5000/x/y@sha256:...`; the store and the registry
client only ever see the fully qualified form, `docker.io/library/nginx:latest`. The grammar and
the rules are those of `github.com/distribution/reference` (`regexp.go`, `normalize.go`), which
containerd's CRI plugin uses through `ParseDockerRef`:

    >>> normalize("nginx")
    'docker.io/library/nginx:latest'
    >>> normalize("localhost:5000/app@sha256:" + "a" * 64)
    'localhost:5000/app@sha256:aaaa...'

As in `ParseDockerRef`, a reference with both a tag and a digest keeps only the digest: the
digest is what gets pulled, and the tag could be a lie.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kubelite.runtime.errors import InvalidImageReference

# distribution/reference normalize.go: the registry and namespace Docker Hub names get.
DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
# distribution/reference reference.go: NameTotalLengthMax.
NAME_TOTAL_LENGTH_MAX = 255

# distribution/reference regexp.go, written out once.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_TAG_RE = re.compile(rf"^{_TAG}$")
_DIGEST_RE = re.compile(rf"^{_DIGEST}$")
_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalized reference: `registry/repository[:tag][@digest]`."""

    registry: str  # "docker.io", "localhost:5000"
    repository: str  # "library/nginx"
    tag: str = ""  # empty when pinned by digest
    digest: str = ""  # "sha256:..."

    @property
    def name(self) -> str:
        """The repository's full name, without tag or digest: `docker.io/library/nginx`."""
        return f"{self.registry}/{self.repository}"

    @property
    def object(self) -> str:
        """What to ask the registry's manifests endpoint for: the digest if any, else the tag."""
        return self.digest or self.tag

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, "", digest)

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag}"


def _invalid(name: str, why: str) -> InvalidImageReference:
    return InvalidImageReference(name, f'invalid image reference "{name}": {why}')


def _split_domain(remote: str) -> tuple[str, str]:
    """distribution/reference splitDockerDomain: is the first component a registry host?"""
    first, sep, rest = remote.partition("/")
    if not sep or (
        "." not in first and ":" not in first and first != "localhost" and first.lower() == first
    ):
        return DEFAULT_DOMAIN, remote
    return first, rest


def parse(name: str) -> Reference:
    """Parse any reference a pod may name into its normalized parts.

    Raises InvalidImageReference for anything `docker pull` would refuse.
    """
    if not name or name != name.strip():
        raise _invalid(name, "invalid reference format")
    remote, at, digest = name.partition("@")
    if at and not _DIGEST_RE.match(digest):
        raise _invalid(name, "invalid digest format")
    if digest.startswith("sha256:") and not _SHA256_RE.match(digest):
        raise _invalid(name, "invalid checksumed digest length")
    tag = ""
    # A colon after the last slash starts a tag; one before it belongs to a registry port.
    last_slash = remote.rfind("/")
    colon = remote.rfind(":")
    if colon > last_slash:
        remote, tag = remote[:colon], remote[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise _invalid(name, "invalid tag format")
    domain, path = _split_domain(remote)
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if not _DOMAIN_RE.match(domain):
        raise _invalid(name, "invalid registry host")
    if path.lower() != path:
        raise _invalid(name, "repository name must be lowercase")
    if not _PATH_RE.match(path):
        raise _invalid(name, "invalid reference format")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    if len(f"{domain}/{path}") > NAME_TOTAL_LENGTH_MAX:
        raise _invalid(
            name, f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    if digest:
        return Reference(domain, path, "", digest)
    return Reference(domain, path, tag or DEFAULT_TAG, "")


def normalize(name: str) -> str:
    """The fully qualified form of a reference: `nginx` -> `docker.io/library/nginx:latest`."""
    return str(parse(name))


def is_image_id(text: str) -> bool:
    """Whether `text` is a full image id (`sha256:<64 hex>`) rather than a reference."""
    return bool(_SHA256_RE.match(text))


def familiar(name: str) -> str:
    """The short form Docker shows: `docker.io/library/nginx:1` -> `nginx:1`."""
    ref = parse(name)
    short = ref.repository
    if ref.registry != DEFAULT_DOMAIN:
        short = f"{ref.registry}/{short}"
    elif short.startswith(OFFICIAL_REPO_PREFIX):
        short = short[len(OFFICIAL_REPO_PREFIX) :]
    return f"{short}@{ref.digest}" if ref.digest else f"{short}:{ref.tag}"
