"""The text of `kubectl describe` for kinds without a describer of their own
(genericDescriber): every field of the object, sorted, labelled as kubectl labels it.
"""

from __future__ import annotations

import datetime as dt

from kubelite.cli.kubectl.describe.events import describe_events
from kubelite.cli.kubectl.describe.printing import (
    Obj,
    PrefixWriter,
    go_value,
    named_with_labels,
)


def _camel_split(word: str) -> list[str]:
    """github.com/fatih/camelcase.Split: `podIPs` -> `pod`, `I`, `Ps`."""

    def char_class(ch: str) -> int:
        if ch.islower():
            return 1
        if ch.isupper():
            return 2
        if ch.isdigit():
            return 3
        return 4

    runs: list[list[str]] = []
    last = 0
    for ch in word:
        cls = char_class(ch)
        if cls == last:
            runs[-1].append(ch)
        else:
            runs.append([ch])
        last = cls
    for i in range(len(runs) - 1):
        if runs[i][0].isupper() and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(run) for run in runs if run]


_ACRONYMS = {"API", "URL", "UID", "OSB", "GUID"}


def smart_label(field: str) -> str:
    """smartLabelFor: `creationTimestamp` -> `Creation Timestamp`, `apiVersion` -> `API Version`."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = []
    for part in _camel_split(field):
        if part == "_":
            continue
        parts.append(part.upper() if part.upper() in _ACRONYMS else part[:1].upper() + part[1:])
    return " ".join(parts)


_GENERIC_SKIP = (
    ".metadata.managedFields",
    ".metadata.name",
    ".metadata.namespace",
    ".metadata.labels",
    ".metadata.annotations",
)


def _unstructured(w: PrefixWriter, level: int, content: Obj, prefix: str) -> None:
    """printUnstructuredContent: every field, sorted, nested by indentation."""
    for key in sorted(content):
        value = content[key]
        path = f"{prefix}.{key}"
        if path in _GENERIC_SKIP:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(key)}:\n")
            _unstructured(w, level + 1, value, path)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(key)}:\n")
            for item in value:
                if isinstance(item, dict):
                    _unstructured(w, level + 1, item, path)
                else:
                    w.write(level + 1, f"{go_value(item)}\n")
        else:
            w.write(level, f"{smart_label(key)}:\t{go_value(value)}\n")


def describe_generic(obj: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """genericDescriber, for kinds without a describer of their own."""
    w = PrefixWriter()
    named_with_labels(w, obj)
    _unstructured(w, 0, obj, "")
    describe_events(w, events, now)
    return w.text()
