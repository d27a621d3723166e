"""What every describer prints with: `PrefixWriter` and the values and blocks they share.

kubectl builds a description by writing `Label:\\tvalue` lines, indented two spaces per level,
into a tabwriter (padding 2) that it flushes once at the end and once before the Events table
(k8s.io/kubectl/pkg/describe). The functions here write the same lines in the same order, so
that `PrefixWriter` and `TabWriter` produce kubectl's layout, alignment included. The blocks
here (labels, annotations, tolerations, a label selector, the controller) appear in the
descriptions of several kinds; a value is printed as Go prints it (`%v`, RFC1123Z times).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from kubelite.api import meta
from kubelite.api.types import Obj
from kubelite.cli.output import DESCRIBE_MIN_WIDTH, DESCRIBE_PADDING, TabWriter, go_float

# describe.go's maxAnnotationLen: longer annotations are wrapped and shortened.
MAX_ANNOTATION_LEN = 140
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

NONE = "<none>"


class PrefixWriter:
    """describe.go's PrefixWriter: each level indents two spaces, into a tabwriter."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._tab = TabWriter(self._out, min_width=DESCRIBE_MIN_WIDTH, padding=DESCRIBE_PADDING)

    def write(self, level: int, text: str) -> None:
        self._tab.write("  " * level + text)

    def write_line(self, text: str = "") -> None:
        """WriteLine: the text and a newline, without indentation."""
        self._tab.write(text + "\n")

    def flush(self) -> None:
        self._tab.flush()

    def text(self) -> str:
        self._tab.flush()
        return self._out.getvalue()


def rfc1123z(timestamp: str | None) -> str:
    """A timestamp as Go's time.RFC1123Z in local time: `Mon, 02 Jan 2006 15:04:05 -0700`."""
    when = meta.parse_time(timestamp or "")
    if when is None:
        # The zero time.Time, which is what Go formats for a missing timestamp.
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return when.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def since(timestamp: str | None, now: dt.datetime) -> str:
    """translateTimestampSince: `5m`, or `<unknown>` for no timestamp."""
    when = meta.parse_time(timestamp or "")
    if when is None:
        return "<unknown>"
    return meta.human_duration((now - when).total_seconds())


def go_value(value: Any) -> str:
    """A JSON value as Go's `%v` prints it from an unstructured object."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    return str(value)


def string_or_none(text: str) -> str:
    return text if text else NONE


def bool_text(value: Any) -> str:
    """printBool: `True` or `False`."""
    return "True" if value else "False"


def multiline(
    w: PrefixWriter, title: str, lines: list[str], initial_indent: str = "", level: int = 0
) -> None:
    """The shape of kubectl's `print...Multiline` helpers: `Title:  first` with the other lines
    aligned below it, or `Title:  <none>`. `initial_indent` goes before the title and before
    each further line; `level` indents every piece, as kubectl does for CSI attributes."""
    w.write(level, f"{initial_indent}{title}:\t")
    if not lines:
        w.write_line(NONE)
        return
    for i, line in enumerate(lines):
        if i:
            w.write(level, f"{initial_indent}\t")
        w.write(level, f"{line}\n")


def labels_multiline(
    w: PrefixWriter, title: str, labels: dict[str, str] | None, initial_indent: str = ""
) -> None:
    """printLabelsMultilineWithIndent: `Labels:  a=b` and further pairs aligned below."""
    pairs = [f"{key}={value}" for key, value in sorted((labels or {}).items())]
    multiline(w, title, pairs, initial_indent)


def name_and_namespace(w: PrefixWriter, obj: Obj) -> None:
    """The Name and Namespace lines that open the description of a namespaced object."""
    w.write(0, f"Name:\t{meta.name_of(obj)}\n")
    w.write(0, f"Namespace:\t{meta.namespace_of(obj)}\n")


def named_with_labels(w: PrefixWriter, obj: Obj) -> None:
    """Name, Namespace, Labels and Annotations: the whole opening of the describers that print
    nothing between them."""
    name_and_namespace(w, obj)
    metadata_labels(w, obj)


def metadata_labels(w: PrefixWriter, obj: Obj) -> None:
    """The Labels and Annotations lines that nearly every description has after its name."""
    labels_multiline(w, "Labels", meta.labels_of(obj))
    annotations_multiline(w, "Annotations", meta.get_path(obj, "metadata", "annotations"))


def annotations_multiline(w: PrefixWriter, title: str, annotations: dict[str, str] | None) -> None:
    """printAnnotationsMultiline; the last-applied configuration is never shown."""
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.write_line(NONE)
        return
    assert annotations is not None
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for part in value.split("\n"):
                shortened = part
                if len(part) > MAX_ANNOTATION_LEN - 2:
                    shortened = part[: MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {shortened}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def tolerations_multiline(w: PrefixWriter, title: str, tolerations: list[Obj]) -> None:
    """printTolerationsMultilineWithIndent."""
    ordered = sorted(tolerations, key=lambda t: t.get("key", ""))
    multiline(w, title, [_toleration_text(t) for t in ordered])


def _toleration_text(t: Obj) -> str:
    """A toleration as kubectl lists it: `key=value:Effect`, ` op=Exists`, ` for 300s`."""
    key, value, effect = t.get("key", ""), t.get("value", ""), t.get("effect", "")
    text = key
    if value:
        text += f"={value}"
    if effect:
        text += f":{effect}"
    if t.get("operator") == "Exists" and not value:
        text += " op=Exists" if key or effect else "op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {t['tolerationSeconds']}s"
    return text


def controller_of(obj: Obj) -> str:
    for ref in meta.get_path(obj, "metadata", "ownerReferences", default=[]):
        if ref.get("controller"):
            return f"{ref.get('kind', '')}/{ref.get('name', '')}"
    return ""


def controlled_by(w: PrefixWriter, obj: Obj) -> None:
    """The `Controlled By:  Kind/name` line, for an object that has a controller."""
    controller = controller_of(obj)
    if controller:
        w.write(0, f"Controlled By:\t{controller}\n")
