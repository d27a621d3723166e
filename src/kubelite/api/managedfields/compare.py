"""What a write changed: the fields it added, modified and removed (TypedValue.Compare).

Ownership moves with change: a field another manager owned and this write altered is taken from
it (or, for apply without force, is a conflict), and a field a write removed is owned by nobody.

Leaves (scalars, atomic values) are compared by value. A struct, map, list or list item that is
new is itself "added", so that its writer owns it as a node (`.` in fieldsV1): creating
`metadata.labels` adds `f:labels` as well as `f:labels.f:app`. Whether a node is new follows the
Go types, where value structs and required fields always exist: a new Pod does not add `spec`,
nor `spec.containers`, only the containers in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    walker.walk(old, new, node, ())
    return Comparison(
        frozenset(walker.added), frozenset(walker.modified), frozenset(walker.removed)
    )


class _Walker:
    def __init__(self) -> None:
        self.added: set[Path] = set()
        self.modified: set[Path] = set()
        self.removed: set[Path] = set()

    def walk(self, old: Any, new: Any, node: Node | None, path: Path) -> None:
        shape = typed.shape(node)
        if shape in (typed.SCALAR, typed.ATOMIC):
            self.leaf(old, new, path)
            return
        assert node is not None
        container = list if shape == typed.LIST else dict
        old_value = old if isinstance(old, container) else None
        new_value = new if isinstance(new, container) else None
        # Empty and null on both sides compare as a leaf, which keeps [] apart from null.
        if not old_value and not new_value:
            self.leaf(old, new, path)
            return
        if shape == typed.LIST:
            self.items(old_value or [], new_value or [], node, path)
        else:
            self.fields(old_value, new_value, node, path, shape == typed.STRUCT)
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
        elif not typed.values_equal(old, new):
            self.modified.add(path)

    def fields(
        self,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        node: Node,
        path: Path,
        is_struct: bool,
    ) -> None:
        if is_struct:
            old = typed.with_zero_fields(old, node) if old is not None else None
            new = typed.with_zero_fields(new, node) if new is not None else None
        old = old or {}
        new = new or {}
        for name in (*old, *(k for k in new if k not in old)):
            self.walk(
                old.get(name, ABSENT),
                new.get(name, ABSENT),
                typed.child(node, name),
                (*path, fieldpath.field(name)),
            )

    def items(self, old: list[Any], new: list[Any], node: Node, path: Path) -> None:
        old_items = typed.index_items(node, old, path)
        new_items = typed.index_items(node, new, path)
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
                    node.items,
                    item_path,
                )
