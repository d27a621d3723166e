"""Unpacking one layer tar into a directory that overlayfs can stack (a `lowerdir`).

Each layer is unpacked on its own into an empty directory, so the directory holds exactly that
layer's changes, with deletions written the way overlayfs reads them (the OCI image spec's
layer.md, and the kernel's Documentation/filesystems/overlayfs.rst):

- `.wh.<name>` (a whiteout) becomes a character device 0/0 called `<name>`: it hides `<name>`
  of the layers below;
- `.wh..wh..opq` (an opaque marker) sets `trusted.overlay.opaque=y` on its directory: the
  directory hides everything the layers below have in it.

Regular files, directories, symlinks, hardlinks, devices and FIFOs are made with their mode,
owner (when running as root), mtime and the extended attributes worth keeping (`user.*`, file
capabilities). Nothing is ever written outside the directory: an entry with `..` is refused, and
no path is resolved through a symlink the layer made (every parent of an entry must be a
directory this unpack created), so `lib -> /etc` followed by `lib/passwd` cannot reach the host.

The tar is read as a stream (gzip, zstd or plain, told apart by their magic numbers, since some
registries label layers wrongly) and its uncompressed bytes are hashed on the way: the result
must be the layer's diffID from the image config.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import logging
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kubelite.runtime.images import digests

log = logging.getLogger(__name__)

# OCI image spec layer.md: whiteout file prefixes.
WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
# Linux overlayfs: the xattr that marks a directory opaque.
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
# GNU tar / star: PAX records that carry extended attributes.
PAX_XATTR_PREFIX = "SCHILY.xattr."
# The extended attributes a layer may set; others (security.selinux, trusted.*) belong to the
# host, and trusted.overlay.* coming from a layer would fake whiteouts.
ALLOWED_XATTR_PREFIXES = ("user.", "security.capability")

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


class LayerFormatError(ValueError):
    """The layer tar is malformed or tries to write outside its directory."""


@dataclass(frozen=True, slots=True)
class UnpackResult:
    """The digest and size of a layer's uncompressed tar, computed while unpacking it, so that the
    pull can check it against the config's diff ID."""

    diff_id: str  # sha256 of the uncompressed tar
    size: int  # bytes of the uncompressed tar


class _HashingReader:
    """A read-only stream that hashes everything read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.hash.update(data)
        self.count += len(data)
        return data

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def open_decompressed(f: BinaryIO) -> BinaryIO:
    """The uncompressed stream of a layer blob, whatever its compression."""
    magic = f.read(4)
    f.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        # GzipFile reads as any binary file does; typeshed does not derive it from BinaryIO.
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    if magic == _ZSTD_MAGIC:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True)
    return f


def _entry_parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerFormatError(f"entry {name!r} escapes the layer directory")
    return parts


class _Unpacker:
    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.as_root = os.geteuid() == 0
        # Relative paths of the directories this unpack made: the only parents it writes through.
        self.dirs: set[str] = {""}
        self.dir_attrs: list[tuple[str, tarfile.TarInfo]] = []

    def full(self, rel: str) -> str:
        return os.path.join(self.dest, rel) if rel else str(self.dest)

    def ensure_parent(self, parts: list[str]) -> str:
        """Make the parent directories of an entry; refuse any that is not a directory we made."""
        rel = ""
        for part in parts[:-1]:
            rel = f"{rel}/{part}" if rel else part
            if rel in self.dirs:
                continue
            try:
                os.mkdir(self.full(rel), 0o755)
            except FileExistsError as e:
                raise LayerFormatError(
                    f"entry {'/'.join(parts)!r} goes through {rel!r}, which is not a directory"
                ) from e
            self.dirs.add(rel)
        return rel

    def clear(self, rel: str, *, keep_dir: bool) -> bool:
        """Remove what is at `rel` before an entry replaces it; True if a directory stays."""
        path = self.full(rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            shutil.rmtree(path)
            prefix = rel + "/"
            self.dirs = {d for d in self.dirs if d != rel and not d.startswith(prefix)}
        else:
            os.unlink(path)
        return False

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _entry_parts(member.name)
        if not parts:
            if member.isdir():
                self.dir_attrs.append(("", member))
            return
        base = parts[-1]
        parent = self.ensure_parent(parts)
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(parent, base)
            return
        rel = f"{parent}/{base}" if parent else base
        path = self.full(rel)
        if member.isdir():
            if not self.clear(rel, keep_dir=True):
                os.mkdir(path, 0o700)
            self.dirs.add(rel)
            self.dir_attrs.append((rel, member))
            self.set_xattrs(path, member)
            return
        self.clear(rel, keep_dir=False)
        if member.isreg():
            self.write_file(tf, member, path)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            self.hardlink(member, path)
            return  # a hardlink shares the target's inode: its attributes are the target's
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            if not self.mknod(path, kind | (member.mode & 0o7777), device):
                return
        elif member.isfifo():
            os.mkfifo(path, member.mode & 0o7777)
        else:
            log.debug("skipping tar entry %s of type %r", member.name, member.type)
            return
        self.set_attrs(path, member)
        self.set_xattrs(path, member)

    def whiteout(self, parent: str, base: str) -> None:
        parent_path = self.full(parent)
        if base == WHITEOUT_OPAQUE:
            try:
                os.setxattr(parent_path, OVERLAY_OPAQUE_XATTR, b"y")
            except PermissionError:
                if self.as_root:
                    raise
                log.debug("not root: cannot mark %s opaque", parent_path)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs' own bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to unpack
        name = base[len(WHITEOUT_PREFIX) :]
        if not name or name in (".", ".."):
            raise LayerFormatError(f"invalid whiteout {base!r}")
        rel = f"{parent}/{name}" if parent else name
        self.clear(rel, keep_dir=False)
        # Linux >= 5.8 lets anyone make a 0/0 whiteout device, so this works without root too.
        os.mknod(self.full(rel), stat.S_IFCHR, os.makedev(0, 0))

    def mknod(self, path: str, mode: int, device: int) -> bool:
        try:
            os.mknod(path, mode, device)
        except PermissionError:
            if self.as_root:
                raise
            log.debug("not root: skipping device %s", path)
            return False
        return True

    def write_file(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        source = tf.extractfile(member)
        assert source is not None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with open(os.open(path, flags, 0o600), "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)

    def hardlink(self, member: tarfile.TarInfo, path: str) -> None:
        target_parts = _entry_parts(member.linkname)
        target_parent = "/".join(target_parts[:-1])
        if not target_parts or target_parent not in self.dirs:
            raise LayerFormatError(
                f"hardlink {member.name!r} points at {member.linkname!r}, not in this layer"
            )
        target = self.full("/".join(target_parts))
        try:
            os.link(target, path, follow_symlinks=False)
        except FileNotFoundError as e:
            raise LayerFormatError(
                f"hardlink {member.name!r} points at {member.linkname!r}, not in this layer"
            ) from e
        except PermissionError as e:  # the target is a directory
            raise LayerFormatError(
                f"hardlink {member.name!r} points at {member.linkname!r}, not a file"
            ) from e

    def set_attrs(self, path: str, member: tarfile.TarInfo) -> None:
        if self.as_root:
            os.lchown(path, member.uid, member.gid)
        if not member.issym():
            # After chown, which clears the setuid and setgid bits.
            os.chmod(path, member.mode & 0o7777)
        mtime_ns = int(member.mtime * 1_000_000_000)
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def set_xattrs(self, path: str, member: tarfile.TarInfo) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith(PAX_XATTR_PREFIX):
                continue
            name = key[len(PAX_XATTR_PREFIX) :]
            if not name.startswith(ALLOWED_XATTR_PREFIXES):
                continue
            raw = value.encode("utf-8", "surrogateescape")
            try:
                os.setxattr(path, name, raw, follow_symlinks=False)
            except OSError as e:
                # Symlinks cannot carry user.* xattrs, and some filesystems none at all.
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                log.debug("cannot set xattr %s on %s: %s", name, path, e)

    def finish_dirs(self) -> None:
        # Deepest first, so that setting a directory's mtime is the last change inside it.
        for rel, member in sorted(
            self.dir_attrs, key=lambda item: item[0].count("/"), reverse=True
        ):
            self.set_attrs(self.full(rel), member)


def unpack_layer(blob: Path, dest: Path) -> UnpackResult:
    """Unpack the layer in file `blob` into the empty directory `dest`.

    Returns the diffID and size of the uncompressed tar; the caller compares the diffID with the
    image config's. Raises LayerFormatError for an unsafe or broken tar.
    """
    unpacker = _Unpacker(dest)
    with open(blob, "rb") as raw:
        reader = _HashingReader(open_decompressed(raw))
        try:
            # typeshed asks any fileobj for write, seek and tell; a stream ("r|") only reads.
            with tarfile.open(fileobj=reader, mode="r|") as tf:  # type: ignore[call-overload]
                for member in tf:
                    unpacker.apply(tf, member)
            # The tar's end blocks and any padding after them count towards the diffID too.
            reader.drain()
        except (tarfile.TarError, EOFError, gzip.BadGzipFile) as e:
            raise LayerFormatError(f"broken layer archive: {e}") from e
        except OSError as e:
            if e.errno is None:  # zstandard and zlib report corrupt data as a bare error
                raise LayerFormatError(f"broken layer archive: {e}") from e
            raise
    unpacker.finish_dirs()
    return UnpackResult(f"sha256:{reader.hash.hexdigest()}", reader.count)


def diff_id_of(blob: Path) -> str:
    """The diffID of a layer blob without unpacking it: the sha256 of its uncompressed bytes."""
    with open(blob, "rb") as raw:
        reader = _HashingReader(open_decompressed(raw))
        reader.drain()
    return f"sha256:{reader.hash.hexdigest()}"


def check_diff_id(result: UnpackResult, expected: str) -> None:
    if result.diff_id != expected:
        raise digests.DigestError(
            f"layer diffID mismatch: expected {expected}, got {result.diff_id}"
        )
