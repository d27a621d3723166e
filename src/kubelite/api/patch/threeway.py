"""The patches client-side `kubectl apply` computes and sends.

`kubectl apply` keeps the manifest it last applied in the annotation
`kubectl.kubernetes.io/last-applied-configuration` and, on the next apply, sends one PATCH built
from three documents: that last-applied manifest (`original`), the new manifest (`modified`) and
the live object (`current`). The patch

- sets every field of `modified` that differs from `current` (additions and changes), and
- deletes every field that was in `original` but is no longer in `modified`, and nothing else:
  a field someone else added to the live object (a label set by `kubectl label`, a replica count
  set by an autoscaler) is left alone, because the manifest never owned it.

For kinds with a schema it is a strategic merge patch (strategicpatch.CreateThreeWayMergePatch):
maps compare key by key, merged lists item by item by their merge key, deletions become `null`,
`{"$patch": "delete", <key>: ...}` items and `$deleteFromPrimitiveList/<field>` lists, and every
merged list that changes carries `$setElementOrder/<field>` with the manifest's order. Fields with
strategy `retainKeys` carry `$retainKeys`. For kinds without one (custom resources) kubectl sends a
JSON merge patch (jsonmergepatch.CreateThreeWayJSONMergePatch). Both answer `{}` when nothing
changes, which kubectl reports as `unchanged`.

The diff follows apimachinery's `diffMaps` family step by step, quirks included, so that kubelite's
own CLI sends the very patch kubectl would; see `strategic` for the merge it builds on. A caller
doing what `kubectl apply` does also puts the new last-applied annotation into `modified` first,
so that the patch updates it.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import yaml

from kubelite.api.errors import REASON_CONFLICT
from kubelite.api.patch import PatchError
from kubelite.api.patch.merge_patch import (
    apply_merge_patch,
    create_merge_patch,
    json_type,
    values_equal,
)
from kubelite.api.patch.strategic import (
    DELETE_DIRECTIVE,
    DELETE_FROM_PRIMITIVE_LIST_PREFIX,
    DIRECTIVE_MARKER,
    GO_MAP,
    MERGE_DIRECTIVE,
    PATCH_MERGE,
    REPLACE_DIRECTIVE,
    RETAIN_KEYS_DIRECTIVE,
    SET_ELEMENT_ORDER_PREFIX,
    bad_arg_type,
    deduplicate_scalars,
    field_meta,
    go_value,
    items_of,
    merge_key_value_equal,
    merge_map,
    no_merge_key,
    normalize_slice_order,
    slice_element_kind,
    sort_scalars,
)
from kubelite.api.schema import Node


@dataclass(frozen=True)
class DiffOptions:
    """What a diff keeps (strategicpatch.DiffOptions)."""

    # Emit `$setElementOrder/<field>` for merged lists.
    set_element_order: bool = False
    # Leave out fields that were added or changed (the deletions half of a three-way patch).
    ignore_changes_and_additions: bool = False
    # Leave out fields that were removed (the changes half of a three-way patch).
    ignore_deletions: bool = False
    # Emit `$retainKeys` for this map: its field has the `retainKeys` strategy.
    build_retain_keys_directive: bool = False


def diff_maps(
    original: dict[str, Any],
    modified: dict[str, Any],
    node: Node | None,
    options: DiffOptions,
) -> dict[str, Any]:
    """diffMaps: the strategic merge patch that turns `original` into `modified`.

    Like apimachinery, this sorts merged lists of scalars in `original` in place; the callers here
    pass private copies, and the sorting is visible in whether `$setElementOrder` is emitted.
    """
    patch: dict[str, Any] = {}
    retain_keys: list[Any] = []
    for key, new in modified.items():
        if options.build_retain_keys_directive and new is not None:
            retain_keys.append(key)
        if key not in original:
            if not options.ignore_changes_and_additions:
                patch[key] = new
            continue
        old = original[key]
        if key == DIRECTIVE_MARKER:
            if not isinstance(old, str) or not isinstance(new, str):
                raise PatchError.unknown(f"invalid value for special key: {DIRECTIVE_MARKER}")
            if new != old:
                patch[key] = new
            continue
        if json_type(old) != json_type(new):
            if not options.ignore_changes_and_additions:
                patch[key] = new
        elif isinstance(old, dict):
            _diff_map_field(key, old, new, patch, node, options)
        elif isinstance(old, list):
            _diff_list_field(key, old, new, patch, node, options)
        else:
            _replace_if_not_equal(key, old, new, patch, options)
    if not options.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if retain_keys and (patch or _has_additional_new_field(original, modified)):
        patch[RETAIN_KEYS_DIRECTIVE] = sort_scalars(retain_keys)
    return patch


def _replace_if_not_equal(
    key: str, old: Any, new: Any, patch: dict[str, Any], options: DiffOptions
) -> None:
    if not options.ignore_changes_and_additions and not values_equal(old, new):
        patch[key] = new


def _has_additional_new_field(original: dict[str, Any], modified: dict[str, Any]) -> bool:
    """Whether `original` has a non-null field `modified` lacks, which `$retainKeys` must clear."""
    return any(value is not None and key not in modified for key, value in original.items())


def _diff_map_field(
    key: str,
    old: dict[str, Any],
    new: dict[str, Any],
    patch: dict[str, Any],
    node: Node | None,
    options: DiffOptions,
) -> None:
    """handleMapDiff."""
    meta = field_meta(node, key)
    if meta.strategy == REPLACE_DIRECTIVE:
        # Kubernetes sends the whole map even when it did not change.
        if not options.ignore_changes_and_additions:
            patch[key] = new
        return
    nested = diff_maps(
        old,
        new,
        meta.node,
        dataclasses.replace(options, build_retain_keys_directive=meta.retain_keys),
    )
    if nested:
        patch[key] = nested


def _diff_list_field(
    key: str,
    old: list[Any],
    new: list[Any],
    patch: dict[str, Any],
    node: Node | None,
    options: DiffOptions,
) -> None:
    """handleSliceDiff: merged lists diff item by item, other lists are replaced."""
    meta = field_meta(node, key)
    if meta.strategy != MERGE_DIRECTIVE:
        _replace_if_not_equal(key, old, new, patch, options)
        return
    additions, deletions, order = _diff_lists(
        old,
        new,
        items_of(meta.node),
        meta.merge_key,
        dataclasses.replace(options, build_retain_keys_directive=meta.retain_keys),
    )
    if additions:
        patch[key] = additions
    if deletions:
        patch[f"{DELETE_FROM_PRIMITIVE_LIST_PREFIX}/{key}"] = deletions
    if order:
        patch[f"{SET_ELEMENT_ORDER_PREFIX}/{key}"] = order


def _diff_lists(
    original: list[Any],
    modified: list[Any],
    item_node: Node | None,
    merge_key: str,
    options: DiffOptions,
) -> tuple[list[Any], list[Any], list[Any]]:
    """diffLists: (patch list, deletion list for scalars, `$setElementOrder` list)."""
    if not original:
        if not modified or options.ignore_changes_and_additions:
            return [], [], []
        return modified, [], []
    kind = slice_element_kind(original, modified)
    order: list[Any] = []
    if kind == "map":
        changes, deletions = _diff_lists_of_maps(original, modified, item_node, merge_key, options)
        changes = normalize_slice_order(changes, modified, merge_key, kind)
        order_same = _is_order_same(original, modified, merge_key)
        # Deletion directives travel at the end of the patch list itself.
        patch_list = changes + deletions
        if options.set_element_order and (
            (not options.ignore_changes_and_additions and (patch_list or not order_same))
            or (not options.ignore_deletions and patch_list)
        ):
            order = [{merge_key: item[merge_key]} for item in modified]
        return patch_list, [], order
    additions, removals = _diff_lists_of_scalars(original, modified, options)
    additions = normalize_slice_order(additions, modified, merge_key, kind)
    if options.set_element_order and (
        (not options.ignore_deletions and removals)
        or (not options.ignore_changes_and_additions and not values_equal(original, modified))
    ):
        order = modified
    return additions, removals, order


def _is_order_same(original: list[Any], modified: list[Any], merge_key: str) -> bool:
    if len(original) != len(modified):
        return False
    return all(
        merge_key_value_equal(old, new, merge_key)
        for old, new in zip(original, modified, strict=True)
    )


def _diff_lists_of_scalars(
    original: list[Any], modified: list[Any], options: DiffOptions
) -> tuple[list[Any], list[Any]]:
    """diffListsOfScalars: walk both lists in `%v` order; returns (additions, removals).

    `original` is sorted in place, as apimachinery does: diffLists then compares the sorted
    original with the manifest, so a list kept out of order always gets a `$setElementOrder`.
    """
    original.sort(key=go_value)
    ordered = sorted(modified, key=go_value)
    additions: list[Any] = []
    removals: list[Any] = []
    i = j = 0
    while i < len(original) or j < len(ordered):
        old = go_value(original[i]) if i < len(original) else None
        new = go_value(ordered[j]) if j < len(ordered) else None
        if old is not None and new is not None and old == new:
            i += 1
            j += 1
        elif old is None or (new is not None and old > new):
            if not options.ignore_changes_and_additions:
                additions.append(ordered[j])
            j += 1
        else:
            if not options.ignore_deletions:
                removals.append(original[i])
            i += 1
    return additions, deduplicate_scalars(removals)


def _merge_key_of(item: Any, merge_key: str) -> Any:
    """getMapAndMergeKeyValueByIndex: the merge key's value of a list item, which must have one."""
    if not isinstance(item, dict):
        raise bad_arg_type(GO_MAP, item)
    if merge_key not in item:
        raise no_merge_key(item, merge_key)
    return item[merge_key]


def _diff_lists_of_maps(
    original: list[Any],
    modified: list[Any],
    item_node: Node | None,
    merge_key: str,
    options: DiffOptions,
) -> tuple[list[Any], list[Any]]:
    """diffListsOfMaps: walk both lists in merge key order; returns (changes, deletions)."""

    def by_key(item: Any) -> str:
        return go_value(item.get(merge_key) if isinstance(item, dict) else None)

    old_sorted = sorted(original, key=by_key)
    new_sorted = sorted(modified, key=by_key)
    changes: list[Any] = []
    deletions: list[Any] = []
    i = j = 0
    while i < len(old_sorted) or j < len(new_sorted):
        old_value = new_value = None
        old_text = new_text = ""
        if i < len(old_sorted):
            old_value = _merge_key_of(old_sorted[i], merge_key)
            old_text = go_value(old_value)
        if j < len(new_sorted):
            new_value = _merge_key_of(new_sorted[j], merge_key)
            new_text = go_value(new_value)
        both = i < len(old_sorted) and j < len(new_sorted)
        if both and old_text == new_text:
            nested = diff_maps(old_sorted[i], new_sorted[j], item_node, options)
            if nested:
                nested[merge_key] = new_value
                changes.append(nested)
            i += 1
            j += 1
        elif i >= len(old_sorted) or (both and old_text > new_text):
            if not options.ignore_changes_and_additions:
                changes.append(new_sorted[j])
            j += 1
        else:
            if not options.ignore_deletions:
                deletions.append({DIRECTIVE_MARKER: DELETE_DIRECTIVE, merge_key: old_value})
            i += 1
    return changes, deletions


def create_two_way_merge_patch(
    original: dict[str, Any], modified: dict[str, Any], node: Node | None
) -> dict[str, Any]:
    """The strategic merge patch that turns `original` into `modified`, deletions included.

    >>> create_two_way_merge_patch({"a": 1, "b": 2}, {"a": 1, "c": 3}, None)
    {'c': 3, 'b': None}
    """
    return diff_maps(
        copy.deepcopy(original), copy.deepcopy(modified), node, DiffOptions(set_element_order=True)
    )


def create_three_way_merge_patch(
    original: dict[str, Any] | None,
    modified: dict[str, Any],
    current: dict[str, Any],
    node: Node | None,
    overwrite: bool = True,
) -> dict[str, Any]:
    """The strategic merge patch `kubectl apply` sends (strategicpatch.CreateThreeWayMergePatch).

    `original` is the last-applied configuration (None when there is none), `modified` the new
    manifest, `current` the live object, `node` the schema of the kind. With `overwrite=False`
    (`kubectl apply --overwrite=false`), a patch that would undo a change made to the live object
    since the last apply fails with a conflict instead.
    """
    original_map = copy.deepcopy(original) if original else {}
    modified_map = copy.deepcopy(modified)
    current_map = copy.deepcopy(current)
    # The additions and changes from the live object to the manifest, and the deletions from the
    # last-applied manifest to the new one; the second is then patched with the first.
    delta = diff_maps(
        current_map, modified_map, node, DiffOptions(set_element_order=True, ignore_deletions=True)
    )
    deletions = diff_maps(
        original_map,
        modified_map,
        node,
        DiffOptions(set_element_order=True, ignore_changes_and_additions=True),
    )
    patch = merge_map(deletions, delta, node, PATCH_MERGE)
    if not overwrite:
        changed = diff_maps(original_map, current_map, node, DiffOptions())
        if _fields_have_conflicts(patch, changed, node):
            raise _conflict(patch, changed)
    return patch


# --- conflicts (kubectl apply --overwrite=false) ------------------------------------------------


def _to_yaml(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=True)


def _conflict(patch: dict[str, Any], changed: dict[str, Any]) -> PatchError:
    """mergepatch.ErrConflict. kubectl raises it itself, so the 409 is kubelite's choice."""
    return PatchError(
        f"patch:\n{_to_yaml(patch)}\nconflicts with changes made from original to current:\n"
        f"{_to_yaml(changed)}\n",
        code=409,
        reason=REASON_CONFLICT,
    )


def _fields_have_conflicts(
    left: Any, right: Any, node: Node | None, strategy: str = "", merge_key: str = ""
) -> bool:
    """mergingMapFieldsHaveConflicts: whether two patches set one field differently."""
    if isinstance(left, dict):
        if not isinstance(right, dict):
            return True
        left_marker, right_marker = left.get(DIRECTIVE_MARKER), right.get(DIRECTIVE_MARKER)
        if (DIRECTIVE_MARKER in left) != (DIRECTIVE_MARKER in right):
            # One deletes or replaces the whole map, the other changes single keys.
            return True
        if not values_equal(left_marker, right_marker):
            return True
        if strategy == REPLACE_DIRECTIVE:
            return False
        return _maps_have_conflicts(left, right, node)
    if isinstance(left, list):
        if not isinstance(right, list):
            return True
        return _lists_have_conflicts(left, right, node, strategy, merge_key)
    return not values_equal(left, right)


def _maps_have_conflicts(left: dict[str, Any], right: dict[str, Any], node: Node | None) -> bool:
    for key, value in left.items():
        if key in (DIRECTIVE_MARKER, RETAIN_KEYS_DIRECTIVE) or key not in right:
            continue
        meta = field_meta(node, key)
        if _fields_have_conflicts(value, right[key], meta.node, meta.strategy, meta.merge_key):
            return True
    return False


def _by_merge_key(items: list[Any], merge_key: str) -> dict[str, Any]:
    """sliceOfMapsToMapOfMaps."""
    result: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict):
            raise PatchError.unknown(f"invalid element type in merging list:{go_value(items)}")
        if merge_key not in item:
            raise PatchError.unknown(
                f"cannot find merge key `{merge_key}` in merging list element:{go_value(item)}"
            )
        result[go_value(item[merge_key])] = item
    return result


def _lists_have_conflicts(
    left: list[Any], right: list[Any], node: Node | None, strategy: str, merge_key: str
) -> bool:
    """slicesHaveConflicts."""
    kind = slice_element_kind(left, right)
    item_node = items_of(node)
    if strategy == MERGE_DIRECTIVE:
        # Merged lists of scalars never conflict: they are unions.
        if kind != "map":
            return False
        left_items, right_items = _by_merge_key(left, merge_key), _by_merge_key(right, merge_key)
        return any(
            _fields_have_conflicts(item, right_items[key], item_node)
            for key, item in left_items.items()
            if key in right_items
        )
    if len(left) != len(right):
        return True
    if kind != "map":
        left = sort_scalars(deduplicate_scalars(left))
        right = sort_scalars(deduplicate_scalars(right))
    return any(_fields_have_conflicts(a, b, item_node) for a, b in zip(left, right, strict=False))


# --- JSON merge patch, for kinds without a schema ------------------------------------------------


def _keep_or_delete_null(patch: dict[str, Any], keep_null: bool) -> dict[str, Any]:
    """keepOrDeleteNullInObj: only the nulls (deletions) or only the rest (additions, changes)."""
    filtered: dict[str, Any] = {}
    for key, value in patch.items():
        if value is None:
            if keep_null:
                filtered[key] = None
        elif isinstance(value, dict):
            if not value:
                # An explicit empty map is a value, not an empty patch.
                if not keep_null:
                    filtered[key] = value
                continue
            nested = _keep_or_delete_null(value, keep_null)
            if nested:
                filtered[key] = nested
        elif not keep_null:
            filtered[key] = value
    return filtered


def _json_has_conflicts(left: Any, right: Any) -> bool:
    """mergepatch.HasConflicts: the same key set to different values (lists item by item)."""
    if isinstance(left, dict):
        if not isinstance(right, dict):
            return True
        return any(
            _json_has_conflicts(value, right[key]) for key, value in left.items() if key in right
        )
    if isinstance(left, list):
        if not isinstance(right, list) or len(left) != len(right):
            return True
        return any(map(_json_has_conflicts, left, right))
    return not values_equal(left, right)


def create_three_way_json_merge_patch(
    original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any]
) -> dict[str, Any]:
    """The JSON merge patch `kubectl apply` sends for kinds it has no schema for.

    Lists are replaced whole, so this is only right where no merge keys are known.
    """
    changes = _keep_or_delete_null(create_merge_patch(current or {}, modified), keep_null=False)
    deletions = _keep_or_delete_null(create_merge_patch(original or {}, modified), keep_null=True)
    if _json_has_conflicts(changes, deletions):
        raise _conflict(changes, deletions)
    return apply_merge_patch(deletions, changes)
