"""RFC 7386 JSON Merge Patch, applied and created the way Kubernetes does.

The API server applies `application/merge-patch+json` with evanphx/json-patch v4's `MergePatch`,
and kubectl computes merge patches (for kinds it has no schema for) with its `CreateMergePatch`.
Both follow the RFC (objects merge, null deletes, everything else replaces) with one addition a
client can see: when a patch value lands where there was no object to merge into, nulls are pruned
from it, inside nested lists too, so `{"a": [1, null]}` on a document without `a` gives `[1]`.

A patch body of `null` or of a scalar is answered 400 `Invalid JSON Patch`; a patch that is a list
replaces the whole document (which the API server then fails to decode as an object).
"""

from __future__ import annotations

import copy
from typing import Any

from kubelite.api.goformat import json_type
from kubelite.api.meta import clone
from kubelite.api.patch import PatchError

# jsonpatch.ErrBadJSONPatch, which the API server answers with 400 BadRequest.
BAD_PATCH_MESSAGE = "Invalid JSON Patch"


def values_equal(a: Any, b: Any) -> bool:
    """Deep equality of decoded JSON values, as Go's reflect.DeepEqual sees them.

    Unlike Python's `==`, `True` is not `1`; like Go after decoding to float64, `1` is `1.0`.
    """
    if json_type(a) != json_type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(values_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(values_equal, a, b))
    return a == b


def _prune_nulls(value: Any) -> Any:
    """Drop null members and null list items, recursively (evanphx's pruneNulls)."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            _prune_nulls(item)
    elif isinstance(value, list):
        value[:] = [item for item in value if item is not None]
        for item in value:
            _prune_nulls(item)
    return value


def _merge_into(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value)
        elif isinstance(current, dict):
            # An object replaced by a list or a scalar: evanphx keeps the patch value as it is.
            doc[key] = value
        else:
            doc[key] = _prune_nulls(value)


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch (the decoded request body) to `doc`; returns a new document.

    >>> apply_merge_patch({"metadata": {"labels": {"a": "1", "b": "2"}}},
    ...                   {"metadata": {"labels": {"a": None}}})
    {'metadata': {'labels': {'b': '2'}}}
    """
    if isinstance(patch, list):
        return _prune_nulls(clone(patch))
    if not isinstance(patch, dict):
        raise PatchError.bad_request(BAD_PATCH_MESSAGE)
    patch = clone(patch)
    if not isinstance(doc, dict):
        return _prune_nulls(patch)
    result = clone(doc)
    _merge_into(result, patch)
    return result


def _diff(original: dict[str, Any], modified: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key, new in modified.items():
        if key not in original:
            patch[key] = new
            continue
        old = original[key]
        if isinstance(old, dict) and isinstance(new, dict):
            nested = _diff(old, new)
            if nested:
                patch[key] = nested
        elif not values_equal(old, new):
            patch[key] = new
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch


def create_merge_patch(original: dict[str, Any], modified: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that turns `original` into `modified` (evanphx's CreateMergePatch).

    >>> create_merge_patch({"a": 1, "b": {"c": 2}}, {"b": {"c": 3}})
    {'b': {'c': 3}, 'a': None}
    """
    return copy.deepcopy(_diff(original, modified))
