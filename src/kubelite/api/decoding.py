"""Decoding request bodies into objects as Kubernetes' strict decoder does.

Kubernetes decodes a body into Go structs: a field the struct does not have is dropped (and,
with `fieldValidation=Strict`, refused; with `Warn`, reported in a `Warning` header), a key given
twice keeps its last value (and is reported the same way), a value of the wrong JSON type fails
the whole request, and types such as `metav1.Time` come back in their canonical form. kubelite
has no Go structs; it walks the decoded JSON alongside the OpenAPI schema (`kubelite.api.schema`)
and does the same, so that what is stored is exactly what Kubernetes would have stored.

A YAML body reaches Kubernetes' decoder as JSON (YAMLToJSON, where a repeated key silently keeps
its last value), so its repeated keys are not `duplicate field` problems: the strict decoder runs
the YAML once more through go-yaml's strict mode (YAMLToJSONStrict), and that one error, worded by
go-yaml (`yaml: unmarshal errors:` and an indented `line 3: key "name" already set in map` for
each repeat), comes first among the strict problems. Like every strict problem it fails the
request under `fieldValidation=Strict` and becomes warnings, one per line, under `Warn`; under
`Ignore` the decoder is not strict and nobody looks.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from kubelite.api import errors, meta, protobuf, schema
from kubelite.api.schema import Node

# fieldValidation values (metav1.FieldValidation*).
STRICT = "Strict"
WARN = "Warn"
IGNORE = "Ignore"
FIELD_VALIDATION_MODES = (IGNORE, WARN, STRICT)

JSON_TYPES = ("application/json", "application/merge-patch+json")
YAML_TYPES = ("application/yaml", "application/apply-patch+yaml")


class _Pairs(dict[str, Any]):
    """A JSON/YAML object that had a key twice: keeps the keys in the order they came."""

    __slots__ = ("keys_in_order",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.keys_in_order = [k for k, _ in pairs]


def _object_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    return obj if len(obj) == len(pairs) else _Pairs(pairs)


# A `\uD800`-`\uDFFF` escape in JSON text: the only way a lone surrogate gets into a parsed
# string (raw bytes that are not UTF-8 fail the parse). Go's decoder turns a surrogate that is not
# half of a pair into U+FFFD; Python keeps it, and then nothing can encode it (not the store, not
# the error message naming it). Bodies with such an escape take a slower hook that does as Go.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A surrogate written out as UTF-8 bytes (ED A0..BF xx) is not UTF-8 at all. Python's json reads
# bytes with "surrogatepass", which would keep it as a lone surrogate that nothing can encode
# afterwards; Go's decoder reads each of its bytes as U+FFFD, as "replace" does.
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
# Go's JSON decoder reads any byte that does not begin valid UTF-8 in a string as U+FFFD, one
# for each such byte; Python's "replace" gives one for a whole truncated sequence (E2 82 then
# "a": one where Go has two). This handler replaces byte by byte, as Go does.
_GO_REPLACE = "kubelite-go-replace"


def _replace_each_byte(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error(_GO_REPLACE, _replace_each_byte)


def _as_go_text(value: Any) -> Any:
    """`value` with lone surrogates replaced by U+FFFD, in strings and lists of them (objects
    were already handled by the hook)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_as_go_text(v) for v in value]
    return value


def _object_hook_as_go(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return _object_hook([(_as_go_text(k), _as_go_text(v)) for k, v in pairs])


# How go-yaml's strict errors begin, and how sigs.k8s.io/yaml wraps them (the prefixes Kubernetes
# strips before it turns such an error into one warning per line, handlers/rest.go).
_YAML_ERRORS_PREFIX = "yaml: unmarshal errors:\n"
_YAML_CONVERTING = "error converting YAML to JSON: "


# The base is chosen at import: libyaml's loader where PyYAML was built with it (a base that is
# an expression is one mypy cannot check).
class _YamlLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader, noting each repeated key as go-yaml's strict mode words it.

    The mapping keeps the last value of a repeated key, as YAMLToJSON does.
    """

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self.repeated_keys: list[str] = []


def _construct_mapping(loader: _YamlLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        # The value first, as go-yaml decodes it before it sets the key: a repeat inside it is
        # reported before the repeat of the key that holds it.
        value = loader.construct_object(value_node, deep=True)
        try:
            repeated = key in out
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found unhashable key",
                key_node.start_mark,
            ) from None
        if repeated:
            # go-yaml names the line of the value (decode.go setMapIndex), counting from 1.
            loader.repeated_keys.append(
                f"line {value_node.start_mark.line + 1}: key {_go_key(key, key_node)} "
                "already set in map"
            )
        out[key] = value
    return out


_YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _go_key(key: Any, node: yaml.Node) -> str:
    """A map key as go-yaml prints it with %#v: strings quoted, numbers and booleans bare."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return str(int(key)) if key.is_integer() else repr(key)
    if key is None:
        return "<nil>"
    # go-yaml keeps anything else (a timestamp, say) as the string it was written as.
    text = key if isinstance(key, str) else str(getattr(node, "value", key))
    return errors.go_quote(text)


class _YamlDocument(dict[str, Any]):
    """The top object of a YAML body whose keys repeat somewhere: carries go-yaml's strict
    error, `yaml: unmarshal errors:` then one `line 3: key "name" already set in map` a line."""

    __slots__ = ("repeated_keys",)

    def __init__(self, value: dict[str, Any], repeated_keys: str) -> None:
        super().__init__(value)
        self.repeated_keys = repeated_keys


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


# How deeply objects and arrays may nest in a body. Kubernetes' decoder stops at 10,000 levels;
# kubelite stops sooner because orjson, which encodes what is stored and served, refuses more
# than 254, and the recursive walks over an object (decoding, patches, copies) would hit
# Python's recursion limit long before 10,000. No Kubernetes object comes near either.
MAX_NESTING_DEPTH = 250


def _too_deep() -> errors.StatusError:
    return errors.bad_request(
        f"error decoding request body: exceeded max depth of {MAX_NESTING_DEPTH} nested objects "
        "and arrays"
    )


def check_depth(value: Any, body: bytes) -> Any:
    """`value` (parsed from `body`) if it nests no deeper than MAX_NESTING_DEPTH; else a 400.

    Counting brackets in the bytes (done in C) rules most bodies out at once: a body with fewer
    openings than the limit cannot nest deeper than it, so only the rare large one is walked.
    """
    if body.count(b"{") + body.count(b"[") <= MAX_NESTING_DEPTH:
        return value
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        node, depth = level.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_NESTING_DEPTH:
            raise _too_deep()
        level.extend((child, depth + 1) for child in children)
    return value


def parse_json(body: bytes) -> Any:
    """JSON with repeated keys detected; a BadRequest naming line and column on bad syntax, or
    the nesting limit when the body nests too deeply."""
    as_go = _SURROGATE_ESCAPE.search(body) is not None
    text: bytes | str = body
    if _ENCODED_SURROGATE.search(body):
        text = body.decode("utf-8", _GO_REPLACE)
    hook = _object_hook_as_go if as_go else _object_hook
    try:
        try:
            value = json.loads(text, object_pairs_hook=hook)
        except UnicodeDecodeError:
            # Bytes that are not UTF-8: U+FFFD for each, as Go reads them in a string (outside
            # one, the U+FFFD is a syntax error here as the byte is in Go).
            value = json.loads(body.decode("utf-8", _GO_REPLACE), object_pairs_hook=hook)
        if as_go:
            value = _as_go_text(value)
    except json.JSONDecodeError as exc:
        raise errors.bad_request(
            f"error decoding JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError:
        raise _too_deep() from None
    return check_depth(value, body)


# go-yaml's bounds on alias expansion (yaml.v2 decode.go, allowedAliasRatio): a document may
# take most of its nodes from aliases while small, only a tenth of them once it decodes to four
# million nodes. Past them it refuses the document, as a "billion laughs" would otherwise expand
# into every walk and encoding of it.
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _ALIAS_RATIO_LOW:
        return 0.99
    if decoded >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _check_aliases(value: Any) -> None:
    """Refuse what go-yaml refuses of aliases: an anchor whose value holds an alias to itself
    (PyYAML builds a list that contains itself, which no walk of it ends), and excessive
    aliasing. PyYAML shares an aliased value where go-yaml decodes it again: the nodes are
    counted here as go-yaml would decode them, stopping as soon as too many came from aliases."""
    decoded = aliased = 0
    seen: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[Any, bool, bool]] = [(value, False, False)]
    while stack:
        node, under_alias, leaving = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        decoded += 1
        # Checked as go-yaml checks it, at every node an alias brings: a "billion laughs" is
        # refused after a few thousand nodes, not after expanding to millions.
        if under_alias:
            aliased += 1
            if (
                aliased > 100
                and decoded > 1000
                and aliased > decoded * _allowed_alias_ratio(decoded)
            ):
                raise yaml.YAMLError("document contains excessive aliasing")
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        if key in on_path:
            raise yaml.YAMLError("anchor value contains itself")
        under_alias = under_alias or key in seen
        seen.add(key)
        on_path.add(key)
        stack.append((node, under_alias, True))
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, under_alias, False) for child in children)


def parse_yaml(body: bytes) -> Any:
    """One YAML document; a BadRequest naming line and column on bad syntax.

    Repeated keys keep their last value; an object that had any remembers go-yaml's strict
    error for them (see `yaml_duplicates`).
    """
    try:
        loader = _YamlLoader(body)
        try:
            value = check_depth(loader.get_single_data(), body)
            if b"*" in body:
                _check_aliases(value)
        finally:
            loader.dispose()
    except RecursionError:
        raise _too_deep() from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise errors.bad_request(
            f"error converting YAML to JSON: yaml: {where}{exc.problem or exc}"
        ) from exc
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: yaml: {exc}") from exc
    if loader.repeated_keys and isinstance(value, dict):
        # Only an object can be decoded at all, so only an object needs to carry the error.
        lines = "\n".join(f"  {r}" for r in loader.repeated_keys)
        return _YamlDocument(value, _YAML_ERRORS_PREFIX + lines)
    return value


def yaml_duplicates(value: Any) -> str:
    """go-yaml's strict error for the repeated keys of a parsed YAML body; "" if none repeat."""
    return value.repeated_keys if isinstance(value, _YamlDocument) else ""


def apply_yaml_error(yaml_error: str) -> errors.StatusError:
    """The 400 a server-side apply gets under `fieldValidation=Strict` for repeated YAML keys
    (the apply patcher's yaml.UnmarshalStrict, in handlers/patch.go)."""
    return errors.bad_request(f"error strict decoding YAML: {_YAML_CONVERTING}{yaml_error}")


def as_warnings(problems: list[str]) -> list[str]:
    """Strict problems as `Warning` headers: a go-yaml error becomes one warning per line
    (`line 3: key "name" already set in map`), as Kubernetes' parseYAMLWarnings splits it."""
    out: list[str] = []
    for problem in problems:
        for prefix in (_YAML_ERRORS_PREFIX, _YAML_CONVERTING + _YAML_ERRORS_PREFIX):
            if problem.startswith(prefix):
                out.extend(line.strip() for line in problem[len(prefix) :].split("\n"))
                break
        else:
            out.append(problem)
    return out


def parse_body(body: bytes, content_type: str) -> Any:
    """The JSON value of a request body, by its Content-Type (JSON when none is given)."""
    kind = media_type(content_type) if content_type else "application/json"
    if kind in YAML_TYPES:
        return parse_yaml(body)
    if kind in JSON_TYPES or kind.endswith("+json") or kind in ("", "*/*"):
        return parse_json(body)
    if kind == protobuf.MEDIA_TYPE:
        return protobuf.decode_request(body)
    raise errors.unsupported_media_type(kind)


class DecodeError(Exception):
    """A value of the wrong type: Kubernetes fails the whole request with this message."""


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return f"number {value}" if isinstance(value, float) else "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


# What metav1.Time and MicroTime accept: RFC 3339, with a zone.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# The Go layouts Kubernetes names when it cannot parse a metav1.Time or MicroTime.
_TIME_LAYOUTS = {
    "time": "2006-01-02T15:04:05Z07:00",
    "microtime": "2006-01-02T15:04:05.000000Z07:00",
}

# A location in a body, built as the walk descends and only rendered when something is
# reported: (parent, key, how) with `how` one of _FIELD, _INDEX, _MAP_KEY.
_FIELD, _INDEX, _MAP_KEY = 0, 1, 2
Path = tuple[Any, Any, int] | None


_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _bad_base64_at(value: str) -> int:
    """Where Go's base64 decoder gives up: the first byte outside the alphabet, else at the
    padding or the incomplete last quantum."""
    for i, ch in enumerate(value):
        if ch not in _BASE64:
            return i
    return len(value) - len(value) % 4


def _shown(path: Path) -> str:
    """The path as Kubernetes prints it: `spec.containers[0].imgae`."""
    parts: list[tuple[Any, int]] = []
    while path is not None:
        path, key, how = path
        parts.append((key, how))
    out = ""
    for key, how in reversed(parts):
        out = (f"{out}.{key}" if out else key) if how == _FIELD else f"{out}[{key}]"
    return out


def _go_field(path: Path) -> str:
    """The path as Go's JSON decoder names a field: `spec.containers.ports.containerPort`."""
    names: list[str] = []
    while path is not None:
        path, key, how = path
        if how == _FIELD:
            names.append(key)
    return ".".join(reversed(names))


# The values each Go integer type holds; an integer field outside its type's range fails the
# request as Go's decoder fails it (and a number past 64 bits could not be stored at all).
_INT64_RANGE = (-(2**63), 2**63 - 1)
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": _INT64_RANGE, "int": _INT64_RANGE}


class _Walker:
    """One pass over a decoded body: prune unknown fields, note repeated keys, check types."""

    def __init__(self, canonical_quantity: Callable[[Any], str] | None) -> None:
        self.problems: list[str] = []
        self.canonical_quantity = canonical_quantity

    @staticmethod
    def type_error(value: Any, go_type: str, struct: str, path: Path) -> DecodeError:
        return DecodeError(
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
            f"{struct}.{_go_field(path)} of type {go_type}"
        )

    def walk(self, value: Any, node: Node, path: Path, struct: str) -> Any:
        """The decoded form of `value`, a field of the Go struct `struct` at `path`."""
        kind = node.kind
        if value is None:
            # Only an item of a list or a value of a map gets here (a struct field that is null
            # is left out). Go's decoder makes such an element the zero value of its type.
            return self.zero(node, path)
        if kind == schema.OBJECT:
            if type(value) is not dict and not isinstance(value, dict):
                raise self.type_error(value, node.go_type, struct, path)
            return self.walk_object(value, node, path)
        if kind == schema.STRING:
            if type(value) is not str:
                raise self.type_error(value, node.go_type, struct, path)
            return self.string(value, node.string_form) if node.string_form else value
        if kind == schema.ARRAY:
            if type(value) is not list:
                raise self.type_error(value, node.go_type, struct, path)
            items = node.items
            if items is None:
                return _plain(value)
            walk = self.walk
            return [walk(v, items, (path, i, _INDEX), struct) for i, v in enumerate(value)]
        if kind == schema.MAP:
            if not isinstance(value, dict):
                raise self.type_error(value, node.go_type, struct, path)
            items = node.items
            if items is None:
                return _plain(value)
            return {
                key: self.walk(value[key], items, (path, key, _MAP_KEY), struct)
                for key in self._keys(value, path)
            }
        if kind == schema.INTEGER:
            if type(value) is int:
                number = value
            elif isinstance(value, float) and value.is_integer():
                number = int(value)
            else:
                raise self.type_error(value, node.go_type, struct, path)
            low, high = _INT_RANGES.get(node.go_type, _INT64_RANGE)
            if not low <= number <= high:
                # Go's decoder names the number itself when it does not fit the field's type.
                raise DecodeError(
                    f"json: cannot unmarshal number {value} into Go struct field "
                    f"{struct}.{_go_field(path)} of type {node.go_type}"
                )
            return number
        if kind == schema.BOOLEAN:
            if type(value) is not bool:
                raise self.type_error(value, node.go_type, struct, path)
            return value
        if kind == schema.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.type_error(value, node.go_type, struct, path)
            return value
        if kind == schema.INT_OR_STRING:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise self.type_error(value, "intstr.IntOrString", struct, path)
            return value
        if kind == schema.QUANTITY:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise DecodeError(
                    "quantities must match the regular expression "
                    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
                )
            if self.canonical_quantity is None:
                return value if isinstance(value, str) else repr(value)
            try:
                return self.canonical_quantity(value)
            except ValueError as exc:
                raise DecodeError(str(exc)) from exc
        return _plain(value)

    def zero(self, node: Node, path: Path) -> Any:
        """What Go's decoder makes of a JSON null in a list or map of `node`'s type: a fresh
        element left as it is (`{"a": null}` into a map[string]string is `{"a": ""}`, as
        sigs.k8s.io/json, a fork of encoding/json, decodes it), or a Quantity or IntOrString
        told to read `null` (zero). A nil byte string is "" (etcd's protobuf gives it back
        empty); a nil slice or map, or a zero time, stays null."""
        kind = node.kind
        if kind == schema.STRING:
            return "" if node.string_form in ("", "byte") else None
        if kind in (schema.INTEGER, schema.NUMBER, schema.INT_OR_STRING):
            return 0
        if kind == schema.BOOLEAN:
            return False
        if kind == schema.QUANTITY:
            return self.walk("0", node, path, "")
        if kind == schema.OBJECT:
            return self.walk_object({}, node, path)
        return None

    @staticmethod
    def string(value: str, form: str) -> str:
        layout = _TIME_LAYOUTS.get(form)
        if layout is not None:
            when = meta.parse_time(value) if _RFC3339.match(value) else None
            if when is None:
                raise DecodeError(f'parsing time "{value}" as "{layout}": cannot parse "{value}"')
            return meta.format_time(when) if form == "time" else meta.format_micro_time(when)
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise DecodeError(
                f"illegal base64 data at input byte {_bad_base64_at(value)}"
            ) from None
        return value

    def _keys(self, obj: dict[str, Any], path: Path, known: Any = None) -> Any:
        """Each key once, in document order; a repeat of a `known` key is reported where it
        comes, as Kubernetes' decoder meets it (an unknown key is reported once, as unknown)."""
        if not isinstance(obj, _Pairs):
            return obj
        return self._ordered_keys(obj, path, known)

    def _ordered_keys(self, obj: _Pairs, path: Path, known: Any) -> Iterator[str]:
        seen: set[str] = set()
        for key in obj.keys_in_order:
            if key not in seen:
                seen.add(key)
                yield key
            elif known is None or key in known:
                self.problems.append(f'duplicate field "{_shown((path, key, _FIELD))}"')

    def walk_object(self, obj: dict[str, Any], node: Node, path: Path) -> dict[str, Any]:
        fields = node.fields
        struct = node.go_type
        out: dict[str, Any] = {}
        for key in self._keys(obj, path, fields):
            value = obj[key]
            child = fields.get(key)
            if child is None:
                self.problems.append(f'unknown field "{_shown((path, key, _FIELD))}"')
                continue
            if value is None:
                continue
            out[key] = self.walk(value, child, (path, key, _FIELD), struct)
        return out


def _plain(value: Any) -> Any:
    """Free-form JSON, with any `_Pairs` turned back into plain dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def decode(
    value: Any,
    node: Node | None,
    kind: str,
    api_version: str,
    canonical_quantity: Callable[[Any], str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Decode a parsed body as an object of `kind`.

    Returns the object (unknown fields dropped, values in canonical form) and the strict-decoding
    problems in document order (`unknown field "spec.x"`, `duplicate field "metadata.name"`),
    which the caller refuses, warns about or ignores by `fieldValidation`. A value of the wrong
    type raises a BadRequest, whatever `fieldValidation` says, as in Kubernetes.
    """
    handled_as = f'{kind} in version "{api_version.split("/")[-1]}" cannot be handled as a {kind}'
    if not isinstance(value, dict):
        raise errors.bad_request(
            f"{handled_as}: json: cannot unmarshal {_json_kind(value)} into Go value of type "
            f'struct {{ APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
            f'"json:\\"kind,omitempty\\"" }}'
        )
    # go-yaml's error about repeated keys comes before what the JSON pass finds (the
    # serializer's unmarshal, json.go).
    repeated = yaml_duplicates(value)
    if node is None:
        return _plain(value), [repeated] if repeated else []
    walker = _Walker(canonical_quantity)
    if repeated:
        walker.problems.append(repeated)
    try:
        obj = walker.walk_object(value, node, None)
    except DecodeError as exc:
        raise errors.bad_request(f"{handled_as}: {exc}") from exc
    return obj, walker.problems


def duplicates(value: Any, path: str = "") -> list[str]:
    """Repeated keys anywhere in a parsed body (patches are checked before they are applied)."""
    found: list[str] = []
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key in value.keys_in_order:
            if key in seen:
                found.append(f'duplicate field "{errors.child(path, key)}"')
            seen.add(key)
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(duplicates(item, errors.child(path, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(duplicates(item, f"{path}[{i}]"))
    return found


def plain(value: Any) -> Any:
    """A parsed body with repeated-key bookkeeping removed."""
    return _plain(value)


def strict_error(kind: str, api_version: str, problems: list[str]) -> errors.StatusError:
    """The 400 Kubernetes gives under `fieldValidation=Strict`."""
    version = api_version.split("/")[-1]
    return errors.bad_request(
        f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: '
        + ", ".join(problems)
    )
