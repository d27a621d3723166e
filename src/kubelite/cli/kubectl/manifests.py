"""Reading the objects of `-f`: files, directories (`-R` to recurse), `-` for stdin.

kubectl reads every argument of `-f` in order; a directory contributes its `.json`, `.yaml` and
`.yml` files in name order; a file may hold several YAML documents (`---`) and a `kind: List`
stands for its items. Each object keeps the name of its source, which every message about it
repeats (`error when creating "pod.yaml": ...`, `STDIN` for `-`).

YAML is read as sigs.k8s.io/yaml reads it (YAML to JSON): dates and times stay strings, `1:20`
is not a sexagesimal number, `=` is a plain string. A document that cannot be read is a
`ManifestError` that names the file, the line and the column, and nothing is applied.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from kubelite.api.types import Obj

STDIN = "STDIN"
EXTENSIONS = (".json", ".yaml", ".yml")


class ManifestError(Exception):
    """A manifest that cannot be read; the message is what kubectl would print after `error: `."""


@dataclass(frozen=True)
class Manifest:
    """One object to send, and the file (or `STDIN`) it came from."""

    source: str
    obj: Obj


class _ManifestLoader(yaml.CSafeLoader):
    """YAML resolved the way Kubernetes tools resolve it when they turn YAML into JSON."""


# Start from SafeLoader's implicit types, without timestamps (Kubernetes keeps them as strings),
# without the `=` value tag (which SafeLoader cannot even construct), and with integers limited
# to decimal, hex, octal and binary, so that `8080:80` stays a string.
_ManifestLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")
        and tag != "tag:yaml.org,2002:int"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ManifestLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o?[0-7]+|0b[01]+)$"),
    list("-+0123456789"),
)


def _yaml_error(source: str, text: str, error: yaml.YAMLError) -> ManifestError:
    """`error parsing f: yaml: line 4, column 1: found character that cannot start any token`,
    with a hint when that character is a tab."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return ManifestError(
            f"error parsing {source}: error converting YAML to JSON: yaml: {problem}"
        )
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    hint = ""
    if line[mark.column : mark.column + 1] == "\t":
        hint = " (a tab: YAML must be indented with spaces)"
    return ManifestError(
        f"error parsing {source}: error converting YAML to JSON: yaml: line {mark.line + 1}, "
        f"column {mark.column + 1}: "
        f"{problem}{hint}"
    )


def _parse_documents(text: str, source: str) -> list[Any]:
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError:
            pass  # Not JSON after all: YAML that starts with a flow collection.
    try:
        return list(yaml.load_all(text, Loader=_ManifestLoader))
    except yaml.YAMLError as e:
        raise _yaml_error(source, text, e) from e


def _check(source: str, doc: Any) -> None:
    if not isinstance(doc, dict):
        raise ManifestError(
            f'error validating "{source}": error validating data: invalid object to validate'
        )
    for key in ("apiVersion", "kind"):
        if not doc.get(key):
            raise ManifestError(
                f'error validating "{source}": error validating data: {key} not set'
            )


def parse_manifests(text: str, source: str) -> list[Manifest]:
    """The objects of one file's text; `kind: List` and `*List` kinds expand to their items."""
    manifests: list[Manifest] = []
    for doc in _parse_documents(text, source):
        if doc is None:
            continue
        _check(source, doc)
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                _check(source, item)
                manifests.append(Manifest(source, item))
        else:
            manifests.append(Manifest(source, doc))
    return manifests


def _files_in(directory: Path, recursive: bool) -> list[Path]:
    found: list[Path] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir():
            if recursive:
                found.extend(_files_in(entry, recursive))
        elif entry.suffix in EXTENSIONS:
            found.append(entry)
    return found


def read_manifests(
    filenames: list[str], *, recursive: bool = False, stdin: TextIO | None = None
) -> list[Manifest]:
    """Every object named by the `-f` arguments, in order."""
    manifests: list[Manifest] = []
    for filename in filenames:
        if filename == "-":
            text = (stdin or sys.stdin).read()
            manifests.extend(parse_manifests(text, STDIN))
            continue
        if filename.startswith(("http://", "https://")):
            raise ManifestError(f'cannot read "{filename}": kubelite reads files and stdin only')
        path = Path(filename)
        if not path.exists():
            raise ManifestError(f'the path "{filename}" does not exist')
        if path.is_dir():
            files = _files_in(path, recursive)
            if not files:
                raise ManifestError(
                    f"error reading [{filename}]: recognized file extensions are "
                    f"[{' '.join(EXTENSIONS)}]"
                )
        else:
            files = [path]
        for file in files:
            shown = filename if file == path else str(file)
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as e:
                raise ManifestError(f"error reading {shown}: {e}") from e
            manifests.extend(parse_manifests(text, shown))
    return manifests
