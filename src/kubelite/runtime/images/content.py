"""The content store: blobs (manifests, configs, layers) kept once each, by digest.

A blob lives at `<root>/blobs/<algorithm>/<hex>`, as in an OCI image layout. It is written to
`<root>/ingest/` first and renamed into place only after its digest (and size, when known)
checked out, so a reader never sees a partial or corrupt blob and a failed download leaves
nothing behind. Two writers of one blob race harmlessly: both write the same bytes, the second
rename replaces the first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from kubelite.runtime.images import digests
from kubelite.runtime.images.records import pid_alive

CHUNK = 1 << 20


class BlobWriter:
    """One blob on its way in: `write` chunks, then `commit` (verify and publish) or `abort`."""

    def __init__(self, store: ContentStore, expected: str, size: int | None) -> None:
        self._store = store
        self._verifier = digests.Verifier(expected, size)
        hexpart = digests.split(expected)[1]
        self._tmp = store.ingest_dir / f"{os.getpid()}-{hexpart[:16]}-{uuid.uuid4().hex}"
        self._file: BinaryIO | None = open(self._tmp, "xb")  # noqa: SIM115 - closed in commit/abort

    @property
    def written(self) -> int:
        return self._verifier.count

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)
        self._verifier.update(chunk)

    def commit(self) -> Path:
        """Check the digest; publish the blob, or remove it and raise DigestError."""
        assert self._file is not None
        self._file.close()
        self._file = None
        try:
            self._verifier.check()
        except digests.DigestError:
            self._tmp.unlink(missing_ok=True)
            raise
        target = self._store.path(self._verifier.expected)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, target)
        return target

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


class ContentStore:
    """Blobs under `<root>/blobs`, written through `<root>/ingest`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs_dir = root / "blobs"
        self.ingest_dir = root / "ingest"
        self.ingest_dir.mkdir(parents=True, exist_ok=True)
        self.blobs_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        algorithm, hexpart = digests.split(digest)
        return self.blobs_dir / algorithm / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def writer(self, digest: str, size: int | None = None) -> BlobWriter:
        return BlobWriter(self, digest, size)

    @contextlib.contextmanager
    def writing(self, digest: str, size: int | None = None) -> Iterator[BlobWriter]:
        """A writer that is aborted if the block raises; the block must call `commit`."""
        writer = self.writer(digest, size)
        try:
            yield writer
        except BaseException:
            writer.abort()
            raise

    def write_bytes(self, data: bytes, digest: str | None = None) -> str:
        """Store `data` (checked against `digest` when given) and return its digest."""
        digest = digest or digests.of_bytes(data)
        if not self.has(digest):
            with self.writing(digest, len(data)) as writer:
                writer.write(data)
                writer.commit()
        return digest

    def write_stream(self, stream: IO[bytes], digest: str, size: int | None = None) -> None:
        """Copy a file-like object in as blob `digest`, verified."""
        with self.writing(digest, size) as writer:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
            writer.commit()

    def ingest(self, stream: IO[bytes]) -> tuple[str, int]:
        """Copy in a stream whose digest is not known beforehand; return (digest, size)."""
        tmp = self.ingest_dir / f"{os.getpid()}-unknown-{uuid.uuid4().hex}"
        hasher = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "xb") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    hasher.update(chunk)
                    size += len(chunk)
            digest = f"sha256:{hasher.hexdigest()}"
            target = self.path(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return digest, size

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def all_digests(self) -> set[str]:
        found: set[str] = set()
        for algorithm_dir in self.blobs_dir.iterdir():
            found.update(f"{algorithm_dir.name}:{p.name}" for p in algorithm_dir.iterdir())
        return found

    def clean_ingest(self) -> None:
        """Remove temp files of writers whose process died (`<pid>-...`)."""
        for leftover in self.ingest_dir.iterdir():
            head = leftover.name.split("-", 1)[0]
            if not pid_alive(int(head) if head.isdigit() else 0):
                leftover.unlink(missing_ok=True)
