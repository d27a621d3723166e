"""Image records: which references name which image, and what the image is made of.

All records live in one small JSON file, `<root>/images.json`, replaced atomically (written to
a temp file, fsynced, renamed) under an exclusive `flock` on `<root>/lock`, so that the kubelet
and a `kubelite image` command can change the store at the same time. The same lock guards
garbage collection and the leases (`Lease`): a pull that is still downloading writes the
digests it relies on to `<root>/leases/<pid>-<id>.json` before it looks for them in the store,
and the collector keeps whatever a living process holds a lease on (containerd's leases, in
small). `find_image` says which record a name (reference, id or id prefix) means, as crictl
and docker resolve them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kubelite.runtime.errors import InvalidImageReference
from kubelite.runtime.images import reference

FORMAT_VERSION = 1
# A lease entry that holds everything: an import or export does not know its digests until it
# has read the archive, so the collector stands still while one runs.
HOLD_ALL = "*"
_HEX_PREFIX = re.compile(r"^(?:sha256:)?([0-9a-f]{4,64})$")


@dataclass(slots=True)
class LayerRecord:
    """One layer of a stored image: the blob as pulled and the diff ID of its unpacked tar."""

    digest: str  # the blob as the registry serves it (usually compressed)
    diff_id: str  # the uncompressed tar, as the image config's rootfs.diff_ids name it
    size: int
    media_type: str


@dataclass(slots=True)
class ImageRecord:
    """What the store knows of one image: its config and manifest digests, its layers, and the tags
    and digests that name it."""

    id: str  # the config's digest
    manifest_digest: str
    manifest_media_type: str
    layers: list[LayerRecord]  # bottom first, as in the manifest
    repo_tags: list[str] = field(default_factory=list)
    repo_digests: list[str] = field(default_factory=list)
    # The index the manifest was picked from, if any: pushed or exported, it is the manifest
    # alone that goes, so only the manifest's blob is kept.
    index_digest: str = ""

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)

    def references(self) -> list[str]:
        return [*self.repo_tags, *self.repo_digests]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageRecord:
        layers = [LayerRecord(**layer) for layer in data.pop("layers")]
        return cls(layers=layers, **data)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Records:
    """The image records and leases of one store; change them only inside `locked()`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "images.json"
        self.leases_dir = root / "leases"
        self.leases_dir.mkdir(parents=True, exist_ok=True)
        self._lock_path = root / "lock"
        self._local_lock = asyncio.Lock()

    def load(self) -> dict[str, ImageRecord]:
        """Every image by id (a consistent snapshot: the file is only ever replaced whole)."""
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        return {item["id"]: ImageRecord.from_json(item) for item in data["images"]}

    def save(self, images: dict[str, ImageRecord]) -> None:
        data = {
            "version": FORMAT_VERSION,
            "images": [images[key].to_json() for key in sorted(images)],
        }
        _write_atomically(self.path, json.dumps(data, indent=1).encode())

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the store's lock: against this process's other tasks and other processes.

        The lock is only ever held for file operations, never across a download, so waiting
        for it in the event loop's thread is brief.
        """
        async with self._local_lock:
            with self._flock():
                yield

    # --- leases ---

    def new_lease(self) -> Path:
        return self.leases_dir / f"{os.getpid()}-{uuid.uuid4().hex}.json"

    def write_lease(self, lease: Path, held: set[str]) -> None:
        _write_atomically(lease, json.dumps(sorted(held)).encode())

    def leased(self) -> set[str]:
        """Everything living processes hold leases on; leases of dead processes are removed."""
        held: set[str] = set()
        for lease in self.leases_dir.glob("*.json"):
            pid = int(lease.name.split("-", 1)[0])
            if not pid_alive(pid):
                lease.unlink(missing_ok=True)
                continue
            with contextlib.suppress(FileNotFoundError, ValueError):
                held.update(json.loads(lease.read_bytes()))
        return held


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    """The digests a pull or import relies on, written where the collector looks for them."""

    def __init__(self, records: Records) -> None:
        self._records = records
        self.path = records.new_lease()
        self.held: set[str] = set()

    async def hold(self, items: Iterable[str]) -> None:
        new = {item for item in items if item} - self.held
        if not new:
            return
        async with self._records.locked():
            self.held |= new
            self._records.write_lease(self.path, self.held)

    def release(self) -> None:
        self.path.unlink(missing_ok=True)


def find_image(images: dict[str, ImageRecord], text: str) -> ImageRecord | None:
    """The image an id, a reference or an unambiguous id prefix names."""
    if reference.is_image_id(text):
        return images.get(text)
    try:
        norm = reference.normalize(text)
    except InvalidImageReference:
        norm = ""
    if norm:
        for record in images.values():
            if norm in record.repo_tags or norm in record.repo_digests:
                return record
    match = _HEX_PREFIX.match(text)
    if match:
        prefix = "sha256:" + match[1]
        found = [r for r in images.values() if r.id.startswith(prefix)]
        if len(found) == 1:
            return found[0]
    if not norm:
        raise InvalidImageReference(text, f'invalid image reference "{text}"')
    return None


def tag_named(text: str, record: ImageRecord) -> str:
    """The tag reference `text` names, if it is one of `record`'s tags."""
    with contextlib.suppress(InvalidImageReference):
        norm = reference.normalize(text)
        if norm in record.repo_tags:
            return norm
    return ""


def move_tag(images: dict[str, ImageRecord], record: ImageRecord, tag: str) -> None:
    """Give `tag` to `record`, taking it from whichever image had it."""
    for other in images.values():
        if other is not record and tag in other.repo_tags:
            other.repo_tags.remove(tag)
    if tag not in record.repo_tags:
        record.repo_tags.append(tag)
