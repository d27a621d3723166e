"""Printing the way kubectl prints: aligned tables, YAML, JSON and `kind/name`.

kubectl lays out every table with Go's `text/tabwriter`: cells end with a tab, and each column
block (consecutive lines that have a cell in that column) is as wide as its widest cell plus
the padding. `TabWriter` implements that algorithm, so `get` (minimum width 6, padding 3,
widths remembered across flushes for `get -w`, as kubectl's fork of tabwriter does) and
`describe` (padding 2) come out character for character like kubectl's.

YAML is written as kubectl writes it (go-yaml v2 through sigs.k8s.io/yaml): keys in go-yaml's
order, sequences not indented under their key, double quotes where quotes are needed, block
literals for text with newlines. JSON is Go's `json.MarshalIndent` with four spaces: keys sorted,
and `<`, `>`, `&` escaped, as Go's encoder does by default.
"""

from __future__ import annotations

import functools
import json
from typing import Any, TextIO

import yaml

from kubelite.api.types import Obj

# k8s.io/cli-runtime/pkg/printers/tabwriter.go: the writer behind every `kubectl get` table.
GET_MIN_WIDTH = 6
GET_PADDING = 3
# k8s.io/kubectl/pkg/describe: tabbedString's writer.
DESCRIBE_MIN_WIDTH = 0
DESCRIBE_PADDING = 2


class TabWriter:
    """Go's text/tabwriter with space padding, plus the RememberWidths flag of kubectl's fork.

    Text is buffered until `flush()`; a cell is text followed by a tab, and the text after the
    last tab of a line is not part of any column.
    """

    def __init__(
        self, out: TextIO, *, min_width: int, padding: int, remember_widths: bool = False
    ) -> None:
        self._out = out
        self._min_width = min_width
        self._padding = padding
        self._remember = remember_widths
        self._remembered: list[int] = []
        self._buffer: list[str] = []

    def write(self, text: str) -> None:
        self._buffer.append(text)

    def flush(self) -> None:
        text = "".join(self._buffer)
        self._buffer.clear()
        if not text:
            return
        lines = [line.split("\t") for line in text.split("\n")]
        out: list[str] = []
        self._format(lines, 0, len(lines), [], out)
        self._out.write("".join(out))
        self._out.flush()

    def forget_widths(self) -> None:
        """Start the next table without the widths of the last one (SetRememberedWidths(nil))."""
        self._remembered = []

    def _format(
        self, lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str]
    ) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            # The lines before this one have no cell in this column: print them as they are.
            self._write_lines(lines, line0, this, widths, out)
            line0 = this
            width = self._min_width
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + self._padding)
                this += 1
            if self._remember:
                if column < len(self._remembered):
                    width = max(width, self._remembered[column])
                    self._remembered[column] = width
                else:
                    self._remembered.append(width)
            widths.append(width)
            self._format(lines, line0, this, widths, out)
            widths.pop()
            line0 = this
        self._write_lines(lines, line0, line1, widths, out)

    @staticmethod
    def _write_lines(
        lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str]
    ) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                out.append(cell)
                if j < len(widths):
                    out.append(" " * (widths[j] - len(cell)))
            if i + 1 < len(lines):
                out.append("\n")


def get_tab_writer(out: TextIO) -> TabWriter:
    """The writer `kubectl get` prints tables with."""
    return TabWriter(out, min_width=GET_MIN_WIDTH, padding=GET_PADDING, remember_widths=True)


def go_float(value: float) -> str:
    """A float64 as Go's `%v` prints it: `1.5`, `3`, `1e+21`."""
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa.removesuffix('.0')}e{sign}{exponent.lstrip('+-').zfill(2)}"
    return text


def format_cell(value: Any) -> str:
    """A Table cell as kubectl prints it: text up to its first newline, numbers as Go does."""
    if value is None:
        return ""
    if isinstance(value, str):
        line, newline, _ = value.partition("\n")
        return line + "..." if newline else line
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict | list):
        return go_json(value)
    return str(value)


# --- names ------------------------------------------------------------------------------------


def kind_prefix(kind: str, group: str) -> str:
    """`pod`, `deployment.apps`: how `-o name` and multi-type tables name a kind."""
    return f"{kind.lower()}.{group}" if group else kind.lower()


def object_name(kind: str, group: str, name: str) -> str:
    """`pod/web`, `deployment.apps/web`."""
    return f"{kind_prefix(kind, group)}/{name}"


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: `k=v` pairs sorted by key and joined by commas, or `<none>`."""
    if not labels:
        return "<none>"
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


# --- JSON -------------------------------------------------------------------------------------

# Go's encoder escapes these inside strings; they cannot occur outside strings in JSON text.
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_GO_ESCAPE_TABLE = str.maketrans(_GO_ESCAPES)


def go_json(value: Any, *, indent: int | None = None) -> str:
    """JSON as Go's encoding/json writes a map: sorted keys, compact or indented."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(
        value, sort_keys=True, ensure_ascii=False, indent=indent, separators=separators
    )
    return text.translate(_GO_ESCAPE_TABLE)


def to_json(obj: Any) -> str:
    """`-o json`: four-space indentation and a final newline."""
    return go_json(obj, indent=4) + "\n"


# --- YAML -------------------------------------------------------------------------------------


def _go_yaml_less(a: str, b: str) -> bool:
    """go-yaml v2's key order (keyList.Less): letters after other characters, and runs of
    digits compared as numbers, so `a2` sorts before `a10`."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        la, lb = ca.isalpha(), cb.isalpha()
        if la and lb:
            return ca < cb
        if la or lb:
            return lb
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _go_yaml_compare(a: str, b: str) -> int:
    if _go_yaml_less(a, b):
        return -1
    if _go_yaml_less(b, a):
        return 1
    return 0


_GO_YAML_KEY = functools.cmp_to_key(_go_yaml_compare)


class _GoStyleDumper(yaml.SafeDumper):
    """A SafeDumper that quotes with double quotes, like go-yaml."""

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.Node:
    items = sorted(data.items(), key=lambda item: _GO_YAML_KEY(str(item[0])))
    return dumper.represent_mapping("tag:yaml.org,2002:map", items)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # go-yaml writes text with newlines as a block literal (`|` or `|-`).
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_GoStyleDumper.add_representer(dict, _represent_dict)
_GoStyleDumper.add_representer(str, _represent_str)


def to_yaml(obj: Any) -> str:
    """`-o yaml`, as kubectl prints it."""
    return yaml.dump(
        obj, Dumper=_GoStyleDumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def as_list(items: list[Obj]) -> Obj:
    """The `v1 List` kubectl prints several objects in with `-o yaml|json`."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
