"""The field set of an object: the fields an applied configuration claims (TypedValue.ToFieldSet).

Every leaf is in the set: scalars, and atomic structs, maps and lists as one value. Each item of
an associative list is in it too (`k:{"name":"nginx"}`), which is how an applier owns the item
and not only its fields. Struct fields are not, unless their value is null or `{}` (an applier
can own `emptyDir: {}`); map entries always are, since a map key is data, not schema. For a
Pod, `{"spec": {"containers": [{"name": "a", "image": "x"}]}}` gives

    ("f:spec", "f:containers", 'k:{"name":"a"}')
    ("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")
    ("f:spec", "f:containers", 'k:{"name":"a"}', "f:name")
"""

from __future__ import annotations

from typing import Any

from kubelite.api.managedfields import typed
from kubelite.api.managedfields.fieldpath import FieldSet, Path
from kubelite.api.schema import Node


def field_set(obj: Any, node: Node | None, *, allow_duplicates: bool = True) -> FieldSet:
    """The paths `obj` sets under `node`; `allow_duplicates=False` for applied configurations.

    Raises typed.SchemaError for list items without their keys, or repeated where refused.
    """
    out: set[Path] = set()
    _walk(obj, node, typed.shape(node), (), out, allow_duplicates)
    return frozenset(out)


_LEAVES = frozenset({typed.SCALAR, typed.ATOMIC})


def _walk(
    value: Any, node: Node | None, shape: str, path: Path, out: set[Path], allow_dups: bool
) -> None:
    if shape in _LEAVES:
        if path:
            out.add(path)
        return
    assert node is not None
    if shape == typed.LIST:
        if not isinstance(value, list):
            return
        items = typed.index_items(node, value, path, allow_duplicates=allow_dups)
        item_node = node.items
        item_shape = typed.shape(item_node)
        for element, group in items.items():
            item_path = (*path, element)
            out.add(item_path)
            # A repeated key is one atomic value: owned as a whole, nothing below it.
            if len(group) == 1:
                _walk(group[0], item_node, item_shape, item_path, out, allow_dups)
        return
    if not isinstance(value, dict):
        return
    layout = typed.layout(node)
    declared = layout.declared
    for name, sub in value.items():
        element, sub_node, sub_shape = declared.get(name) or layout.member(name)
        sub_path = (*path, element)
        if sub_shape in _LEAVES:
            # A leaf is always in the set, with nothing below it.
            out.add(sub_path)
            continue
        _walk(sub, sub_node, sub_shape, sub_path, out, allow_dups)
        if sub is None or sub == {} or name not in declared:
            out.add(sub_path)
