"""What a write changed: the fields it added, modified and removed (TypedValue.Compare).

Ownership moves with change: a field another manager owned and this write altered is taken from
it (or, for apply without force, is a conflict), and a field a write removed is owned by nobody.

Leaves (scalars, atomic values) are compared by value. A struct, map, list or list item that is
new is itself "added", so that its writer owns it as a node (`.` in fieldsV1): creating
`metadata.labels` adds `f:labels` as well as `f:labels.f:app`. Whether a node is new follows the
Go types, where value structs and required fields always exist: a new Pod does not add `spec`,
nor `spec.containers`, only the containers in it.

An update changes little of an object, so the walk first asks of each subtree whether it is the
same on both sides (`_identical`, mostly in C); if so, nothing below differs, and only the lists
below are looked at, for items that cannot be keyed, which the full walk would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson

from kubelite.api.managedfields import fieldpath, typed
from kubelite.api.managedfields.fieldpath import EMPTY, FieldSet, Path
from kubelite.api.schema import Node

# Marks a value that is not there at all, as opposed to present and null.
ABSENT: Any = object()


@dataclass(frozen=True)
class Comparison:
    """The paths that differ between an old and a new object; no path is in two of them."""

    added: FieldSet = EMPTY
    modified: FieldSet = EMPTY
    removed: FieldSet = EMPTY

    def is_same(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def excluding(self, paths: FieldSet) -> Comparison:
        """The comparison without `paths` and what is below them (reset fields)."""
        if not paths:
            return self
        return Comparison(
            fieldpath.recursive_difference(self.added, paths),
            fieldpath.recursive_difference(self.modified, paths),
            fieldpath.recursive_difference(self.removed, paths),
        )


def compare(old: Any, new: Any, node: Node | None) -> Comparison:
    """How `new` differs from `old` under `node` (either may be ABSENT)."""
    walker = _Walker()
    walker.walk(old, new, node, (), typed.shape(node))
    return Comparison(
        frozenset(walker.added), frozenset(walker.modified), frozenset(walker.removed)
    )


_LEAVES = frozenset({typed.SCALAR, typed.ATOMIC})
_CONTAINERS = frozenset({typed.STRUCT, typed.MAP})


def _unchanged(old: Any, new: Any) -> bool:
    """typed.values_equal, with the usual case first: two scalars of one type."""
    kind = type(old)
    if kind is type(new) and kind is not dict and kind is not list:
        return bool(old == new)
    return typed.values_equal(old, new)


def _identical(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same in every way the walk tells apart.

    Python's `==`, in C, settles nearly every case; of two values it finds equal, the JSON texts
    tell `true` from `1` and `1.0` from `1`, which `==` does not (nor does it tell key orders
    apart, which only sends the walk through values that are equal after all). NaN, which the
    walk finds changed even beside itself, is not JSON: stored objects never hold one.
    """
    if a is b:
        return True
    if a != b:
        return False
    try:
        return orjson.dumps(a) == orjson.dumps(b)
    except TypeError:
        # Something JSON cannot hold, such as an integer beyond 64 bits: walk it.
        return False


def _check_keys(value: Any, node: Node | None, path: Path, shape: str) -> None:
    """Raise typed.SchemaError where walking `value` against itself would: at an associative
    list whose items cannot be keyed. The walk over two identical values finds nothing else."""
    if shape == typed.LIST:
        if type(value) is list and value and node is not None:
            groups = typed.index_items(node, value, path)
            item_node = node.items
            if typed.holds_lists(item_node):
                item_shape = typed.shape(item_node)
                for element, group in groups.items():
                    if len(group) == 1:
                        _check_keys(group[0], item_node, (*path, element), item_shape)
    elif shape in _CONTAINERS and isinstance(value, dict) and node is not None:
        layout = typed.layout(node)
        for name, sub in value.items():
            element, sub_node, sub_shape = layout.member(name)
            if sub_shape not in _LEAVES and typed.holds_lists(sub_node):
                _check_keys(sub, sub_node, (*path, element), sub_shape)


class _Walker:
    """One comparison's walk. Paths are only made for what differs, or to go below a node."""

    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()

    def walk(self, old: Any, new: Any, node: Node | None, path: Path, shape: str) -> None:
        if shape in _LEAVES:
            self.leaf(old, new, path)
            return
        assert node is not None
        if old is not ABSENT and new is not ABSENT and _identical(old, new):
            # Nothing differs below; only a list whose items cannot be keyed would be refused.
            _check_keys(new, node, path, shape)
            return
        container = list if shape == typed.LIST else dict
        old_value = old if isinstance(old, container) else None
        new_value = new if isinstance(new, container) else None
        # Empty and null on both sides compare as a leaf, which keeps [] apart from null.
        if not old_value and not new_value:
            self.leaf(old, new, path)
            return
        # Both values are of `container`, the type `shape` names (or None).
        if shape == typed.LIST:
            self.items(
                cast(list[Any], old_value or []), cast(list[Any], new_value or []), node, path
            )
        else:
            self.fields(
                cast(dict[str, Any] | None, old_value),
                cast(dict[str, Any] | None, new_value),
                node,
                path,
                shape == typed.STRUCT,
            )
        if path and old is ABSENT:
            self.added.add(path)
        elif path and new is ABSENT:
            self.removed.add(path)

    def leaf(self, old: Any, new: Any, path: Path) -> None:
        if not path:
            return
        if old is ABSENT:
            self.added.add(path)
        elif new is ABSENT:
            self.removed.add(path)
        elif not _unchanged(old, new):
            self.modified.add(path)

    def fields(
        self,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        node: Node,
        path: Path,
        is_struct: bool,
    ) -> None:
        layout = typed.layout(node)
        if is_struct and layout.zeros:
            old = typed.with_zero_fields(old, node) if old is not None else None
            new = typed.with_zero_fields(new, node) if new is not None else None
        old = old or {}
        new = new or {}
        declared = layout.declared
        for name, old_value in old.items():
            element, sub_node, sub_shape = declared.get(name) or layout.member(name)
            new_value = new.get(name, ABSENT)
            if sub_shape not in _LEAVES:
                self.walk(old_value, new_value, sub_node, (*path, element), sub_shape)
            elif new_value is ABSENT:
                self.removed.add((*path, element))
            elif not _unchanged(old_value, new_value):
                self.modified.add((*path, element))
        for name, new_value in new.items():
            if name in old:
                continue
            element, sub_node, sub_shape = declared.get(name) or layout.member(name)
            if sub_shape in _LEAVES:
                self.added.add((*path, element))
            else:
                self.walk(ABSENT, new_value, sub_node, (*path, element), sub_shape)

    def items(self, old: list[Any], new: list[Any], node: Node, path: Path) -> None:
        old_items = typed.index_items(node, old, path)
        new_items = typed.index_items(node, new, path)
        item_node = node.items
        item_shape = typed.shape(item_node)
        for element in (*old_items, *(e for e in new_items if e not in old_items)):
            old_group = old_items.get(element)
            new_group = new_items.get(element)
            item_path = (*path, element)
            if (old_group and len(old_group) > 1) or (new_group and len(new_group) > 1):
                # Items repeating a key are compared as one atomic value.
                self.leaf(old_group or ABSENT, new_group or ABSENT, item_path)
            else:
                self.walk(
                    old_group[0] if old_group else ABSENT,
                    new_group[0] if new_group else ABSENT,
                    item_node,
                    item_path,
                    item_shape,
                )
