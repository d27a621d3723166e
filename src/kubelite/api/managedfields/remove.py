"""Taking fields and list items out of an object by field set (TypedValue.RemoveItems).

Apply uses it to drop what an applier set before and no longer applies. A path in the set
removes the field, map entry or list item it names, with everything below it; paths below a node
remove only those parts. Kubernetes turns a map or list that this empties into null, which its
Go types then drop; here it is dropped directly, so that the stored JSON has no nulls Kubernetes
would never serve.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.managedfields import fieldpath, typed
from kubelite.api.managedfields.fieldpath import FieldSet, Path, Trie
from kubelite.api.schema import Node

# What a container emptied by the removal becomes: nothing, dropped by its parent.
_EMPTIED: Any = object()


def remove(obj: dict[str, Any], paths: FieldSet, node: Node | None) -> dict[str, Any]:
    """A copy of `obj` without `paths`; `obj` itself is not changed."""
    if not paths:
        return obj
    result = _remove(obj, Trie.of(paths), node, ())
    return {} if result is _EMPTIED else result


def _remove(value: Any, trie: Trie, node: Node | None, path: Path) -> Any:
    shape = typed.shape(node)
    if shape == typed.SCALAR:
        return value
    if shape == typed.ATOMIC:
        # Removing part of an atomic value removes it all.
        return _EMPTIED
    assert node is not None
    if shape == typed.LIST:
        if not isinstance(value, list):
            return _EMPTIED
        kept: list[Any] = []
        for position, item in enumerate(value):
            element = typed.item_element(node, item, position, path)
            if element in trie.members:
                continue
            below = trie.children.get(element)
            if below is not None:
                item = _remove(item, below, node.items, (*path, element))
                if item is _EMPTIED:
                    continue
            kept.append(item)
        return kept or _EMPTIED
    if not isinstance(value, dict):
        return _EMPTIED
    out: dict[str, Any] = {}
    for name, sub in value.items():
        element = fieldpath.field(name)
        if element in trie.members:
            continue
        below = trie.children.get(element)
        if below is not None:
            sub = _remove(sub, below, typed.child(node, name), (*path, element))
            if sub is _EMPTIED:
                continue
        out[name] = sub
    return out or _EMPTIED
