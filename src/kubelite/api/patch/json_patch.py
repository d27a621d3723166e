"""RFC 6902 JSON Patch, applied the way the Kubernetes API server applies it.

Kubernetes applies `application/json-patch+json` with evanphx/json-patch v4
(`gopkg.in/evanphx/json-patch.v4`), which departs from the RFC in a few places a client can see.
kubelite departs in the same places:

- `replace` of an object member that does not exist adds it (the RFC says it fails);
- `copy` from an object member that does not exist copies `null`;
- `add`, `remove`, `replace` and reads accept negative array indexes, counted from the end;
- indexes are parsed like Go's `strconv.Atoi`, so `+1` and `01` are accepted;
- a path that does not start with `/` has its first token ignored;
- `test` compares numbers as the JSON text they are written as, so `1` does not equal `1.0`;
- a null value and a missing member are the same thing to `test`, and an intermediate
  path token that is null or a scalar makes the path missing.

When an operation fails, Kubernetes answers 422 with a generic message and no word on which
operation failed; the `PatchError` keeps the library's own message as its `detail`.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator
from typing import Any

from kubelite.api.patch import PatchError
from kubelite.api.patch.merge_patch import json_type

# maxJSONPatchOperations in k8s.io/apiserver/pkg/endpoints/handlers/patch.go.
MAX_OPERATIONS = 10000

# Go's strconv.Atoi syntax: an optional sign and decimal digits, nothing else.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class _OperationFailed(Exception):
    """One operation could not be applied; the message is evanphx/json-patch's."""


def _decode(operations: Any) -> list[dict[str, Any] | None]:
    """Check the shape of the patch as `jsonpatch.DecodePatch` does (a null patch is empty)."""
    if operations is None:
        return []
    if not isinstance(operations, list):
        raise PatchError.bad_request(
            f"json: cannot unmarshal {json_type(operations)} into Go value of type jsonpatch.Patch"
        )
    for op in operations:
        if op is not None and not isinstance(op, dict):
            raise PatchError.bad_request(
                f"json: cannot unmarshal {json_type(op)} into Go value of type jsonpatch.Operation"
            )
    return operations


def _unescape(token: str) -> str:
    """RFC 6901 section 4, in one pass so that `~01` becomes `~1`, not `/`."""
    return re.sub(r"~[01]", lambda m: "/" if m.group() == "~1" else "~", token)


def _atoi(key: str) -> int:
    if not _INTEGER.fullmatch(key):
        raise _OperationFailed(f'strconv.Atoi: parsing "{key}": invalid syntax')
    index = int(key)
    if not _INT64_MIN <= index <= _INT64_MAX:
        raise _OperationFailed(f'strconv.Atoi: parsing "{key}": value out of range')
    return index


def _invalid_index(index: int) -> _OperationFailed:
    return _OperationFailed(f"Unable to access invalid index: {index}: invalid index referenced")


def _list_index(items: list[Any], key: str) -> int:
    """The position `key` names in a list that must hold it (get, replace, remove)."""
    index = _atoi(key)
    if index < 0:
        if index < -len(items):
            raise _invalid_index(index)
        index += len(items)
    if index >= len(items):
        raise _invalid_index(index)
    return index


def _get(container: dict[str, Any] | list[Any], key: str) -> Any:
    """The value at `key`; a missing object member reads as null, a bad index fails."""
    if isinstance(container, dict):
        return container.get(key)
    return container[_list_index(container, key)]


def _add(container: dict[str, Any] | list[Any], key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _atoi(key)
    except _OperationFailed as e:
        raise _OperationFailed(f"value was not a proper array index: '{key}': {e}") from e
    # The list is one longer once the value is in, so that is the bound both ways.
    size = len(container) + 1
    if index >= size or index < -size:
        raise _invalid_index(index)
    if index < 0:
        index += size
    container.insert(index, value)


def _remove(container: dict[str, Any] | list[Any], key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OperationFailed(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
        return
    del container[_list_index(container, key)]


def _find(doc: Any, path: str) -> tuple[dict[str, Any] | list[Any], str] | None:
    """The container a path ends in and the last token, or None when the path is missing."""
    tokens = path.split("/")
    if len(tokens) < 2:
        return None
    container = doc
    for token in tokens[1:-1]:
        if not isinstance(container, dict | list):
            return None
        try:
            container = _get(container, _unescape(token))
        except _OperationFailed:
            return None
    if not isinstance(container, dict | list):
        return None
    return container, _unescape(tokens[-1])


def _same(a: Any, b: Any) -> bool:
    """Equality of JSON values as evanphx/json-patch compares them for `test`."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_same(value, b[key]) for key, value in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    # Scalars are compared as the JSON text they encode to: types must match exactly.
    return type(a) is type(b) and a == b


def _string_field(op: dict[str, Any], name: str) -> str | None:
    value = op.get(name)
    return value if isinstance(value, str) else None


@contextlib.contextmanager
def _prefixed(context: str) -> Iterator[None]:
    """Say which operation and path a failure inside the block came from, as the library
    wraps its errors (`error in add for path: '/a': ...`)."""
    try:
        yield
    except _OperationFailed as e:
        raise _OperationFailed(f"{context}: {e}") from e


class _Document:
    """The document being patched; a `replace` of the root path swaps it whole."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def apply(self, op: dict[str, Any] | None) -> None:
        op = op or {}
        kind = _string_field(op, "op") or "unknown"
        handler = {
            "add": self._add,
            "remove": self._remove,
            "replace": self._replace,
            "move": self._move,
            "copy": self._copy,
            "test": self._test,
        }.get(kind)
        if handler is None:
            raise _OperationFailed(f"Unexpected kind: {kind}")
        handler(op)

    def _path(self, op: dict[str, Any], kind: str, field: str = "path") -> str:
        value = _string_field(op, field)
        if value is None:
            raise _OperationFailed(f"{kind} operation failed to decode {field}: missing value")
        return value

    def _locate(self, path: str, missing: str) -> tuple[dict[str, Any] | list[Any], str]:
        """Where `path` ends in the document; `missing` is the operation's own wording for a
        path that is not there (evanphx/json-patch words each one differently)."""
        found = _find(self.value, path)
        if found is None:
            raise _OperationFailed(f"{missing}: missing value")
        return found

    def _add(self, op: dict[str, Any]) -> None:
        path = self._path(op, "add")
        found = self._locate(path, f'add operation does not apply: doc is missing path: "{path}"')
        with _prefixed(f"error in add for path: '{path}'"):
            _add(*found, copy.deepcopy(op.get("value")))

    def _remove(self, op: dict[str, Any]) -> None:
        path = self._path(op, "remove")
        found = self._locate(
            path, f'remove operation does not apply: doc is missing path: "{path}"'
        )
        with _prefixed(f"error in remove for path: '{path}'"):
            _remove(*found)

    def _replace(self, op: dict[str, Any]) -> None:
        path = self._path(op, "replace")
        value = copy.deepcopy(op.get("value"))
        if path == "":
            if not isinstance(value, dict | list):
                raise _OperationFailed("replace operation value must be object or array")
            self.value = value
            return
        container, key = self._locate(
            path, f"replace operation does not apply: doc is missing path: {path}"
        )
        if isinstance(container, dict):
            container[key] = value
            return
        try:
            container[_list_index(container, key)] = value
        except _OperationFailed as e:
            raise _OperationFailed(
                f"replace operation does not apply: doc is missing key: {path}: missing value"
            ) from e

    def _move(self, op: dict[str, Any]) -> None:
        source = self._path(op, "move", "from")
        container, key = self._locate(
            source, f"move operation does not apply: doc is missing from path: {source}"
        )
        with _prefixed(f"error in move for path: '{key}'"):
            value = _get(container, key)
            _remove(container, key)
        path = self._path(op, "move")
        found = self._locate(
            path, f"move operation does not apply: doc is missing destination path: {path}"
        )
        with _prefixed(f"error in move for path: '{path}'"):
            _add(*found, value)

    def _copy(self, op: dict[str, Any]) -> None:
        source = self._path(op, "copy", "from")
        found = self._locate(
            source, f"copy operation does not apply: doc is missing from path: {source}"
        )
        with _prefixed(f"error in copy for from: '{source}'"):
            value = _get(*found)
        path = self._path(op, "copy")
        found = self._locate(
            path, f"copy operation does not apply: doc is missing destination path: {path}"
        )
        with _prefixed("error while adding value during copy"):
            _add(*found, copy.deepcopy(value))

    def _test(self, op: dict[str, Any]) -> None:
        path = self._path(op, "test")
        failed = _OperationFailed(f"testing value {path} failed: test failed")
        if path == "":
            if "value" not in op or not _same(self.value, op["value"]):
                raise failed
            return
        found = self._locate(path, f"test operation does not apply: is missing path: {path}")
        with _prefixed(f"error in test for path: '{path}'"):
            actual = _get(*found)
        expected = op.get("value")
        # A missing member, a null member, a missing value and a null value all match.
        if actual is None or expected is None:
            if actual is not expected:
                raise failed
            return
        if not _same(actual, expected):
            raise failed


def apply_json_patch(doc: Any, operations: Any) -> Any:
    """Apply RFC 6902 `operations` (the decoded request body) to `doc`; returns a new document.

    >>> apply_json_patch({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 2}])
    {'a': [1, 2]}
    """
    ops = _decode(operations)
    if len(ops) > MAX_OPERATIONS:
        raise PatchError.too_large(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(ops)}"
        )
    document = _Document(copy.deepcopy(doc))
    for op in ops:
        try:
            document.apply(op)
        except _OperationFailed as e:
            raise PatchError.invalid(str(e)) from e
    return document.value
