"""Content digests (`sha256:<hex>`): checking their form and hashing streams against them.

Every blob the image service writes is named by its digest and verified while it streams in,
so a wrong byte anywhere is caught before anything is kept (OCI image spec, descriptor.md).
"""

from __future__ import annotations

import hashlib
import re

# OCI image spec descriptor.md: the registered algorithms and the length of their hex part.
_ALGORITHMS = {"sha256": 64, "sha512": 128}
_DIGEST_RE = re.compile(r"^(?P<alg>[a-z0-9]+(?:[.+_-][a-z0-9]+)*):(?P<hex>[a-zA-Z0-9=_-]+)$")


class DigestError(ValueError):
    """Content does not match the digest (or size) it was expected to have."""


class BadDigest(ValueError):
    """A string is not a digest this store can check."""


def split(digest: str) -> tuple[str, str]:
    """`sha256:abc...` -> (`sha256`, `abc...`), refusing algorithms and lengths we cannot check."""
    match = _DIGEST_RE.match(digest)
    if match is None:
        raise BadDigest(f"invalid digest {digest!r}")
    alg, hexpart = match["alg"], match["hex"]
    length = _ALGORITHMS.get(alg)
    if length is None:
        raise BadDigest(f"unsupported digest algorithm {alg!r} in {digest!r}")
    if len(hexpart) != length or not re.fullmatch(r"[0-9a-f]+", hexpart):
        raise BadDigest(f"invalid digest {digest!r}")
    return alg, hexpart


def of_bytes(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class Verifier:
    """Hashes a stream as it passes and says at the end whether it was the expected content."""

    def __init__(self, expected: str, size: int | None = None) -> None:
        self.expected = expected
        self.algorithm, _ = split(expected)
        self.size = size
        self.count = 0
        self._hash = hashlib.new(self.algorithm)

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.count += len(chunk)

    @property
    def actual(self) -> str:
        return f"{self.algorithm}:{self._hash.hexdigest()}"

    def check(self) -> None:
        """Raise DigestError unless everything seen matches the expected digest and size."""
        if self.size is not None and self.count != self.size:
            raise DigestError(
                f"size mismatch for {self.expected}: expected {self.size} bytes, got {self.count}"
            )
        actual = self.actual
        if actual != self.expected:
            raise DigestError(f"digest mismatch: expected {self.expected}, got {actual}")
