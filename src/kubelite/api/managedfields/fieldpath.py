"""Field paths, sets of them, and their `fieldsV1` encoding in `metadata.managedFields`.

Server-side apply records, for every manager, the set of fields it owns. Kubernetes keeps these
sets in structured-merge-diff's `fieldpath` package and writes them as `fieldsV1`, a trie of JSON
objects whose keys name one step each:

    f:<name>            a field of a struct, or a key of a map
    k:{"name":"nginx"}  the item of an associative list with these key fields (sorted by name)
    v:<json>            the item of a set list with this value
    i:<n>               the item of a list at this index
    .                   the node itself is owned, not only what is below it

Here a path element is that very string (`"f:spec"`, `'k:{"name":"nginx"}'`), so a path is a
tuple of strings and a field set a frozenset of paths: Python's set operations are the set
algebra of field ownership, and hashing a path is hashing strings. Key and value elements are
built in one canonical form (Go's JSON encoding, keys sorted), so equal items give equal strings.
Where order matters (the `fieldsV1` JSON, conflict listings), elements sort as structured-merge-
diff sorts them: fields, then keys, then values, then indexes, values compared by type then value.

A set decoded from fieldsV1 in exactly the form `encode` writes keeps that JSON
(`DecodedFieldSet`): the entries a write does not change are written back without being encoded
again.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from kubelite.api.goformat import go_quote

Path = tuple[str, ...]
FieldSet = frozenset[Path]

EMPTY: FieldSet = frozenset()

# The key of a node that is itself a member of the set, in fieldsV1.
SELF = "."


class FieldsError(ValueError):
    """A `fieldsV1` value that does not decode into a field set."""


# --- Go's JSON encoding ----------------------------------------------------------------------

# encoding/json escapes these even in a UTF-8 document (HTML safety, JavaScript line ends), and
# writes the control characters it has no short escape for as \u00XX.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HTML_UNSAFE = frozenset("<>&\u2028\u2029")
# Any character that Go writes escaped; most strings (names, paths, images) have none, and
# are then written as they are without looking at each character in Python.
_needs_escape = re.compile(r'[\x00-\x1f"\\<>&\u2028\u2029]').search


def go_string(text: str) -> str:
    """A string as Go's encoding/json writes it."""
    if _needs_escape(text) is None:
        return '"' + text + '"'
    out = ['"']
    for ch in text:
        short = _SHORT_ESCAPES.get(ch)
        if short is not None:
            out.append(short)
        elif ch < " " or ch in _HTML_UNSAFE:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_number(number: int | float) -> str:
    """A number as Go prints a float64 that holds it: integral values without a fraction."""
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    return repr(number)


def go_json(value: Any) -> str:
    """`value` as Go's encoding/json writes it: compact, map keys sorted, HTML escaped."""
    # Strings and plain integers first: they are what list keys hold.
    kind = type(value)
    if kind is str:
        return go_string(value)
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _go_number(value)
    if isinstance(value, list):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{go_string(k)}:{go_json(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"not a JSON value: {value!r}")


# --- path elements ---------------------------------------------------------------------------


def field(name: str) -> str:
    """The element of a struct field or a map key: `f:<name>`."""
    return "f:" + name


def key(fields: dict[str, Any]) -> str:
    """The element of an associative list item: `k:{...}`, key fields sorted by name."""
    return "k:" + go_json(fields)


def value(item: Any) -> str:
    """The element of a set item: `v:<json>`."""
    return "v:" + go_json(item)


def index(position: int) -> str:
    """The element of a list item by position: `i:<n>`."""
    return f"i:{position}"


# Key, value and index elements repeat from write to write (a container's `k:{"name":...}`, an
# owner's uid, a pod's IP), so what parsing and ordering them gives is remembered. Their text is
# also the client's to choose (a set list's values, a managedFields list sent in a body), so a
# cache keyed on it is bounded in entries and each entry in length; fields (`f:`, most elements)
# need no parsing and are not cached at all.
ELEMENT_CACHE_ENTRIES = 16384
CACHED_ELEMENT_LENGTH = 256


def parse_element(text: str) -> str | None:
    """A fieldsV1 key as an element in canonical form; None for a kind this version ignores.

    structured-merge-diff drops element kinds it does not know (a later version may add some)
    and refuses malformed ones.
    """
    if text[:2] == "f:":
        return text
    if len(text) > CACHED_ELEMENT_LENGTH:
        return _parse_element(text)
    return _parse_element_cached(text)


def _parse_element(text: str) -> str | None:
    if len(text) < 2 or text[1] != ":":
        raise FieldsError(f"invalid path element {text!r}")
    kind, body = text[0], text[2:]
    if kind == "i":
        try:
            return index(int(body))
        except ValueError:
            raise FieldsError(f"invalid index in {text!r}") from None
    if kind not in ("k", "v"):
        return None
    try:
        decoded = json.loads(body)
    except ValueError:
        raise FieldsError(f"invalid JSON in {text!r}") from None
    if kind == "v":
        return value(decoded)
    if not isinstance(decoded, dict):
        raise FieldsError(f"key {text!r} is not a JSON object")
    return key(decoded)


_parse_element_cached = functools.lru_cache(maxsize=ELEMENT_CACHE_ENTRIES)(_parse_element)


def _value_order(item: Any) -> tuple[Any, ...]:
    """structured-merge-diff's total order of values: numbers, strings, booleans, lists, maps."""
    if isinstance(item, bool):
        return (2, item)
    if isinstance(item, int | float):
        return (0, item)
    if isinstance(item, str):
        return (1, item)
    if isinstance(item, list):
        return (3, tuple(_value_order(x) for x in item))
    if isinstance(item, dict):
        return (4, tuple(sorted((k, _value_order(x)) for k, x in item.items())))
    return (5,)


_KIND_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


def element_order(element: str) -> tuple[Any, ...]:
    """Sort key of an element: fields by name, keys and values by value, indexes by number."""
    if element[:2] == "f:":
        return (0, element[2:])
    if len(element) > CACHED_ELEMENT_LENGTH:
        return _element_order(element)
    return _element_order_cached(element)


def _element_order(element: str) -> tuple[Any, ...]:
    kind, body = element[0], element[2:]
    rank = _KIND_RANK[kind]
    if kind == "i":
        return (rank, int(body))
    decoded = json.loads(body)
    if kind == "v":
        return (rank, _value_order(decoded))
    return (rank, tuple((name, _value_order(v)) for name, v in decoded.items()))


_element_order_cached = functools.lru_cache(maxsize=ELEMENT_CACHE_ENTRIES)(_element_order)


# --- paths as people read them ---------------------------------------------------------------


def _value_string(item: Any) -> str:
    """A value as structured-merge-diff's value.ToString prints it inside a path."""
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return _go_number(item)
    if isinstance(item, str):
        return go_quote(item)
    if isinstance(item, list):
        return "[" + ",".join(_value_string(x) for x in item) + "]"
    return "".join(f"{k}={_value_string(item[k])}" for k in sorted(item))


def element_string(element: str) -> str:
    """`.image`, `[name="nginx"]`, `[="a"]` or `[0]`: one step of a printed path."""
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "i":
        return f"[{body}]"
    decoded = json.loads(body)
    if kind == "v":
        return f"[={_value_string(decoded)}]"
    return "[" + ",".join(f"{k}={_value_string(v)}" for k, v in decoded.items()) + "]"


def path_string(path: Path) -> str:
    """A path as Kubernetes prints it: `.spec.containers[name="nginx"].image`."""
    return "".join(element_string(e) for e in path)


def dotted(paths: Iterable[str]) -> FieldSet:
    """Field sets from dotted struct paths: `["status", "metadata.deletionTimestamp"]`."""
    return _dotted(tuple(paths))


@functools.lru_cache(maxsize=64)
def _dotted(paths: tuple[str, ...]) -> FieldSet:
    # Every write names its kind's reset fields: a handful of tuples, made once.
    return frozenset(tuple(field(name) for name in p.split(".")) for p in paths)


# --- sets ------------------------------------------------------------------------------------


class Trie:
    """A field set as a tree: the elements that end a path here, and the subtrees below.

    An element can be both (a container item that is owned and has owned fields).
    """

    __slots__ = ("children", "members")

    def __init__(self) -> None:
        self.members: set[str] = set()
        self.children: dict[str, Trie] = {}

    @classmethod
    def of(cls, paths: Iterable[Path]) -> Trie:
        root = cls()
        for path in paths:
            node = root
            for element in path[:-1]:
                child = node.children.get(element)
                if child is None:
                    child = node.children[element] = cls()
                node = child
            node.members.add(path[-1])
        return root

    def elements(self) -> list[str]:
        """Every element at this level, in structured-merge-diff's order."""
        return sorted(self.members | self.children.keys(), key=element_order)


def recursive_difference(paths: FieldSet, removed: FieldSet) -> FieldSet:
    """`paths` without `removed` and all that is below a removed path (RecursiveDifference)."""
    if not removed:
        return paths
    # Only prefixes as long as a removed path can be one (reset fields are one or two long).
    lengths = sorted({len(r) for r in removed})
    kept = []
    for path in paths:
        for n in lengths:
            if n > len(path):
                kept.append(path)
                break
            if path[:n] in removed:
                break
        else:
            kept.append(path)
    return frozenset(kept)


def iter_paths(paths: FieldSet) -> Iterator[Path]:
    """The paths in structured-merge-diff's order: each level's members, then its subtrees."""

    def walk(node: Trie, prefix: Path) -> Iterator[Path]:
        for element in sorted(node.members, key=element_order):
            yield (*prefix, element)
        for element in sorted(node.children, key=element_order):
            yield from walk(node.children[element], (*prefix, element))

    return walk(Trie.of(paths), ())


# --- fieldsV1 --------------------------------------------------------------------------------


class DecodedFieldSet(frozenset[Path]):
    """A field set decoded from a `fieldsV1` object that is exactly what `encode` writes for it.

    Most entries of a write come back unchanged from the stored object; encoding such a set again
    would rebuild the same JSON, so it keeps that JSON (`fields_v1`). Set operations give plain
    frozensets, which lose it, as they should.
    """

    fields_v1: dict[str, Any]


def encode(paths: FieldSet) -> dict[str, Any]:
    """The `fieldsV1` object of a set, keys in the order Kubernetes writes them ("." first)."""
    if isinstance(paths, DecodedFieldSet):
        # A copy of the JSON it came from, which is the same JSON: fieldsV1 holds only objects.
        copied: dict[str, Any] = orjson.loads(orjson.dumps(paths.fields_v1))
        return copied
    # The paths as nested dicts, a path's own membership marked by a "." key: the same shape as
    # fieldsV1, then written level by level in order.
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for element in path:
            below = node.get(element)
            if below is None:
                below = node[element] = {}
            node = below
        node[SELF] = None
    return _written(tree)


def _written(node: dict[str, Any]) -> dict[str, Any]:
    """One level of the tree as fieldsV1: "." if owned with more below, then the elements."""
    member = SELF in node
    if member and len(node) == 1:
        return {}
    out: dict[str, Any] = {SELF: {}} if member else {}
    for element in _ordered(node):
        out[element] = _written(node[element])
    return out


def _ordered(node: dict[str, Any]) -> list[str]:
    """The elements of a level in structured-merge-diff's order."""
    elements = [element for element in node if element != SELF]
    return _in_order(elements) if elements else elements


def decode(fields: Any) -> FieldSet:
    """The set a `fieldsV1` object describes; FieldsError if it is not one.

    When `fields` is exactly what `encode` writes for that set, the set keeps it
    (`DecodedFieldSet`).
    """
    out: set[Path] = set()
    reader = _Reader(out)
    reader.read(fields, ())
    if reader.canonical:
        decoded = DecodedFieldSet(out)
        decoded.fields_v1 = fields
        return decoded
    return frozenset(out)


class _Reader:
    """One decode: the paths found, and whether the JSON is in the form `encode` writes."""

    def __init__(self, out: set[Path]) -> None:
        self.out = out
        self.canonical = True

    def read(self, obj: Any, prefix: Path) -> bool:
        """Collect the paths below `prefix`; whether there were any."""
        if not isinstance(obj, dict):
            raise FieldsError(f"expected a JSON object at {path_string(prefix) or 'the root'}")
        out = self.out
        elements: list[str] = []
        for text, sub in obj.items():
            if text == SELF:
                # Written first, as `{}`, and only for an owned path (not the root) with owned
                # paths below.
                if elements or sub != {} or len(obj) == 1 or not prefix:
                    self.canonical = False
                continue
            element = parse_element(text)
            if element is None:
                self.canonical = False
                continue
            if element != text:
                self.canonical = False
            elements.append(element)
            path = (*prefix, element)
            # An element with nothing known below it is owned itself, like one marked ".".
            if (type(sub) is dict and not sub) or not self.read(sub, path) or SELF in sub:
                out.add(path)
        if self.canonical and len(elements) > 1 and elements != _in_order(elements):
            self.canonical = False
        return bool(elements)


def _in_order(elements: list[str]) -> list[str]:
    """`elements` in structured-merge-diff's order (as `encode` writes a level).

    Fields sort by name, which is their text's order: a level of fields only (the first and the
    last in text order are fields) is sorted as text; other levels by element_order.
    """
    ordered = sorted(elements)
    if not (ordered[0].startswith("f:") and ordered[-1].startswith("f:")):
        ordered.sort(key=element_order)
    return ordered
