"""Strategic merge patch: Kubernetes' merge patch that knows how each list merges.

A JSON merge patch can only replace a list, so changing one container's image would mean sending
every container. Kubernetes' strategic merge patch (apimachinery `pkg/util/strategicpatch`) reads
the schema instead: a list whose field says `x-kubernetes-patch-strategy: merge` is merged item by
item, matched on `x-kubernetes-patch-merge-key` (containers by `name`, ports by `containerPort`),
and a merged list of strings (finalizers) is a set union. Everything else is a JSON merge patch:
maps merge, other lists and scalars replace, null deletes.

Directives in the patch say what plain values cannot:

- `$patch: replace` in a map replaces the map; as an item of a merged list, replaces the list;
- `$patch: delete` in a map empties it; as an item of a merged list, deletes the item with that key;
- `$setElementOrder/<field>`: the order the merged list `<field>` ends up in;
- `$deleteFromPrimitiveList/<field>`: strings to remove from the merged list `<field>`;
- `$retainKeys`: the only fields a map keeps (fields with strategy `retainKeys`, such as a volume
  switching from emptyDir to hostPath, or a Deployment strategy switching to Recreate).

This module applies patches (`apply_strategic_merge_patch`, the API server's side) and holds the
map merge that `threeway` reuses to build kubectl's patches. It follows apimachinery's algorithm
step by step, including its quirks, because kubectl and the API server only agree when both run
the same algorithm; a reader can compare each function with the Go function its docstring names.

Where a schema node is missing or free-form (`ANY`), lists are replaced and maps merged, as
Kubernetes does for data it has no struct for. Errors carry the text Kubernetes gives, which
includes Go's `%v` rendering of maps (`map[image:nginx]`); `go_value` produces it.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api.meta import clone
from kubelite.api.patch import PatchError
from kubelite.api.patch.merge_patch import json_type, values_equal
from kubelite.api.schema import ANY, ARRAY, MAP, OBJECT, Node

DIRECTIVE_MARKER = "$patch"
DELETE_DIRECTIVE = "delete"
REPLACE_DIRECTIVE = "replace"
MERGE_DIRECTIVE = "merge"
RETAIN_KEYS_STRATEGY = "retainKeys"
RETAIN_KEYS_DIRECTIVE = "$" + RETAIN_KEYS_STRATEGY
DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER_PREFIX = "$setElementOrder"

# apimachinery/pkg/util/mergepatch/errors.go. The API server answers the first three with 400
# BadRequest and lists of lists with 422 (handlers/patch.go, interpretStrategicMergePatchError);
# every other failure passes through as a 500 whose message is the error text.
BAD_FORMAT_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_FORMAT_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_FORMAT_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
NO_LIST_OF_LISTS = "lists of lists are not supported"

# Go's names for the types of decoded JSON, as they appear in error messages.
GO_MAP = "map[string]interface {}"
GO_SLICE = "[]interface {}"


# --- Go's rendering of values, for error messages ---------------------------------------------


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64), which is what fmt's %v prints for a float64."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    # repr() holds the shortest digits that read back as the same float, as Go's shortest does.
    negative, digit_tuple, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    sign = "-" if negative else ""
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + int(exponent)  # digits before the decimal point
    # %g switches to an exponent below 1e-4 and, for the shortest digits, from 1e6 on.
    if not -4 <= point - 1 < 6:
        exp = point - 1
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_value(value: Any) -> str:
    """fmt's `%v` of a decoded JSON value: `map[a:1 b:[x y]]`, `<nil>`, `true`."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    return str(value)


def _go_string(value: Any) -> str:
    """fmt's `%s`, which marks values that are not strings: `%!s(int64=1)`."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_string(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_string(item) for item in value) + "]"
    return f"%!s({go_type(value)}={go_value(value)})"


def go_type(value: Any) -> str:
    """reflect.TypeOf(v).String() for a decoded JSON value (integers decode as int64)."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return GO_SLICE
    return GO_MAP


def bad_arg_type(expected: str, actual: Any) -> PatchError:
    """mergepatch.ErrBadArgType."""
    return PatchError.unknown(f"expected a {expected}, but received a {go_type(actual)}")


def no_merge_key(item: dict[str, Any], merge_key: str) -> PatchError:
    """mergepatch.ErrNoMergeKey."""
    return PatchError.unknown(
        f"map: {go_value(item)} does not contain declared merge key: {merge_key}"
    )


def _bad_patch_type(directive: Any, patch: dict[str, Any]) -> PatchError:
    """mergepatch.ErrBadPatchType."""
    return PatchError.unknown(
        f"unknown patch type: {_go_string(directive)} in map: {go_value(patch)}"
    )


def list_of_lists() -> PatchError:
    return PatchError.invalid(NO_LIST_OF_LISTS)


# --- schema lookups ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMeta:
    """What the schema says about one field, as forkedjson.LookupPatchMetadata reports it."""

    node: Node | None
    strategy: str = ""  # "merge", "replace" or "" (replace for lists, merge for maps)
    retain_keys: bool = False
    merge_key: str = ""


_NO_META = FieldMeta(None)


def _split_strategies(strategies: tuple[str, ...]) -> tuple[bool, str]:
    """extractRetainKeysPatchStrategy: `retainKeys` and at most one other strategy."""
    if len(strategies) == 1:
        if strategies[0] == RETAIN_KEYS_STRATEGY:
            return True, ""
        return False, strategies[0]
    if len(strategies) == 2 and RETAIN_KEYS_STRATEGY in strategies:
        other = strategies[1] if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
        return True, other
    if strategies:
        raise PatchError.unknown(f"unexpected patch strategy: [{' '.join(strategies)}]")
    return False, ""


def field_meta(node: Node | None, key: str) -> FieldMeta:
    """The schema of `key` in a map described by `node`, with its patch strategy.

    Fields the schema does not know are treated as free-form data (maps merge, lists replace);
    Kubernetes would fail on them, but the objects kubelite stores never hold unknown fields.
    """
    if node is None or node.kind == ANY:
        return _NO_META
    if node.kind == MAP:
        return FieldMeta(node.items)
    if node.kind != OBJECT:
        return _NO_META
    field = node.field(key)
    if field is None:
        return _NO_META
    retain_keys, strategy = _split_strategies(field.patch_strategies)
    return FieldMeta(field, strategy, retain_keys, field.patch_merge_key)


def items_of(node: Node | None) -> Node | None:
    """The schema of a list's items."""
    if node is None or node.kind != ARRAY:
        return None
    return node.items


def _go_kind(node: Node | None) -> str:
    """reflect.Kind of a list's item type, for `cannot merge lists without merge key`."""
    if node is not None and node.kind == OBJECT:
        return "struct"
    if node is not None and node.kind == MAP:
        return "map"
    return "interface"


# --- comparisons the way Go's `==` on interface{} makes them --------------------------------------


def eq_key(value: Any) -> Any:
    """A hashable stand-in for a scalar, equal exactly when Go's `==` would call two equal.

    Python's `==` says `True == 1`; Go does not. Numbers compare by value, as they do once
    kubectl has decoded both sides to float64.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("nil",)
    # Go would panic comparing maps or slices; a canonical encoding keeps this total.
    return ("json", json.dumps(value, sort_keys=True))


def slice_element_kind(*lists: list[Any]) -> str:
    """sliceElementType: `map` or `scalar`; every item of every list must have one type."""
    first: str | None = None
    for items in lists:
        for item in items:
            current = json_type(item)
            if first is None:
                first = current
                if current == "array":
                    raise list_of_lists()
            elif current != first:
                listed = " ".join(go_value(each) for each in lists)
                raise PatchError.unknown(f"list element types are not identical: [{listed}]")
    if first is None:
        raise PatchError.unknown("no elements in any of the given slices")
    return "map" if first == "object" else "scalar"


def _merge_key_value(item: Any, merge_key: str, kind: str) -> Any:
    """What `index` compares: the merge key's value for maps, the item itself otherwise."""
    if kind != "map":
        return item
    return item.get(merge_key) if isinstance(item, dict) else None


def _positions(order: list[Any], merge_key: str, kind: str) -> dict[Any, int]:
    """Where each item first appears in `order`, by the value `index` would compare."""
    positions: dict[Any, int] = {}
    for i, item in enumerate(order):
        positions.setdefault(eq_key(_merge_key_value(item, merge_key, kind)), i)
    return positions


def _index(positions: dict[Any, int], item: Any, merge_key: str, kind: str) -> int:
    return positions.get(eq_key(_merge_key_value(item, merge_key, kind)), -1)


def deduplicate_scalars(items: list[Any]) -> list[Any]:
    """deduplicateScalars, move for move: a later duplicate is overwritten by the last item.

    The order it leaves matters where it is visible, in `$deleteFromPrimitiveList` lists.
    """
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if eq_key(s[i]) == eq_key(s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def sort_scalars(items: list[Any]) -> list[Any]:
    """sortScalars: by the `%v` text of each item."""
    return sorted(items, key=go_value)


# --- ordering merged lists (preserve-order-in-strategic-merge-patch) -----------------------------


def _validate_merge_key_in_lists(merge_key: str, *lists: list[Any]) -> None:
    for items in lists:
        for item in items:
            if not isinstance(item, dict):
                raise bad_arg_type(GO_MAP, item)
            if merge_key not in item:
                raise no_merge_key(item, merge_key)


def _extract_to_delete_items(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """Split off the `$patch: delete` items of a list of maps."""
    keep: list[Any] = []
    delete: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_arg_type(GO_MAP, item)
        if item.get(DIRECTIVE_MARKER) == DELETE_DIRECTIVE:
            delete.append(item)
        else:
            keep.append(item)
    return keep, delete


def _insertion_sort(items: list[Any], less: Callable[[Any, Any], bool]) -> list[Any]:
    """Go's sort.SliceStable for the short lists patches hold (an insertion sort).

    The `less` of normalizeSliceOrder says "less" for any item missing from the order list, so
    the result depends on the algorithm, and a Python sort would place such items elsewhere.
    """
    result = list(items)
    for i in range(1, len(result)):
        j = i
        while j > 0 and less(result[j], result[j - 1]):
            result[j], result[j - 1] = result[j - 1], result[j]
            j -= 1
    return result


def normalize_slice_order(
    to_sort: list[Any], order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    """normalizeSliceOrder: sort `to_sort` as the items appear in `order`; deletions last."""
    to_delete: list[Any] = []
    if kind == "map":
        _validate_merge_key_in_lists(merge_key, to_sort, order)
        to_sort, to_delete = _extract_to_delete_items(to_sort)
    positions = _positions(order, merge_key, kind)

    def less(a: Any, b: Any) -> bool:
        ia = _index(positions, a, merge_key, kind)
        ib = _index(positions, b, merge_key, kind)
        if ia >= 0 and ib >= 0:
            return ia < ib
        return True

    return _insertion_sort(to_sort, less) + to_delete


def _merge_sorted_slice(
    left: list[Any], right: list[Any], server_order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    """mergeSortedSlice: interleave server-only items (left) with patch items (right).

    A server-only item goes first only when both it and the next patch item are in the live list
    and it came first there; otherwise the patch item does.
    """
    positions = _positions(server_order, merge_key, kind)
    merged: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            merged.append(right[j])
            j += 1
        elif j >= len(right):
            merged.append(left[i])
            i += 1
        else:
            li = _index(positions, left[i], merge_key, kind)
            ri = _index(positions, right[j], merge_key, kind)
            if li >= 0 and ri >= 0 and li < ri:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                j += 1
    return merged


def _normalize_element_order(
    patch: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """normalizeElementOrder: patch items in patch order, server-only items where they were."""
    patch = normalize_slice_order(patch, patch_order, merge_key, kind)
    server_only = normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted_slice(server_only, patch, server_order, merge_key, kind)


def _find_map_by_key(items: list[Any], merge_key: str, value: Any) -> int:
    """findMapInSliceBasedOnKeyValue: the position of the map whose merge key is `value`."""
    wanted = eq_key(value)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise PatchError.unknown(f"value for key {i} is not a map")
        if merge_key in item and eq_key(item[merge_key]) == wanted:
            return i
    return -1


def _partition_maps(
    items: list[Any], present_in: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """partitionMapsByPresentInList: (items whose key is in `present_in`, the others)."""
    present: list[Any] = []
    absent: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            raise bad_arg_type(GO_MAP, item)
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        if _find_map_by_key(present_in, merge_key, item[merge_key]) >= 0:
            present.append(item)
        else:
            absent.append(item)
    return present, absent


def _partition_primitives(items: list[Any], present_in: list[Any]) -> tuple[list[Any], list[Any]]:
    """partitionPrimitivesByPresentInList."""
    wanted = {eq_key(item) for item in present_in}
    present = [item for item in items if eq_key(item) in wanted]
    absent = [item for item in items if eq_key(item) not in wanted]
    return present, absent


def _partition(
    items: list[Any], present_in: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    if merge_key:
        return _partition_maps(items, present_in, merge_key)
    return _partition_primitives(items, present_in)


# --- merging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeOptions:
    """How `merge_map` treats the parallel lists and nulls (strategicpatch.MergeOptions).

    The API server merges parallel lists and drops nulls that match nothing; building kubectl's
    three-way patch merges one patch into another, and keeps both for the server.
    """

    merge_parallel_list: bool
    ignore_unmatched_nulls: bool


SERVER_MERGE = MergeOptions(merge_parallel_list=True, ignore_unmatched_nulls=True)
PATCH_MERGE = MergeOptions(merge_parallel_list=False, ignore_unmatched_nulls=False)


def _extract_key(key: str, prefix: str) -> str:
    """The field a `$setElementOrder/` or `$deleteFromPrimitiveList/` key is about."""
    head, sep, field = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX:
            raise PatchError.bad_request(BAD_FORMAT_PRIMITIVE_LIST)
        raise PatchError.bad_request(BAD_FORMAT_SET_ELEMENT_ORDER)
    return field


def _handle_directive_in_merge_map(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """`$patch` on a map: `replace` gives the patch itself, `delete` an empty map."""
    if directive == REPLACE_DIRECTIVE:
        del patch[DIRECTIVE_MARKER]
        return patch
    if directive == DELETE_DIRECTIVE:
        return {}
    raise _bad_patch_type(directive, patch)


def _apply_retain_keys_directive(
    original: dict[str, Any], patch: dict[str, Any], options: MergeOptions
) -> None:
    """Drop from `original` the fields `$retainKeys` does not list."""
    if RETAIN_KEYS_DIRECTIVE not in patch:
        return
    retain = patch.pop(RETAIN_KEYS_DIRECTIVE)
    if not options.merge_parallel_list:
        # Merging two patches: both must agree on the directive, which the result keeps.
        if RETAIN_KEYS_DIRECTIVE in original:
            if not values_equal(original[RETAIN_KEYS_DIRECTIVE], retain):
                raise PatchError.unknown(
                    f"{go_value(original[RETAIN_KEYS_DIRECTIVE])} and {go_value(retain)} are "
                    "not deep equal: this may happen when calculating the 3-way diff patch"
                )
        else:
            original[RETAIN_KEYS_DIRECTIVE] = retain
        return
    if not isinstance(retain, list):
        raise PatchError.bad_request(BAD_FORMAT_RETAIN_KEYS)
    kept = {eq_key(key) for key in retain}
    for key, value in patch.items():
        if value is None or key.startswith(
            (DELETE_FROM_PRIMITIVE_LIST_PREFIX, SET_ELEMENT_ORDER_PREFIX)
        ):
            continue
        if eq_key(key) not in kept:
            raise PatchError.bad_request(BAD_FORMAT_RETAIN_KEYS)
    for key in [k for k in original if eq_key(k) not in kept]:
        del original[key]


def _validate_patch_with_set_order_list(
    patch_list: list[Any], set_order: list[Any], merge_key: str
) -> None:
    """The patch list's items must appear in `$setElementOrder`, in the same order."""
    if not set_order or not patch_list:
        return
    if merge_key:
        non_delete, _ = _extract_to_delete_items(patch_list)
    else:
        non_delete = patch_list
    patch_index = order_index = 0
    while patch_index < len(non_delete) and order_index < len(set_order):
        item = non_delete[patch_index]
        if isinstance(item, dict) and DIRECTIVE_MARKER in item:
            patch_index += 1
            continue
        if merge_key_value_equal(item, set_order[order_index], merge_key):
            patch_index += 1
        order_index += 1
    if patch_index < len(non_delete) and order_index >= len(set_order):
        raise PatchError.unknown(
            f"The order in patch list:\n{go_value(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER_PREFIX} list:\n{go_value(set_order)}\n"
        )


def merge_key_value_equal(left: Any, right: Any, merge_key: str) -> bool:
    """mergeKeyValueEqual: the items themselves, or their merge keys, are equal."""
    if not merge_key:
        return eq_key(left) == eq_key(right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise bad_arg_type(GO_MAP, item)
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
    return eq_key(left[merge_key]) == eq_key(right[merge_key])


def _merge_patch_into_original(
    original: dict[str, Any], patch: dict[str, Any], node: Node | None, options: MergeOptions
) -> None:
    """Apply each `$setElementOrder/<field>` with the patch list of `<field>` it orders.

    Precedence of order: `$setElementOrder`, then the patch list, then the live list.
    """
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER_PREFIX)]:
        set_order = patch.pop(key)
        if not options.merge_parallel_list:
            if key in original:
                if not values_equal(original[key], set_order):
                    raise PatchError.bad_request(BAD_FORMAT_SET_ELEMENT_ORDER)
            else:
                original[key] = set_order
        if not isinstance(set_order, list):
            wrong = bad_arg_type(GO_SLICE, set_order)
            raise PatchError.unknown(f"{key}: {wrong.message}")
        field = _extract_key(key, SET_ELEMENT_ORDER_PREFIX)
        found_original = field in original
        found_patch = field in patch
        original_list: list[Any] = []
        patch_list: list[Any] = []
        if found_original:
            if not isinstance(original[field], list):
                raise bad_arg_type(GO_SLICE, original[field])
            original_list = original[field]
        if found_patch:
            if not isinstance(patch[field], list):
                raise bad_arg_type(GO_SLICE, patch[field])
            patch_list = patch[field]
        meta = field_meta(node, field)
        _validate_patch_with_set_order_list(patch_list, set_order, meta.merge_key)
        if found_original and found_patch:
            merged = _merge_slice_handler(
                original_list, patch_list, meta, is_delete_list=False, options=options
            )
        elif found_original:
            merged = original_list
        elif found_patch:
            merged, _ = remove_directives(patch_list)
        else:
            continue
        patch_items, server_only = _partition(merged, set_order, meta.merge_key)
        kind = slice_element_kind(original_list, patch_list)
        original[field] = _normalize_element_order(
            patch_items, server_only, set_order, original_list, meta.merge_key, kind
        )
        patch.pop(field, None)


def _discard_null_values(value: Any) -> None:
    """discardNullValuesFromPatch: drop null members anywhere in a value taken from the patch."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for item in value.values():
            _discard_null_values(item)
    elif isinstance(value, list):
        for item in value:
            _discard_null_values(item)


def remove_directives(value: Any) -> tuple[Any, bool]:
    """removeDirectives: a patch value without its `$patch` maps, and whether anything is left.

    A value that lands where the original has nothing to merge with is taken as it is, so a
    `{"$patch": "delete"}` inside it would otherwise be stored in the object.
    """
    if isinstance(value, dict):
        if DIRECTIVE_MARKER in value:
            return None, False
        for key in list(value):
            kept, keep = remove_directives(value[key])
            if keep:
                value[key] = kept
            else:
                del value[key]
        return value, True
    if isinstance(value, list):
        kept_items = []
        for item in value:
            kept, keep = remove_directives(item)
            if keep:
                kept_items.append(kept)
        return kept_items, True
    return value, True


def _take_patch_value(
    original: dict[str, Any], key: str, value: Any, options: MergeOptions
) -> None:
    """Put a patch value where there is nothing to merge it with."""
    if options.ignore_unmatched_nulls:
        _discard_null_values(value)
    kept, keep = remove_directives(value)
    if keep:
        original[key] = kept
    else:
        original.pop(key, None)


def merge_map(
    original: dict[str, Any] | None,
    patch: dict[str, Any],
    node: Node | None,
    options: MergeOptions,
) -> dict[str, Any]:
    """mergeMap: merge `patch` into `original`, which it changes in place (so does `patch`)."""
    if DIRECTIVE_MARKER in patch:
        return _handle_directive_in_merge_map(patch[DIRECTIVE_MARKER], patch)
    if original is None:
        original = {}
    _apply_retain_keys_directive(original, patch, options)
    _merge_patch_into_original(original, patch, node, options)

    # Go visits the keys in random order. Deletion lists go last here, so that a patch adding
    # and deleting the same string always ends without it.
    deletion_lists = [k for k in patch if k.startswith(DELETE_FROM_PRIMITIVE_LIST_PREFIX)]
    fields = [k for k in patch if not k.startswith(DELETE_FROM_PRIMITIVE_LIST_PREFIX)]
    for key in fields + deletion_lists:
        value = patch[key]
        is_delete_list = False
        if key in deletion_lists:
            if not options.merge_parallel_list:
                # Merging two patches: the deletion list is carried over for the server.
                original[key] = value
                continue
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            is_delete_list = True

        if value is None:
            original.pop(key, None)
            if options.ignore_unmatched_nulls:
                continue
        if key not in original or json_type(original[key]) != json_type(value):
            # Nothing to merge with; deleting from a list that is not there changes nothing.
            if not is_delete_list:
                _take_patch_value(original, key, value, options)
            continue
        current = original[key]
        meta = field_meta(node, key)
        if isinstance(current, dict):
            if meta.strategy == REPLACE_DIRECTIVE:
                original[key] = value
            else:
                original[key] = merge_map(current, value, meta.node, options)
        elif isinstance(current, list):
            original[key] = _merge_slice_handler(current, value, meta, is_delete_list, options)
        else:
            _take_patch_value(original, key, value, options)
    return original


def _merge_slice_handler(
    original: list[Any],
    patch: list[Any],
    meta: FieldMeta,
    is_delete_list: bool,
    options: MergeOptions,
) -> list[Any]:
    """mergeSliceHandler: lists with strategy `merge` merge, other lists are replaced."""
    if not isinstance(original, list):
        raise bad_arg_type(GO_SLICE, original)
    if not isinstance(patch, list):
        raise bad_arg_type(GO_SLICE, patch)
    # A deletion list deletes whatever the field's strategy (kubernetes#110472).
    if meta.strategy != MERGE_DIRECTIVE and not is_delete_list:
        return patch
    return _merge_slice(
        original, patch, items_of(meta.node), meta.merge_key, options, is_delete_list
    )


def _merge_slice(
    original: list[Any],
    patch: list[Any],
    item_node: Node | None,
    merge_key: str,
    options: MergeOptions,
    is_delete_list: bool,
) -> list[Any]:
    """mergeSlice: merge maps by merge key, union scalars, then restore a sensible order."""
    if not original and not patch:
        return original
    kind = slice_element_kind(original, patch)
    if kind == "scalar":
        if options.merge_parallel_list and is_delete_list:
            doomed = {eq_key(item) for item in patch}
            return [item for item in original if eq_key(item) not in doomed]
        merged = deduplicate_scalars(original + patch)
        live_order = original
    else:
        if not merge_key:
            raise PatchError.unknown(
                f"cannot merge lists without merge key for {_go_kind(item_node)}"
            )
        merged, live_order, patch = _merge_slice_of_maps(
            original, patch, merge_key, item_node, options
        )
    patch_items, server_only = _partition(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, live_order, merge_key, kind)


def _merge_slice_of_maps(
    original: list[Any],
    patch: list[Any],
    merge_key: str,
    item_node: Node | None,
    options: MergeOptions,
) -> tuple[list[Any], list[Any], list[Any]]:
    """Merge a list of maps item by item; returns (merged, live order, patch items merged).

    The `$patch` items go first: `delete` removes every item with that key, `replace` makes the
    other patch items the whole list. Then each patch item merges into the item with its key,
    or is appended.

    Go deletes by shifting items left in the live list's array and appends into the room that
    leaves, and `$setElementOrder` later orders server-only items by that array, so the order it
    gives depends on it. `original` is changed in place the same way, to give the same order.
    """
    length = len(original)
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE_MARKER not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE_MARKER]
        if directive == DELETE_DIRECTIVE:
            if merge_key not in item:
                raise no_merge_key(item, merge_key)
            while (found := _find_map_by_key(original[:length], merge_key, item[merge_key])) >= 0:
                original[found : length - 1] = original[found + 1 : length]
                length -= 1
        elif directive == REPLACE_DIRECTIVE:
            # Keep going: the other `$patch` items still have to be taken out.
            replace = True
        elif directive == MERGE_DIRECTIVE:
            raise PatchError.unknown("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return plain, plain, []

    live_order = original[:length]
    merged = list(live_order)
    for item in plain:
        if merge_key not in item:
            raise no_merge_key(item, merge_key)
        position = _find_map_by_key(merged, merge_key, item[merge_key])
        if position >= 0:
            merged[position] = merge_map(merged[position], item, item_node, options)
        else:
            merged.append(item)
            if len(merged) <= len(original):
                original[len(merged) - 1] = item
    return merged, live_order, plain


def apply_strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any] | None, node: Node | None
) -> dict[str, Any]:
    """Apply a strategic merge patch (the decoded request body) to `original`.

    `node` is the schema of the object's kind, e.g. `schema.for_kind("", "v1", "Pod")`.

    >>> apply_strategic_merge_patch(
    ...     {"finalizers": ["a"]}, {"finalizers": ["b"]}, None)  # no schema: lists replace
    {'finalizers': ['b']}
    """
    if patch is None:
        # A body of `null` decodes to an empty map.
        return clone(original)
    if not isinstance(patch, dict):
        raise PatchError.bad_request(
            f"json: cannot unmarshal {json_type(patch)} into Go value of type {GO_MAP}"
        )
    return merge_map(clone(original), clone(patch), node, SERVER_MERGE)
