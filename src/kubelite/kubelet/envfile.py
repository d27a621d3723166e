"""The env files of `valueFrom.fileKeyRef`: their format and their place in a volume.

KEP-3721 (the `EnvFiles` gate, beta and on since Kubernetes 1.35): a container (usually an init
container) writes an env file into an emptyDir, and the kubelet reads one key of it when it
starts another container. The kubelet's part (`makeEnvironmentVariables` in kubelet_pods.go):

- the volume must be one of the pod's mounted volumes, else `cannot find the volume "v"
  referenced by FileKeyRef`;
- the file is `path` joined under the volume's host directory the way filepath-securejoin does
  it, so neither `..` nor a symlink the writer planted can lead outside the volume;
- the file is parsed by `pkg/kubelet/util/env.ParseEnv`; any parse or read error (a missing file
  too) is logged and reported to the user only as `couldn't parse env file`, since the file may
  hold secrets;
- a key that is missing, or whose value is empty, is skipped when `optional`, else
  `environment variable key "K" not found in file "<host path>"`.

`envvars` turns what is read here into the variable's value and the kubelet's errors. The file
format is the one 1.35 settled on (kubernetes/kubernetes#133606, KEP-3721 beta): a subset of
POSIX shell assignments that any shell reads the same way, values single-quoted and taken
literally (`DB='postgres'`; `DB=postgres` is refused); see `parse_env`.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from pathlib import Path

from kubelite.api.goformat import go_quote

# filepath-securejoin gives up after this many symlinks (ELOOP), as the kernel does.
MAX_SYMLINKS = 255
# bufio.Scanner's default buffer: a longer line is an error ("token too long").
MAX_LINE_BYTES = 64 * 1024


class EnvFileError(Exception):
    """The env file cannot be read or does not follow the format; the message is ParseEnv's."""


# --- the file format (pkg/kubelet/util/env/env_util.go ParseEnv) --------------------------------


def _lines(data: bytes) -> Iterator[str]:
    """The file's lines as bufio.ScanLines gives them: split at `\\n`, one trailing `\\r`
    dropped, a final line without newline kept, an empty last line not produced."""
    for raw in data.split(b"\n")[: -1 if data.endswith(b"\n") else None]:
        if len(raw) > MAX_LINE_BYTES:
            raise ValueError("bufio.Scanner: token too long")
        yield raw.removesuffix(b"\r").decode(errors="replace")


def parse_env(text_lines: Iterator[str], key: str) -> str:
    """The value of `key` in an env file ("" when it is not there), or EnvFileError.

    The rules, each of which bash agrees with:
    - leading blanks are ignored, blank lines and lines starting with `#` skipped;
    - a line is `NAME='value'`: no blank before `=`, the value in single quotes, taken
      literally (no escapes, no expansion) and possibly spanning lines (the newlines kept);
    - after the closing quote only blanks and a `# comment` may follow;
    - a blank right after `=` assigns the empty string (`K= 'v'` makes K empty, as in bash);
    - the first assignment of the key wins: the file is read only up to it.
    """
    line_num = 0
    for line in text_lines:
        line_num += 1
        line = line.lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        name_part, eq, value_part = line.partition("=")
        if not eq:
            raise EnvFileError(
                f"invalid environment variable format at line {line_num}: missing '='"
            )
        name = name_part.rstrip(" \t")
        if not name:
            raise EnvFileError(
                f"invalid environment variable format at line {line_num}: empty variable name"
            )
        if name != name_part:
            raise EnvFileError(
                f"invalid environment variable format at line {line_num}: "
                "whitespace before '=' is not allowed"
            )
        value = value_part.lstrip(" \t")
        if value != value_part:
            # `K= 'v'` is an empty assignment followed by a command, to a shell.
            if name == key:
                return ""
            continue
        if not value.startswith("'"):
            raise EnvFileError(
                f"invalid environment variable format at line {line_num}: "
                "value must be enclosed in single quotes"
            )
        rest, start_line, parts = value[1:], line_num, []
        while True:
            closing = rest.find("'")
            if closing != -1:
                parts.append(rest[:closing])
                after = rest[closing + 1 :].lstrip(" \t")
                if after and not after.startswith("#"):
                    raise EnvFileError(
                        f"invalid environment variable format at line {line_num}: "
                        "unexpected content after closing quote"
                    )
                if name == key:
                    return "".join(parts)
                break
            parts.append(rest + "\n")
            following = next(text_lines, None)
            if following is None:
                raise EnvFileError(
                    f"invalid environment variable format starting at line {start_line}: "
                    "unclosed single quote"
                )
            line_num += 1
            rest = following
    return ""


def read_env_key(path: Path, key: str) -> str:
    """ParseEnv on a file: the key's value, "" when absent; EnvFileError when the file cannot
    be opened or read, or breaks the format."""
    try:
        data = path.read_bytes()
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        raise EnvFileError(
            f"failed to open environment variable file {go_quote(str(path))}: open {path}: {reason}"
        ) from e
    lines = _lines(data)
    try:
        return parse_env(lines, key)
    except ValueError as e:
        raise EnvFileError(
            f"error reading environment variable file {go_quote(str(path))}: {e}"
        ) from e


# --- the file's place (github.com/cyphar/filepath-securejoin SecureJoin) ------------------------


def _clean(path: str) -> str:
    """filepath.Clean of an absolute path (Python keeps a leading `//`; Go does not)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/")


def secure_join(root: Path, unsafe: str) -> Path:
    """`unsafe` resolved inside `root` as if `root` were `/`: `..` stops at the root, and each
    symlink met on the way is followed within the root (an absolute target starts over from
    it). Parts that do not exist are joined as they are. Why: the file's writer is the pod, and
    the kubelet reads it as root on the host."""
    base = str(root)
    remaining = unsafe
    done = ""  # the resolved part, relative to root, free of symlinks
    links = 0
    while remaining:
        if links > MAX_SYMLINKS:
            raise OSError(40, "too many levels of symbolic links", f"{base}/{remaining}")
        part, _, remaining = remaining.partition("/")
        scoped = _clean("/" + done + part)
        if scoped == "/":
            done = ""
            continue
        full = _clean(base + scoped)
        try:
            mode = os.lstat(full).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = 0
        if not stat.S_ISLNK(mode):
            done += part + "/"
            continue
        links += 1
        target = os.readlink(full)
        if target.startswith("/"):
            done = ""
        remaining = target + "/" + remaining
    return Path(_clean(base + _clean("/" + done)))
