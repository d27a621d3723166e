"""The layer store: each layer unpacked once, into `<root>/layers/<diffID hex>/`.

A layer's directory holds only that layer's changes, whiteouts included (`unpack.py`), so one
directory serves every image that has the layer, under any parent: overlayfs stacks them
(`lowerdir=top:...:bottom`). A layer is unpacked into a temp directory beside the others and
renamed into place once its diffID checked out, so a directory under its final name is always
complete. Removal renames it into `<root>/trash/` first (quick, under the store's lock) and
deletes it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from kubelite.runtime.images import digests
from kubelite.runtime.images.records import pid_alive


class LayerStore:
    """The unpacked layers of every image, one directory per diff ID, shared by the images that have
    the layer and used as overlayfs lower directories."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "layers"
        self.trash_dir = root / "trash"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.trash_dir.mkdir(parents=True, exist_ok=True)

    def path(self, diff_id: str) -> Path:
        _, hexpart = digests.split(diff_id)
        return self.dir / hexpart

    def has(self, diff_id: str) -> bool:
        return self.path(diff_id).is_dir()

    def new_temp(self, diff_id: str) -> Path:
        """An empty directory to unpack into, on the same filesystem as the final place."""
        _, hexpart = digests.split(diff_id)
        prefix = f".tmp-{os.getpid()}-{hexpart[:12]}-"
        temp = Path(tempfile.mkdtemp(prefix=prefix, dir=self.dir))
        temp.chmod(0o755)  # the layer's "./" entry, if it has one, sets it again
        return temp

    def publish(self, temp: Path, diff_id: str) -> None:
        """Give an unpacked temp directory its final name; if another unpack won, drop ours."""
        try:
            os.rename(temp, self.path(diff_id))
        except OSError:
            if not self.has(diff_id):
                raise
            remove_tree(temp)

    def all_diff_ids(self) -> set[str]:
        return {f"sha256:{p.name}" for p in self.dir.iterdir() if not p.name.startswith(".")}

    def trash(self, diff_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path(diff_id), self.trash_dir / uuid.uuid4().hex)

    def empty_trash(self) -> None:
        for entry in self.trash_dir.iterdir():
            remove_tree(entry)

    def clean_temps(self) -> None:
        """Remove temp directories of unpacks whose process died (`.tmp-<pid>-...`)."""
        for entry in self.dir.iterdir():
            if entry.name.startswith(".tmp-") and not pid_alive(_pid_of(entry.name[5:])):
                remove_tree(entry)
        self.empty_trash()


def _pid_of(name: str) -> int:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def remove_tree(path: Path) -> None:
    """rmtree that also copes with directories a layer left without write permission."""

    def make_writable_and_retry(
        function: Callable[[str], object], failed_path: str, _exc_info: object
    ) -> None:
        parent = os.path.dirname(failed_path)
        with contextlib.suppress(OSError):
            os.chmod(parent, 0o700)
        with contextlib.suppress(FileNotFoundError):
            function(failed_path)

    shutil.rmtree(path, onerror=make_writable_and_retry)


def _unescape_mountinfo(text: str) -> str:
    # proc(5): mountinfo escapes space, tab, newline and backslash as octal.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text)


def mounted_lowerdirs(mountinfo: Path = Path("/proc/self/mountinfo")) -> set[str]:
    """Every directory that an overlay mount of this mount namespace uses as a lower layer."""
    found: set[str] = set()
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, sep, tail = line.partition(" - ")
        fields = tail.split(" ")
        if not sep or len(fields) < 3 or fields[0] != "overlay":
            continue
        for option in fields[2].split(","):
            if option.startswith("lowerdir="):
                lower = _unescape_mountinfo(option[len("lowerdir=") :])
                found.update(p.replace("\\:", ":") for p in re.split(r"(?<!\\):", lower) if p)
    return found
